"""The peers' side of bench/cmd/peerbench: one framework per process, so that its peak memory
and thread pools are its own, driven by the orchestrator with one JSON request per line on
stdin and answering one JSON line per request on file descriptor 3 (the protocol is described
in bench/cmd/peerbench/protocol.go; tasks are defined in plan.go there).

    python bench/peers.py --framework torch --threads 2   (started by peerbench, not by hand)

Frameworks: torch, tensorflow (Keras 3 on TensorFlow), onnxruntime (inference and sgemm only),
numpy (sgemm only).
Each model is written the way that framework's own documentation writes it (NCHW in torch,
logits plus cross_entropy in torch, softmax plus sparse categorical cross-entropy in Keras), with
the framework's default initialisers; only speed is compared, not the values.
"""

import argparse
import gc
import json
import os
import sys
import time


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def reset_peak_rss():
    # Writing 5 to clear_refs restarts VmHWM from the current RSS (Linux 4.0+), so each task
    # gets its own peak; where that is refused, the peak is the process's so far.
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def peak_rss():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def time_rep(iters, step, per_call):
    """One timed repetition: iters calls of step, each also timed on its own if per_call."""
    clock = time.perf_counter
    calls = []
    start = clock()
    if per_call:
        for _ in range(iters):
            c = clock()
            step()
            calls.append(clock() - c)
    else:
        for _ in range(iters):
            step()
    return clock() - start, calls


CLASSES = {"mlp": 10, "cnn": 10, "iris": 3}


# --------------------------------------------------------------------------------- torch


class Torch:
    name = "torch"

    def __init__(self, threads):
        import torch

        self.torch = torch
        torch.set_num_threads(threads)
        torch.set_num_interop_threads(1)
        torch.manual_seed(1)

    def info(self):
        t = self.torch
        return {"torch": t.__version__}, {
            "num_threads": str(t.get_num_threads()),
            "interop_threads": str(t.get_num_interop_threads()),
            "mkldnn": str(t.backends.mkldnn.is_available()),
            "blas": "MKL" if t.backends.mkl.is_available() else "other",
            "cpu_capability": t.backends.cpu.get_cpu_capability(),
        }

    def model(self, kind):
        nn = self.torch.nn
        if kind == "mlp":
            return nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))
        if kind == "iris":
            return nn.Sequential(nn.Linear(4, 100), nn.ReLU(), nn.Linear(100, 100), nn.ReLU(), nn.Linear(100, 3))
        if kind == "cnn":
            return cnn_torch(nn)
        raise ValueError(kind)

    def batch(self, kind, n):
        t = self.torch
        shape = {"mlp": (n, 784), "cnn": (n, 1, 28, 28), "iris": (n, 4)}[kind]
        return t.randn(*shape), t.randint(0, CLASSES[kind], (n,))

    def train(self, task):
        t = self.torch
        kind = task["model"]
        model = self.model(kind)
        model.train()
        opt = t.optim.SGD(model.parameters(), lr=0.01) if kind == "iris" else t.optim.Adam(model.parameters(), lr=1e-3)
        x, y = self.batch(kind, task["batch"])
        F = t.nn.functional

        def step():
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            return loss.item()

        return step

    def infer(self, task):
        t = self.torch
        model = self.model("mlp")
        model.eval()
        x, _ = self.batch("mlp", task["batch"])

        def step():
            with t.inference_mode():
                return t.softmax(model(x), dim=1)

        return step

    def sgemm(self, task):
        t = self.torch
        n = task["n"]
        a, b, c = t.randn(n, n), t.randn(n, n), t.empty(n, n)
        return lambda: t.mm(a, b, out=c)


def cnn_torch(nn):
    return nn.Sequential(
        nn.Conv2d(1, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 7 * 7, 512), nn.ReLU(), nn.Dropout(0.5), nn.Linear(512, 10),
    )


# ---------------------------------------------------------------------------- tensorflow


