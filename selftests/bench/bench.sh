#!/bin/bash
# bench.sh - keyhole against plain routing, wireguard-go, OpenVPN and n2n: the same workload through each, client -> relay -> device.
#
# Usage: selftests/bench/bench.sh [--smoke] [--build DIR] [--out DIR] [--systems "A B ..."]
#                                 [--seconds N] [--reps N] [--quiet-wait S]
# Root. --reps times round the systems, each system on a fresh topology (topo.sh) is brought
# up (systems.sh) and measured: pings at a fixed rate, iperf3 TCP with 1 and 4 streams, and
# iperf3 UDP with 64-byte payloads at full offered load; around the TCP runs it reads the
# CPU time of the tunnel's processes and of the rest of the work. The tables (report.awk) go
# to stdout and to OUT/results.md with a timestamped copy; --smoke writes OUT/smoke.md
# instead and fails when keyhole moves no traffic. Everything it makes is removed on exit,
# Ctrl-C included. Runs take turns (a lock): they would share namespace names and CPUs.
set -u
cd "$(dirname "$0")/../.." || exit 1
ROOT=$PWD
HERE=$ROOT/selftests/bench

ALL_SYSTEMS="plain keyhole wireguard-go openvpn-chacha openvpn-aes n2n"
SMOKE=0
KH_BUILD=build/default
OUT=build/bench
SYSTEMS=""
SECONDS_EACH=""
REPS=""
QUIET_WAIT_S=10
usage() {
	echo "usage: selftests/bench/bench.sh [--smoke] [--build DIR] [--out DIR] [--systems \"A B ...\"]" >&2
	echo "       [--seconds N] [--reps N] [--quiet-wait S]   (systems: $ALL_SYSTEMS)" >&2
	exit 2
}
while [ $# -gt 0 ]; do
	case $1 in
	--smoke) SMOKE=1 ;;
	--build) KH_BUILD=$2; shift ;;
	--out) OUT=$2; shift ;;
	--systems) SYSTEMS=$2; shift ;;
	--seconds) SECONDS_EACH=$2; shift ;;
	--reps) REPS=$2; shift ;;
	--quiet-wait) QUIET_WAIT_S=$2; shift ;;
	*) usage ;;
	esac
	shift || usage
done

if [ $SMOKE = 1 ]; then
	# Plain routing, keyhole and one peer, a second per figure, once: under a minute.
	: "${SYSTEMS:=plain keyhole wireguard-go}" "${SECONDS_EACH:=1}" "${REPS:=1}"
	PING_COUNT=50
	RESULTS=$OUT/smoke.md
else
	: "${SYSTEMS:=$ALL_SYSTEMS}" "${SECONDS_EACH:=5}" "${REPS:=3}"
	PING_COUNT=200
	RESULTS=$OUT/results.md
fi
# Pings 10 ms apart: a fixed rate that keeps the tunnel warm without loading it.
PING_INTERVAL=0.01
UDP_PAYLOAD=64
# The machine counts as busy when processes other than ours used more than this share of
# its CPUs; the full run waits up to QUIET_WAIT_S for a quiet machine before each repetition.
BUSY_PERCENT=15

label() {
	case $1 in
	plain) echo "plain routing" ;;
	keyhole) echo "keyhole" ;;
	wireguard-go) echo "wireguard-go" ;;
	openvpn-chacha) echo "OpenVPN ChaCha20" ;;
	openvpn-aes) echo "OpenVPN AES-GCM" ;;
	n2n) echo "n2n v1" ;;
	*) echo "$1" ;;
	esac
}

if [ "$(id -u)" -ne 0 ]; then
	echo "bench.sh: needs root (network namespaces)" >&2
	exit 1
fi
for tool in iperf3 jq ping awk; do
	command -v $tool >/dev/null || { echo "bench.sh: $tool is missing (scripts/install-deps.sh --bench)" >&2; exit 1; }
done
KH_BUILD=$(cd "$KH_BUILD" && pwd) || exit 1
for p in keyhole keyholed keyhole-relay; do
	[ -x "$KH_BUILD/$p" ] || { echo "bench.sh: $KH_BUILD/$p is missing (make)" >&2; exit 1; }
