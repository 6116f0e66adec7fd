#!/usr/bin/env bash
# Memory / load-time benchmark of `dream train` on a challenge-sized training file (issue 3).
#
# Generates (once) a synthetic file in the challenge's train_sequences.txt format: 6,739,258 rows
# of `sequence<TAB>expression`, each sequence = 17 bp 5' adapter + 80 bp random region + 13 bp 3'
# flank (110 bp), expression uniform in 0-17 with every other row an integer (a "singleton").
# Then runs `dream train --dry-run` on it (load, parse, pack, 10% validation split) and prints the
# load time and peak resident memory (goal: <= 1 GB).
#
# With --dataset deepstarr (issue 11): a synthetic DeepSTARR-format table instead (header
# `seqnames start end ID set Sequence Dev_log2_enrichment Hk_log2_enrichment`), default 500,000
# rows of 249 bp with two targets, as forward/reverse-complement pairs (ids with `_+_` / `_-_`)
# split 90/10 into Train/Val by pair; `dream train --dataset deepstarr --dry-run` loads, checks
# and packs it (goal: peak RSS <= 500 MB).
#
# Usage: scripts/bench-memory.sh [--dataset deepstarr] [ROWS]   (writes under ${CARGO_TARGET_DIR:-target}/bench/)
set -euo pipefail
cd "$(dirname "$0")/.."
DATASET=dream-yeast
if [ "${1:-}" = --dataset ]; then DATASET=$2; shift 2; fi
TARGET=${CARGO_TARGET_DIR:-target}
DIR="$TARGET/bench"
mkdir -p "$DIR"
cargo build --release -q -p dream-trainer

if [ "$DATASET" = deepstarr ]; then
  ROWS=${1:-500000}
  FILE="$DIR/synthetic_deepstarr_$ROWS.tsv"
  if [ ! -s "$FILE" ]; then
    echo "== generating $FILE ($ROWS rows, 249 bp, Dev + Hk)" >&2
    python3 - "$FILE" "$ROWS" <<'PY'
import os, random, sys
path, rows = sys.argv[1], int(sys.argv[2])
acgt = bytes(b"ACGT"[i % 4] for i in range(256))
comp = bytes.maketrans(b"ACGT", b"TGCA")
rng = random.Random(0)
with open(path + ".part", "wb") as f:
    f.write(b"seqnames\tstart\tend\tID\tset\tSequence\tDev_log2_enrichment\tHk_log2_enrichment\n")
    for p in range((rows + 1) // 2):
        seq = os.urandom(249).translate(acgt)
        split = b"Val" if p % 10 == 9 else b"Train"
        start = 1000 + 300 * p
        for strand, s in ((b"+", seq), (b"-", seq.translate(comp)[::-1])):
            if 2 * p + (strand == b"-") >= rows:
                break
            dev, hk = rng.gauss(0.5, 1.5), rng.gauss(0.0, 1.7)
            ident = b"chr2L_%d_%d_%s_peak" % (start, start + 248, strand)
            f.write(b"chr2L\t%d\t%d\t%s\t%s\t%s\t%.6f\t%.6f\n" % (start, start + 248, ident, split, s, dev, hk))
os.replace(path + ".part", path)
PY
  fi
  ls -l "$FILE" >&2
  echo "== dream train --dataset deepstarr --dry-run on $ROWS rows" >&2
  /usr/bin/time -v "$TARGET/release/dream" train --model dream-cnn --dataset deepstarr --train "$FILE" --out "$DIR/dry-run-unused" --dry-run \
    2> "$DIR/memory-deepstarr.log" || { cat "$DIR/memory-deepstarr.log" >&2; exit 1; }
  grep -E "training rows|dry run" "$DIR/memory-deepstarr.log"
  grep -E "Maximum resident set size|Elapsed \(wall clock\)" "$DIR/memory-deepstarr.log"
  exit 0
fi

ROWS=${1:-6739258}
FILE="$DIR/synthetic_train_$ROWS.txt"
if [ ! -s "$FILE" ]; then
  echo "== generating $FILE ($ROWS rows)" >&2
  python3 - "$FILE" "$ROWS" <<'PY'
import os, random, sys
path, rows = sys.argv[1], int(sys.argv[2])
acgt = bytes(b"ACGT"[i % 4] for i in range(256))
rng = random.Random(0)
with open(path + ".part", "wb") as f:
    done = 0
    while done < rows:
        n = min(100_000, rows - done)
        region = os.urandom(80 * n).translate(acgt)
        lines = []
        for i in range(n):
            e = rng.random() * 17
            e = f"{round(e)}" if (done + i) % 2 else f"{e:.6f}"
            lines.append(b"TGCATTTTTTTCACATC" + region[80 * i:80 * (i + 1)] + b"GGTTACGGCTGTT\t" + e.encode() + b"\n")
        f.write(b"".join(lines))
        done += n
os.replace(path + ".part", path)
PY
fi
ls -l "$FILE" >&2
echo "== dream train --dry-run on $ROWS rows" >&2
/usr/bin/time -v "$TARGET/release/dream" train --model dream-cnn --train "$FILE" --out "$DIR/dry-run-unused" --dry-run \
  2> "$DIR/memory.log" || { cat "$DIR/memory.log" >&2; exit 1; }
grep -E "training rows|dry run" "$DIR/memory.log"
grep -E "Maximum resident set size|Elapsed \(wall clock\)" "$DIR/memory.log"
