#!/usr/bin/env bash
# Writes one site's identity onto the data partition of a raw appliance image (no loop devices, no
# mounts: debugfs on the ext4 partition at its offset). The image itself never contains site secrets.
#
#   image/provision-site.sh --image image/out/images/appliance-0.1.0.raw --site-id store-0042 \
#       --central-bootstrap kafka1.central.example:9093,kafka2.central.example:9093 \
#       [--central-security-protocol SASL_SSL] [--sasl-mechanism SCRAM-SHA-512] \
#       [--sasl-user edge-store-0042 --sasl-password-file pw.txt] [--central-ca-file ca.pem] \
#       [--lanes lanes.json] [--ssh-authorized-keys admin.pub] \
#       [--kafka-advertised-host 192.168.1.10|auto] [--kafka-lan-security PLAINTEXT|SSL --kafka-lan-ssl-properties f] \
#       [--kafka-node-id 2 --kafka-quorum-voters 1@10.0.0.11:9093,2@10.0.0.12:9093,3@10.0.0.13:9093] \
#       [--kafka-cluster-id <22-char base64url>] [--kafka-disk-share 40]
#
# Files written to the data partition (/data on the box):
#   site/site.json          forwarder site configuration (root:appliance-fwd 0640; holds credentials)
#   site/appliance.env      KEY=value settings for the boot-time renderer (root 0644; no secrets)
#   site/central-ca.pem     optional CA for the central cluster (0644)
#   site/ssh/authorized_keys  optional: enables SSH for user "admin" (key only)
#   site/kafka/lan-ssl.properties  optional: ssl.* settings for an SSL device listener (root:kafka 0640)
set -euo pipefail

FWD_GID=901 KAFKA_GID=902
image='' site_id='' central='' central_proto='' sasl_mech=SCRAM-SHA-512 sasl_user='' sasl_pw_file='' central_ca=''
lanes='' ssh_keys='' adv_host=auto lan_sec=PLAINTEXT lan_ssl_props='' node_id=1 voters='' cluster_id='' disk_share=40
die() {
  echo "provision-site: $*" >&2
  exit 1
}
usage() {
  sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'
  exit "${1:-2}"
}
while (($#)); do
  case $1 in
    --image) image=${2:?}; shift 2 ;;
    --site-id) site_id=${2:?}; shift 2 ;;
    --central-bootstrap) central=${2:?}; shift 2 ;;
    --central-security-protocol) central_proto=${2:?}; shift 2 ;;
    --sasl-mechanism) sasl_mech=${2:?}; shift 2 ;;
    --sasl-user) sasl_user=${2:?}; shift 2 ;;
    --sasl-password-file) sasl_pw_file=${2:?}; shift 2 ;;
    --central-ca-file) central_ca=${2:?}; shift 2 ;;
    --lanes) lanes=${2:?}; shift 2 ;;
    --ssh-authorized-keys) ssh_keys=${2:?}; shift 2 ;;
    --kafka-advertised-host) adv_host=${2:?}; shift 2 ;;
    --kafka-lan-security) lan_sec=${2:?}; shift 2 ;;
    --kafka-lan-ssl-properties) lan_ssl_props=${2:?}; shift 2 ;;
    --kafka-node-id) node_id=${2:?}; shift 2 ;;
    --kafka-quorum-voters) voters=${2:?}; shift 2 ;;
    --kafka-cluster-id) cluster_id=${2:?}; shift 2 ;;
    --kafka-disk-share) disk_share=${2:?}; shift 2 ;;
    -h | --help) usage 0 ;;
    *) usage ;;
  esac
done

# ---- validation -------------------------------------------------------------------------------
[[ -n $image && -f $image ]] || die "--image must name a raw image file"
[[ $(head -c 4 "$image" | od -An -c | tr -d ' ') != QFI* ]] || die "$image is qcow2; provision the .raw image"
[[ $site_id =~ ^[a-z0-9][a-z0-9-]{1,62}$ ]] ||
  die "--site-id '$site_id': 2-63 characters of a-z, 0-9 and '-', starting with a letter or digit"
