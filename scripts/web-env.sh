# shellcheck shell=bash
# Set-up for building the website (sourced by scripts/web-build.sh and scripts/test.sh):
#   1. the wasm32 toolchain (scripts/wasm-env.sh: rustup target, else Debian's rustc-web);
#   2. wasm-bindgen-cli at exactly the wasm-bindgen version in Cargo.lock;
#   3. trunk (0.22 where a toolchain new enough to build it exists, else 0.21);
#   4. wasm-opt from npm's binaryen@132 (Debian's binaryen 108 produces a broken module);
# then exports TRUNK_OFFLINE=true so trunk never downloads anything itself.
# Tools go to ${DREAM_TOOLS:-~/.cache/dream-tools} (bin/, node_modules/); already present = skipped.
if ! (return 0 2>/dev/null); then
    echo "web-env.sh: this script must be sourced" >&2
    exit 1
fi

__web_env_main() {
    local root
    root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    # shellcheck source=scripts/wasm-env.sh
    source "$root/scripts/wasm-env.sh" || return 1
    # Installs use the machine's normal toolchain, not the wasm one.
    local host=(env -u RUSTUP_TOOLCHAIN -u RUSTC_BOOTSTRAP -u CARGO_UNSTABLE_BUILD_STD -u CARGO_TARGET_DIR)
    export PATH="$HOME/.cargo/bin:$PATH"

    local tools="${DREAM_TOOLS:-$HOME/.cache/dream-tools}"
    export PATH="$tools/bin:$PATH"
    local wbg
    wbg=$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/version = |"/, ""); print; exit}' "$root/Cargo.lock")
    if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$wbg" ]; then
        echo "web-env.sh: installing wasm-bindgen-cli $wbg" >&2
        # Not --locked: its lock file pins a crate version the registry no longer serves.
        "${host[@]}" cargo install --root "$tools" wasm-bindgen-cli --version "=$wbg" >&2 || return 1
    fi

    if ! trunk --version >/dev/null 2>&1; then
        echo "web-env.sh: installing trunk" >&2
        # trunk 0.22.1 needs rustc >= 1.96.1: stable if new enough, else nightly, else trunk 0.21.
        if "${host[@]}" cargo install --root "$tools" trunk --version "=0.22.1" --locked >&2; then :
        elif rustup toolchain list 2>/dev/null | grep -q '^nightly' \
                && "${host[@]}" cargo +nightly install --root "$tools" trunk --version "=0.22.1" --locked >&2; then :
        else
            "${host[@]}" cargo install --root "$tools" trunk --version "~0.21" --locked >&2 || return 1
        fi
    fi

    if ! "$tools/node_modules/.bin/wasm-opt" --version 2>/dev/null | grep -q "version 132"; then
        echo "web-env.sh: installing wasm-opt (npm binaryen@132) into $tools" >&2
        mkdir -p "$tools"
        npm install --silent --no-audit --no-fund --prefix "$tools" binaryen@132 >&2 || return 1
    fi
    export PATH="$tools/node_modules/.bin:$PATH"
    export TRUNK_OFFLINE=true
    echo "web-env.sh: $(trunk --version), wasm-bindgen $(wasm-bindgen --version | awk '{print $2}'), $(wasm-opt --version)" >&2
}

if __web_env_main "$@"; then
    unset -f __web_env_main
else
    unset -f __web_env_main
    return 1
fi
