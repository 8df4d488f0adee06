#!/usr/bin/env bash
# Builds the root filesystem tree for one flavour with mmdebstrap from the Debian mirror.
#   image/rootfs.sh test|production   ->  image/out/rootfs-<flavour>/
# .debs are cached in image/cache/apt (sync-in/sync-out), so a rebuild downloads nothing.
set -euo pipefail
# shellcheck source=lib/common.sh
. "$(dirname "$0")/lib/common.sh"
need_root "rootfs.sh"

flavour=${1:?usage: rootfs.sh test|production}
[[ $flavour == test || $flavour == production ]] || die "flavour must be test or production"
mirror=${APPLIANCE_DEBIAN_MIRROR:-http://deb.debian.org/debian}
security_mirror=${APPLIANCE_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
root=$OUT_DIR/rootfs-$flavour

# Minimal package set: boot, network, time, firewall, SSH (off by default), RAUC, TLS roots; jemalloc for the
# forwarder (its unit preloads it: glibc malloc contention between .NET and librdkafka threads, docs/benchmarks.md).
packages=(
  systemd-sysv udev dbus linux-image-amd64 grub-common
  systemd-timesyncd systemd-resolved nftables iproute2 kmod openssh-server
  rauc rauc-service e2fsprogs ca-certificates libssl3 zlib1g libjemalloc2
)
if [[ $flavour == production ]]; then
  packages+=(openjdk-17-jre-headless)
fi

install -d "$CACHE_DIR/apt" "$OUT_DIR"
# (The essential hook keeps /usr/share/man/man1: man pages are excluded, but openjdk's postinst
# registers alternatives with man-page links there and fails if the directory is missing.)
rm -rf "$root"
export APPLIANCE_FLAVOUR=$flavour
log "rootfs: mmdebstrap bookworm ($flavour) -> $root"
mmdebstrap --mode=root --variant=minbase --format=directory \
  --include="$(
    IFS=,
    echo "${packages[*]}"
  )" \
  --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/info/*' \
  --dpkgopt='path-exclude=/usr/share/lintian/*' \
  --aptopt='APT::Install-Recommends "false"' \
  --setup-hook='mkdir -p "$1"/var/cache/apt/archives' \
  --essential-hook='mkdir -p "$1"/usr/share/man/man1' \
  --setup-hook="sync-in $CACHE_DIR/apt /var/cache/apt/archives" \
  --customize-hook="sync-out /var/cache/apt/archives $CACHE_DIR/apt" \
  --customize-hook="$IMAGE_DIR/rootfs-customize.sh \"\$1\"" \
  --skip=download/empty \
  bookworm "$root" \
  "deb $mirror bookworm main" \
  "deb $mirror bookworm-updates main" \
  "deb $security_mirror bookworm-security main"
log "rootfs: $(du -sh "$root" | cut -f1) in $root"