class TensorFlow:
    name = "tensorflow"

    def __init__(self, threads):
        import tensorflow as tf

        # Both must be set before TensorFlow creates its thread pools, i.e. before any op.
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
        import keras

        self.tf, self.keras = tf, keras
        keras.utils.set_random_seed(1)
        self.jit = "not compiled"

    def info(self):
        import importlib.metadata as md

        v = {"tensorflow": self.tf.__version__, "keras": self.keras.__version__}
        try:
            v["tensorflow-cpu"] = md.version("tensorflow-cpu")
        except md.PackageNotFoundError:
            pass
        return v, {
            "intra_op_threads": str(self.tf.config.threading.get_intra_op_parallelism_threads()),
            "inter_op_threads": str(self.tf.config.threading.get_inter_op_parallelism_threads()),
            "onednn_opts": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default (on)"),
            "jit_compile": self.jit,
            "keras_backend": self.keras.backend.backend(),
        }

    def model(self, kind):
        L = self.keras.layers
        if kind == "mlp":
            ls = [self.keras.Input((784,)), L.Dense(512, activation="relu"), L.Dense(512, activation="relu"), L.Dense(10, activation="softmax")]
        elif kind == "iris":
            ls = [self.keras.Input((4,)), L.Dense(100, activation="relu"), L.Dense(100, activation="relu"), L.Dense(3, activation="softmax")]
        elif kind == "cnn":
            ls = [
                self.keras.Input((28, 28, 1)),
                L.Conv2D(32, 5, padding="same", activation="relu"), L.MaxPooling2D(2),
                L.Conv2D(64, 5, padding="same", activation="relu"), L.MaxPooling2D(2),
                L.Flatten(), L.Dense(512, activation="relu"), L.Dropout(0.5), L.Dense(10, activation="softmax"),
            ]
        else:
            raise ValueError(kind)
        return self.keras.Sequential(ls)

    def batch(self, kind, n):
        tf = self.tf
        shape = {"mlp": (n, 784), "cnn": (n, 28, 28, 1), "iris": (n, 4)}[kind]
        return tf.random.normal(shape), tf.random.uniform((n,), 0, CLASSES[kind], dtype=tf.int64)

    def train(self, task):
        kind = task["model"]
        model = self.model(kind)
        opt = self.keras.optimizers.SGD(0.01) if kind == "iris" else self.keras.optimizers.Adam(1e-3)
        # jit_compile left at Keras's default ("auto"), which is what a user gets.
        model.compile(optimizer=opt, loss="sparse_categorical_crossentropy")
        x, y = self.batch(kind, task["batch"])
        self.jit = str(model.jit_compile)
        return lambda: model.train_on_batch(x, y)

    def infer(self, task):
        tf = self.tf
        model = self.model("mlp")
        x, _ = self.batch("mlp", task["batch"])

        # A traced function is how Keras models are served (SavedModel signatures);
        # model.predict adds a data pipeline per call that would dominate batch 1.
        @tf.function(input_signature=[tf.TensorSpec(x.shape, tf.float32)])
        def f(x):
            return model(x, training=False)

        return lambda: f(x).numpy()

    def sgemm(self, task):
        tf = self.tf
        n = task["n"]
        a, b = tf.random.normal((n, n)), tf.random.normal((n, n))
        f = tf.function(lambda a, b: tf.linalg.matmul(a, b))
        return lambda: f(a, b)


# --------------------------------------------------------------------------- onnxruntime


class OnnxRuntime:
    name = "onnxruntime"

    def __init__(self, threads):
        import numpy as np
        import onnx
        import onnxruntime as ort

        self.np, self.onnx, self.ort = np, onnx, ort
        self.threads = threads

    def info(self):
        return {"onnxruntime": self.ort.__version__, "onnx": self.onnx.__version__}, {
            "intra_op_num_threads": str(self.threads),
            "inter_op_num_threads": "1",
            "providers": ",".join(self.ort.get_available_providers()),
        }

    def session(self, model):
        so = self.ort.SessionOptions()
        so.intra_op_num_threads = self.threads
        so.inter_op_num_threads = 1
        so.execution_mode = self.ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = self.ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        return self.ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])

    def finish(self, graph):
        h = self.onnx.helper
        # Opset 17 and IR 8 are old enough for any current onnxruntime to accept.
        model = h.make_model(graph, opset_imports=[h.make_opsetid("", 17)], producer_name="deepframe-bench")
        model.ir_version = 8
        self.onnx.checker.check_model(model)
        return model

    def mlp(self):
        np, h, TP = self.np, self.onnx.helper, self.onnx.TensorProto
        rng = np.random.default_rng(1)
        inits, nodes, prev = [], [], "x"
        dims = [784, 512, 512, 10]
        for i in range(3):
            fan_in, fan_out = dims[i], dims[i + 1]
            limit = np.sqrt(6 / (fan_in + fan_out))
            w = rng.uniform(-limit, limit, (fan_in, fan_out)).astype(np.float32)
            inits.append(self.onnx.numpy_helper.from_array(w, f"w{i}"))
            inits.append(self.onnx.numpy_helper.from_array(np.zeros(fan_out, np.float32), f"b{i}"))
            nodes.append(h.make_node("Gemm", [prev, f"w{i}", f"b{i}"], [f"z{i}"]))
            prev = f"z{i}"
            if i < 2:
                nodes.append(h.make_node("Relu", [prev], [f"a{i}"]))
                prev = f"a{i}"
        nodes.append(h.make_node("Softmax", [prev], ["y"], axis=-1))
        graph = h.make_graph(nodes, "mlp", [h.make_tensor_value_info("x", TP.FLOAT, ["n", 784])],
                             [h.make_tensor_value_info("y", TP.FLOAT, ["n", 10])], inits)
        return self.finish(graph)

    def infer(self, task):
        np = self.np
        sess = self.session(self.mlp())
        x = np.random.default_rng(2).standard_normal((task["batch"], 784), dtype=np.float32)
        feed = {"x": x}
        return lambda: sess.run(None, feed)

    def sgemm(self, task):
        np, h, TP = self.np, self.onnx.helper, self.onnx.TensorProto
        n = task["n"]
        graph = h.make_graph([h.make_node("MatMul", ["a", "b"], ["c"])], "sgemm",
                             [h.make_tensor_value_info("a", TP.FLOAT, [n, n]), h.make_tensor_value_info("b", TP.FLOAT, [n, n])],
                             [h.make_tensor_value_info("c", TP.FLOAT, [n, n])])
        sess = self.session(self.finish(graph))
        rng = np.random.default_rng(3)
        feed = {"a": rng.standard_normal((n, n), dtype=np.float32), "b": rng.standard_normal((n, n), dtype=np.float32)}
        return lambda: sess.run(None, feed)


