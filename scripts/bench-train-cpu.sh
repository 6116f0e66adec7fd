#!/usr/bin/env bash
# CPU training throughput of DREAM-CNN / DREAM-RNN / DREAM-Attn: ours (`dream bench --mode train`,
# burn-flex + autodiff, release build) next to PyTorch (bench/pytorch/bench.py --mode train) in the
# same run. Protocol (both sides): random one-hot batch, soft targets, forward + KL loss + backward +
# AdamW/OneCycle step; median of STEPS timed steps after 1 warm-up; sequences/s.
#
# Usage: scripts/bench-train-cpu.sh [BATCH] [STEPS]   (env PYTHON = a python with torch; THREADS=2)
# Writes ${CARGO_TARGET_DIR:-target}/bench/cpu-train.json and prints a table. Batch 1024 with 2 steps
# takes ~25 min on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
BATCH=${1:-1024}
STEPS=${2:-2}
THREADS=${THREADS:-2}
PYTHON=${PYTHON:-python3}
OUT=${CARGO_TARGET_DIR:-target}/bench
mkdir -p "$OUT"
cargo build --release -q -p dream-trainer
RAYON_NUM_THREADS=$THREADS "${CARGO_TARGET_DIR:-target}/release/dream" bench --mode train --batch-size "$BATCH" \
  --steps "$STEPS" --warmup 1 --json "$OUT/ours-train.json" > /dev/null
torch_ok=0
if "$PYTHON" -c "import torch" 2>/dev/null; then
  torch_ok=1
  for m in cnn rnn attn; do
    echo "== PyTorch $m" >&2
    OMP_NUM_THREADS=$THREADS "$PYTHON" bench/pytorch/bench.py --model $m --device cpu --batch "$BATCH" \
      --threads "$THREADS" --steps "$STEPS" --warmup 1 --mode train > "$OUT/torch-train-$m.json"
  done
else
  echo "PyTorch not importable with $PYTHON: printing our figures only (set PYTHON=...)" >&2
fi
"$PYTHON" - "$OUT" "$torch_ok" "$BATCH" "$THREADS" <<'PY'
import json, sys
out, torch_ok, batch, threads = sys.argv[1], sys.argv[2] == "1", sys.argv[3], sys.argv[4]
ours = json.load(open(f"{out}/ours-train.json"))["models"]
res = {"batch": int(batch), "threads": int(threads), "models": {}}
print(f"\nCPU training, batch {batch}, {threads} threads")
print("| model | ours (seq/s) | PyTorch (seq/s) | ratio |\n|---|---|---|---|")
for m in ("cnn", "rnn", "attn"):
    o = ours[f"dream-{m}"]["train"]["seqs_per_s"]
    t = json.load(open(f"{out}/torch-train-{m}.json"))["train"]["seqs_per_s"] if torch_ok else None
    res["models"][m] = {"ours_seqs_per_s": o, "torch_seqs_per_s": t, "ratio": o / t if t else None}
    print(f"| DREAM-{m.upper() if m != 'attn' else 'Attn'} | {o:.1f} | {t:.1f} | {o / t:.2f}x |" if t else f"| {m} | {o:.1f} | – | – |")
json.dump(res, open(f"{out}/cpu-train.json", "w"), indent=1)
PY
