#!/usr/bin/env bash
# GPU training benchmark, run ON the CUDA machine (issue 3). One run answers: device name, step time
# and sequences/s per model (training and inference, batch 1024), the PyTorch figure beside it
# (bench/pytorch/bench.py, same protocol), and a short real training run (train_demo.tsv) on the GPU.
#
# Prepare here (needs no GPU; burn 0.21's cuda backend loads the driver at run time):
#   cargo build --release -p dream-trainer --features cuda --target-dir target/cuda
#   mkdir -p .gpu && cp target/cuda/release/dream .gpu/dream      # .gpu/ is git-ignored
# Then on the device machine, from the repository root (all figures land in $OUT, default ./gpu-out):
#   scripts/bench-gpu.sh                      (env: DREAM=.gpu/dream  STEPS=5  BATCH=1024)
# Takes ~5 min on an H200. Leaves 4 files in $OUT (the device tool returns at most 8): summary.md,
# dream-bench.json, torch-bench.json (all PyTorch runs) and logs.txt (every log, nvidia-smi included).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu-out}
DREAM=${DREAM:-.gpu/dream}
STEPS=${STEPS:-5}
BATCH=${BATCH:-1024}
PYTHON=${PYTHON:-python3}
FINAL=$OUT
OUT=$(mktemp -d)              # scratch; only the four result files are copied to $FINAL
mkdir -p "$FINAL"
nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1 || echo "nvidia-smi failed" >> "$OUT/nvidia-smi.txt"

echo "== dream bench (burn-cuda), batch $BATCH" >&2
"$DREAM" bench --device cuda --mode both --batch-size "$BATCH" --steps "$STEPS" --warmup 2 \
  --json "$OUT/dream-bench.json" > /dev/null 2> "$OUT/dream-bench.log" || echo "dream bench failed (see dream-bench.log)" >&2

for m in cnn rnn attn; do
  echo "== PyTorch $m" >&2
  "$PYTHON" bench/pytorch/bench.py --model $m --device cuda --batch "$BATCH" --steps "$STEPS" --warmup 2 --mode both \
    > "$OUT/torch-$m.json" 2> "$OUT/torch-$m.log" || echo "PyTorch $m failed (see torch-$m.log)" >&2
  "$PYTHON" bench/pytorch/bench.py --model $m --device cuda --batch "$BATCH" --steps "$STEPS" --warmup 2 --mode both --bf16 --tf32 \
    > "$OUT/torch-$m-bf16.json" 2>> "$OUT/torch-$m.log" || true
done

echo "== dream train on the GPU: DREAM-CNN, train_demo.tsv, 2 epochs" >&2
rm -rf "$OUT/run"
/usr/bin/time -v "$DREAM" train --model dream-cnn --train data/dream/train_demo.tsv --out "$OUT/run" --epochs 2 \
  --batch-size 256 --seed 7 --device cuda > "$OUT/train.log" 2>&1 || echo "dream train failed (see train.log)" >&2
cp "$OUT/run/metrics.csv" "$OUT/train-metrics.csv" 2>/dev/null; cp "$OUT/run/timing.csv" "$OUT/train-timing.csv" 2>/dev/null
rm -rf "$OUT/run"

"$PYTHON" - "$OUT" <<'PY'
import json, sys, os
out = sys.argv[1]
def load(p):
    try: return json.load(open(os.path.join(out, p)))
    except Exception: return None
ours = load("dream-bench.json") or {"models": {}}
gpu = open(os.path.join(out, "nvidia-smi.txt")).read().splitlines()
lines = ["# GPU benchmark", "", "```", *gpu[:12], "```", "",
         "| model | mode | ours step (s) | ours seq/s | PyTorch fp32 seq/s | ratio | PyTorch bf16+tf32 seq/s |", "|---|---|---|---|---|---|---|"]
for m, key in (("cnn", "dream-cnn"), ("rnn", "dream-rnn"), ("attn", "dream-attn")):
    t, tb = load(f"torch-{m}.json") or {}, load(f"torch-{m}-bf16.json") or {}
    for mode in ("train", "infer"):
        o = ours["models"].get(key, {}).get(mode, {})
        ts, tbs = t.get(mode, {}).get("seqs_per_s"), tb.get(mode, {}).get("seqs_per_s")
        os_ = o.get("seqs_per_s")
        ratio = f"{os_ / ts:.2f}x" if os_ and ts else "–"
        f = lambda v, d=1: f"{v:.{d}f}" if v else "–"
        lines.append(f"| {key} | {mode} | {f(o.get('median_s'), 4)} | {f(os_)} | {f(ts)} | {ratio} | {f(tbs)} |")
lines += ["", "Device (PyTorch): " + str((load("torch-cnn.json") or {}).get("device_name")),
          "", "dream train (DREAM-CNN, train_demo.tsv, 2 epochs, batch 256) metrics / timing:", "```"]
for f in ("train-metrics.csv", "train-timing.csv"):
    p = os.path.join(out, f)
    lines += open(p).read().splitlines() if os.path.exists(p) else [f"{f}: missing"]
lines.append("```")
open(os.path.join(out, "summary.md"), "w").write("\n".join(lines) + "\n")
json.dump({f"{m}{s}": load(f"torch-{m}{s}.json") for m in ("cnn", "rnn", "attn") for s in ("", "-bf16")},
          open(os.path.join(out, "torch-bench.json"), "w"), indent=1)
print("\n".join(lines))
PY
cp "$OUT/summary.md" "$OUT/torch-bench.json" "$FINAL/"
cp "$OUT/dream-bench.json" "$FINAL/" 2>/dev/null
for f in "$OUT"/nvidia-smi.txt "$OUT"/*.log; do echo "===== $(basename "$f")"; cat "$f"; done > "$FINAL/logs.txt" 2>&1