# --------------------------------------------------------------------------------- numpy


class NumPy:
    name = "numpy"

    def __init__(self, threads):
        import numpy as np

        self.np = np

    def info(self):
        np = self.np
        settings = {"OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE", "(auto)")}
        try:
            blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
            settings["blas"] = f'{blas.get("name")} {blas.get("version")}'
        except Exception:  # older numpy: no dict form; the version alone is still useful
            pass
        core = openblas_core()
        if core:
            settings["openblas_core"] = core
        return {"numpy": np.__version__}, settings

    def sgemm(self, task):
        np = self.np
        n = task["n"]
        rng = np.random.default_rng(3)
        a, b = rng.standard_normal((n, n), dtype=np.float32), rng.standard_normal((n, n), dtype=np.float32)
        c = np.empty((n, n), np.float32)
        return lambda: np.matmul(a, b, out=c)


def openblas_core():
    """The kernel family the OpenBLAS that NumPy loaded picked for this CPU, if it says."""
    import ctypes

    try:
        with open("/proc/self/maps") as f:
            libs = {line.split()[-1] for line in f if "openblas" in line.lower() and line.split()[-1].startswith("/")}
    except OSError:
        return ""
    for path in sorted(libs):
        lib = ctypes.CDLL(path)
        for sym in ("scipy_openblas_get_corename64_", "openblas_get_corename64_", "scipy_openblas_get_corename", "openblas_get_corename"):
            fn = getattr(lib, sym, None)
            if fn is not None:
                fn.restype = ctypes.c_char_p
                return fn().decode()
    return ""


FRAMEWORKS = {c.name: c for c in (Torch, TensorFlow, OnnxRuntime, NumPy)}


def serve(fw_class, threads, requests, answers):
    def answer(obj):
        answers.write(json.dumps(obj) + "\n")
        answers.flush()

    try:
        fw = fw_class(threads)
    except Exception as e:  # an import that fails is reported, not a crash without a word
        answer({"error": f"{type(e).__name__}: {e}"})
        return
    answer({"ready": True})
    task, step, per_call = None, None, False
    while True:
        line = requests.readline()
        if not line:
            return
        req = json.loads(line)
        op, resp = req.get("op"), {}
        try:
            if op == "prepare":
                task, step = req["task"], None
                gc.collect()
                reset_peak_rss()
                build = getattr(fw, task["kind"], None)
                if build is None:
                    raise ValueError(f"{fw.name} does not run {task['kind']} workloads")
                s = build(task)
                for _ in range(task["warmup"]):
                    s()
                step, per_call = s, task["kind"] == "infer" and task.get("batch") == 1
            elif op == "rep":
                if step is None:
                    raise ValueError("rep without a prepared task")
                secs, calls = time_rep(task["iters"], step, per_call)
                resp = {"seconds": secs}
                if calls:
                    resp["calls"] = calls
            elif op == "finish":
                resp = {"peak_rss_bytes": peak_rss()}
                step = None
            elif op == "info":
                versions, settings = fw.info()
                import platform

                versions["python"] = platform.python_version()
                resp = {"versions": versions, "settings": settings, "threads": threads}
            elif op == "quit":
                return
            else:
                raise ValueError(f"unknown request {op!r}")
        except Exception as e:  # one broken workload must not hide the rest
            log(f"{fw.name}: {op}: {type(e).__name__}: {e}")
            resp = {"error": f"{type(e).__name__}: {e}"}
        answer(resp)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--framework", required=True, choices=sorted(FRAMEWORKS))
    ap.add_argument("--threads", type=int, required=True)
    args = ap.parse_args()
    try:
        answers = os.fdopen(3, "w")
    except OSError:
        sys.exit("peers.py answers on file descriptor 3; it is started by bench/cmd/peerbench, not by hand")
    serve(FRAMEWORKS[args.framework], args.threads, sys.stdin, answers)


if __name__ == "__main__":
    main()
