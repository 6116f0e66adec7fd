# shellcheck shell=bash
# Set-up for building the website (sourced by scripts/web-build.sh). Works on a machine with
# nothing cached; every tool at a pinned version, chosen on purpose:
#   1. the wasm32 toolchain (scripts/wasm-env.sh): rustup's wasm32 target where it is installed,
#      else Debian's rustc-web 1.96 with the standard library built from source (build-std);
#   2. wasm-bindgen-cli at exactly the `wasm-bindgen` version in Cargo.lock (trunk refuses any
#      other, and the generated JS must match the crate);
#   3. trunk 0.21.14: the newest trunk whose rust-version (1.81) the machine's rustup stable
#      (1.95 here) can build; 0.22.x needs rustc 1.96.1, which neither rustup stable nor Debian's
#      rustc-web (1.96.0) is. Built without its update check (no network at build time);
#   4. wasm-opt from npm's binaryen@132 (Debian's binaryen 108 produces a broken module);
#   5. `cargo fetch` of every crate the wasm32 build needs, the standard library's own (dlmalloc,
#      …) included, so that the offline build below finds them on a fresh machine.
# Then TRUNK_OFFLINE=true: trunk downloads nothing itself and runs `cargo build --offline`; and
# TRUNK_BUILD_LOCKED=true: the wasm build uses Cargo.lock as committed.
# trunk and wasm-bindgen-cli are compiled with the default rustup toolchain (never the wasm one)
# at opt-level 1 without LTO: they only drive the build, and this halves their compile time.
# Tools go to ${DREAM_TOOLS:-~/.cache/dream-tools} (bin/, node_modules/), which CI keeps between
# runs; a tool already there at its pinned version is not rebuilt. Each step prints its time.
if ! (return 0 2>/dev/null); then
    echo "web-env.sh: this script must be sourced" >&2
    exit 1
fi

__web_env_main() {
    local trunk_version=0.21.14 binaryen_version=132
    local root
    root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    local t0=$SECONDS
    # shellcheck source=scripts/wasm-env.sh
    source "$root/scripts/wasm-env.sh" || return 1
    echo "web-env.sh: wasm32 toolchain ready ($((SECONDS - t0)) s)" >&2

    local tools="${DREAM_TOOLS:-$HOME/.cache/dream-tools}"
    mkdir -p "$tools/bin"
    export PATH="$tools/bin:$tools/node_modules/.bin:$PATH"
    # Tool builds: the default rustup toolchain, none of the wasm settings, a build dir in the
    # tool cache (an interrupted build resumes), removed once the tool is installed.
    local host=(env -u RUSTUP_TOOLCHAIN -u RUSTC_BOOTSTRAP -u CARGO_UNSTABLE_BUILD_STD -u CARGO_TARGET_DIR
        CARGO_PROFILE_RELEASE_OPT_LEVEL=1 CARGO_PROFILE_RELEASE_LTO=false
        CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 CARGO_PROFILE_RELEASE_DEBUG=false)

    local wbg
    wbg=$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/version = |"/, ""); print; exit}' "$root/Cargo.lock")
    if [ -z "$wbg" ]; then
        echo "web-env.sh: no wasm-bindgen version found in $root/Cargo.lock" >&2
        return 1
    fi
    if [ "$("$tools/bin/wasm-bindgen" --version 2>/dev/null | awk '{print $2}')" != "$wbg" ]; then
        t0=$SECONDS
        echo "web-env.sh: building wasm-bindgen-cli $wbg into $tools" >&2
        # Not --locked: its lock file pins webpki-roots 1.0.11, which crates.io no longer serves.
        # The fallback resolver keeps every dependency within its rust-version (1.86), so any
        # toolchain that builds wasm-bindgen-cli builds them.
        "${host[@]}" CARGO_RESOLVER_INCOMPATIBLE_RUST_VERSIONS=fallback \
            cargo install --root "$tools" --target-dir "$tools/build/wasm-bindgen" \
            wasm-bindgen-cli --version "=$wbg" >&2 || return 1
        rm -rf "$tools/build/wasm-bindgen"
        echo "web-env.sh: wasm-bindgen-cli $wbg built ($((SECONDS - t0)) s)" >&2
    fi

    if [ "$("$tools/bin/trunk" --version 2>/dev/null)" != "trunk $trunk_version" ]; then
        t0=$SECONDS
        echo "web-env.sh: building trunk $trunk_version into $tools" >&2
        "${host[@]}" cargo install --root "$tools" --target-dir "$tools/build/trunk" --locked \
            --no-default-features --features rustls trunk --version "=$trunk_version" >&2 || return 1
        rm -rf "$tools/build/trunk"
        echo "web-env.sh: trunk $trunk_version built ($((SECONDS - t0)) s)" >&2
    fi

    if ! "$tools/node_modules/.bin/wasm-opt" --version 2>/dev/null | grep -q "version $binaryen_version"; then
        t0=$SECONDS
        echo "web-env.sh: installing wasm-opt (npm binaryen@$binaryen_version) into $tools" >&2
        npm install --silent --no-audit --no-fund --prefix "$tools" "binaryen@$binaryen_version" >&2 || return 1
        echo "web-env.sh: wasm-opt installed ($((SECONDS - t0)) s)" >&2
    fi

    t0=$SECONDS
    # With the wasm settings of step 1 in the environment, so build-std's crates are fetched too.
    cargo fetch --locked --manifest-path "$root/Cargo.toml" --target wasm32-unknown-unknown >&2 || return 1
    echo "web-env.sh: crates for the offline wasm32 build fetched ($((SECONDS - t0)) s)" >&2

    export TRUNK_OFFLINE=true TRUNK_BUILD_LOCKED=true
    echo "web-env.sh: $("$tools/bin/trunk" --version), wasm-bindgen $("$tools/bin/wasm-bindgen" --version | awk '{print $2}'), $("$tools/node_modules/.bin/wasm-opt" --version)" >&2
}

if __web_env_main "$@"; then
    unset -f __web_env_main
else
    unset -f __web_env_main
    return 1
fi
