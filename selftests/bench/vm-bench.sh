#!/bin/bash
# vm-bench.sh - keyhole.ko against the TUN data plane, inside the VM: iperf3 TCP from the client
# to the device through the relay, in the netns topology of the end-to-end suite.
#
# Usage: selftests/bench/vm-bench.sh BUILD MODULE   (run by `make vmbench` through scripts/vm.sh;
# root, in a kernel that loads keyhole.ko)
#
# Under software emulation absolute figures mean little; the ratio between the data planes,
# measured in the same guest one after the other, is the figure. Kernel mode is measured twice:
# sealing and opening inline, and on the module's workqueue (keyhole.workers). Each mode: the median of
# BENCH_RUNS (3) iperf3 runs of BENCH_SECONDS (5) each. Prints a table and the summary line
# "N passed, N failed" that scripts/vm.sh expects (a run that moved no data fails).
set -u
cd "$(dirname "$0")/../.."
BUILD=$1
MOD=$2
RUNS=${BENCH_RUNS:-3}
SECS=${BENCH_SECONDS:-5}
. selftests/lib.sh
pass=0
fail=0

# The AEAD itself on one CPU of this guest: libsodium (what the TUN plane and the relay use)
# and the kernel's library (what keyhole.ko uses), both at 1400-byte messages.
echo "   the AEAD on one CPU of this guest, 1400-byte messages:"
"$BUILD/proto-bench" 2>/dev/null | grep -E 'transport (seal|open)' | sed 's/^/   libsodium: /'
insmod "$MOD" bench=1 || { echo "FAIL insmod $MOD"; echo "0 passed, 1 failed"; exit 1; }
dmesg | grep 'keyhole: bench:' | tail -n 1 | sed 's/.*keyhole: bench: /   kernel: /'

RES=$(mktemp -d /tmp/keyhole-vmbench.XXXXXX)
trap 'topo_cleanup; rmmod keyhole 2>/dev/null; rm -rf "$RES"' EXIT

# The variants: every node on TUN; in kernel mode sealing and opening inline (in the sender's
# context and the receive softirq); in kernel mode on the module's workqueue (its default).
MODES="tun kernel-inline kernel"
WORKERS=/sys/module/keyhole/parameters/workers

# measure MODE: Mbit/s of each run, one per line, into $RES/MODE. (Not through $(...): the
# daemons it starts would hold that pipe open.)
measure() {
	local mode=$1 i dev4 dp=${1%-inline}
	: >"$RES/$mode"
	if [ "$mode" = kernel-inline ]; then echo 0 >"$WORKERS"; else echo 1 >"$WORKERS"; fi
	topo_cleanup >/dev/null 2>&1
	topo_setup
	relay_start
	KH_DATAPLANE=$dp node_up kh-dev device tag device >/dev/null
	KH_DATAPLANE=$dp node_up kh-cli client tag admin >/dev/null
	wait_until 20000 session_up kh-dev && wait_until 20000 session_up kh-cli || return 1
	dev4=$(overlay kh-dev 4)
	for i in $(seq 1 "$RUNS"); do
		ip netns exec kh-dev iperf3 -s -D -1 >/dev/null 2>&1
		sleep 0.5
		timeout --kill-after=5 $((SECS + 30)) ip netns exec kh-cli \
			iperf3 -c "$dev4" -t "$SECS" -J --connect-timeout 3000 >"$RES/iperf.json" 2>/dev/null
		jq -r '.end.sum_received.bits_per_second / 1e6' "$RES/iperf.json" 2>/dev/null |
			grep -E '^[0-9.]+$' >>"$RES/$mode"
	done
}

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print 0 }'; }

declare -A MBPS
for mode in $MODES; do
	echo "   $mode data plane: $RUNS runs of $SECS s"
	measure "$mode" || echo "   $mode: the sessions did not come up"
	MBPS[$mode]=$(median <"$RES/$mode")
	echo "   $mode: $(tr '\n' ' ' <"$RES/$mode")Mbit/s"
	if awk -v v="${MBPS[$mode]}" 'BEGIN { exit !(v > 0) }'; then
		echo "PASS $mode data plane moved data (median ${MBPS[$mode]} Mbit/s)"
		pass=$((pass + 1))
	else
		echo "FAIL $mode data plane moved no data"
		fail=$((fail + 1))
	fi
done
topo_cleanup >/dev/null 2>&1

echo
echo "| data plane | TCP client -> device, Mbit/s (median of $RUNS x $SECS s) | ratio to TUN |"
echo "|---|---|---|"
for mode in $MODES; do
	awk -v m="$mode" -v v="${MBPS[$mode]}" -v t="${MBPS[tun]}" \
		'BEGIN { printf "| %s | %.0f | %.2fx |\n", m, v, (t > 0 ? v / t : 0) }'
done
echo
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
