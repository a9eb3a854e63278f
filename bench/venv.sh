#!/usr/bin/env bash
# Creates (when absent) the virtual environment the peer benchmarks run in, with the newest
# CPU builds of the peers from PyPI, and writes their versions to $VENV/versions.json.
# Usage: bench/venv.sh [VENV_DIR]   (default bench/.venv, which .gitignore keeps out of git)
# Delete the folder to take the peers' newest releases again.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${1:-$here/.venv}"
py="$venv/bin/python"

# A half-made environment (an interrupted pip) is rebuilt rather than trusted: the marker is
# written only after every import below has worked.
# The marker names the package set, so adding a peer rebuilds nothing but installs it.
marker="$venv/.complete-v2"
if [ -x "$py" ] && [ -f "$marker" ]; then
	exit 0
fi

echo "bench: creating the Python environment in $venv (first run only: downloads about 3 GB, ~7 GB on disk)" >&2
python3 -m venv "$venv"
pip=("$py" -m pip install --quiet --disable-pip-version-check --upgrade)
"${pip[@]}" pip

# PyPI's Linux torch wheel declares a dozen nvidia-* CUDA packages (several GB) as
# dependencies although a CPU run never loads them. Install torch alone plus the pure-Python
# packages it imports, and fall back to the full dependency set only if that import fails.
# (pip warns that the declared dependencies are missing; that is the point, so its output goes
# to a log.)
"${pip[@]}" --no-deps torch >"$venv/torch-nodeps.log" 2>&1
"${pip[@]}" filelock typing-extensions sympy networkx jinja2 fsspec setuptools numpy >>"$venv/torch-nodeps.log" 2>&1
if ! "$py" -c 'import torch; torch.manual_seed(0); (torch.randn(8, 8) @ torch.randn(8, 8)).sum().item()' 2>"$venv/torch-import.log"; then
	echo "bench: torch without its CUDA packages does not import ($(tail -n 1 "$venv/torch-import.log" | cut -c1-100)...); installing torch with all its dependencies (several GB)" >&2
	"${pip[@]}" torch
fi

"${pip[@]}" tensorflow-cpu onnxruntime onnx numpy pyarrow pandas

TF_CPP_MIN_LOG_LEVEL=3 "$py" - "$venv/versions.json" <<'PY'
import json, sys, importlib.metadata as md, platform
pkgs = ["torch", "tensorflow-cpu", "keras", "onnxruntime", "onnx", "numpy", "pyarrow", "pandas"]
v = {p: md.version(p) for p in pkgs}
v["python"] = platform.python_version()
import torch, tensorflow, onnxruntime, onnx, numpy, pyarrow, pandas  # noqa: F401  (fail here, not mid-benchmark)
json.dump(v, open(sys.argv[1], "w"), indent=1)
print("bench: peers installed:", ", ".join(f"{k} {x}" for k, x in v.items()), file=sys.stderr)
PY
touch "$marker"