done

. "$HERE/topo.sh"
. "$HERE/systems.sh"

# One run at a time; the longest a run takes is what another may wait for it.
LOCK=/run/lock/keyhole-bench.lock
LOCK_WAIT_S=900
exec 9>"$LOCK"
if ! flock -n 9; then
	echo "bench.sh: another benchmark run holds $LOCK; waiting up to $LOCK_WAIT_S s" >&2
	flock -w $LOCK_WAIT_S 9 || { echo "bench.sh: it did not end; giving up" >&2; exit 1; }
fi

BT=$(mktemp -d /tmp/keyhole-bench.XXXXXX)
chmod 700 "$BT"
RAW=$BT/raw.tsv
: >"$RAW"
finish() {
	local status=$?
	trap - INT TERM
	sys_down
	rm -rf "$BT"
	exit $status
}
trap finish EXIT
trap 'echo; echo "bench.sh: interrupted"; exit 130' INT TERM
# Leftovers of a run that was killed outright (SIGKILL leaves no trap to run); with the lock
# held, whatever is in our namespaces and every other keyhole-bench directory is theirs.
sys_down
for d in /tmp/keyhole-bench.*; do
	[ -d "$d" ] && [ "$d" != "$BT" ] && rm -rf "$d"
done

CLK_TCK=$(getconf CLK_TCK)
NCPU=$(nproc)
log() { printf '  %s\n' "$*" >&2; }
# record FIGURE VALUE: one measurement of the running block.
record() { printf '%s\t%s\n' "$1" "$2" >>"$BLOCK"; }

# --- what else is running ------------------------------------------------------------------
# others_ticks: CPU ticks of every process that is not ours: not this script (whose count
# includes its reaped children, the iperf3 and ping clients), not in our namespaces, and
# not a kernel thread (ksoftirqd carries our own packets). Children reaped by a live parent
# count in that parent, so a compiler run under make is seen.
others_ticks() {
	local skip
	skip=" $$ $BASHPID $(pids_in_ns $BENCH_NS | tr '\n' ' ') "
	# A process may end between the glob and the read: cat goes on past it.
	cat /proc/[0-9]*/stat 2>/dev/null | awk -v skip="$skip" '
		{
			pid = $1
			line = $0
			sub(/.*\) /, "", line)
			split(line, f, " ")
			# f[2] is the parent, f[12..15] utime stime cutime cstime.
			if (index(skip, " " pid " ") == 0 && f[2] != 2 && pid != 2)
				sum += f[12] + f[13] + f[14] + f[15]
		}
		END { print sum + 0 }'
}

# busy_percent SECONDS: share of the machine others used over that long.
busy_percent() {
	local a b
	a=$(others_ticks)
	sleep "$1"
	b=$(others_ticks)
	echo $(((b - a) * 100 / ($1 * CLK_TCK * NCPU)))
}

# wait_quiet: before a system, wait up to QUIET_WAIT_S for others to leave the CPUs alone.
wait_quiet() {
	local waited=0 pct
	while :; do
		pct=$(busy_percent 2)
		[ "$pct" -le $BUSY_PERCENT ] && break
		[ $waited -ge $QUIET_WAIT_S ] && break
		[ $waited = 0 ] && log "others use ${pct}% of the CPUs; waiting up to ${QUIET_WAIT_S} s"
		waited=$((waited + 2))
	done
	echo "$pct"
}

# --- the measurements ----------------------------------------------------------------------
# iperf_json OUTFILE ARGS...: one iperf3 client run from khb-cli to DST, bounded in time.
iperf_json() {
	local out=$1
	shift
	timeout --foreground --kill-after=5 $((SECONDS_EACH + 20)) ip netns exec khb-cli \
		iperf3 -c "$DST" --connect-timeout 3000 -t "$SECONDS_EACH" -J "$@" >"$out" 2>&1 9>&- &&
		jq -e '.error | not' "$out" >/dev/null 2>&1
}

