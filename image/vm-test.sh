#!/usr/bin/env bash
# VM test of a built TEST-flavour image under QEMU/TCG (run as root: it uses a private network namespace).
#
#   image/vm-test.sh [--image image/out/images/appliance-test-0.1.0.raw] [--smoke] [--platform-only] [--uefi]
#
# Everything runs inside a network namespace created for the run (QEMU, its hostfwd ports, the host-side
# "central" mock cluster, kcat), so fixed ports never collide with anything else on the machine and
# nothing outside the namespace is touched. In QEMU user networking the guest reaches the namespace's
# loopback as 10.0.2.2; the namespace also carries 10.0.2.2 on lo so host-side clients can follow the
# central mock's advertised address.
#
# Checks (smoke = the first boot only, < ~5 min under TCG):
#   boot to the APPLIANCE-READY console marker; TEST flavour banner; broker reachable through hostfwd;
#   SSH key login as admin; root (and admin) password login refused; nftables drops a port a guest
#   process listens on; forwarder active (Type=notify READY); records produced to the in-image broker
#   arrive exactly once at the central mock (read_committed).
# Full run adds: central unreachable (mock brokers down) -> records produced -> forwarder took them ->
#   clean power-off -> boot again -> central back -> all records arrive exactly once.
# --platform-only skips the forwarder checks (for images built with the placeholder forwarder).
#
# Environment: APPLIANCE_MOCKKAFKA = appliance-mockkafka executable or .dll (default: build
#   tests/Appliance.MockKafka); VMTEST_LANES_FILE, VMTEST_CENTRAL_TOPIC, VMTEST_EDGE_GROUP (forwarder
#   contract, see docs/image.md); VMTEST_KEEP=1 keeps the work directory.
set -euo pipefail
# shellcheck source=lib/common.sh
. "$(dirname "$0")/lib/common.sh"
need_root "vm-test.sh"

image='' smoke=no platform_only=no uefi=no
while (($#)); do
  case $1 in
    --image) image=$(realpath "${2:?}"); shift 2 ;;
    --smoke) smoke=yes; shift ;;
    --platform-only) platform_only=yes; shift ;;
    --uefi) uefi=yes; shift ;;
    -h | --help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1" ;;
  esac
done
if [[ -z $image ]]; then
  image=$(find "$OUT_DIR/images" -maxdepth 1 -name 'appliance-test-*.raw' -printf '%T@ %p\n' 2>/dev/null | sort -n | tail -n 1 | cut -d' ' -f2-)
fi
[[ -n $image && -f $image ]] || die "no test image (build one with image/build.sh, or pass --image)"
[[ $(basename "$image") == *test* ]] || die "$image is not a test-flavour image (the VM test needs the in-image mock broker)"
for tool in qemu-system-x86_64 qemu-img kcat ssh sshpass ip debugfs; do
  command -v "$tool" >/dev/null || die "$tool missing: run image/host-deps.sh"
done

# ---- fixed names inside the private namespace ------------------------------------------------------
run_id=$(date +%s)-$$
NS=apl-vmtest-$$
SSH_PORT=2222 EDGE_PORT=9092 STATUS_PORT=8080 PROBE_PORT=7777 CENTRAL_PORT=19092
EDGE_TOPIC=vmtest.events
SITE_ID=vmtest-$((RANDOM % 9000 + 1000))
CENTRAL_TOPIC=${VMTEST_CENTRAL_TOPIC:-$SITE_ID.$EDGE_TOPIC}
EDGE_GROUP=${VMTEST_EDGE_GROUP:-appliance-forwarder}
N1=${VMTEST_RECORDS:-200} N2=${VMTEST_RECORDS_OFFLINE:-100}
work=$(mktemp -d "$OUT_DIR/vmtest-XXXXXX")
qemu_pid='' central_pid='' ctl_fd_open=no failures=0
declare -a summary=()
declare -A figure=()

