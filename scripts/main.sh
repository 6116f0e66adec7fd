#!/usr/bin/env bash
# The project's main job.
#   scripts/main.sh serve   build the website with the shipped models (public/models/) and serve it
#                           at http://127.0.0.1:${PORT:-8080}/ (any static file server would do)
#   scripts/main.sh [...]   train DREAM-CNN on the shipped DREAM data
# (data/dream/train_demo.tsv, 6,370 real rows; 10 % held out for validation) on the CPU with the
# reference DREAM Trainer, then score it on the public DREAM test labels the way the challenge did.
#   MODEL=dream-rnn EPOCHS=4 scripts/main.sh [more dream-train flags, e.g. --steps-per-epoch 2]
#   (defaults: dream-cnn, 2 epochs; each epoch is 12 steps of 1024 sequences, ~4.5 min on 2 cores
#   (measured 2026-12-06); timing.csv records the seconds per epoch)
# Output: runs/$MODEL/ (metrics.csv, curves.svg, model_best.safetensors, checkpoint/, evaluation.json)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = serve ]; then
  scripts/web-build.sh
  echo "serving dist/ at http://127.0.0.1:${PORT:-8080}/ (Ctrl-C stops)"
  exec python3 -m http.server "${PORT:-8080}" --bind 127.0.0.1 --directory dist
fi
MODEL=${MODEL:-dream-cnn}
EPOCHS=${EPOCHS:-2}
OUT=runs/$MODEL
cargo build --release --locked -p dream-trainer
DREAM="${CARGO_TARGET_DIR:-target}/release/dream"
RESUME=()
[ -d "$OUT/checkpoint" ] && RESUME=(--resume)
"$DREAM" train --model "$MODEL" --train data/dream/train_demo.tsv --out "$OUT" --epochs "$EPOCHS" "${RESUME[@]}" "$@"
"$DREAM" evaluate --model "$OUT" --test data/dream/test_sequences.tsv \
  --labels data/dream/test_labels_public.tsv --pairs data/dream/test_pairs.tsv --json "$OUT/evaluation.json"