# gb_rate TICKS BYTES: CPU seconds per 10^9 bytes.
gb_rate() { awk -v t="$1" -v hz="$CLK_TCK" -v b="$2" 'BEGIN { print t / hz / (b / 1e9) }'; }

# measure_tcp: 1 and 4 streams, and the CPU time spent per GB delivered: by the relay's
# process, by the tunnel's processes at all three places, and by everything the workload
# made run (those, iperf3 at both ends and the kernel's softirq work).
measure_tcp() {
	local r0 r1 e0 e1 a0 a1 b1=0 b4=0 bytes
	r0=$(proc_ticks $RELAY_PIDS)
	e0=$(proc_ticks $END_PIDS)
	a0=$(($(proc_ticks $TOOL_PIDS) + $(self_child_ticks) + $(kernel_ticks)))
	if iperf_json "$BT/tcp1.json" && b1=$(jq '.end.sum_received.bytes' "$BT/tcp1.json"); then
		record tcp1 "$(jq '.end.sum_received.bits_per_second / 1e6' "$BT/tcp1.json")"
	else
		log "TCP 1 stream failed: $(head -c 300 "$BT/tcp1.json")"
		b1=0
	fi
	if iperf_json "$BT/tcp4.json" -P 4 && b4=$(jq '.end.sum_received.bytes' "$BT/tcp4.json"); then
		record tcp4 "$(jq '.end.sum_received.bits_per_second / 1e6' "$BT/tcp4.json")"
	else
		log "TCP 4 streams failed: $(head -c 300 "$BT/tcp4.json")"
		b4=0
	fi
	r1=$(proc_ticks $RELAY_PIDS)
	e1=$(proc_ticks $END_PIDS)
	a1=$(($(proc_ticks $TOOL_PIDS) + $(self_child_ticks) + $(kernel_ticks)))
	bytes=$((b1 + b4))
	[ "$bytes" -gt 0 ] || return 1
	if [ -n "$RELAY_PIDS$END_PIDS" ]; then
		record cpu_gb "$(gb_rate $((r1 - r0 + e1 - e0)) $bytes)"
		record relay_gb "$(gb_rate $((r1 - r0)) $bytes)"
	fi
	record all_gb "$(gb_rate $((r1 - r0 + e1 - e0 + a1 - a0)) $bytes)"
	return 0
}

# measure_udp: 64-byte datagrams as fast as iperf3 sends them; delivered rate and loss.
measure_udp() {
	local f=$BT/udp.json
	if ! iperf_json "$f" -u -l $UDP_PAYLOAD -b 0; then
		log "UDP failed: $(head -c 300 "$f")"
		return 1
	fi
	# The receiver's byte count is what arrived; the sender's packet count is what was offered.
	record udp_kpps "$(jq ".end.sum_received.bytes / $UDP_PAYLOAD / .end.sum_received.seconds / 1000" "$f")"
	record udp_loss "$(jq "100 * (1 - (.end.sum_received.bytes / $UDP_PAYLOAD) / .end.sum_sent.packets)" "$f")"
}

# measure_ping: PING_COUNT pings PING_INTERVAL apart; median and p99 of the replies' times.
measure_ping() {
	local times=$BT/ping.times got
	timeout --foreground --kill-after=5 $((PING_COUNT / 50 + 15)) ip netns exec khb-cli \
		ping -n -c $PING_COUNT -i $PING_INTERVAL -W 1 "$DST" 2>&1 9>&- |
		sed -n 's/.* time=\([0-9.]*\) ms$/\1/p' | sort -g >"$times"
	got=$(wc -l <"$times")
	if [ "$got" -lt $((PING_COUNT * 9 / 10)) ]; then
		log "ping: $got of $PING_COUNT replies"
		[ "$got" -eq 0 ] && return 1
	fi
	# Nearest rank: the value below which 50 % (99 %) of the replies fall.
	record ping_med "$(sed -n "$(((got + 1) / 2))p" "$times")"
	record ping_p99 "$(sed -n "$(((got * 99 + 99) / 100))p" "$times")"
}

