#!/bin/sh
# The Containerfile's `build` stage: puts Skerry's four binaries into $1. Uses the build
# context's prebuilt/ when there is one, otherwise compiles the workspace (release).
set -eu
out="$1"
bins="skerry-init skerry-compositor skerry-streamer skerry-shell"
mkdir -p "$out"

if [ -d prebuilt ]; then
    for b in $bins; do install -m 0755 "prebuilt/$b" "$out/$b"; done
    exit 0
fi

# The C libraries Skerry builds against (the runtime halves are in rootfs/packages.txt).
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends pkg-config clang libclang-dev libpixman-1-dev \
    libxkbcommon-dev libx264-dev libturbojpeg0-dev libopus-dev libpulse-dev
export CARGO_TARGET_DIR=/tmp/target
CARGO_PROFILE_RELEASE_STRIP=symbols cargo build --release --locked \
    -p skerry-init -p skerry-compositor -p skerry-streamer -p skerry-shell
for b in $bins; do install -m 0755 "$CARGO_TARGET_DIR/release/$b" "$out/$b"; done
