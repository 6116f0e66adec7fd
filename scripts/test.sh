#!/usr/bin/env bash
# The project's test command (README "Tests"; .ci/run calls it). On a fresh machine it installs
# what it needs: the wasm32 toolchain (rustup target, or Debian's rustc-web; scripts/wasm-env.sh).
#   1. native tests of the whole workspace (golden parity, DataProcessor cases, metrics, …);
#   2. `dream` with the CUDA backend type-checks (CI has no GPU);
#   3. the shared library crate builds for wasm32-unknown-unknown (what the browser app links).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== native tests (cargo test --workspace)"
cargo test --workspace --locked

echo "== the CUDA backend compiles (runs only where an NVIDIA GPU is present)"
cargo check --locked --release -p dream-trainer --features cuda

echo "== prixfixe for wasm32-unknown-unknown"
(
  # shellcheck source=scripts/wasm-env.sh
  source scripts/wasm-env.sh
  # Separate target dir: the wasm toolchain may differ from the native one.
  CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}/wasm" \
    cargo build --locked -p prixfixe --target wasm32-unknown-unknown --release
)
echo "wasm32 build: ok"
