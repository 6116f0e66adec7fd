#!/usr/bin/env bash
# Taylor ISM vs the exact SNV scan on the four example promoters (the site's yeast examples:
# native promoters of the DREAM test set), for each shipped DREAM model: Pearson r of the 240
# SNV effects of the 80 bp random region, and the time of each method (`dream ism`, CPU).
# Output: a markdown table on stdout, bench/taylor-<date>.json.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p dream-trainer >/dev/null
DREAM=target/release/dream
OUT="${DREAM_BENCH_OUT:-bench/taylor-$(date -u +%F).json}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# label<TAB>sequence, from web/src/examples.rs (NATIVE_EXAMPLES).
sed -n 's/^ *("\([A-Z0-9]*\)", "[^"]*", "\([ACGT]*\)"),$/\1\t\2/p' web/src/examples.rs | head -4 > "$tmp/examples.tsv"
[ "$(wc -l < "$tmp/examples.tsv")" = 4 ] || { echo "bench-taylor.sh: could not read the 4 examples" >&2; exit 1; }
for model in dream-cnn dream-rnn dream-attn; do
  while IFS=$'\t' read -r label seq; do
    for method in exact taylor; do
      t0=$(date +%s%N)
      "$DREAM" ism --model "public/models/$model" --sequence "$seq" --region 18-97 --method "$method" \
        --output "$tmp/$model.$label.$method.tsv" 2>/dev/null
      echo "$model $label $method $(( ($(date +%s%N) - t0) / 1000000 ))" >> "$tmp/times"
    done
  done < "$tmp/examples.tsv"
done
python3 - "$tmp" "$OUT" <<'PY'
import json, math, sys, collections
tmp, out = sys.argv[1], sys.argv[2]
def deltas(p):
    return [float(l.split('\t')[4]) for l in open(p).read().splitlines()[1:]]
def pearson(a, b):
    n = len(a); ma = sum(a) / n; mb = sum(b) / n
    c = sum((x - ma) * (y - mb) for x, y in zip(a, b))
    return c / math.sqrt(sum((x - ma) ** 2 for x in a) * sum((y - mb) ** 2 for y in b))
times = collections.defaultdict(dict)
for line in open(f"{tmp}/times"):
    m, label, method, s = line.split()
    times[(m, label)][method] = float(s) / 1000
labels = [l.split('\t')[0] for l in open(f"{tmp}/examples.tsv")]
rows = []
print("| model | " + " | ".join(labels) + " | mean r | exact scan (s, CLI) | Taylor (s, CLI) |")
print("|---" * (len(labels) + 4) + "|")
for m in ["dream-cnn", "dream-rnn", "dream-attn"]:
    rs = [pearson(deltas(f"{tmp}/{m}.{l}.exact.tsv"), deltas(f"{tmp}/{m}.{l}.taylor.tsv")) for l in labels]
    te = sum(times[(m, l)]["exact"] for l in labels) / len(labels)
    tt = sum(times[(m, l)]["taylor"] for l in labels) / len(labels)
    print(f"| {m} | " + " | ".join(f"{r:.3f}" for r in rs) + f" | {sum(rs)/len(rs):.3f} | {te:.2f} | {tt:.2f} |")
    rows.append({"model": m, "pearson_r": dict(zip(labels, rs)), "mean_r": sum(rs) / len(rs), "exact_s": te, "taylor_s": tt})
json.dump(rows, open(out, "w"), indent=2)
print(f"figures: {out}")
PY
