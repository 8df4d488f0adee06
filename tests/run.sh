#!/usr/bin/env bash
# The project's test command (README "Run the tests"; .ci/run runs exactly this).
# Installs what the tests need, builds with warnings as errors, runs the Unit and Integration suites, the image lint,
# the image build with its VM smoke test, and the chaos smoke. Prints "N passed, N failed" last (each of the last
# three counts as one). Needs root (apt-get, QEMU in a network namespace, nftables, loop devices).
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests use: kcat (a Kafka client that is not in-process librdkafka), prometheus (promtool
# checks a real metrics scrape), chromium (the status page test drives it headless), nftables (chaos partitions);
# and libjemalloc2, the allocator the image preloads for the forwarder, which the benchmarks preload the same way.
need=()
for pkg in kcat prometheus chromium nftables libjemalloc2; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if [ "${#need[@]}" -gt 0 ]; then
  echo "== installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

echo "== build (Release, warnings are errors)"
dotnet build Appliance.sln -c Release -nologo -clp:ErrorsOnly

results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT
status=0
echo "== tests (Category=Unit|Integration)"
dotnet test Appliance.sln -c Release --no-build --nologo --filter "Category=Unit|Category=Integration" \
  --logger "trx" --results-directory "$results" 2>&1 | tee "$results/out.txt" || status=$?

# Image gates: shellcheck, packer fmt/validate, nftables syntax, systemd unit exposure (installs its own tools).
echo "== image lint"
lint=0
bash image/lint.sh || lint=$?

# The appliance image (test flavour) is built and booted under QEMU/TCG: the forwarder reports ready over systemd,
# records produced to the in-image broker arrive exactly once at a host-side central mock, nftables drops a closed
# port, root password login fails (about 8 minutes; the full VM test with a reboot is image/vm-test.sh).
echo "== image build and VM smoke"
vm=0
{ bash image/build.sh && bash image/vm-test.sh --smoke; } || vm=$?

# Chaos smoke: the forwarder as a real process under partitions, kills, restarts and a disk-full episode; fails on
# any loss, duplicate or reordering (about 5 minutes). The full run has its own command (docs/chaos.md).
echo "== chaos smoke"
chaos=0
dotnet run -c Release --no-build --project chaos/Appliance.Chaos -- run --smoke || chaos=$?

# Sum the per-assembly summaries into one closing line.
passed=$(grep -Eo 'Passed: +[0-9]+' "$results/out.txt" | awk '{s+=$2} END {print s+0}')
failed=$(grep -Eo 'Failed: +[0-9]+' "$results/out.txt" | awk '{s+=$2} END {print s+0}')
skipped=$(grep -Eo 'Skipped: +[0-9]+' "$results/out.txt" | awk '{s+=$2} END {print s+0}')
if [ "$lint" -ne 0 ]; then failed=$((failed + 1)); status=$lint; else passed=$((passed + 1)); fi
if [ "$chaos" -ne 0 ]; then failed=$((failed + 1)); status=$chaos; else passed=$((passed + 1)); fi
if [ "$vm" -ne 0 ]; then failed=$((failed + 1)); status=$vm; else passed=$((passed + 1)); fi
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
# Repeat the failing tests with their messages next to the closing line (the log above is long).
if grep -qE '^\s+Failed [A-Za-z_]' "$results/out.txt"; then
  echo "== failed tests"
  grep -E -A6 '^\s+Failed [A-Za-z_]' "$results/out.txt" | grep -vE '^\s*(Stack Trace:|at )' | cut -c1-300 || true
fi
[ "$lint" -ne 0 ] && echo "== failed: image lint (exit $lint)"
[ "$vm" -ne 0 ] && echo "== failed: image build or VM smoke (exit $vm)"
[ "$chaos" -ne 0 ] && echo "== failed: chaos smoke (exit $chaos)"
echo "$passed passed, $failed failed, $skipped skipped"
exit "$status"
