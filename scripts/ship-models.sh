#!/usr/bin/env bash
# Trains the three shipped models on the real DREAM sample (data/dream/train_demo.tsv), scores them
# on the public test labels, and exports them as bundles into public/models/ (issue 4). This is
# exactly how public/models/* were made; re-running resumes unfinished runs under runs/ship-*.
#
# The other assays (issue 11): MODEL@DATASET trains MODEL on that dataset's 1,000-row real samples
# (deepstarr: data/drosophila/, lentimpra: data/human/; train, validation and test splits) with
# the dataset's reference settings (batch 32, 5 epochs), scores it per task on the test sample
# (`dream evaluate --data`) and ships it as public/models/DATASET-MODEL.
#
# Usage: scripts/ship-models.sh [MODEL[@DATASET]...]
#        (default: dream-cnn dream-rnn dream-attn dream-cnn@deepstarr dream-cnn@lentimpra)
# env: PRECISION=f16|f32|auto (default auto: f16 when its predictions differ from f32 by <= 1e-3 on the
#      first 300 test sequences, else f32; measured below and stated in the model cards), SEED=7, BATCH=256,
#      SKIP_TRAIN=1 exports the runs as they stand (an unfinished run is marked so in its model card).
# CPU cost on 2 cores: DREAM-CNN ~25 min/epoch, DREAM-RNN and DREAM-Attn longer.
set -euo pipefail
cd "$(dirname "$0")/.."
PRECISION=${PRECISION:-auto}
SEED=${SEED:-7}
BATCH=${BATCH:-256}
MODELS=("$@")
[ ${#MODELS[@]} -gt 0 ] || MODELS=(dream-cnn dream-rnn dream-attn dream-cnn@deepstarr dream-cnn@lentimpra)
T=${CARGO_TARGET_DIR:-target}
cargo build --release -q -p dream-trainer -p model-export
D="$T/release/dream"
X="$T/release/model-export"
epochs() { case $1 in dream-cnn) echo 3 ;; dream-rnn) echo 4 ;; dream-attn) echo 3 ;; *) echo 1 ;; esac; }

# A fixed sample for the f16-vs-f32 measurement: the first 300 test sequences.
SAMPLE="$T/ship-sample.tsv"
head -n 301 data/dream/test_sequences.tsv | cut -f4 > "$SAMPLE"

# f16 vs f32: the largest |difference| of any output over the predictions of two TSVs (same rows).
max_delta() {
  paste "$1" "$2" | awk -F'\t' -v what="$3" 'NR > 1 { h = NF / 2; for (k = 2; k <= h; k++) { d = $k - $(k + h); d = d < 0 ? -d : d; if (d > max) max = d } } END { printf "%s: f16 vs f32 max |delta prediction| over %d test sequences = %.2e\n", what, NR - 1, max }'
}