# run_block NAME REP: one repetition of one system on a fresh topology: bring it up, measure,
# note the conditions. The figures go to RAW marked busy (1) when others used more than
# BUSY_PERCENT of the CPUs meanwhile. Returns 1 if the system did not come up.
run_block() {
	local quiet load o0 o1 t0 pct busy
	SYS=$1
	if [ $SMOKE = 1 ]; then quiet=$(busy_percent 1); else quiet=$(wait_quiet); fi
	load=$(cut -d' ' -f1 /proc/loadavg)
	printf '== %s, repetition %s of %s (load average %s; others using %s%% of the CPUs)\n' \
		"$(label "$SYS")" "$2" "$REPS" "$load" "$quiet" >&2
	: >"$BLOCK"
	o0=$(others_ticks)
	t0=$(now_ms)
	# A second chance: on a loaded machine a handshake can miss its deadline.
	if ! sys_up "$SYS"; then
		log "$(label "$SYS") did not come up: $(tail -n 3 "$BT/$SYS.log" | tr '\n' ' '); once more"
		sys_down
		if ! sys_up "$SYS"; then
			log "$(label "$SYS") did not come up again: $(tail -n 3 "$BT/$SYS.log" | tr '\n' ' ')"
			sys_down
			return 1
		fi
	fi
	RELAY_PIDS=$(tunnel_pids khb-relay | tr '\n' ' ')
	END_PIDS=$(tunnel_pids khb-cli khb-dev | tr '\n' ' ')
	spawn khb-dev "$BT/iperf3-server.log" iperf3 -s --idle-timeout 60
	TOOL_PIDS=$(tool_pids | tr '\n' ' ')
	[ -n "$RELAY_PIDS" ] && record rss_idle_mib "$(awk -v k="$(relay_rss_kb)" 'BEGIN { print k / 1024 }')"
	if ! wait_until 5000 ip netns exec khb-cli iperf3 -c "$DST" --connect-timeout 1000 -n 1; then
		log "the iperf3 server on $DST does not answer"
	fi
	# Ping first, on a tunnel that no flood has left queues in.
	measure_ping
	measure_tcp
	measure_udp
	[ -n "$RELAY_PIDS" ] && record rss_mib "$(awk -v k="$(relay_rss_kb)" 'BEGIN { print k / 1024 }')"
	o1=$(others_ticks)
	pct=$(((o1 - o0) * 100000 / (($(now_ms) - t0) * CLK_TCK * NCPU)))
	busy=$([ "$pct" -gt $BUSY_PERCENT ] && echo 1 || echo 0)
	log "$(awk -F'\t' '{ v[$1] = $2 }
		END { printf "TCP %.0f / %.0f Mbit/s, UDP %.1f kpps (%.1f%% lost), ping %s / %s ms",
		      v["tcp1"], v["tcp4"], v["udp_kpps"], v["udp_loss"], v["ping_med"], v["ping_p99"] }' \
		"$BLOCK")$([ $busy = 1 ] && echo "; others used ${pct}% meanwhile: busy")"
	awk -v s="$SYS" -v b=$busy '{ print s "\t" $0 "\t" b }' "$BLOCK" >>"$RAW"
	echo "$SYS|$VERSION|$load|$quiet|$pct|$(ip netns list | grep -c '^kh-')" >>"$BT/conditions"
	sys_down
	return 0
}

# --- the run -------------------------------------------------------------------------------
START=$(date +%s)
STAMP=$(date +%Y%m%d-%H%M%S)
BLOCK=$BT/block.tsv
echo "keyhole benchmark: $SYSTEMS; $REPS x ${SECONDS_EACH} s per figure" >&2
# Repetitions go round the systems rather than one system at a time, so that a burst of
# other work on the machine spoils one repetition of several systems, not all of one.
for rep in $(seq "$REPS"); do
	for s in $SYSTEMS; do
		run_block "$s" "$rep"
	done
done
FAILED=""
for s in $SYSTEMS; do
	grep -q "^$s|" "$BT/conditions" 2>/dev/null || FAILED="$FAILED $(label "$s")"
done

