# shellcheck shell=bash
# Set up the environment for building the workspace for wasm32-unknown-unknown.
#
# Usage (from any directory; must be *sourced*, not executed):
#     source scripts/wasm-env.sh
#     cargo build -p prixfixe --target wasm32-unknown-unknown --release \
#         --no-default-features --features ndarray
#
# * If the active rustup toolchain already has the wasm32-unknown-unknown target
#   (`rustup target add wasm32-unknown-unknown`), nothing is exported: the normal
#   toolchain is used.
# * Otherwise Debian's Rust toolchain for web targets is used: the packages
#   rustc-web cargo-web rust-web-src lld-22 are installed if missing (apt-get;
#   rust-web-llvm, which provides /usr/bin/rust-lld, comes with them as a Recommends),
#   linked into rustup as the toolchain "debweb", and std is built from source
#   with RUSTUP_TOOLCHAIN=debweb RUSTC_BOOTSTRAP=1 CARGO_UNSTABLE_BUILD_STD=std,panic_abort.
#
# Never `exit`s the calling shell: on error it prints a message and returns 1.

if ! (return 0 2>/dev/null); then
    echo "wasm-env.sh: this script must be sourced: 'source ${BASH_SOURCE[0]:-$0}'" >&2
    exit 1
fi

__wasm_env_main() {
    local target=wasm32-unknown-unknown
    local toolchain=debweb
    local pkgs=(rustc-web cargo-web rust-web-src lld-22)

    if ! command -v rustup >/dev/null 2>&1; then
        echo "wasm-env.sh: rustup not found on PATH; install rustup first (https://rustup.rs)" >&2
        return 1
    fi

    # Check the target on the toolchain the user would normally get. A
    # RUSTUP_TOOLCHAIN=debweb left over from an earlier `source` is ignored for
    # this check (a linked toolchain has no rustup-managed targets).
    local installed
    if [ "${RUSTUP_TOOLCHAIN:-}" = "$toolchain" ]; then
        installed=$(env -u RUSTUP_TOOLCHAIN rustup target list --installed 2>/dev/null)
    else
        installed=$(rustup target list --installed 2>/dev/null)
    fi
    if printf '%s\n' "$installed" | grep -qx "$target"; then
        if [ "${RUSTUP_TOOLCHAIN:-}" = "$toolchain" ]; then
            # Undo a previous debweb setup in this shell so the rustup target is used.
            unset RUSTUP_TOOLCHAIN RUSTC_BOOTSTRAP CARGO_UNSTABLE_BUILD_STD
        fi
        echo "wasm-env.sh: using the normal rustup toolchain ($(rustup show active-toolchain 2>/dev/null | awk '{print $1}'), $target target installed)"
        return 0
    fi

    # --- Debian web toolchain -------------------------------------------------
    local missing=() p
    for p in "${pkgs[@]}"; do
        if ! dpkg -s "$p" 2>/dev/null | grep -q '^Status: install ok installed'; then
            missing+=("$p")
        fi
    done
    # rustc-web links wasm with `rust-lld`; /usr/bin/rust-lld -> lld-22 comes from
    # rust-web-llvm (a Recommends of rustc-web, skipped by --no-install-recommends).
    if ! command -v rust-lld >/dev/null 2>&1 \
            && ! dpkg -s rust-web-llvm 2>/dev/null | grep -q '^Status: install ok installed'; then
        missing+=(rust-web-llvm)
    fi
    if [ "${#missing[@]}" -gt 0 ]; then
        local sudo=()
        if [ "$(id -u)" -ne 0 ]; then
            if command -v sudo >/dev/null 2>&1; then
                sudo=(sudo)
            else
                echo "wasm-env.sh: need root (or sudo) to install: ${missing[*]}" >&2
                return 1
            fi
        fi
        echo "wasm-env.sh: installing Debian packages: ${missing[*]}" >&2
        if ! "${sudo[@]}" apt-get update >&2; then
            echo "wasm-env.sh: 'apt-get update' failed" >&2
            return 1
        fi
        if ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
                apt-get install -y "${missing[@]}" >&2; then
            echo "wasm-env.sh: 'apt-get install ${missing[*]}' failed" >&2
            return 1
        fi
    fi

    if ! rustup toolchain list 2>/dev/null | awk '{print $1}' | grep -qx "$toolchain"; then
        if ! rustup toolchain link "$toolchain" /usr; then
            echo "wasm-env.sh: 'rustup toolchain link $toolchain /usr' failed" >&2
            return 1
        fi
    fi

    export RUSTUP_TOOLCHAIN="$toolchain"
    export RUSTC_BOOTSTRAP=1
    export CARGO_UNSTABLE_BUILD_STD=std,panic_abort

    local ver
    ver=$(rustc --version 2>/dev/null)
    if [ -z "$ver" ]; then
        echo "wasm-env.sh: rustc from toolchain '$toolchain' does not run" >&2
        unset RUSTUP_TOOLCHAIN RUSTC_BOOTSTRAP CARGO_UNSTABLE_BUILD_STD
        return 1
    fi
    echo "wasm-env.sh: using Debian toolchain '$toolchain' ($ver) with build-std (RUSTUP_TOOLCHAIN=$toolchain RUSTC_BOOTSTRAP=1 CARGO_UNSTABLE_BUILD_STD=std,panic_abort)"
    return 0
}

if __wasm_env_main "$@"; then
    unset -f __wasm_env_main
else
    unset -f __wasm_env_main
    return 1
fi