cleanup() {
  local rc=$?
  set +e
  if [[ -n $qemu_pid ]] && kill -0 "$qemu_pid" 2>/dev/null; then
    kill "$qemu_pid"
    timeout 10 tail --pid="$qemu_pid" -f /dev/null || kill -9 "$qemu_pid"
  fi
  [[ $ctl_fd_open == yes ]] && exec 7>&-
  if [[ -n $central_pid ]] && kill -0 "$central_pid" 2>/dev/null; then
    kill "$central_pid"
    timeout 10 tail --pid="$central_pid" -f /dev/null || kill -9 "$central_pid"
  fi
  ip netns pids "$NS" 2>/dev/null | while read -r pid; do kill -9 "$pid"; done
  ip netns del "$NS" 2>/dev/null
  rm -f "$work/disk.raw" "$work/overlay.qcow2"
  if [[ $rc -eq 0 && ${VMTEST_KEEP:-0} != 1 ]]; then
    rm -rf "$work"
  else
    echo "vm-test: logs kept in $work" >&2
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pass() {
  summary+=("PASS  $*")
  log "PASS $*"
}
fail() {
  summary+=("FAIL  $*")
  log "FAIL $*"
  failures=$((failures + 1))
}
in_ns() { ip netns exec "$NS" "$@"; }
ssh_admin() {
  in_ns ssh -F /dev/null -i "$work/admin_key" -p "$SSH_PORT" -o BatchMode=yes -o ConnectTimeout=10 \
    -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR admin@127.0.0.1 "$@"
}
# wait_for SECONDS DESCRIPTION COMMAND...: polls COMMAND every second until it succeeds or time runs out.
wait_for() {
  local timeout=$1 what=$2 deadline=$((SECONDS + $1))
  shift 2
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      log "timeout after ${timeout}s: $what"
      return 1
    fi
    sleep 1
  done
}

# ---- namespace, disk, site identity ------------------------------------------------------------------
ip netns add "$NS"
in_ns ip link set lo up
in_ns ip addr add 10.0.2.2/32 dev lo

log "vm-test: image $image (run $run_id, work $work)"
cp --sparse=always "$image" "$work/disk.raw"
ssh-keygen -q -t ed25519 -N '' -C vm-test -f "$work/admin_key"
if [[ -n ${VMTEST_LANES_FILE:-} ]]; then
  cp "$VMTEST_LANES_FILE" "$work/lanes.json"
else
  # provision-site.sh --lanes shape: forwarder Buffer:Lanes and Routes (docs/forwarder.md); override with VMTEST_LANES_FILE.
  printf '{\n  "Lanes": [ { "Name": "critical", "FullPolicy": "Block", "Weight": 8, "QuotaBytes": 67108864 } ],\n  "Routes": [ { "Topics": [ "%s" ], "Lane": "critical" } ]\n}\n' \
    "$EDGE_TOPIC" >"$work/lanes.json"
fi
"$IMAGE_DIR/provision-site.sh" --image "$work/disk.raw" --site-id "$SITE_ID" \
  --central-bootstrap "10.0.2.2:$CENTRAL_PORT" --lanes "$work/lanes.json" \
  --ssh-authorized-keys "$work/admin_key.pub" --kafka-advertised-host 127.0.0.1
qemu-img create -q -f qcow2 -F raw -b "$work/disk.raw" "$work/overlay.qcow2"

# ---- host-side "central" mock cluster ------------------------------------------------------------------
mock=${APPLIANCE_MOCKKAFKA:-}
if [[ -z $mock ]]; then
  mock=$REPO_DIR/tests/Appliance.MockKafka/bin/Release/net10.0/appliance-mockkafka.dll
  [[ -f $mock ]] || dotnet build "$REPO_DIR/tests/Appliance.MockKafka" -c Release -nologo -v quiet >&2
fi
[[ -f $mock ]] || die "mock cluster $mock not found (set APPLIANCE_MOCKKAFKA)"
mock_cmd=("$mock")
[[ $mock == *.dll ]] && mock_cmd=(dotnet "$mock")
mkfifo "$work/central.ctl"
exec 7<>"$work/central.ctl"
ctl_fd_open=yes
in_ns "${mock_cmd[@]}" --brokers 1 --port-base "$CENTRAL_PORT" --bind 0.0.0.0 --advertise-host 10.0.2.2 \
  --control-stdin <"$work/central.ctl" >"$work/central.log" 2>&1 &
central_pid=$!
wait_for 60 "central mock READY" grep -q '^READY ' "$work/central.log" || die "central mock did not start: $(tail -5 "$work/central.log")"
central() { echo "$*" >&7; }

# ---- QEMU -------------------------------------------------------------------------------------------------
boot() { # SERIAL_LOG
  local fw=()
  if [[ $uefi == yes ]]; then
    cp /usr/share/OVMF/OVMF_VARS_4M.fd "$work/vars.fd"
    fw=(-drive "if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd"
      -drive "if=pflash,format=raw,unit=1,file=$work/vars.fd")
  fi
  in_ns qemu-system-x86_64 -accel tcg -m 1536 -smp 2 -display none -no-user-config -nodefaults \
    "${fw[@]}" -serial "file:$1" -monitor "unix:$work/monitor.sock,server,nowait" \
    -drive "file=$work/overlay.qcow2,if=virtio,format=qcow2,cache=unsafe" \
    -nic "user,model=virtio-net-pci,hostfwd=tcp:127.0.0.1:$SSH_PORT-:22,hostfwd=tcp:127.0.0.1:$EDGE_PORT-:9092,hostfwd=tcp:127.0.0.1:$STATUS_PORT-:8080,hostfwd=tcp:127.0.0.1:$PROBE_PORT-:$PROBE_PORT" \
    >"$work/qemu.log" 2>&1 &
  qemu_pid=$!
}
monitor() { in_ns /usr/bin/python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); time.sleep(0.3); s.recv(4096)
s.sendall((sys.argv[2] + "\n").encode()); time.sleep(0.3); s.close()' "$work/monitor.sock" "$1"; }
wait_ready() { # SERIAL_LOG LABEL -> sets figure[LABEL]
  local start=$SECONDS
  if wait_for 420 "APPLIANCE-READY on the serial console" grep -qa 'APPLIANCE-READY' "$1"; then
    figure[$2]="$((SECONDS - start)) s wall, guest $(grep -ao 'APPLIANCE-READY uptime=[0-9.]*' "$1" | head -n 1 | cut -d= -f2)s"
    pass "$2: boot to APPLIANCE-READY (${figure[$2]}): $(grep -ao 'APPLIANCE-READY.*' "$1" | head -n 1 | tr -d '\r')"
  else
    fail "$2: no APPLIANCE-READY within 420 s (see $1)"
    return 1
  fi
  wait_for 60 "SSH" ssh_admin true || {
    fail "$2: SSH as admin with the provisioned key"
    return 1
  }
}

# Late duplicates (a resend after the count was reached) can only be seen by looking again later: a
# bounded observation window, not a synchronisation sleep.
observe_duplicates() { sleep "${VMTEST_DUP_WINDOW:-15}"; }

# kcat helpers (inside the namespace)
edge_produce() { # PREFIX COUNT
  seq 1 "$2" | sed "s/.*/k&:$1-&/" | in_ns kcat -P -b "127.0.0.1:$EDGE_PORT" -t "$EDGE_TOPIC" -K: \
    -X acks=all -X enable.idempotence=true -X message.timeout.ms=30000
}
central_dump() {
  in_ns timeout 60 kcat -C -b "10.0.2.2:$CENTRAL_PORT" -t "$CENTRAL_TOPIC" -o beginning -e -q \
    -X isolation.level=read_committed -f '%s\n' 2>/dev/null || true
}
central_count_is_at_least() { (($(central_dump | grep -c "^$run_id-") >= $1)); }
# exactly_once EXPECTED_FILE LABEL: central holds every expected value exactly once (and no strangers)
exactly_once() {
  central_dump | grep "^$run_id-" | sort >"$work/central.got"
  local total unique
  total=$(wc -l <"$work/central.got")
  unique=$(sort -u "$work/central.got" | wc -l)
  if [[ $total -eq $(wc -l <"$1") ]] && cmp -s "$1" "$work/central.got"; then
    pass "$2: $total records at central, each exactly once"
  else
    fail "$2: central has $total records ($unique distinct), expected $(wc -l <"$1") distinct, once each"
  fi
}

# ================================== first boot ==================================================
boot_start=$SECONDS
boot "$work/serial-1.log"
if wait_ready "$work/serial-1.log" boot-1; then
  flavour=$(ssh_admin cat /etc/appliance/broker-flavour)
  if [[ $flavour == *"TEST ONLY"* ]] && ssh_admin "grep -q 'TEST FLAVOUR' /etc/motd"; then
    pass "test flavour labelled: $flavour"
  else
    fail "test flavour label missing ($flavour)"
  fi

  if ssh_admin "grep -qx 'SITE_ID=$SITE_ID' /run/appliance/broker.env && test -s /etc/machine-id && findmnt -n -o SOURCE /data | grep -q vda4"; then
    pass "site identity rendered from /data/site ($SITE_ID), /data mounted, machine-id generated"
  else
    fail "site identity not rendered / data partition not mounted"
  fi

  auto_host=$(ssh_admin /usr/lib/appliance/advertised-host auto 2>&1 || true)
  if [[ $auto_host == 10.0.2.15 ]]; then
    pass "advertised host 'auto' resolves to the guest address ($auto_host)"
  else
    fail "advertised host 'auto' gave '$auto_host', expected 10.0.2.15"
  fi

  if in_ns timeout 30 kcat -L -b "127.0.0.1:$EDGE_PORT" -m 10 2>/dev/null | grep -q "broker 1 at 127.0.0.1:$EDGE_PORT"; then
    pass "in-image broker reachable through hostfwd ($(ssh_admin systemctl is-active appliance-broker.service))"
  else
    fail "in-image broker not reachable on hostfwd 127.0.0.1:$EDGE_PORT"
  fi

  # Password logins: the server must refuse them (it offers publickey only); root is locked anyway.
  out=$(in_ns timeout 30 sshpass -p appliance ssh -F /dev/null -p "$SSH_PORT" -o StrictHostKeyChecking=no \
    -o UserKnownHostsFile=/dev/null -o PubkeyAuthentication=no -o PreferredAuthentications=password,keyboard-interactive \
    -o NumberOfPasswordPrompts=1 root@127.0.0.1 true 2>&1) && rc=0 || rc=$?
  if [[ $rc -ne 0 && $out == *"Permission denied (publickey)"* ]]; then
    pass "root password login refused (server offers publickey only)"
  else
    fail "root password login: rc=$rc: $out"
  fi
  if ssh_admin 'sudo -n true' >/dev/null 2>&1; then fail "admin can escalate with sudo"; else pass "admin has no sudo"; fi

  # nftables: a guest process listens on PROBE_PORT; it answers locally but not from outside.
  ssh_admin "nohup timeout 120 systemd-socket-activate -l $PROBE_PORT --inetd -a cat >/dev/null 2>&1 </dev/null &"
  if wait_for 30 "probe listener" ssh_admin "exec 3<>/dev/tcp/127.0.0.1/$PROBE_PORT && echo ping >&3 && timeout 5 head -n 1 <&3 | grep -q ping"; then
    reply=$(in_ns /usr/bin/python3 -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
try:
    s.sendall(b"ping\n"); s.settimeout(8); print(s.recv(16).decode(errors="replace").strip())
except (socket.timeout, ConnectionError, OSError):
    print("")' "$PROBE_PORT")
    if [[ -z $reply ]]; then
      pass "nftables drops port $PROBE_PORT (answers on the guest's loopback, silent from the LAN side)"
    else
      fail "port $PROBE_PORT reachable from outside (reply '$reply')"
    fi
  else
    fail "probe listener on port $PROBE_PORT did not start in the guest"
  fi

  if [[ $platform_only == no ]]; then
    # Settled = active, or failed for good (start limit hit): no need to wait out the deadline then.
    forwarder_settled() { [[ $(ssh_admin systemctl is-active appliance-forwarder.service) =~ ^(active|failed)$ ]]; }
    wait_for 180 "forwarder settled" forwarder_settled || true
    if ssh_admin systemctl is-active --quiet appliance-forwarder.service; then
      if grep -qa 'APPLIANCE-READY.*forwarder=active' "$work/serial-1.log"; then
        pass "forwarder active (Type=notify READY) when the boot settled (see boot-1)"
      else
        pass "forwarder active (Type=notify READY), after the boot settled ($((SECONDS - boot_start)) s after QEMU start)"
      fi
      preload=$(ssh_admin systemctl show -p Environment --value appliance-forwarder.service | tr ' ' '\n' | sed -n 's/^LD_PRELOAD=//p')
      if [[ -n $preload ]] && ssh_admin test -f "$preload"; then
        pass "forwarder runs with $(basename "$preload") preloaded (present in the image)"
      else
        fail "forwarder preload '${preload:-none}' missing from the image"
      fi
      wd=$(ssh_admin systemctl show -p WatchdogUSec --value appliance-forwarder.service)
      code=$(in_ns curl -s -o /dev/null -m 20 -w '%{http_code}' "http://127.0.0.1:$STATUS_PORT/" || true)
      if [[ $code == 200 ]]; then
        pass "status page answers through hostfwd (HTTP $code on :$STATUS_PORT), unit watchdog ${wd:-none}"
      else
        fail "status page on :$STATUS_PORT: HTTP ${code:-none} (unit watchdog ${wd:-none})"
      fi
      log "produce $N1 records to edge topic $EDGE_TOPIC"
      if edge_produce "$run_id-a" "$N1"; then
        seq 1 "$N1" | sed "s/.*/$run_id-a-&/" | sort >"$work/expected"
        wait_for 240 "$N1 records at central $CENTRAL_TOPIC" central_count_is_at_least "$N1" || true
        observe_duplicates
        exactly_once "$work/expected" "edge -> central ($CENTRAL_TOPIC)"
      else
        fail "producing to the in-image broker failed"
      fi
    else
      fail "forwarder not active: $(ssh_admin systemctl is-active appliance-forwarder.service) -- $(ssh_admin journalctl -u appliance-forwarder.service -n 5 --no-pager -o cat 2>/dev/null | tr '\n' ' ')"
    fi
  fi
fi

# ================================== outage + reboot ================================================
if [[ $smoke == no && $platform_only == no && $failures -eq 0 ]]; then
  central "down all"
  log "central down; produce $N2 records while it is unreachable"
  if edge_produce "$run_id-b" "$N2"; then
    seq 1 "$N2" | sed "s/.*/$run_id-b-&/" >>"$work/expected"
    sort -o "$work/expected" "$work/expected"
    partitions=$(in_ns kcat -L -b "127.0.0.1:$EDGE_PORT" -t "$EDGE_TOPIC" 2>/dev/null | grep -c 'partition ' || true)
    taken() { (($(in_ns /usr/bin/python3 "$IMAGE_DIR/lib/kafka-committed.py" "127.0.0.1:$EDGE_PORT" "$EDGE_GROUP" "$EDGE_TOPIC" "$partitions") >= N1 + N2)); }
    if wait_for 180 "forwarder committed all $((N1 + N2)) edge records (group $EDGE_GROUP)" taken; then
      pass "forwarder took the $N2 records while central was down"
    else
      fail "forwarder did not commit the edge records while central was down"
    fi
    # Watchdog: with WatchdogSec=30s the forwarder must keep pinging (also with central down) and not be restarted.
    fwd_age() { ssh_admin 'echo $(( $(cut -d. -f1 /proc/uptime) - $(systemctl show -p ActiveEnterTimestampMonotonic --value appliance-forwarder.service) / 1000000 ))'; }
    fwd_old_enough() { (($(fwd_age) >= 45)); }
    wait_for 90 "forwarder active for 45 s" fwd_old_enough || true
    restarts=$(ssh_admin systemctl show -p NRestarts --value appliance-forwarder.service || true)
    if ssh_admin systemctl is-active --quiet appliance-forwarder.service && fwd_old_enough && [[ $restarts == 0 ]]; then
      pass "watchdog: forwarder active for $(fwd_age) s (> WatchdogSec=30s), NRestarts=0, central down at the check"
    else
      fail "watchdog: forwarder $(ssh_admin systemctl is-active appliance-forwarder.service) for $(fwd_age) s, NRestarts=${restarts:-?}"
    fi
    log "clean power-off (ACPI)"
    monitor system_powerdown
    if wait_for 180 "QEMU exit" bash -c "! kill -0 $qemu_pid"; then
      qemu_pid=''
      central "up all"
      boot "$work/serial-2.log"
      if wait_ready "$work/serial-2.log" boot-2; then
        wait_for 240 "all records at central" central_count_is_at_least $((N1 + N2)) || true
        observe_duplicates
        exactly_once "$work/expected" "buffered across reboot"
      fi
    else
      fail "guest did not power off within 180 s"
    fi
  else
    fail "producing to the in-image broker failed (second batch)"
  fi
fi

echo
echo "==== vm-test summary ($(basename "$image"), $([[ $smoke == yes ]] && echo smoke || echo full)$([[ $platform_only == yes ]] && echo ', platform only'), ${SECONDS}s)"
printf '%s\n' "${summary[@]}"
for k in "${!figure[@]}"; do echo "figure $k: ${figure[$k]}"; done
((failures == 0))
