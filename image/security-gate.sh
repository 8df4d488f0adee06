#!/usr/bin/env bash
# CI gate: systemd's own exposure score for the long-running appliance services, offline (no booted
# systemd needed). --threshold=20 is on systemd's 0-100 scale, i.e. exposure <= 2.0 ("OK").
#   image/security-gate.sh            -> prints one line per unit, exit 1 if any unit is over
set -euo pipefail
# shellcheck source=lib/common.sh
. "$(dirname "$0")/lib/common.sh"
threshold=${APPLIANCE_EXPOSURE_THRESHOLD:-20}
units=(appliance-forwarder.service kafka.service appliance-mockbroker.service)
rc=0
for unit in "${units[@]}"; do
  file=$APPLIANCE_DIR/systemd/$unit
  if out=$(systemd-analyze security --offline=yes --threshold="$threshold" --no-pager "$file" 2>&1); then
    status=ok
  else
    status=OVER
    rc=1
  fi
  score=$(grep -o 'Overall exposure level for [^:]*: [0-9.]* [A-Z]*' <<<"$out" | sed 's/.*: //')
  printf 'security-gate: %-30s exposure %-10s (threshold %s/100) %s\n' "$unit" "$score" "$threshold" "$status"
  [[ $status == ok ]] || grep '✗' <<<"$out" >&2
done
exit "$rc"
