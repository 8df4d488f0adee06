#!/usr/bin/env bash
# Installs the build-host packages the image build, lint and VM test need (Debian 12 host).
# Only missing packages are installed, so calling it on every build costs a dpkg query.
set -euo pipefail

packages=(
  mmdebstrap qemu-system-x86 qemu-utils ovmf packer
  dosfstools mtools fdisk e2fsprogs squashfs-tools rauc
  grub-pc-bin grub-efi-amd64-bin grub-common openssl openssh-client
  shellcheck python3 kcat sshpass iproute2 nftables zstd curl ca-certificates
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
  echo "host-deps: missing packages (${missing[*]}); run as root or install them with apt-get" >&2
  exit 1
fi

echo "host-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# --no-install-recommends keeps the host lean; grub-pc (which would manage this host's boot sector) is
# deliberately not installed: the BIOS core image is embedded by image/lib/bios-grub-embed.py.
apt-get install -y -qq --no-install-recommends "${missing[@]}"
