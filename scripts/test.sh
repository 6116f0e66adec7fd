#!/usr/bin/env bash
# The project's test command (README "Tests"; .ci/run calls it). On a fresh machine it installs
# what it needs: the wasm32 toolchain (rustup target, or Debian's rustc-web; scripts/wasm-env.sh),
# trunk, wasm-bindgen-cli and wasm-opt (scripts/web-env.sh), Chromium and ChromeDriver.
#   1. native tests of the whole workspace (golden parity, DataProcessor cases, metrics, …);
#   2. `dream` with the CUDA backend type-checks (CI has no GPU);
#   3. the website builds (`trunk build --release`, wasm32) into dist/;
#   4. browser end-to-end tests in headless Chromium (installed with apt-get when missing): CPU
#      path = `dream predict` / `dream ism`, WebGPU = CPU, automatic CPU fallback, bad input.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== native tests (cargo test --workspace)"
cargo test --workspace --locked

echo "== the CUDA backend compiles (runs only where an NVIDIA GPU is present)"
cargo check --locked --release -p dream-trainer --features cuda

echo "== the website: trunk build --release (wasm32 toolchain, trunk, wasm-bindgen, wasm-opt set up first)"
scripts/web-build.sh

echo "== browser end-to-end tests (headless Chromium over WebDriver)"
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  sudo=(); [ "$(id -u)" -ne 0 ] && sudo=(sudo)
  "${sudo[@]}" apt-get update >/dev/null
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium chromium-driver >/dev/null
fi
# One browser at a time: the checks wait on real timings, and the machine may have 2 cores.
cargo test --workspace --locked --test web_e2e -- --ignored --test-threads 1 --skip web_benchmark --skip page_screenshot
echo "all tests passed"
