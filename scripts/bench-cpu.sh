#!/usr/bin/env bash
# CPU inference throughput of DREAM-CNN / DREAM-RNN / DREAM-Attn: ours (burn, release build) next to
# the independent PyTorch implementation (bench/pytorch/bench.py) measured in the same run, same
# protocol: eval mode, random one-hot input, batch 1024, 2 threads, median of 3 steps after 1 warm-up.
#
# Usage: scripts/bench-cpu.sh [BATCH] [STEPS]      (env PYTHON = a python with torch; default python3)
# Writes target/bench/cpu-inference.json and prints a table. Takes ~12 min at batch 1024 on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
BATCH=${1:-1024}
STEPS=${2:-3}
THREADS=${THREADS:-2}
PYTHON=${PYTHON:-python3}
OUT=target/bench
mkdir -p "$OUT"

cargo build --release -q -p prixfixe --example bench_inference
echo "== ours (burn) batch $BATCH, $THREADS threads" >&2
RAYON_NUM_THREADS=$THREADS "${CARGO_TARGET_DIR:-target}/release/examples/bench_inference" --batch "$BATCH" --steps "$STEPS" --warmup 1 > "$OUT/ours.json"

torch_ok=0
if "$PYTHON" -c "import torch" 2>/dev/null; then
  torch_ok=1
  for m in cnn rnn attn; do
    echo "== PyTorch $m" >&2
    OMP_NUM_THREADS=$THREADS "$PYTHON" bench/pytorch/bench.py --model $m --device cpu --batch "$BATCH" \
      --threads "$THREADS" --steps "$STEPS" --warmup 1 --mode infer > "$OUT/torch-$m.json"
  done
else
  echo "PyTorch not importable with $PYTHON: printing our figures only (set PYTHON=...)" >&2
fi

"$PYTHON" - "$OUT" "$torch_ok" "$BATCH" "$THREADS" <<'PY'
import json, sys, platform
out, torch_ok, batch, threads = sys.argv[1], sys.argv[2] == "1", sys.argv[3], sys.argv[4]
ours = json.load(open(f"{out}/ours.json"))
rows, result = [], {"batch": int(batch), "threads": int(threads), "ours_backend": ours["backend"], "models": {}}
names = {"cnn": "DREAM-CNN", "rnn": "DREAM-RNN", "attn": "DREAM-Attn"}
print(f"\nCPU inference, batch {batch}, {threads} threads, {platform.processor() or platform.machine()}")
print("| model | ours (seq/s) | PyTorch (seq/s) | ratio |\n|---|---|---|---|")
for m in ("cnn", "rnn", "attn"):
    o = ours["models"][m]["seqs_per_s"]
    t = None
    if torch_ok:
        tj = json.load(open(f"{out}/torch-{m}.json"))
        t = tj.get("infer", {}).get("seqs_per_s")
        result["torch_version"] = tj.get("torch_version")
    ratio = o / t if t else None
    result["models"][m] = {"ours_seqs_per_s": o, "torch_seqs_per_s": t, "ratio": ratio}
    print(f"| {names[m]} | {o:.1f} | {t:.1f} | {ratio:.2f}x |" if t else f"| {names[m]} | {o:.1f} | – | – |")
json.dump(result, open(f"{out}/cpu-inference.json", "w"), indent=1)
PY
