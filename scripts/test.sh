#!/usr/bin/env bash
# The project's test command (README "Tests"; .ci/run calls it). On a fresh machine it installs
# what it needs (README "Development": what is installed, at which version, and why):
#   1. native tests of the whole workspace (golden parity, DataProcessor cases, metrics, the fast
#      CPU training ops = generic autodiff, …), the GPU path on a GPU-style backend among them:
#      Mesa's software Vulkan driver lavapipe (mesa-vulkan-drivers, installed with apt-get when
#      missing) under burn-wgpu, `dream train/predict/ism --device wgpu` equal `--device cpu`
#      (trainer/tests/wgpu.rs); then the parity and module fixtures again on the browser's CPU
#      kernels (DREAM_OWN_GEMM=1);
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

# Mesa's Vulkan drivers, lavapipe among them (its driver list: /usr/share/vulkan/icd.d/lvp_icd.*.json).
install_lavapipe() {
  if compgen -G "/usr/share/vulkan/icd.d/lvp_icd.*.json" >/dev/null; then
    echo "test.sh: lavapipe present ($(ls /usr/share/vulkan/icd.d/lvp_icd.*.json))"
    return 0
  fi
  local sudo=()
  [ "$(id -u)" -ne 0 ] && sudo=(sudo)
  "${sudo[@]}" apt-get update >/dev/null
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y mesa-vulkan-drivers >/dev/null
}

# Every `cargo test` below builds the workspace with the same features (`dream` with wgpu), so the
# test build is compiled once: a second feature set would rebuild burn and its dependencies
# (~20 min on 2 cores).
features=(--features dream-trainer/wgpu)
# The GPU code path (burn-wgpu, --device wgpu) runs on the CPU through lavapipe inside the native
# tests: a few training steps of the three DREAM models, predict and ism, each equal to the CPU
# backend's (trainer/tests/wgpu.rs).
step "lavapipe, Mesa's software Vulkan driver (apt-get when missing)" install_lavapipe
step "native tests (cargo test --workspace), dream --device wgpu on lavapipe included" \
  cargo test --workspace --locked "${features[@]}"
# The browser's CPU kernels (prixfixe::gemm, the default on wasm32) run natively here against the
# PyTorch golden fixtures: the three DREAM models and every module of the three teams.
step "parity and module fixtures on the WebAssembly kernels (DREAM_OWN_GEMM=1)" \
  env DREAM_OWN_GEMM=1 cargo test --workspace --locked "${features[@]}" --test parity --test modules
# The test profile (not --release): its build scripts and proc-macros are those just built.
step "the CUDA backend compiles (runs only where an NVIDIA GPU is present)" \
  cargo check --locked -p dream-trainer --features cuda
# Sequential on purpose: building the tools in the background of the native tests was measured
# (2026-12-02, fresh 2-core machine) to save nothing (2,059 s either way): both are CPU-bound.
step "the website: trunk build --release (tools set up first)" scripts/web-build.sh
step "Chromium and ChromeDriver (apt-get when missing)" install_chromium
# One browser at a time: the checks wait on real timings, and the machine may have 2 cores.
step "browser end-to-end tests (headless Chromium over WebDriver)" \
  cargo test --workspace --locked "${features[@]}" --test web_e2e -- --ignored --test-threads 1 --skip web_benchmark --skip page_screenshot --skip panel_screenshots
steps_summary
echo "all tests passed"
