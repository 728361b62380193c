#!/bin/bash
# topo.sh - the benchmark's hub-and-spoke namespaces, and the helpers that start and end what runs in them.
#
#   khb-cli 198.18.0.2 ---- 198.18.0.1 [ khb-relay  198.18.2.1 on lo ] 198.18.1.1 ---- 198.18.1.2 khb-dev
#
# The client and the device each have a route to the relay's address and to nothing else,
# so every tunnel's packets go through the process in khb-relay; only plain routing gets
# routes to the far side and ip_forward in khb-relay. The addresses are RFC 2544's
# benchmarking range (198.18.0.0/15): underlay in 198.18.x, overlays in 198.19.x.
# Every name starts with "khb-" (the suites' "kh-" namespaces may exist at the same time);
# topo_down, run from the caller's EXIT trap, removes everything.

BENCH_NS="khb-cli khb-relay khb-dev"
RELAY_ADDR=198.18.2.1
CLI_ADDR=198.18.0.2
DEV_ADDR=198.18.1.2

# PIDs of the programs this run started in the background, ended by topo_down.
BENCH_PIDS=""

# now_ms, wait_until
. "$(dirname "${BASH_SOURCE[0]}")/../wait.sh"

# in_ns NS CMD...: run CMD in NS, with a keyhole run directory of that namespace's own.
# Descriptor 9 is bench.sh's lock: a daemon started here must not keep holding it.
in_ns() {
	local ns=$1
	shift
	ip netns exec "$ns" env KEYHOLE_RUN_DIR="$BT/run-$ns" "$@" 9>&-
}

# spawn NS LOG CMD...: start CMD in NS in the background, its output in LOG; remember its PID.
# `ip netns exec` and `env` exec in place, so $! is the program itself (through a shell
# function it would be a subshell, and the program would outlive a kill of that PID).
spawn() {
	local ns=$1 log=$2
	shift 2
	ip netns exec "$ns" env KEYHOLE_RUN_DIR="$BT/run-$ns" "$@" >>"$log" 2>&1 </dev/null 9>&- &
	BENCH_PIDS="$BENCH_PIDS $!"
}

# veth NS_A IF_A NS_B IF_B: a cable between two namespaces.
veth() {
	ip link add "$2" netns "$1" type veth peer name "$4" netns "$3" &&
		ip -n "$1" link set "$2" up &&
		ip -n "$3" link set "$4" up
}

topo_up() {
	local ns
	for ns in $BENCH_NS; do
		ip netns add "$ns" || return 1
		ip -n "$ns" link set lo up
		mkdir -p "$BT/run-$ns"
	done
	veth khb-cli eth0 khb-relay c0 || return 1
	veth khb-dev eth0 khb-relay d0 || return 1
	ip -n khb-relay addr add 198.18.0.1/24 dev c0
	ip -n khb-relay addr add 198.18.1.1/24 dev d0
	ip -n khb-relay addr add $RELAY_ADDR/32 dev lo
	ip -n khb-cli addr add $CLI_ADDR/24 dev eth0
	ip -n khb-dev addr add $DEV_ADDR/24 dev eth0
	ip -n khb-cli route add $RELAY_ADDR/32 via 198.18.0.1
	ip -n khb-dev route add $RELAY_ADDR/32 via 198.18.1.1
	# A hub that forwards back out of the interface a packet came in by would otherwise
	# answer each packet with an ICMP redirect.
	ip netns exec khb-relay sysctl -qw net.ipv4.conf.all.send_redirects=0 \
		net.ipv4.conf.default.send_redirects=0
}

# pids_in_ns NS...: every process in those namespaces (all of them ours).
pids_in_ns() {
	local ns
	for ns in "$@"; do
		ip netns pids "$ns" 2>/dev/null
	done
}

# topo_down: end our programs (SIGTERM, then SIGKILL after 2 s), then the namespaces.
topo_down() {
	local pid live
	for pid in $BENCH_PIDS $(pids_in_ns $BENCH_NS); do
		kill "$pid" 2>/dev/null
	done
	# Up to 2 s for them to go on their own.
	for _ in $(seq 20); do
		live=""
		for pid in $BENCH_PIDS $(pids_in_ns $BENCH_NS); do
			kill -0 "$pid" 2>/dev/null && live="$live $pid"
		done
		[ -z "$live" ] && break
		sleep 0.1
	done
	for pid in $live; do
		kill -9 "$pid" 2>/dev/null
	done
	for pid in $BENCH_PIDS; do
		wait "$pid" 2>/dev/null
	done
	BENCH_PIDS=""
	for ns in $BENCH_NS; do
		ip netns del "$ns" 2>/dev/null
	done
	return 0
}

# proc_ticks PID...: user + system clock ticks of those processes, all their threads included.
proc_ticks() {
	local pid sum=0 stat f
	for pid in "$@"; do
		stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
		# The command name may hold spaces: count fields after its closing parenthesis.
		# Then field 3 (state) is f[0], so utime (14) and stime (15) are f[11] and f[12].
		read -ra f <<<"${stat##*) }"
		sum=$((sum + f[11] + f[12]))
	done
	echo $sum
}

# kernel_ticks: the kernel's packet work outside any process: the irq and softirq columns of
# /proc/stat, and the ksoftirqd threads' own time (on kernels that account it to them).
kernel_ticks() {
	local k
	k=$(cat /proc/[0-9]*/stat 2>/dev/null | awk '/^[0-9]+ \(ksoftirqd\// {
		line = $0; sub(/.*\) /, "", line); split(line, f, " "); sum += f[12] + f[13] }
		END { print sum + 0 }')
	awk -v k="$k" '/^cpu / { print $7 + $8 + k; exit }' /proc/stat
}

# self_child_ticks: CPU time of this script's reaped children (the iperf3 and ping clients).
self_child_ticks() {
	local stat f
	stat=$(cat "/proc/$$/stat")
	read -ra f <<<"${stat##*) }"
	echo $((f[13] + f[14]))
}

# tunnel_pids [NS...]: the tunnel's processes in those namespaces (default: all of ours),
# that is every process there but the measuring tools.
tunnel_pids() {
	local pid comm
	for pid in $(pids_in_ns "${@:-$BENCH_NS}"); do
		comm=$(cat "/proc/$pid/comm" 2>/dev/null) || continue
		case $comm in
		iperf3 | ping) ;;
		*) echo "$pid" ;;
		esac
	done
}

# tool_pids: the measuring tools running in our namespaces (the iperf3 server).
tool_pids() {
	local pid
	for pid in $(pids_in_ns $BENCH_NS); do
		[ "$(cat "/proc/$pid/comm" 2>/dev/null)" = iperf3 ] && echo "$pid"
	done
}

# relay_rss_kb: resident memory of the processes in the relay namespace, in KiB.
relay_rss_kb() {
	local pid sum=0 kb
	for pid in $(pids_in_ns khb-relay); do
		kb=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)
		sum=$((sum + ${kb:-0}))
	done
	echo $sum
}
