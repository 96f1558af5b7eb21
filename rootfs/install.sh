#!/bin/sh
# Turns a Debian 12 root into a Skerry appliance root: installs rootfs/packages.txt (and any
# extra package lists given as arguments), then copies rootfs/overlay/ over it as it is.
# Runs as root inside the target: a container build's RUN, or chroot for the VM image.
# The Skerry binaries themselves are added by each image's build, next to this.
#
#   rootfs/install.sh [EXTRA_PACKAGES_FILE...]
set -eu
here="$(cd "$(dirname "$0")" && pwd)"

packages() { sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$@"; }

# The overlay first: its dpkg settings (no manuals) apply to what is installed next.
cp -a "$here/overlay/." /

export DEBIAN_FRONTEND=noninteractive
apt-get update
# shellcheck disable=SC2046 # one word per package, on purpose
apt-get install -y --no-install-recommends $(packages "$here/packages.txt" "$@")

# The user's home and settings (a volume in the container, the data partition in the VM).
mkdir -p /config

# Leave no package lists behind; keep downloaded packages only when the build mounted a
# cache there to share them between builds.
rm -rf /var/lib/apt/lists/*
if ! mountpoint -q /var/cache/apt/archives; then
    apt-get clean
fi