mkdir -p "$OUT"
{
	echo "# keyhole benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo
	echo "$(nproc) cores ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)), Linux $(uname -r);" \
		"$([ $SMOKE = 1 ] && echo 'smoke run: ')$REPS repetition(s), $SECONDS_EACH s per iperf3 run," \
		"$PING_COUNT pings ${PING_INTERVAL} s apart; took $(($(date +%s) - START)) s."
	echo "Topology: client ns → relay ns → device ns (veth, MTU 1500); every overlay packet passes through"
	echo "the relay namespace's tunnel process (plain routing: the relay's kernel forwards instead)."
	echo "Workload from client to device: iperf3 $(iperf3 --version | awk 'NR == 1 { print $2 }') TCP (1 and 4 streams), UDP with"
	echo "$UDP_PAYLOAD-byte payloads offered as fast as iperf3 sends (-b 0), ping."
	echo "CPU per GB: utime+stime (all threads) of the tunnel processes over the TCP runs, divided by the"
	echo "bytes iperf3 delivered (10^9 bytes a GB); \"relay side\" is the relay namespace's process alone; \"all"
	echo "the work\" adds iperf3 at both ends and the kernel's irq/softirq time (the machine's, so it"
	echo "includes the little others caused), which makes it comparable with plain routing."
	echo
	awk -v systems="$SYSTEMS" \
		-v labels="$(for s in $SYSTEMS; do printf '%s=%s|' "$s" "$(label "$s")"; done)" \
		-f "$HERE/report.awk" "$RAW"
	echo
	echo "Conditions, per repetition in order: the 1-minute load average before it, and the share of"
	echo "the CPUs that processes other than the benchmark's used during it. A repetition during which"
	echo "others used more than ${BUSY_PERCENT}% is busy; the tables use only the quiet ones when a system"
	echo "has any, and mark with † a figure that had only busy ones."
	echo
	echo "| system | version, configuration | load average | others' CPU | quiet repetitions | suites' kh- namespaces seen |"
	echo "|---|---|---|---|---|---|"
	for s in $SYSTEMS; do
		awk -F'|' -v s="$s" -v lab="$(label "$s")" -v t=$BUSY_PERCENT '
			$1 == s { ver = $2; load = load sep $3; cpu = cpu sep $5 "%"; sep = ", "
				  n++; q += $5 <= t; if ($6 > kh) kh = $6 }
			END { if (n) printf "| %s | %s | %s | %s | %d of %d | %d |\n", lab, ver, load, cpu, q, n, kh
			      else printf "| %s | did not come up | | | | |\n", lab }' "$BT/conditions"
	done
	busy=$(awk -F'|' -v t=$BUSY_PERCENT '$5 > t { n++ } END { print n + 0 }' "$BT/conditions")
	echo
	if [ "$busy" -gt 0 ]; then
		echo "**The machine was busy** during $busy of $(wc -l <"$BT/conditions") repetitions; figures marked † are"
		echo "lower than a quiet machine gives: run again later."
	else
		echo "The machine was quiet (others below ${BUSY_PERCENT}% of the CPUs) during every repetition."
	fi
	[ -n "$FAILED" ] && echo "Systems that did not come up:$FAILED."
} >"$BT/results.md"
cat "$BT/results.md"
cp "$BT/results.md" "$RESULTS"
if [ $SMOKE = 0 ]; then
	cp "$BT/results.md" "$OUT/results-$STAMP.md"
	echo "bench.sh: wrote $RESULTS and $OUT/results-$STAMP.md" >&2
else
	echo "bench.sh: wrote $RESULTS" >&2
fi

# keyhole must have moved traffic; the smoke run exists for this check.
case " $SYSTEMS " in
*" keyhole "*)
	moved=$(awk -F'\t' '$1 == "keyhole" && $2 == "tcp1" && $3 > 0 { n++ } END { print n + 0 }' "$RAW")
	if [ "$moved" -eq 0 ]; then
		echo "bench.sh: FAIL: keyhole moved no TCP traffic from client to device" >&2
		exit 1
	fi
	;;
esac
exit 0
