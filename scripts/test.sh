#!/usr/bin/env bash
# The project's test command (README "Tests"; .ci/run calls it). On a fresh machine it installs
# what it needs (README "Development": what is installed, at which version, and why):
#   1. native tests of the whole workspace (golden parity, DataProcessor cases, metrics, …);
#   2. `dream` with the CUDA backend type-checks (CI has no GPU);
#   3. the website builds (`trunk build --release`, wasm32) into dist/ — scripts/web-build.sh sets
#      up the wasm32 toolchain, trunk, wasm-bindgen-cli and wasm-opt first;
#   4. browser end-to-end tests in headless Chromium (Debian's chromium + chromium-driver,
#      installed with apt-get when missing): CPU path = `dream predict` / `dream ism`, WebGPU =
#      CPU, automatic CPU fallback, bad input.
# Each step prints its duration; a summary closes the run. scripts/fresh-check.sh runs this on an
# empty cache, as a new machine would.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/steps.sh
source scripts/steps.sh

install_chromium() {
  if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
    echo "test.sh: $(chromium --version 2>/dev/null), $(chromedriver --version | awk '{print $1, $2}')"
    return 0
  fi
  local sudo=()
  [ "$(id -u)" -ne 0 ] && sudo=(sudo)
  "${sudo[@]}" apt-get update >/dev/null
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium chromium-driver >/dev/null
}

# The website's tools (wasm32 toolchain, wasm-bindgen-cli, trunk, wasm-opt: ~15 min to build on a
# fresh 2-core machine, nothing once cached) build in the background meanwhile: the native build
# leaves a core idle for long stretches (single large crates, links). The website step waits.
tools_log=$(mktemp "${TMPDIR:-/tmp}/dream-web-tools.XXXXXX")
set -m # its own process group, so that a failing run stops it too
( source scripts/web-env.sh ) > "$tools_log" 2>&1 &
tools_pid=$!
set +m
trap 'kill -- -"$tools_pid" 2>/dev/null || true' EXIT
wait_tools() {
  local rc=0
  wait "$tools_pid" || rc=$?
  sed 's/^/  | /' "$tools_log"
  rm -f "$tools_log"
  return "$rc"
}

step "native tests (cargo test --workspace)" cargo test --workspace --locked
# The test profile (not --release): its build scripts and proc-macros are those just built.
step "the CUDA backend compiles (runs only where an NVIDIA GPU is present)" \
  cargo check --locked -p dream-trainer --features cuda
step "the website's tools (built in the background since the start)" wait_tools
step "the website: trunk build --release" scripts/web-build.sh
step "Chromium and ChromeDriver (apt-get when missing)" install_chromium
# One browser at a time: the checks wait on real timings, and the machine may have 2 cores.
step "browser end-to-end tests (headless Chromium over WebDriver)" \
  cargo test --workspace --locked --test web_e2e -- --ignored --test-threads 1 --skip web_benchmark --skip page_screenshot
steps_summary
echo "all tests passed"
