package safetensors

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deepframe/deepframe/tensor"
)

// crossCheckScript loads the Go-written file with the reference implementation, checks every
// value against the formulas filled uses, then writes a file of its own for Go to read back.
const crossCheckScript = `
import sys
import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file, save_file

go_path, py_path = sys.argv[1], sys.argv[2]
got = load_file(go_path)

def filled(dtype, shape):
    n = int(np.prod(shape, dtype=np.int64))
    i = np.arange(n, dtype=np.int64)
    if dtype == np.float32:
        v = (i.astype(np.float64) * 0.37 - 1.5).astype(np.float32)
    elif dtype == np.int64:
        v = i * (1 << 40) - 3
    elif dtype == np.int32:
        v = (i * 7919 - 20000).astype(np.int32)
    else:
        v = ((i * 37 + 5) % 256).astype(np.uint8)
    return v.astype(dtype).reshape(shape)

want = {
    "f32": filled(np.float32, (2, 3)),
    "scalar": np.array(2.0, dtype=np.float32),
    "i64": filled(np.int64, (5,)),
    "i32": filled(np.int32, (2, 2)),
    "u8": filled(np.uint8, (3, 1, 2)),
    "empty": filled(np.float32, (2, 0, 3)),
}
assert sorted(got) == sorted(want), (sorted(got), sorted(want))
for k, w in want.items():
    g = got[k]
    assert g.dtype == w.dtype, (k, g.dtype, w.dtype)
    assert g.shape == w.shape, (k, g.shape, w.shape)
    assert np.array_equal(g, w), (k, g, w)
with safe_open(go_path, framework="np") as f:
    meta = f.metadata()
assert meta == {"framework": "deepframe", "epochs": "50"}, meta

save_file({
    "py_f32": np.arange(12, dtype=np.float32).reshape(3, 4) / 4,
    "py_i64": np.array([-(2**62), 0, 2**62], dtype=np.int64),
    "py_i32": np.array([[-7, 8]], dtype=np.int32),
    "py_u8": np.arange(256, dtype=np.uint8),
    "py_scalar": np.array(3.5, dtype=np.float32),
    "py_empty": np.zeros((0, 4), dtype=np.float32),
}, py_path, metadata={"source": "python"})
print("python read the Go file: ok")
`

// TestPythonCrossCheck checks interoperability with the reference implementation in both
// directions. It needs a Python with the safetensors and numpy packages, named by
// DEEPFRAME_PYTHON, e.g. after: python3 -m venv /tmp/st && /tmp/st/bin/pip install safetensors numpy
func TestPythonCrossCheck(t *testing.T) {
	py := os.Getenv("DEEPFRAME_PYTHON")
	if py == "" {
		t.Skip("DEEPFRAME_PYTHON is not set; set it to a python with safetensors and numpy installed to cross-check against the reference implementation")
	}
	if out, err := exec.Command(py, "-c", "import safetensors.numpy, numpy").CombinedOutput(); err != nil {
		t.Skipf("DEEPFRAME_PYTHON=%s cannot import safetensors and numpy (%v): %s", py, err, bytes.TrimSpace(out))
	}

	dir := t.TempDir()
	goPath := filepath.Join(dir, "from_go.safetensors")
	pyPath := filepath.Join(dir, "from_python.safetensors")
	in := map[string]*tensor.Tensor{
		"f32":    filled(tensor.Float32, 2, 3),
		"scalar": tensor.Scalar(2),
		"i64":    filled(tensor.Int64, 5),
		"i32":    filled(tensor.Int32, 2, 2),
		"u8":     filled(tensor.Uint8, 3, 1, 2),
		"empty":  filled(tensor.Float32, 2, 0, 3),
	}
	if err := WriteFile(goPath, in, map[string]string{"framework": "deepframe", "epochs": "50"}); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(py, "-c", crossCheckScript, goPath, pyPath).CombinedOutput()
	if err != nil {
		t.Fatalf("python rejected the Go file: %v\n%s", err, out)
	}
	t.Logf("%s", strings.TrimSpace(string(out)))

	got, meta, err := ReadFile(pyPath)
	if err != nil {
		t.Fatalf("reading the Python file: %v", err)
	}
	if len(meta) != 1 || meta["source"] != "python" {
		t.Fatalf("metadata = %v, want map[source:python]", meta)
	}
	f32 := make([]float32, 12)
	for i := range f32 {
		f32[i] = float32(i) / 4
	}
	u8 := make([]uint8, 256)
	for i := range u8 {
		u8[i] = uint8(i)
	}
	want := map[string]*tensor.Tensor{
		"py_f32":    must(tensor.FromFloat32(f32, 3, 4)),
		"py_i64":    must(tensor.FromInt64([]int64{-(1 << 62), 0, 1 << 62}, 3)),
		"py_i32":    must(tensor.FromInt32([]int32{-7, 8}, 1, 2)),
		"py_u8":     must(tensor.FromUint8(u8, 256)),
		"py_scalar": tensor.Scalar(3.5),
		"py_empty":  tensor.Zeros(0, 4),
	}
	checkSame(t, got, want)
}

func must(t *tensor.Tensor, err error) *tensor.Tensor {
	if err != nil {
		panic(err)
	}
	return t
}
