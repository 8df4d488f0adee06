# shellcheck shell=bash
# Shared paths and helpers for the image scripts (sourced, not executed).
IMAGE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REPO_DIR=$(cd "$IMAGE_DIR/.." && pwd)
OUT_DIR=${APPLIANCE_OUT_DIR:-$IMAGE_DIR/out}
CACHE_DIR=${APPLIANCE_CACHE_DIR:-$IMAGE_DIR/cache}
APPLIANCE_DIR=$REPO_DIR/appliance
export IMAGE_DIR REPO_DIR OUT_DIR CACHE_DIR APPLIANCE_DIR

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}
need_root() { [[ $(id -u) -eq 0 ]] || die "$1 needs root (mmdebstrap --mode=root and mkfs.ext4 -d of a root-owned tree)"; }
