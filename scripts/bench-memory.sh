#!/usr/bin/env bash
# Memory / load-time benchmark of `dream train` on a challenge-sized training file (issue 3).
#
# Generates (once) a synthetic file in the challenge's train_sequences.txt format: 6,739,258 rows
# of `sequence<TAB>expression`, each sequence = 17 bp 5' adapter + 80 bp random region + 13 bp 3'
# flank (110 bp), expression uniform in 0-17 with every other row an integer (a "singleton").
# Then runs `dream train --dry-run` on it (load, parse, pack, 10% validation split) and prints the
# load time and peak resident memory (goal: <= 1 GB).
#
# Usage: scripts/bench-memory.sh [ROWS]        (writes under ${CARGO_TARGET_DIR:-target}/bench/)
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${1:-6739258}
TARGET=${CARGO_TARGET_DIR:-target}
DIR="$TARGET/bench"
FILE="$DIR/synthetic_train_$ROWS.txt"
mkdir -p "$DIR"

cargo build --release -q -p dream-trainer
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
