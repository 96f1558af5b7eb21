# Shared by ci/up and ci/test: the build cache location and package installation.
# shellcheck shell=bash

SKERRY_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/skerry-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

log() { printf '\n==> %s\n' "$*" >&2; }

# Installs the Debian packages listed in ci/packages.txt that are missing.
install_packages() {
    local wanted missing=()
    mapfile -t wanted < <(sed -e 's/#.*//' -e '/^\s*$/d' "$SKERRY_ROOT/ci/packages.txt")
    for p in "${wanted[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    if ((${#missing[@]})); then
        log "installing Debian packages: ${missing[*]}"
        local sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo"
        $sudo apt-get update
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${missing[@]}"
    fi
    command -v cargo >/dev/null || {
        echo "cargo not found: install Rust (https://rustup.rs) and run again" >&2
        exit 1
    }
}