host_re='([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])'
valid_hostport() { # host:port with 1 <= port <= 65535
  [[ $1 =~ ^${host_re}:([0-9]{1,5})$ ]] || return 1
  local port=${1##*:}
  ((10#$port >= 1 && 10#$port <= 65535))
}
[[ -n $central ]] || die "--central-bootstrap is required (host:port[,host:port...])"
IFS=, read -r -a central_list <<<"$central"
for hp in "${central_list[@]}"; do
  valid_hostport "$hp" || die "--central-bootstrap: '$hp' is not host:port"
done
if [[ -n $sasl_user || -n $sasl_pw_file ]]; then
  [[ -n $sasl_user && -n $sasl_pw_file ]] || die "--sasl-user and --sasl-password-file go together"
  [[ $sasl_user =~ ^[A-Za-z0-9._@=-]{1,255}$ ]] || die "--sasl-user has characters outside A-Z a-z 0-9 . _ @ = -"
  [[ -r $sasl_pw_file && -s $sasl_pw_file ]] || die "--sasl-password-file $sasl_pw_file is missing or empty"
  [[ $(wc -l <"$sasl_pw_file") -le 1 ]] || die "--sasl-password-file must hold one line"
  [[ $sasl_mech =~ ^(SCRAM-SHA-256|SCRAM-SHA-512|PLAIN)$ ]] || die "--sasl-mechanism: SCRAM-SHA-256, SCRAM-SHA-512 or PLAIN"
  : "${central_proto:=SASL_SSL}"
fi
: "${central_proto:=PLAINTEXT}"
[[ $central_proto =~ ^(PLAINTEXT|SSL|SASL_PLAINTEXT|SASL_SSL)$ ]] || die "--central-security-protocol: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL"
[[ $central_proto != SASL_* || -n $sasl_user ]] || die "$central_proto needs --sasl-user and --sasl-password-file"
[[ -z $central_ca ]] || openssl x509 -noout -in "$central_ca" 2>/dev/null || die "--central-ca-file is not a PEM certificate"
# --lanes: {"Lanes": [forwarder Buffer:Lanes entries], "Routes": [forwarder Routes entries]} (docs/forwarder.md).
# The shape is checked here; the forwarder validates the values at start (exit 78 naming the keys).
if [[ -n $lanes ]]; then
  lanes_err=$(/usr/bin/python3 - "$lanes" 2>&1 <<'PY'
import json, sys
try:
    v = json.load(open(sys.argv[1]))
except (OSError, ValueError) as e:
    sys.exit(f"not readable JSON ({e})")
if not isinstance(v, dict) or set(v) - {"Lanes", "Routes"}:
    sys.exit('must be an object with only the keys "Lanes" and "Routes"')
lanes, routes = v.get("Lanes"), v.get("Routes")
if not isinstance(lanes, list) or not lanes or not all(isinstance(l, dict) and isinstance(l.get("Name"), str) for l in lanes):
    sys.exit('"Lanes" must be a non-empty array of objects with a "Name"')
names = {l["Name"] for l in lanes}
if not isinstance(routes, list) or not routes:
    sys.exit('"Routes" must be a non-empty array')
for i, r in enumerate(routes):
    if not isinstance(r, dict) or not isinstance(r.get("Topics"), list) or not r["Topics"] or r.get("Lane") not in names:
        sys.exit(f'"Routes"[{i}] needs a non-empty "Topics" array and a "Lane" out of {sorted(names)}')
PY
  ) || die "--lanes $lanes: $lanes_err"
fi
if [[ -n $ssh_keys ]]; then
  [[ -s $ssh_keys ]] || die "--ssh-authorized-keys $ssh_keys is empty"
  while IFS= read -r key; do
    [[ -z $key || $key == \#* ]] && continue
    ssh-keygen -l -f - <<<"$key" >/dev/null 2>&1 || die "--ssh-authorized-keys: not a public key: ${key:0:40}..."
  done <"$ssh_keys"
fi
[[ $adv_host == auto ]] || [[ $adv_host =~ ^${host_re}$ ]] || die "--kafka-advertised-host '$adv_host' is not a host name or address"
[[ $lan_sec =~ ^(PLAINTEXT|SSL)$ ]] || die "--kafka-lan-security: PLAINTEXT or SSL"
[[ $lan_sec != SSL || -s $lan_ssl_props ]] || die "--kafka-lan-security SSL needs --kafka-lan-ssl-properties (ssl.keystore.* lines)"
[[ $node_id =~ ^[0-9]{1,4}$ ]] || die "--kafka-node-id must be a number"
if [[ -z $voters ]]; then
  voters="${node_id}@127.0.0.1:9093"
else
  IFS=, read -r -a voter_list <<<"$voters"
  ((${#voter_list[@]} == 1 || ${#voter_list[@]} == 3)) || die "--kafka-quorum-voters: 1 or 3 voters (id@host:port)"
  found=no
  for v in "${voter_list[@]}"; do
    [[ $v =~ ^([0-9]{1,4})@(.+)$ ]] || die "--kafka-quorum-voters: '$v' is not id@host:port"
    valid_hostport "${BASH_REMATCH[2]}" || die "--kafka-quorum-voters: '$v' is not id@host:port"
    [[ ${BASH_REMATCH[1]} == "$node_id" ]] && found=yes
  done
  [[ $found == yes ]] || die "--kafka-node-id $node_id is not one of --kafka-quorum-voters"
  [[ ${#voter_list[@]} == 1 || -n $cluster_id ]] || die "a 3-node site needs the same --kafka-cluster-id on all three boxes"
fi
if [[ -z $cluster_id ]]; then
  cluster_id=$(openssl rand 16 | base64 | tr '+/' '-_' | tr -d '=')
fi
[[ $cluster_id =~ ^[A-Za-z0-9_-]{22}$ ]] || die "--kafka-cluster-id must be 22 base64url characters (16 bytes)"
[[ $disk_share =~ ^[0-9]{1,2}$ && $disk_share -ge 5 && $disk_share -le 90 ]] || die "--kafka-disk-share: 5..90 (percent of /data)"

# ---- locate the data partition -----------------------------------------------------------------
read -r start sector_size < <(sfdisk --json "$image" | /usr/bin/python3 -c '
import json, sys
t = json.load(sys.stdin)["partitiontable"]
p = [p for p in t["partitions"] if p.get("name") == "data"]
if len(p) != 1:
    sys.exit("no partition named data")
print(p[0]["start"], t.get("sectorsize", 512))') || die "$image has no GPT partition named 'data'"
fs="$image?offset=$((start * sector_size))"
debugfs -R stats "$fs" 2>/dev/null | grep -q '^Filesystem volume name:[[:space:]]*data$' || die "partition 'data' is not the appliance ext4 data file system"

# ---- render the files ------------------------------------------------------------------------------
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
/usr/bin/python3 - "$tmp/site.json" "$site_id" "$central" "$central_proto" "$sasl_mech" "$sasl_user" "$sasl_pw_file" \
  "$([[ -n $central_ca ]] && echo /data/site/central-ca.pem)" "$lanes" <<'PY'
import json, sys
out, site, bootstrap, proto, mech, user, pwfile, ca, lanes = sys.argv[1:10]
# Forwarder configuration schema (docs/forwarder.md): top-level sections, layered over /etc/appliance/forwarder.json.
kafka = {"security.protocol": proto.lower()}
if user:
    with open(pwfile) as f:
        kafka.update({"sasl.mechanism": mech, "sasl.username": user, "sasl.password": f.read().rstrip("\n")})
if ca:
    kafka["ssl.ca.location"] = ca
if lanes:
    with open(lanes) as f:
        spec = json.load(f)
else:
    # Default: one lossless lane for every edge topic that is not internal (internal names start with "_").
    spec = {"Lanes": [{"Name": "default", "FullPolicy": "Block"}],
            "Routes": [{"Topics": ["^[A-Za-z0-9][A-Za-z0-9._-]*"], "Lane": "default"}]}
cfg = {"Site": {"Id": site},
       "Central": {"BootstrapServers": bootstrap, "Kafka": kafka},
       "Buffer": {"Lanes": spec["Lanes"]},
       "Routes": spec["Routes"]}
with open(out, "w") as f:
    json.dump(cfg, f, indent=2)
    f.write("\n")
PY
{
  echo "# Written by image/provision-site.sh; parsed (not sourced) by /usr/lib/appliance/site-env.sh"
  echo "SITE_ID=$site_id"
  echo "SSH_ENABLED=$([[ -n $ssh_keys ]] && echo yes || echo no)"
  echo "KAFKA_NODE_ID=$node_id"
  echo "KAFKA_CONTROLLER_QUORUM_VOTERS=$voters"
  echo "KAFKA_CLUSTER_ID=$cluster_id"
  echo "KAFKA_ADVERTISED_HOST=$adv_host"
  echo "KAFKA_LAN_SECURITY_PROTOCOL=$lan_sec"
  echo "KAFKA_DISK_SHARE_PERCENT=$disk_share"
} >"$tmp/appliance.env"

# ---- write with debugfs (replace previous files) ---------------------------------------------------
put() { # SRC DEST MODE UID GID
  printf 'rm %s\nwrite %s %s\nsif %s mode 0%o\nsif %s uid %s\nsif %s gid %s\n' \
    "$2" "$1" "$2" "$2" $((0100000 | 8#$3)) "$2" "$4" "$2" "$5"
}
{
  echo "mkdir /site"
  echo "cd /site"
  put "$tmp/site.json" site.json 640 0 "$FWD_GID"
  put "$tmp/appliance.env" appliance.env 644 0 0
  if [[ -n $central_ca ]]; then put "$central_ca" central-ca.pem 644 0 0; else echo "rm central-ca.pem"; fi
  echo "mkdir /site/ssh"
  echo "cd /site/ssh"
  if [[ -n $ssh_keys ]]; then put "$ssh_keys" authorized_keys 644 0 0; else echo "rm authorized_keys"; fi
  echo "mkdir /site/kafka"
  echo "cd /site/kafka"
  if [[ -n $lan_ssl_props ]]; then put "$lan_ssl_props" lan-ssl.properties 640 0 "$KAFKA_GID"; else echo "rm lan-ssl.properties"; fi
} >"$tmp/cmds"
debugfs -w -f "$tmp/cmds" "$fs" >"$tmp/debugfs.log" 2>&1 || die "debugfs failed: $(cat "$tmp/debugfs.log")"

# debugfs exits 0 even when a command fails: read everything back and compare.
verify() { # SRC DEST
  debugfs -R "dump $2 $tmp/readback" "$fs" >/dev/null 2>&1 && cmp -s "$1" "$tmp/readback" ||
    die "read-back of $2 differs; debugfs said: $(grep -v '^debugfs' "$tmp/debugfs.log" | head -5)"
}
verify "$tmp/site.json" /site/site.json
verify "$tmp/appliance.env" /site/appliance.env
[[ -z $ssh_keys ]] || verify "$ssh_keys" /site/ssh/authorized_keys
[[ -z $central_ca ]] || verify "$central_ca" /site/central-ca.pem
[[ -z $lan_ssl_props ]] || verify "$lan_ssl_props" /site/kafka/lan-ssl.properties
e2fsck -fn "$fs" >/dev/null 2>&1 || die "e2fsck reports problems on the data partition after writing"
echo "provision-site: $image provisioned for site $site_id (central $central, $central_proto, ssh $([[ -n $ssh_keys ]] && echo on || echo off), kafka node $node_id voters $voters cluster $cluster_id)"
