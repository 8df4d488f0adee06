#!/usr/bin/env bash
# Creates the DEVELOPMENT RAUC PKI (CA + bundle-signing certificate) under image/out/pki once, and the
# throw-away SSH key Packer uses during the build. Never commit image/out/. Production builds pass their
# own keyring with APPLIANCE_RAUC_KEYRING=/path/to/ca.cert.pem (the signing key stays off the build host).
set -euo pipefail
# shellcheck source=lib/common.sh
. "$(dirname "$0")/lib/common.sh"

pki=$OUT_DIR/pki
install -d -m 0700 "$pki" "$OUT_DIR/keys"
if [[ ! -s $pki/ca.cert.pem ]]; then
  log "pki: generating development RAUC CA and signing certificate in $pki"
  openssl req -x509 -newkey rsa:4096 -nodes -days 3650 -sha256 -keyout "$pki/ca.key.pem" -out "$pki/ca.cert.pem" \
    -subj "/O=Appliance development/CN=Appliance DEV RAUC CA" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
  openssl req -newkey rsa:4096 -nodes -sha256 -keyout "$pki/signing.key.pem" -out "$pki/signing.csr" \
    -subj "/O=Appliance development/CN=Appliance DEV RAUC signing" 2>/dev/null
  printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=codeSigning,emailProtection\n' >"$pki/signing.ext"
  openssl x509 -req -in "$pki/signing.csr" -CA "$pki/ca.cert.pem" -CAkey "$pki/ca.key.pem" -CAcreateserial \
    -days 1825 -sha256 -extfile "$pki/signing.ext" -out "$pki/signing.cert.pem" 2>/dev/null
  chmod 0600 "$pki"/*.key.pem
fi
if [[ ! -s $OUT_DIR/keys/build_ed25519 ]]; then
  ssh-keygen -q -t ed25519 -N '' -C appliance-packer-build -f "$OUT_DIR/keys/build_ed25519"
fi
