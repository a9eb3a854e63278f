"""Fashion-MNIST time-to-accuracy in PyTorch, the same recipe as examples/fashion-mnist: the same
CNN (two 5x5 convolutions with max pooling, Dense 512 with dropout 0.5, Dense 10), PyTorch's
default initialisation, Adam at 1e-3, batches of 64 reshuffled every epoch, pixels scaled to
[0, 1]; after every epoch it scores the 10,000 test images and stops at --target accuracy.

    bench/.venv/bin/python bench/fashion_mnist_torch.py --data ../shared/data/fashion-mnist --threads 2 --json

With --json the last line is one JSON object with the same keys as the Go example's.
"""

import argparse
import gzip
import json
import os
import sys
import time

import numpy as np
import torch
from torch import nn


def read_idx(path):
    """An IDX file of unsigned bytes, gzip-compressed or not, as a numpy array."""
    opener = gzip.open if open(path, "rb").read(2) == b"\x1f\x8b" else open
    with opener(path, "rb") as f:
        data = f.read()
    if data[:2] != b"\x00\x00" or data[2] != 0x08:
        sys.exit(f"{path}: not an IDX file of unsigned bytes")
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load(data, split, rows):
    def path(kind):
        p = os.path.join(data, f"{split}-{kind}.gz")
        return p if os.path.exists(p) else p[:-3]

    x = read_idx(path("images-idx3-ubyte"))
    y = read_idx(path("labels-idx1-ubyte"))
    if rows:
        x, y = x[:rows], y[:rows]
    # NCHW, PyTorch's native layout for convolutions.
    return torch.from_numpy(x.astype(np.float32) / 255).unsqueeze(1), torch.from_numpy(y.astype(np.int64))


def cnn():
    return nn.Sequential(
        nn.Conv2d(1, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 7 * 7, 512), nn.ReLU(), nn.Dropout(0.5), nn.Linear(512, 10),
    )


def evaluate(model, x, y, batch=1000):
    model.eval()
    correct, loss = 0, 0.0
    with torch.inference_mode():
        for i in range(0, len(x), batch):
            out = model(x[i:i + batch])
            loss += nn.functional.cross_entropy(out, y[i:i + batch], reduction="sum").item()
            correct += (out.argmax(1) == y[i:i + batch]).sum().item()
    return correct / len(x), loss / len(x)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="../shared/data/fashion-mnist")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--target", type=float, default=0.90)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--train-rows", type=int, default=0)
    ap.add_argument("--test-rows", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(a.seed)
    xtr, ytr = load(a.data, "train", a.train_rows)
    xte, yte = load(a.data, "t10k", a.test_rows)
    print(f"fashion-mnist (torch {torch.__version__}, {torch.get_num_threads()} threads): "
          f"{len(xtr)} training and {len(xte)} test images from {a.data}", flush=True)

    model = cnn()
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    loss_fn = nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(a.seed)
    train_seconds, acc, loss, epochs = 0.0, 0.0, 0.0, 0
    start = time.perf_counter()
    for epoch in range(a.epochs):
        model.train()
        t0 = time.perf_counter()
        perm = torch.randperm(len(xtr), generator=gen)
        for i in range(0, len(xtr), a.batch_size):
            idx = perm[i:i + a.batch_size]
            opt.zero_grad(set_to_none=True)
            loss_fn(model(xtr[idx]), ytr[idx]).backward()
            opt.step()
        train_seconds += time.perf_counter() - t0
        acc, loss = evaluate(model, xte, yte)
        epochs = epoch + 1
        print(f"epoch {epochs}/{a.epochs} test accuracy {acc:.4f} loss {loss:.4f} "
              f"(training {train_seconds:.1f} s so far)", flush=True)
        if acc >= a.target:
            break
    tta = time.perf_counter() - start
    verdict = "reached" if acc >= a.target else "did not reach"
    print(f"test accuracy {acc:.4f} after {epochs} epoch(s): {verdict} the target {a.target:.2f}; "
          f"training {train_seconds:.1f} s ({epochs * len(xtr) / train_seconds:.0f} samples/s), time to accuracy {tta:.1f} s")
    if a.json:
        print(json.dumps({
            "accuracy": round(acc, 4), "loss": round(loss, 4), "epochs": epochs, "reached_target": acc >= a.target,
            "target": a.target, "train_seconds": round(train_seconds, 4), "time_to_accuracy_seconds": round(tta, 4),
            "samples_per_second": round(epochs * len(xtr) / train_seconds), "train_rows": len(xtr), "test_rows": len(xte),
            "backend": f"torch {torch.__version__}", "threads": torch.get_num_threads(), "data": os.path.abspath(a.data),
        }))


if __name__ == "__main__":
    main()