ship_assay() {
  local m=$1 ds=$2 dir train val test
  case $ds in
    deepstarr) dir=data/drosophila; val=$dir/sample_val.tsv ;;
    lentimpra) dir=data/human; val=$dir/sample_valid.tsv ;;
    *) echo "ship-models.sh: no shipped sample for dataset $ds" >&2; return 1 ;;
  esac
  train=$dir/sample_train.tsv test=$dir/sample_test.tsv
  local run=runs/ship-$ds-$m name=$ds-$m
  local resume=(); [ -f "$run/checkpoint/state.json" ] && resume=(--resume)
  if [ -z "${SKIP_TRAIN:-}" ] && { [ ! -f "$run/metrics.csv" ] || [ "$(($(wc -l < "$run/metrics.csv") - 1))" -lt 5 ]; }; then
    "$D" train --model "$m" --dataset "$ds" --train "$train" --val "$val" --out "$run" --seed "$SEED" "${resume[@]}"
  fi
  "$D" evaluate --model "$run" --data "$test" --json "$run/test_scores.json" | tee "$run/test_scores.md"
  local notes="Demonstration model of this toolkit for the $ds preset: trained on CPU on the 1,000-row real sample in $train (validated on the 1,000 rows of $val, scored on the 1,000 rows of $test), not on the full data set of the paper's benchmark, with the reference settings (batch 32, 5 epochs); with so little data it has learned little, as the scores show."
  for p in f32 f16; do
    "$X" bundle --from "$run" --out "$T/ship-bundles/$name-$p" --name "$name" --precision $p --scores "$run/test_scores.json" --notes "$notes" --force
    "$D" predict --model "$T/ship-bundles/$name-$p" --input "$test" --output "$T/ship-bundles/$name-$p.tsv" 2>/dev/null
  done
  max_delta "$T/ship-bundles/$name-f32.tsv" "$T/ship-bundles/$name-f16.tsv" "$name" | tee "$run/f16_vs_f32.txt"
  local prec=$PRECISION
  [ "$prec" = auto ] && prec=$(awk '{ print ($NF + 0 <= 1e-3) ? "f16" : "f32" }' "$run/f16_vs_f32.txt")
  echo "$name: shipping $prec weights" >&2
  "$X" bundle --from "$run" --out "public/models/$name" --name "$name" --precision "$prec" --scores "$run/test_scores.json" \
    --notes "$notes $(cat "$run/f16_vs_f32.txt")" --force
}

for m in "${MODELS[@]}"; do
  case $m in *@*) ship_assay "${m%@*}" "${m#*@}"; continue ;; esac
  run=runs/ship-$m
  resume=(); [ -f "$run/checkpoint/state.json" ] && resume=(--resume)
  if [ -z "${SKIP_TRAIN:-}" ] && { [ ! -f "$run/metrics.csv" ] || [ "$(($(wc -l < "$run/metrics.csv") - 1))" -lt "$(epochs "$m")" ]; }; then
    "$D" train --model "$m" --train data/dream/train_demo.tsv --out "$run" --epochs "$(epochs "$m")" \
      --batch-size "$BATCH" --seed "$SEED" "${resume[@]}"
  fi
  "$D" evaluate --model "$run" --test data/dream/test_sequences.tsv --labels data/dream/test_labels_public.tsv \
    --pairs data/dream/test_pairs.tsv --json "$run/test_scores.json" | tee "$run/test_scores.md"
  notes="Shipped default model of this toolkit: trained on CPU on the 6,370-row real sample of the challenge data (not the 6.7 M rows), so its accuracy is modest."
  for p in f32 f16; do
    "$X" bundle --from "$run" --out "$T/ship-bundles/$m-$p" --precision $p --scores "$run/test_scores.json" --notes "$notes" --force
    "$D" predict --model "$T/ship-bundles/$m-$p" --input "$SAMPLE" --output "$T/ship-bundles/$m-$p.tsv" 2>/dev/null
  done
  paste "$T/ship-bundles/$m-f32.tsv" "$T/ship-bundles/$m-f16.tsv" | awk -F'\t' -v m="$m" 'NR > 1 { d = $2 - $4; d = d < 0 ? -d : d; if (d > max) max = d } END { printf "%s: f16 vs f32 max |delta prediction| over %d test sequences = %.2e\n", m, NR - 1, max }' \
    | tee "$run/f16_vs_f32.txt"
  prec=$PRECISION
  if [ "$prec" = auto ]; then
    prec=$(awk '{ print ($NF + 0 <= 1e-3) ? "f16" : "f32" }' "$run/f16_vs_f32.txt")
  fi
  echo "$m: shipping $prec weights" >&2
  "$X" bundle --from "$run" --out "public/models/$m" --precision "$prec" --scores "$run/test_scores.json" \
    --notes "$notes $(cat "$run/f16_vs_f32.txt")" --force
done
"$X" index public/models
du -b public/models/*/weights.safetensors
