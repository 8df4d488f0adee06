#!/bin/bash
# Runs INSIDE the build VM after install.sh: checks the booted system, fails the build on any finding.
set -euo pipefail
fail=0
check() { # DESCRIPTION COMMAND...
  local what=$1
  shift
  if "$@" >/dev/null 2>&1; then echo "verify: ok   $what"; else
    echo "verify: FAIL $what" >&2
    fail=1
  fi
}

check "root password locked" bash -c '[[ $(passwd -S root | cut -d" " -f2) == L ]]'
check "admin password locked" bash -c '[[ $(passwd -S admin | cut -d" " -f2) == L ]]'
check "no account has a usable password" bash -c '! awk -F: '"'"'$2 !~ /^[!*]/ && $2 != "" {bad=1} END {exit !bad}'"'"' /etc/shadow'
check "sshd configuration valid" sshd -t
check "sshd: no passwords, no root" bash -c 'sshd -T -C user=admin,host=x,addr=192.0.2.1 | grep -qx "passwordauthentication no" && sshd -T -C user=admin,host=x,addr=192.0.2.1 | grep -qx "kbdinteractiveauthentication no"'
# The build VM is an unprovisioned site: SSH must be off there except for the build-only override.
check "SSH off for an unprovisioned site" bash -c '[[ ! -e /run/appliance/ssh-enabled ]] && ! cat /run/appliance/nft.d/*.nft 2>/dev/null | grep -q "dport 22"'
check "nftables ruleset parses" nft -c -f /etc/nftables.conf
check "nftables input policy drop active" bash -c 'nft list chain inet appliance input | grep -q "policy drop"'
check "sysctl hardening applied" bash -c '[[ $(sysctl -n kernel.kptr_restrict) == 2 && $(sysctl -n net.ipv4.conf.all.accept_redirects) == 0 && $(sysctl -n kernel.yama.ptrace_scope) == 2 ]]'
check "journald limits set" bash -c 'systemd-analyze cat-config systemd/journald.conf | grep -q "^SystemMaxUse=64M"'
check "timesyncd enabled" systemctl is-enabled systemd-timesyncd.service
check "rauc knows both slots" bash -c 'rauc status --output-format=shell > /tmp/rauc.status && grep -q by-partlabel/rootfs_a /tmp/rauc.status && grep -q by-partlabel/rootfs_b /tmp/rauc.status'
check "no package manager" bash -c '! command -v apt-get'
check "forwarder executable present" test -x /opt/appliance/forwarder/appliance-forwarder
check "flavour recorded" test -s /etc/appliance/broker-flavour
for unit in appliance-forwarder.service appliance-broker.service; do
  check "unit $unit verifies" systemd-analyze verify "$unit"
  check "unit $unit exposure <= 2.0" systemd-analyze security --threshold=20 --no-pager "$unit"
done
systemd-analyze security --no-pager appliance-forwarder.service appliance-broker.service 2>/dev/null | grep -E '^(UNIT|appliance|kafka)' || true
echo "verify: packages installed: $(dpkg-query -W | wc -l); rootfs used: $(df -h --output=used / | tail -1 | tr -d ' ')"
exit "$fail"
