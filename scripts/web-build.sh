#!/usr/bin/env bash
# Builds the website into dist/ with the shipped models (`trunk build --release`), setting up the
# wasm32 toolchain, trunk, wasm-bindgen and wasm-opt first when missing (scripts/web-env.sh).
# Extra arguments go to trunk (e.g. --dist DIR). Serve dist/ with any static file server.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/web-env.sh
source scripts/web-env.sh
# Same target dir as the wasm32 check in scripts/test.sh.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}/wasm"
trunk build --release "$@"
ls -l dist/*.wasm | awk '{printf "web-build.sh: %s %.1f MB\n", $NF, $5/1e6}'
