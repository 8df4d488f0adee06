#!/usr/bin/env bash
# Packer post-processor: turns Packer's qcow2 into the deliverables in image/out/images/:
#   <name>.raw       sparse raw disk (dd to a disk / provision with image/provision-site.sh)
#   <name>.qcow2     compressed qcow2 (for VMs)
#   <name>.raw.zst   compressed raw (transport; `zstd -dc x.raw.zst | dd of=/dev/sdX bs=4M conv=fsync`)
#   SHA256SUMS, <name>.sizes
# Usage: finalize.sh PACKER_QCOW2 OUT_DIR
set -euo pipefail
src=${1:?packer qcow2}
out=${2:?out dir}/images
name=$(basename "$src" .qcow2)
install -d "$out"
rm -f "$out/$name".*
qemu-img convert -O raw "$src" "$out/$name.raw"
qemu-img convert -c -O qcow2 "$src" "$out/$name.qcow2"
zstd -q -T0 -3 --sparse -f -o "$out/$name.raw.zst" "$out/$name.raw"
rm -rf "$(dirname "$src")"
(
  cd "$out"
  sha256sum "$name.raw" "$name.qcow2" "$name.raw.zst" >"$name.SHA256SUMS"
  {
    echo "raw_apparent_bytes=$(stat -c %s "$name.raw")"
    echo "raw_allocated_bytes=$(($(stat -c %b "$name.raw") * $(stat -c %B "$name.raw")))"
    echo "qcow2_compressed_bytes=$(stat -c %s "$name.qcow2")"
    echo "raw_zst_bytes=$(stat -c %s "$name.raw.zst")"
  } >"$name.sizes"
  cat "$name.sizes"
)
