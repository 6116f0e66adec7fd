#!/usr/bin/env bash
# CPU throughput of DREAM-CNN / DREAM-RNN / DREAM-Attn: ours (`dream bench`, release build) next to
# the independent PyTorch implementation (bench/pytorch/bench.py) measured in the same run, same
# protocol: random one-hot batch built once; inference = eval mode, forward to the expected bin;
# training = forward + KL loss + backward + AdamW/OneCycle step; median of STEPS after 1 warm-up.
#
# Usage: [MODE=infer|train] scripts/bench-cpu.sh [BATCH] [STEPS]
#   env PYTHON = a python with torch (default python3), THREADS (default 2).
# Writes ${CARGO_TARGET_DIR:-target}/bench/cpu-$MODE.json and prints a table.
# Cost on 2 cores: infer at batch 1024, 3 steps ~12 min; train at batch 256, 1 step ~10 min.
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=${MODE:-infer}
BATCH=${1:-1024}
STEPS=${2:-3}
THREADS=${THREADS:-2}
PYTHON=${PYTHON:-python3}
OUT=${CARGO_TARGET_DIR:-target}/bench
mkdir -p "$OUT"
case $MODE in infer|train) ;; *) echo "MODE must be infer or train" >&2; exit 2 ;; esac

cargo build --release -q -p dream-trainer
echo "== ours (dream bench --mode $MODE) batch $BATCH, $THREADS threads" >&2
RAYON_NUM_THREADS=$THREADS "${CARGO_TARGET_DIR:-target}/release/dream" bench --mode "$MODE" --batch-size "$BATCH" \
  --steps "$STEPS" --warmup 1 --json "$OUT/ours-$MODE.json" > /dev/null

torch_ok=0
if "$PYTHON" -c "import torch" 2>/dev/null; then
  torch_ok=1
  for m in cnn rnn attn; do
    echo "== PyTorch $m" >&2
    OMP_NUM_THREADS=$THREADS "$PYTHON" bench/pytorch/bench.py --model $m --device cpu --batch "$BATCH" \
      --threads "$THREADS" --steps "$STEPS" --warmup 1 --mode "$MODE" > "$OUT/torch-$MODE-$m.json"
  done
else
  echo "PyTorch not importable with $PYTHON: printing our figures only (set PYTHON=...)" >&2
fi

# The machine's limit: bench/peak/fma_peak.c, one copy per thread at the same time (skipped
# without a C compiler).
rm -f "$OUT"/peak-*.txt
if cc -O2 -o "$OUT/fma_peak" bench/peak/fma_peak.c 2>/dev/null; then
  for i in $(seq "$THREADS"); do "$OUT/fma_peak" > "$OUT/peak-$i.txt" & done
  wait
fi

"$PYTHON" - "$OUT" "$torch_ok" "$BATCH" "$THREADS" "$MODE" <<'PY'
import glob, json, re, statistics, sys, platform
out, torch_ok, batch, threads, mode = sys.argv[1], sys.argv[2] == "1", sys.argv[3], sys.argv[4], sys.argv[5]
ours = json.load(open(f"{out}/ours-{mode}.json"))["models"]
names = {"cnn": "DREAM-CNN", "rnn": "DREAM-RNN", "attn": "DREAM-Attn"}
result = {"mode": mode, "batch": int(batch), "threads": int(threads), "models": {}}
# Peak = sum over the copies of each copy's median 512-bit figure.
peak = sum(statistics.median(float(v) for v in re.findall(r"512-bit FMA ([0-9.]+)", open(f).read()))
           for f in sorted(glob.glob(f"{out}/peak-*.txt"))) or None
if peak:
    result["peak_gflops_measured"] = peak
print(f"\nCPU {mode}, batch {batch}, {threads} threads, {platform.processor() or platform.machine()}"
      + (f"; measured AVX-512 FMA peak of {threads} cores: {peak:.0f} GFLOP/s" if peak else ""))
# GFLOP/s: 2 × multiply-adds of a forward pass × rows/s (inference; training is left out: its
# backward pass's work depends on which gradients a layer needs).
print("| model | ours (seq/s) | PyTorch (seq/s) | ratio | ours GFLOP/s | of the peak |\n|---|---|---|---|---|---|")
for m in ("cnn", "rnn", "attn"):
    o = ours[f"dream-{m}"][mode]["seqs_per_s"]
    t = None
    if torch_ok:
        tj = json.load(open(f"{out}/torch-{mode}-{m}.json"))
        t = tj.get(mode, {}).get("seqs_per_s")
        result["torch_version"] = tj.get("torch")
    macs = ours[f"dream-{m}"].get("macs_per_row")
    gflops = 2 * macs * o / 1e9 if macs and mode == "infer" else None
    result["models"][m] = {"ours_seqs_per_s": o, "torch_seqs_per_s": t, "ratio": o / t if t else None,
                           "ours_gflops": gflops, "fraction_of_peak": gflops / peak if gflops and peak else None}
    g = f"{gflops:.1f} | {100 * gflops / peak:.0f} %" if gflops and peak else (f"{gflops:.1f} | –" if gflops else "– | –")
    print(f"| {names[m]} | {o:.1f} | {t:.1f} | {o / t:.2f}x | {g} |" if t else f"| {names[m]} | {o:.1f} | – | – | {g} |")
json.dump(result, open(f"{out}/cpu-{mode}.json", "w"), indent=1)
PY
