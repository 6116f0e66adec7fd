#!/usr/bin/env bash
# Runs the README's commands as a fresh machine would (issue 10), and prints each step's duration:
#   a clean clone of HEAD, with an EMPTY cargo home (crates.io index, downloaded crates, git
#   checkouts, `cargo install`ed binaries), an EMPTY tool cache (DREAM_TOOLS: trunk,
#   wasm-bindgen-cli, wasm-opt), an EMPTY npm cache and an EMPTY target dir, all in a temporary
#   folder; then
#     1. the test command, `scripts/test.sh` (what .ci/run calls);
#     2. the main job's website, `scripts/main.sh serve`: waits for the page, the model list and
#        the wasm to be served, then stops the server;
#     3. the main job's training, `scripts/main.sh` (FRESH_TRAIN_ARGS, default a short run:
#        1 epoch of 2 steps of 64 sequences, then the full challenge evaluation).
# Not emptied (machine installs, not caches): rustup's toolchains (the `debweb` link included) and
# Debian packages (rustc-web, rust-web-src, chromium, …); on a new machine the scripts install
# those themselves with apt-get.
# Usage: scripts/fresh-check.sh [--keep]   (--keep leaves the temporary folder for inspection)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
keep=0
[ "${1:-}" = --keep ] && keep=1

work=$(mktemp -d "${TMPDIR:-/tmp}/dream-fresh.XXXXXX")
cleanup() {
  [ -n "${server:-}" ] && kill "$server" 2>/dev/null
  if [ "$keep" = 1 ]; then echo "fresh-check.sh: left $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

git clone -q "$root" "$work/clone"
# The rustup proxies (cargo, rustc) stay on PATH; cargo's own state goes to the empty home.
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
export CARGO_HOME="$work/cargo-home" DREAM_TOOLS="$work/tools" npm_config_cache="$work/npm-cache"
export CARGO_TARGET_DIR="$work/target"
unset RUSTUP_TOOLCHAIN RUSTC_BOOTSTRAP CARGO_UNSTABLE_BUILD_STD TRUNK_OFFLINE
mkdir -p "$CARGO_HOME" "$DREAM_TOOLS" "$npm_config_cache"
cd "$work/clone"
echo "fresh-check.sh: clone of $(git rev-parse --short HEAD) in $work/clone; CARGO_HOME, DREAM_TOOLS, npm cache and CARGO_TARGET_DIR empty under $work"
grep -q 'scripts/test.sh' .ci/run || { echo "fresh-check.sh: .ci/run does not call scripts/test.sh" >&2; exit 1; }

# shellcheck source=scripts/steps.sh
source scripts/steps.sh

serve_check() {
  local port=${FRESH_PORT:-8097} url
  PORT=$port scripts/main.sh serve > "$work/serve.log" 2>&1 &
  server=$!
  url="http://127.0.0.1:$port"
  for _ in $(seq 1 600); do
    curl -fsS -o /dev/null "$url/" 2>/dev/null && break
    kill -0 "$server" 2>/dev/null || { cat "$work/serve.log"; return 1; }
    sleep 1
  done
  local wasm
  wasm=$(basename "$(ls dist/*.wasm | head -1)")
  curl -fsS "$url/" | grep -q '<html' || { echo "no page at $url/"; return 1; }
  curl -fsS "$url/models/index.json" | grep -q dream-cnn || { echo "no model list"; return 1; }
  curl -fsS -o /dev/null -w '%{content_type}\n' "$url/$wasm" | grep -q application/wasm \
    || { echo "the wasm ($wasm) is not served as application/wasm"; return 1; }
  echo "fresh-check.sh: $url/ serves the page, models/index.json and $wasm"
  kill "$server"; wait "$server" 2>/dev/null || true
  server=
}

read -r -a train_args <<< "${FRESH_TRAIN_ARGS:---steps-per-epoch 2 --batch-size 64}"
step "README test command: scripts/test.sh" scripts/test.sh
step "README main job, website: scripts/main.sh serve" serve_check
step "README main job, training: EPOCHS=1 scripts/main.sh ${train_args[*]}" \
  env EPOCHS=1 scripts/main.sh "${train_args[@]}"
steps_summary
echo "fresh-check.sh: passed"
