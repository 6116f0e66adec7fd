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
# One process per model, as on the PyTorch side: `dream` keeps freed memory for reuse (mimalloc,
# trainer/src/main.rs), so one process for all three at batch 1024 in training held DREAM-CNN's
# and DREAM-RNN's heaps when DREAM-Attn's steps began and went past 23 GB.
for m in cnn rnn attn; do
  echo "== ours dream-$m (dream bench --mode $MODE) batch $BATCH, $THREADS threads" >&2
  RAYON_NUM_THREADS=$THREADS "${CARGO_TARGET_DIR:-target}/release/dream" bench --models "dream-$m" --mode "$MODE" \
    --batch-size "$BATCH" --steps "$STEPS" --warmup 1 --json "$OUT/ours-$MODE-$m.json" > /dev/null
done

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
ours = {}
for m in ("cnn", "rnn", "attn"):
    ours.update(json.load(open(f"{out}/ours-{mode}-{m}.json"))["models"])
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
# backward pass's work depends on which gradients a layer needs). "model" counts the layers as
# defined (direct convolutions: what PyTorch executes); "executed" counts what our CPU path runs
# (DREAM-RNN's core convolutions through the DFT: fewer), and is the one set against the peak.
print("| model | ours (seq/s) | PyTorch (seq/s) | ratio | model GFLOP/s | executed GFLOP/s | of the peak |\n|---|---|---|---|---|---|---|")
for m in ("cnn", "rnn", "attn"):
    o = ours[f"dream-{m}"][mode]["seqs_per_s"]
    t = None
    if torch_ok:
        tj = json.load(open(f"{out}/torch-{mode}-{m}.json"))
        t = tj.get(mode, {}).get("seqs_per_s")
        result["torch_version"] = tj.get("torch")
    macs = ours[f"dream-{m}"].get("macs_per_row")
    run = ours[f"dream-{m}"].get("cpu_inference_macs_per_row", macs)
    gflops = 2 * macs * o / 1e9 if macs and mode == "infer" else None
    executed = 2 * run * o / 1e9 if run and mode == "infer" else None
    result["models"][m] = {"ours_seqs_per_s": o, "torch_seqs_per_s": t, "ratio": o / t if t else None,
                           "ours_gflops": gflops, "ours_executed_gflops": executed,
                           "fraction_of_peak": executed / peak if executed and peak else None}
    g = (f"{gflops:.1f} | {executed:.1f} | {100 * executed / peak:.0f} %" if gflops and peak
         else (f"{gflops:.1f} | {executed:.1f} | –" if gflops else "– | – | –"))
    print(f"| {names[m]} | {o:.1f} | {t:.1f} | {o / t:.2f}x | {g} |" if t else f"| {names[m]} | {o:.1f} | – | – | {g} |")
json.dump(result, open(f"{out}/cpu-{mode}.json", "w"), indent=1)
PY
