#!/usr/bin/env bash
# Writes the bootable Skerry disk image (raw, and qcow2 through qemu-img) from a root
# filesystem tarball (`podman export` of the image/vm/Containerfile image). Needs no loop
# devices and no mounts: the filesystems are made from directories and written into the
# disk file at their partition offsets.
#
#   image/vm/build.sh ROOTFS.tar OUT_DIR      -> OUT_DIR/skerry.raw, OUT_DIR/skerry.qcow2
#
# Layout (MBR partition table, so the same disk boots by BIOS and by UEFI):
#   sectors 1..2047  GRUB's core.img for BIOS (after boot.img in the MBR)
#   1  ESP    FAT    EFI/BOOT/BOOTX64.EFI (GRUB for UEFI)
#   2  root   ext4   label skerry-root, mounted read-only
#   3  data   ext4   label skerry-data, mounted at /config (the user's home and settings)
# Both GRUBs find the root by its label and read /boot/grub/grub.cfg from it.
set -euo pipefail

tarball="$1"
out="$2"
data_mib="${SKERRY_VM_DATA_MIB:-512}"
esp_mib=32
mkdir -p "$out"
work="$(mktemp -d "$out/.build.XXXXXX")"
trap 'rm -rf "$work"' EXIT

log() { printf '==> %s\n' "$*" >&2; }

log "unpacking the root filesystem"
root="$work/root"
mkdir "$root"
tar -C "$root" --numeric-owner -xpf "$tarball"
# What the container runtime leaves behind in an export.
rm -f "$root/.containerenv" "$root/run/.containerenv"
: >"$root/etc/resolv.conf"
printf 'skerry\n' >"$root/etc/hostname"

kernel="$(cd "$root/boot" && ls vmlinuz-* | sort -V | tail -n1)"
initrd="initrd.img-${kernel#vmlinuz-}"
[ -f "$root/boot/$initrd" ] || { echo "no $initrd in the root filesystem" >&2; exit 1; }
mkdir -p "$root/boot/grub"
cat >"$root/boot/grub/grub.cfg" <<CFG
set timeout=1
set default=0
serial --unit=0 --speed=115200
terminal_input console serial
terminal_output console serial
menuentry "Skerry" {
    linux /boot/$kernel root=LABEL=skerry-root ro console=tty0 console=ttyS0,115200 quiet
    initrd /boot/$initrd
}
CFG

# The small configuration built into both GRUB images: find the root partition by label.
cat >"$work/early.cfg" <<'CFG'
search --no-floppy --label skerry-root --set=root
set prefix=($root)/boot/grub
CFG
mods="part_msdos ext2 search search_label normal linux configfile echo test serial terminal"
log "GRUB for BIOS and UEFI"
grub-mkimage -O i386-pc -o "$work/core.img" -c "$work/early.cfg" -p /boot/grub biosdisk $mods
grub-mkimage -O x86_64-efi -o "$work/BOOTX64.EFI" -c "$work/early.cfg" -p /boot/grub \
    fat part_gpt efi_gop efi_uga all_video $mods

log "ESP"
mkfs.vfat -C -n SKERRY-ESP "$work/esp.img" $((esp_mib * 1024)) >/dev/null
mmd -i "$work/esp.img" ::/EFI ::/EFI/BOOT
mcopy -i "$work/esp.img" "$work/BOOTX64.EFI" ::/EFI/BOOT/BOOTX64.EFI

log "root filesystem (ext4)"
used_mib=$(du -sm --apparent-size "$root" | cut -f1)
root_mib=$((used_mib + used_mib / 4 + 128))
mkfs.ext4 -q -F -L skerry-root -O ^has_journal -m 0 -d "$root" "$work/root.img" "${root_mib}M"

log "data partition (ext4, owned by the default PUID:PGID)"
mkdir "$work/data"
mkfs.ext4 -q -F -L skerry-data -E root_owner=1000:1000 -d "$work/data" "$work/data.img" "${data_mib}M"

log "disk"
esp_start=2048
root_start=$((esp_start + esp_mib * 2048))
data_start=$((root_start + root_mib * 2048))
total=$((data_start + data_mib * 2048))
raw="$work/skerry.raw"
truncate -s $((total * 512)) "$raw"
sfdisk --quiet "$raw" <<PARTS
label: dos
start=$esp_start, size=$((esp_mib * 2048)), type=ef
start=$root_start, size=$((root_mib * 2048)), type=83, bootable
start=$data_start, size=$((data_mib * 2048)), type=83
PARTS
dd if="$work/esp.img" of="$raw" bs=512 seek=$esp_start conv=notrunc,sparse status=none
dd if="$work/root.img" of="$raw" bs=512 seek=$root_start conv=notrunc,sparse status=none
dd if="$work/data.img" of="$raw" bs=512 seek=$data_start conv=notrunc,sparse status=none

# BIOS: boot.img's code in the MBR (the partition table stays), loading core.img from
# sector 1; core.img's first sector loads the rest of it from the block list at its end.
core_sectors=$((($(stat -c %s "$work/core.img") + 511) / 512))
((core_sectors < 2047)) || { echo "core.img does not fit before the first partition" >&2; exit 1; }
dd if=/usr/lib/grub/i386-pc/boot.img of="$raw" bs=440 count=1 conv=notrunc status=none
python3 - "$raw" "$work/core.img" "$core_sectors" <<'PY'
import struct, sys
raw, core, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
with open(core, "rb") as f:
    img = bytearray(f.read())
# diskboot.img's first block list entry: start sector (u64), sector count (u16).
struct.pack_into("<QH", img, 0x200 - 12, 2, n - 1)
with open(raw, "r+b") as f:
    f.seek(0x5C)                       # boot.img: sector of core.img (u64)
    f.write(struct.pack("<Q", 1))
    f.seek(0x66)                       # boot.img: trust no BIOS boot drive number (hard disk)
    f.write(b"\x90\x90")
    f.seek(512)
    f.write(img)
PY

mv "$raw" "$out/skerry.raw"
log "qcow2"
qemu-img convert -O qcow2 "$out/skerry.raw" "$out/skerry.qcow2"
ls -l "$out/skerry.raw" "$out/skerry.qcow2" >&2
