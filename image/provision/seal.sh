#!/bin/bash
# Runs INSIDE the build VM as the last provisioner: removes everything the build needed and any
# per-machine identity, so the first boot of each box generates its own. Packer then powers it off.
set -euo pipefail
systemctl stop appliance-mark-good.service appliance-forwarder.service appliance-broker.service 2>/dev/null || true

# Build-time access (key, sshd/nft/ssh-unit overrides) -> fails the build if anything is left.
rm -rf /root/.ssh /var/tmp/payload-* /var/tmp/provision
rm -f /etc/ssh/sshd_config.d/00-packer-build.conf /etc/systemd/system/ssh.service.d/zz-packer-build.conf \
  /etc/appliance/nft.d/zz-packer-build.nft
leftovers=$(find / -xdev \( -name '*packer-build*' -o -path /root/.ssh \) -print 2>/dev/null || true)
if [[ -n $leftovers ]]; then
  echo "seal: build-time access left behind: $leftovers" >&2
  exit 1
fi

# Identity generated at first boot: machine-id, SSH host key (on /data), DHCP/DUID state.
: >/etc/machine-id
rm -f /etc/ssh/ssh_host_* /var/lib/systemd/random-seed /var/lib/systemd/credential.secret
rm -rf /var/lib/systemd/network /var/lib/dhcp/* 2>/dev/null || true

# The data partition ships empty apart from its layout (no site identity, no state from the build boot).
find /data -mindepth 1 -maxdepth 1 ! -name site ! -name forwarder ! -name kafka ! -name ssh ! -name lost+found -exec rm -rf {} +
find /data/site /data/forwarder /data/kafka /data/ssh -mindepth 1 -exec rm -rf {} + 2>/dev/null || true
rm -f /data/rauc.status
# Boot state as shipped: slot A good and untried, slot B empty (the build boot consumed A's try).
grub-editenv /boot/efi/EFI/BOOT/grubenv set ORDER="A B" A_OK=1 A_TRY=0 B_OK=0 B_TRY=0

# Logs and caches from the build boot.
journalctl --rotate >/dev/null 2>&1 || true
rm -rf /var/log/journal/* /var/tmp/* /root/.bash_history
find /var/log -type f -exec truncate -s 0 {} +
sync
echo "seal: done"
