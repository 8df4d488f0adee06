#!/usr/bin/env bash
# Assembles the GPT A/B disk from a rootfs tree without loop devices or mounts:
#   image/assemble.sh test|production  ->  image/out/base-<flavour>.qcow2
# Layout (partition numbers are what grub.cfg and RAUC use):
#   5 bios_grub (LBA 34..2047, BIOS core.img)   1 esp (FAT32: GRUB EFI, grub.cfg, grubenv)
#   2 rootfs_a (ext4, populated)   3 rootfs_b (ext4, empty)   4 data (ext4: site, forwarder, kafka)
set -euo pipefail
# shellcheck source=lib/common.sh
. "$(dirname "$0")/lib/common.sh"
need_root "assemble.sh"

flavour=${1:?usage: assemble.sh test|production}
esp_mb=${APPLIANCE_ESP_MB:-64}
root_mb=${APPLIANCE_ROOT_MB:-1280}
data_mb=${APPLIANCE_DATA_MB:-1024}
root=$OUT_DIR/rootfs-$flavour
work=$OUT_DIR/assemble-$flavour
[[ -d $root/etc ]] || die "no rootfs at $root (run image/rootfs.sh $flavour)"
rm -rf "$work"
install -d "$work"

grub_modules=(part_gpt fat ext2 normal linux configfile loadenv test echo search regexp gzio sleep reboot halt ls cat true serial terminal)

log "assemble: ESP"
grub-editenv "$work/grubenv" create
grub-editenv "$work/grubenv" set ORDER="A B" A_OK=1 A_TRY=0 B_OK=0 B_TRY=0
grub-mkimage -O x86_64-efi -d /usr/lib/grub/x86_64-efi -p /EFI/BOOT -o "$work/BOOTX64.EFI" \
  "${grub_modules[@]}" efi_gop all_video
mkfs.vfat -C -F 32 -n ESP "$work/esp.img" $((esp_mb * 1024)) >/dev/null
mmd -i "$work/esp.img" ::/EFI ::/EFI/BOOT
mcopy -i "$work/esp.img" "$work/BOOTX64.EFI" "$IMAGE_DIR/grub.cfg" "$work/grubenv" ::/EFI/BOOT/

log "assemble: ext4 slots and data"
used_mb=$(du -sm "$root" | cut -f1)
((used_mb * 100 / root_mb < 90)) || die "rootfs uses ${used_mb} MiB, slot is ${root_mb} MiB: raise APPLIANCE_ROOT_MB"
mkfs.ext4 -q -F -L rootfs -d "$root" "$work/rootfs_a.ext4" "${root_mb}M"
mkfs.ext4 -q -F -L rootfs "$work/rootfs_b.ext4" "${root_mb}M"
skel=$work/data-skel
install -d -m 0755 "$skel" "$skel/site"
install -d -m 0700 -o 901 -g 901 "$skel/forwarder"
install -d -m 0700 -o 902 -g 902 "$skel/kafka"
install -d -m 0700 "$skel/ssh"
mkfs.ext4 -q -F -L data -m 0 -d "$skel" "$work/data.ext4" "${data_mb}M"

log "assemble: GPT disk"
disk=$work/disk.raw
rm -f "$disk"
truncate -s $((1 + esp_mb + 2 * root_mb + data_mb + 1))M "$disk"
sfdisk -q "$disk" <<EOT
label: gpt
first-lba: 34
${disk}5 : start=34, size=2014, type=21686148-6449-6E6F-744E-656564454649, name=bios_grub
${disk}1 : start=1MiB, size=${esp_mb}MiB, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name=esp
${disk}2 : size=${root_mb}MiB, type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, name=rootfs_a
${disk}3 : size=${root_mb}MiB, type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, name=rootfs_b
${disk}4 : size=${data_mb}MiB, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=data
EOT
offset=1
for part in esp.img:$esp_mb rootfs_a.ext4:$root_mb rootfs_b.ext4:$root_mb data.ext4:$data_mb; do
  dd if="$work/${part%%:*}" of="$disk" bs=1M seek=$offset conv=notrunc,sparse status=none
  offset=$((offset + ${part##*:}))
done

log "assemble: BIOS GRUB"
grub-mkimage -O i386-pc -d /usr/lib/grub/i386-pc -p '(hd0,gpt1)/EFI/BOOT' -o "$work/core.img" biosdisk "${grub_modules[@]}"
/usr/bin/python3 "$IMAGE_DIR/lib/bios-grub-embed.py" "$disk" "$work/core.img" /usr/lib/grub/i386-pc/boot.img 34

qemu-img convert -O qcow2 "$disk" "$OUT_DIR/base-$flavour.qcow2"
(cd "$OUT_DIR" && sha256sum "base-$flavour.qcow2" >"base-$flavour.qcow2.sha256")
rm -rf "$work"
log "assemble: $OUT_DIR/base-$flavour.qcow2 ($(du -h "$OUT_DIR/base-$flavour.qcow2" | cut -f1))"
