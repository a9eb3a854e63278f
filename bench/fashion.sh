#!/usr/bin/env bash
# make bench-fashion: Fashion-MNIST time to 0.90 test accuracy, deepframe
# (examples/fashion-mnist) beside PyTorch (bench/fashion_mnist_torch.py), same recipe, same
# thread budget, one after the other. Prints a markdown table and writes
# bench/results/fashion.{json,md}.
#
#   THREADS=n  intra-op threads for both (default 2)
#   EPOCHS=n   most epochs for both (default 5; both stop once they reach 0.90)
#   DATA=dir   the IDX files (default: wherever examples/fashion-mnist finds them)
#   TRAIN_ROWS=n  train on the first n images only (a smoke run; 0 or unset: all 60,000)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
GO="${GO:-go}"
THREADS="${THREADS:-2}"
EPOCHS="${EPOCHS:-5}"

bash bench/venv.sh bench/.venv
py=bench/.venv/bin/python

export DEEPFRAME_NUM_THREADS="$THREADS" OMP_NUM_THREADS="$THREADS" MKL_NUM_THREADS="$THREADS" \
	OPENBLAS_NUM_THREADS="$THREADS" GOMAXPROCS="$THREADS"
# As in peerbench: an inherited OPENBLAS_CORETYPE would pin deepframe's OpenBLAS to one kernel
# family that need not be this CPU's best; each library picks its own.
unset OPENBLAS_CORETYPE

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$GO" build -o "$tmp/fashion-mnist" ./examples/fashion-mnist
TRAIN_ROWS="${TRAIN_ROWS:-0}"
dfargs=(-json -epochs "$EPOCHS" -train-rows "$TRAIN_ROWS" -out out/fashion-mnist)
if [ -n "${DATA:-}" ]; then
	dfargs+=(-data "$DATA")
fi
echo "== deepframe: examples/fashion-mnist ${dfargs[*]}" >&2
"$tmp/fashion-mnist" "${dfargs[@]}" | tee "$tmp/deepframe.log"
data="$(tail -n 1 "$tmp/deepframe.log" | "$py" -c 'import json, sys; print(json.load(sys.stdin)["data"])')"
echo "== torch: bench/fashion_mnist_torch.py --data $data" >&2
"$py" bench/fashion_mnist_torch.py --data "$data" --threads "$THREADS" --epochs "$EPOCHS" --train-rows "$TRAIN_ROWS" --json | tee "$tmp/torch.log"

mkdir -p bench/results
THREADS="$THREADS" EPOCHS="$EPOCHS" TRAIN_ROWS="$TRAIN_ROWS" "$py" - "$tmp/deepframe.log" "$tmp/torch.log" "$THREADS" <<'PY'
import json, os, sys, time
df, pt = (json.loads(open(p).read().strip().splitlines()[-1]) for p in sys.argv[1:3])
with open("/proc/loadavg") as f:
    load = " ".join(f.read().split()[:3])
rows = [("deepframe (" + df["backend"] + ")", df), (pt["backend"], pt)]
cmd = "make bench-fashion" + "".join(f" {k}={os.environ[k]}" for k in ("THREADS", "EPOCHS", "TRAIN_ROWS") if os.environ.get(k) not in (None, "", {"THREADS": "2", "EPOCHS": "5", "TRAIN_ROWS": "0"}[k]))
out = [f"## Fashion-MNIST time to {df['target']:.2f} test accuracy — {sys.argv[3]} threads each",
       "",
       f"- Command: `{cmd}` ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}); load average {load} at the end.",
       "- Recipe: CNN 32c5-pool-64c5-pool-512-dropout-10, Adam 1e-3, batch 64, pixels in [0, 1], test accuracy on all test images after every epoch, stop at the target; each framework's default initialisation.",
       "",
       "| framework | test accuracy | epochs | training s | samples/s | time to accuracy s | reached target |",
       "|---|---:|---:|---:|---:|---:|---|"]
for name, r in rows:
    out.append(f"| {name} | {r['accuracy']:.4f} | {r['epochs']} | {r['train_seconds']:.1f} | {r['samples_per_second']:,.0f} | "
               f"{r['time_to_accuracy_seconds']:.1f} | {'yes' if r['reached_target'] else 'no'} |")
if float(load.split()[0]) > 0.75 * os.cpu_count():
    out.append("")
    out.append(f"**Warning: the machine was busy** (1-minute load {load.split()[0]} on {os.cpu_count()} CPUs); OpenMP-based "
               "PyTorch slows down far more than its share when cores are taken from it, so these times do not represent a quiet machine.")
if df["reached_target"] and pt["reached_target"]:
    out.append("")
    out.append(f"deepframe's time to accuracy is {df['time_to_accuracy_seconds'] / pt['time_to_accuracy_seconds']:.2f}x PyTorch's "
               f"(training throughput {df['samples_per_second'] / pt['samples_per_second']:.2f}x).")
md = "\n".join(out) + "\n"
print(md)
open("bench/results/fashion.md", "w").write(md)
json.dump({"deepframe": df, "torch": pt, "threads": int(sys.argv[3]), "load_average_end": load}, open("bench/results/fashion.json", "w"), indent=1)
PY
