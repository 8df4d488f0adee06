#!/usr/bin/env bash
# Static gates for the image, runnable in CI (installs its own tools on Debian 12 when run as root):
#   "shellcheck -S warning" on every script, Python syntax, `packer fmt -check`, `packer validate` (both
#   flavours), nftables ruleset syntax (in a throw-away network namespace), unit exposure gate.
set -euo pipefail
# shellcheck source=lib/common.sh
. "$(dirname "$0")/lib/common.sh"
cd "$REPO_DIR"

need=()
for p in shellcheck packer nftables python3 systemd iproute2; do
  dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || need+=("$p")
done
if ((${#need[@]})); then
  [[ $(id -u) -eq 0 ]] || die "lint needs ${need[*]} (run as root to install them)"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

failures=0
gate() { # NAME COMMAND...
  local name=$1
  shift
  if "$@"; then log "lint: ok   $name"; else
    log "lint: FAIL $name"
    failures=$((failures + 1))
  fi
}

mapfile -t scripts < <(
  find image appliance -type f \( -name '*.sh' -o -path 'appliance/rootfs/usr/lib/appliance/*' \) -not -path 'image/out/*' -not -path 'image/cache/*' | sort
)
gate "shellcheck (${#scripts[@]} scripts)" shellcheck -S warning -x "${scripts[@]}"
gate "python syntax" /usr/bin/python3 -c 'import ast, sys; [ast.parse(open(f).read(), f) for f in sys.argv[1:]]' image/lib/bios-grub-embed.py image/lib/kafka-committed.py
gate "packer fmt -check" packer fmt -check packer.pkr.hcl

# packer validate checks that referenced local files exist: give it a scratch out_dir.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; ip netns del "apl-lint-$$" 2>/dev/null || true' EXIT
for f in test production; do
  install -d "$tmp/payload-$f"
  : >"$tmp/base-$f.qcow2"
  (cd "$tmp" && sha256sum "base-$f.qcow2" >"base-$f.qcow2.sha256")
done
install -d "$tmp/keys"
ssh-keygen -q -t ed25519 -N '' -f "$tmp/keys/build_ed25519"
export CHECKPOINT_DISABLE=1 PACKER_CACHE_DIR=$tmp/packer-cache
gate "packer validate (test)" packer validate -var "out_dir=$tmp" packer.pkr.hcl
gate "packer validate (production)" packer validate -var "out_dir=$tmp" -var flavour=production \
  -var "kafka_sha512=$(printf '0%.0s' {1..128})" packer.pkr.hcl
if packer validate -var "out_dir=$tmp" -var flavour=production packer.pkr.hcl >"$tmp/prod.out" 2>&1; then
  gate "packer refuses production without kafka_sha512" false
else
  gate "packer refuses production without kafka_sha512" grep -q 'production flavour needs' <(tr -s '\n ' '  ' <"$tmp/prod.out")
fi

if [[ $(id -u) -eq 0 ]]; then
  ip netns add "apl-lint-$$"
  gate "nftables ruleset syntax" ip netns exec "apl-lint-$$" nft -c -f appliance/rootfs/etc/nftables.conf
else
  log "lint: skip nftables ruleset check (needs root for a private network namespace)"
fi
gate "unit exposure gate" "$IMAGE_DIR/security-gate.sh"

((failures == 0)) || die "lint: $failures gate(s) failed"
log "lint: all gates passed"
