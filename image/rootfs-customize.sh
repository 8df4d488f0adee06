#!/usr/bin/env bash
# mmdebstrap customize hook: puts appliance/ onto the tree and hardens it. $1 = rootfs directory.
# Runs on the build host as root (chroot only for tools that must act on the target's databases).
set -euo pipefail
# shellcheck source=lib/common.sh
. "$(dirname "$0")/lib/common.sh"
R=${1:?rootfs dir}
flavour=${APPLIANCE_FLAVOUR:?}

# appliance/ overlay: configuration files, helper scripts, units.
cp -a "$APPLIANCE_DIR/rootfs/." "$R/"
install -d -m 0755 "$R/etc/appliance/nft.d" "$R/etc/rauc" "$R/data" "$R/boot/efi" "$R/opt/appliance" "$R/usr/share/doc/appliance"
install -m 0644 "$APPLIANCE_DIR"/systemd/*.service "$R/etc/systemd/system/"
cp "$REPO_DIR/docs/image.md" "$R/usr/share/doc/appliance/image.md"
install -d -m 0755 "$R/etc/kafka"
install -m 0644 "$APPLIANCE_DIR/kafka/server.properties.in" "$APPLIANCE_DIR/kafka/log4j.properties" "$R/etc/kafka/"
if [[ $flavour == test ]]; then
  # The production broker unit is not shipped in the test flavour and vice versa.
  rm -f "$R/etc/systemd/system/kafka.service"
  compatible=edge-appliance-test-x86_64
else
  rm -f "$R/etc/systemd/system/appliance-mockbroker.service"
  compatible=edge-appliance-x86_64
fi

# RAUC: system.conf + keyring (development CA from image/out/pki unless a production keyring is given).
keyring=${APPLIANCE_RAUC_KEYRING:-$OUT_DIR/pki/ca.cert.pem}
[[ -s $keyring ]] || die "RAUC keyring $keyring missing (run image/pki.sh)"
sed "s/@COMPATIBLE@/$compatible/" "$APPLIANCE_DIR/rauc/system.conf.in" >"$R/etc/rauc/system.conf"
install -m 0644 "$keyring" "$R/etc/rauc/keyring.pem"

# Service users with fixed ids (also declared in sysusers.d for later slots).
chroot "$R" systemd-sysusers
# Admin login for SSH (only used when a site enables SSH): no password, key only, reads the journal.
chroot "$R" useradd --uid 1000 --create-home --shell /bin/bash --groups systemd-journal --comment "Appliance admin" admin
chroot "$R" usermod --password '!*' admin
chroot "$R" usermod --password '!*' root

# Build-time access for Packer (removed by image/provision/seal.sh, which fails if any remain).
install -d -m 0700 "$R/root/.ssh"
install -m 0600 "$OUT_DIR/keys/build_ed25519.pub" "$R/root/.ssh/authorized_keys"
cat >"$R/etc/ssh/sshd_config.d/00-packer-build.conf" <<'CONF'
PermitRootLogin prohibit-password
AllowUsers root
AuthorizedKeysFile .ssh/authorized_keys /data/site/ssh/authorized_keys
CONF
printf '[Unit]\nConditionPathExists=\n' >"$R/etc/systemd/system/ssh.service.d/zz-packer-build.conf"
printf 'table inet appliance {\n\tchain site_input {\n\t\ttcp dport 22 accept\n\t}\n}\n' >"$R/etc/appliance/nft.d/zz-packer-build.nft"

# Units: networking, time, firewall, site config, RAUC health gate, readiness marker.
chroot "$R" systemctl enable systemd-networkd.service systemd-resolved.service systemd-timesyncd.service nftables.service \
  appliance-site-config.service appliance-mark-good.service appliance-ready-marker.service
chroot "$R" systemctl disable e2scrub_reap.service e2scrub_all.timer >/dev/null 2>&1 || true

# Trim kernel modules for hardware an appliance box never has (GPUs, sound, radios, ...).
for kdir in "$R"/lib/modules/*; do
  kver=$(basename "$kdir")
  rm -rf "$kdir"/kernel/drivers/{gpu,media,staging,infiniband,isdn,iio,bluetooth,net/wireless,hwmon/pmbus} \
    "$kdir"/kernel/{sound,net/bluetooth,net/mac80211,net/wireless}
  chroot "$R" depmod -a "$kver"
done

# No package manager on the box: updates are RAUC bundles of a whole slot.
chroot "$R" dpkg --purge apt >/dev/null
rm -rf "$R"/var/lib/apt/lists/* "$R"/var/cache/apt/*.bin "$R"/var/log/apt

# Identity is created on first boot: machine-id (empty file => systemd generates and commits it),
# SSH host key (appliance-ssh-hostkey.service, on /data).
: >"$R/etc/machine-id"
rm -f "$R"/var/lib/dbus/machine-id "$R"/etc/ssh/ssh_host_*
ln -s /etc/machine-id "$R/var/lib/dbus/machine-id"
