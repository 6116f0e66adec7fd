#!/usr/bin/env bash
# Browser benchmark of the website in headless Chromium (the CPU/WebAssembly path; add
# DREAM_BENCH_WEB=webgpu for the WebGPU path too): per model, navigation -> model ready, one
# prediction, and the SNV scan of a 110 bp native promoter (80 bp region: 240 SNVs + reference,
# forward and reverse complement). Also refreshes docs/web-screenshot.png.
# Per model also the Taylor ISM preview time, GFLOP/s per worker (482 rows × the model's
# multiply-adds, PrixFixeConfig::macs_per_row) and the fraction of one core's SIMD128 limit.
# The CPU path twice: workers on the relaxed-SIMD build and on the plain one (?simd=plain);
# medians of DREAM_BENCH_REPS (3) page loads. DREAM_BENCH_MODELS=dream-cnn,... limits the models.
# Output: a markdown table on stdout, bench/web-<date>.json.
# Needs dist/ (scripts/web-build.sh) and chromium + chromium-driver.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f dist/index.html ] || scripts/web-build.sh
mkdir -p bench docs
export DREAM_BENCH_OUT="${DREAM_BENCH_OUT:-$PWD/bench/web-$(date -u +%F).json}"
# The feature set of scripts/test.sh's test build (another set would rebuild burn).
cargo test --workspace --locked --features dream-trainer/wgpu --test web_e2e -- --ignored --nocapture --test-threads 1 \
  web_benchmark page_screenshot panel_screenshots 2>&1 | grep -E '^\||^screenshot|panicked|test result|pool:'
echo "figures: $DREAM_BENCH_OUT"
