#!/usr/bin/env bash
# THE image build entry point (run as root on a Debian 12 host):
#   image/build.sh                                   test flavour (TEST-ONLY mock broker), builds anywhere
#   image/build.sh --flavour production --kafka-sha512 <sha512> [--kafka-archive /path/kafka_2.13-3.9.1.tgz]
# Steps: host packages (apt-get) -> dev PKI + build key -> payload (dotnet publish, Kafka archive check)
#   -> Debian bookworm rootfs (mmdebstrap, .debs cached in image/cache) -> GPT A/B disk (no loop devices)
#   -> packer build packer.pkr.hcl (QEMU/TCG: install, verify, seal) -> image/out/images/<name>.{raw,qcow2,raw.zst}
set -euo pipefail
# shellcheck source=lib/common.sh
. "$(dirname "$0")/lib/common.sh"

flavour=test version=0.1.0 uefi=false reuse_base=no
kafka_version=3.9.1 kafka_sha512='' kafka_archive=''
usage() {
  sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
  echo "options: --flavour test|production --version V --kafka-version V --kafka-sha512 H --kafka-archive PATH --uefi --reuse-base"
  exit "${1:-2}"
}
while (($#)); do
  case $1 in
    --flavour) flavour=${2:?}; shift 2 ;;
    --version) version=${2:?}; shift 2 ;;
    --kafka-version) kafka_version=${2:?}; shift 2 ;;
    --kafka-sha512) kafka_sha512=${2:?}; shift 2 ;;
    --kafka-archive) kafka_archive=$(realpath "${2:?}"); shift 2 ;;
    --uefi) uefi=true; shift ;;
    --reuse-base) reuse_base=yes; shift ;;
    -h | --help) usage 0 ;;
    *) usage ;;
  esac
done
[[ $flavour == test || $flavour == production ]] || die "--flavour must be test or production"
if [[ $flavour == production && ! $kafka_sha512 =~ ^[0-9a-fA-F]{128}$ ]]; then
  die "the production flavour installs Apache Kafka from the official archive pinned by SHA-512: pass --kafka-sha512 <128 hex digits> (from https://downloads.apache.org/kafka/$kafka_version/kafka_2.13-$kafka_version.tgz.sha512) and, on machines without internet, --kafka-archive <local path>. Use --flavour test for a TEST-ONLY image with the mock broker."
fi
need_root "image/build.sh"
cd "$REPO_DIR"
install -d "$OUT_DIR" "$CACHE_DIR"
log_file=$OUT_DIR/build-$flavour.log
exec > >(tee "$log_file") 2>&1

declare -A took=()
step() { # NAME COMMAND...
  local name=$1 start=$SECONDS
  shift
  log "== $name"
  "$@"
  took[$name]=$((SECONDS - start))
}

step host-deps "$IMAGE_DIR/host-deps.sh"
step pki "$IMAGE_DIR/pki.sh"
export KAFKA_VERSION=$kafka_version KAFKA_SHA512=$kafka_sha512 KAFKA_ARCHIVE=$kafka_archive
step payload "$IMAGE_DIR/payload.sh" "$flavour"
if [[ $reuse_base == yes && -s $OUT_DIR/base-$flavour.qcow2 ]]; then
  log "reusing $OUT_DIR/base-$flavour.qcow2"
else
  step rootfs "$IMAGE_DIR/rootfs.sh" "$flavour"
  step assemble "$IMAGE_DIR/assemble.sh" "$flavour"
fi

rm -rf "$OUT_DIR/packer-$flavour"
export PACKER_CACHE_DIR=$CACHE_DIR/packer PACKER_NO_COLOR=1 CHECKPOINT_DISABLE=1
step packer packer build -color=false \
  -var "flavour=$flavour" -var "version=$version" -var "uefi=$uefi" -var "out_dir=$OUT_DIR" \
  -var "kafka_version=$kafka_version" -var "kafka_sha512=$kafka_sha512" -var "kafka_archive=$kafka_archive" \
  packer.pkr.hcl

name=appliance-$version
[[ $flavour == test ]] && name=appliance-test-$version
{
  for s in host-deps pki payload rootfs assemble packer; do
    [[ -n ${took[$s]-} ]] && echo "seconds_$s=${took[$s]}"
  done
  echo "seconds_total=$SECONDS"
} >"$OUT_DIR/images/$name.build-times"
log "built $OUT_DIR/images/$name.{raw,qcow2,raw.zst} in ${SECONDS}s"
cat "$OUT_DIR/images/$name.build-times" "$OUT_DIR/images/$name.sizes"
[[ $flavour == test ]] && log "NOTE: TEST FLAVOUR image (mock-librdkafka broker, TEST ONLY, not a production broker)"
exit 0
