#!/usr/bin/env bash
# make bench: prepares the peers' Python environment (bench/venv.sh, first run only) and runs
# the same workloads in deepframe, PyTorch, TensorFlow/Keras, ONNX Runtime and NumPy with the
# same thread budget (bench/cmd/peerbench). Prints a markdown table and writes
# bench/results/latest.{json,md}.
#
#   QUICK=1    smoke run (~2 minutes once the environment exists)
#   THREADS=n  intra-op threads for every framework (default 2)
# Further arguments go to peerbench (e.g. -tasks mlp_train,sgemm -frameworks deepframe,torch).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
GO="${GO:-go}"
THREADS="${THREADS:-2}"
QUICK="${QUICK:-0}"

bash bench/venv.sh bench/.venv

args=(-threads "$THREADS" -python bench/.venv/bin/python)
cmd="make bench"
if [ "$QUICK" = 1 ]; then
	args+=(-quick)
	cmd+=" QUICK=1"
fi
if [ "$THREADS" != 2 ]; then
	cmd+=" THREADS=$THREADS"
fi
if [ $# -gt 0 ]; then
	cmd+=" (peerbench $*)"
fi
export BENCH_COMMAND="$cmd"
"$GO" run ./bench/cmd/peerbench "${args[@]}" "$@"
