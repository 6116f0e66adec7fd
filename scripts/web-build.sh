#!/usr/bin/env bash
# Builds the website into dist/ with the shipped models (`trunk build --release`), setting up the
# wasm32 toolchain, trunk, wasm-bindgen and wasm-opt first when missing (scripts/web-env.sh).
# Then a second build of the same code with WebAssembly relaxed SIMD (fused multiply-add) for the
# scan workers, named in dist/index.html (<meta name="dream-relaxed-simd">): dream-pool.js uses
# it where the browser has relaxed SIMD, the page's build (plain SIMD) elsewhere.
# DREAM_WEB_RELAXED=0 skips it. Extra arguments go to trunk (e.g. --dist DIR). Serve dist/ with
# any static file server.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/web-env.sh
source scripts/web-env.sh
# Same target dir as the wasm32 check in scripts/test.sh.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}/wasm"
dist=dist
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
    case "${args[i]}" in
        --dist) dist="${args[i + 1]}" ;;
        --dist=*) dist="${args[i]#--dist=}" ;;
    esac
done
trunk build --release "$@"

if [ "${DREAM_WEB_RELAXED:-1}" != 0 ]; then
    t0=$SECONDS
    relaxed_target="$CARGO_TARGET_DIR-relaxed"
    CARGO_TARGET_DIR="$relaxed_target" \
        CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="-C target-feature=+simd128,+relaxed-simd" \
        cargo build --release --locked --offline --target wasm32-unknown-unknown -p dream-web --bin dream-web
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    wasm-bindgen --target web --no-typescript --out-dir "$tmp" --out-name dream-web-relaxed \
        "$relaxed_target/wasm32-unknown-unknown/release/dream-web.wasm"
    # The same wasm-opt settings as Trunk's (web/index.html), relaxed SIMD added.
    wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
        --enable-mutable-globals --enable-simd --enable-relaxed-simd \
        "$tmp/dream-web-relaxed_bg.wasm" -o "$tmp/opt.wasm"
    hash=$(cat "$tmp/opt.wasm" "$tmp/dream-web-relaxed.js" | sha256sum | cut -c1-16)
    rm -f "$dist"/dream-web-relaxed-*
    cp "$tmp/dream-web-relaxed.js" "$dist/dream-web-relaxed-$hash.js"
    cp "$tmp/opt.wasm" "$dist/dream-web-relaxed-${hash}_bg.wasm"
    meta="<meta name=\"dream-relaxed-simd\" content=\"./dream-web-relaxed-$hash.js ./dream-web-relaxed-${hash}_bg.wasm\">"
    grep -q '</head>' "$dist/index.html"
    sed -i "s#</head>#$meta</head>#" "$dist/index.html"
    echo "web-build.sh: relaxed-SIMD worker build ($((SECONDS - t0)) s)"
fi
ls -l "$dist"/*.wasm | awk '{printf "web-build.sh: %s %.1f MB\n", $NF, $5/1e6}'
