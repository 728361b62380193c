#!/bin/bash
# relay-profile.sh - the relay's forwarding cost in instructions per packet, and the AEAD's share, from callgrind.
#
# perf does not work on every machine this runs on (no PMU in most VMs); callgrind counts the
# instructions the relay executes in user space, the same on any x86-64, noise-free. It does
# not see the kernel's share (the UDP stack, the system calls themselves), nor cycles: a
# cache miss costs one instruction here. relay-profile (a C driver) brings up two nodes on a
# relay running under callgrind and forwards PACKETS packets of each size from one to the other.
set -euo pipefail

usage() {
	echo "usage: relay-profile.sh [--build DIR] [--out DIR] [--packets N] [--sizes \"64 1400\"]" >&2
	exit 2
}

BUILD=build/default
OUT=build/bench
PACKETS=5000
SIZES="64 1400"
while [ $# -gt 0 ]; do
	case $1 in
	--build) BUILD=$2; shift 2 ;;
	--out) OUT=$2; shift 2 ;;
	--packets) PACKETS=$2; shift 2 ;;
	--sizes) SIZES=$2; shift 2 ;;
	*) usage ;;
	esac
done

for tool in valgrind callgrind_annotate; do
	command -v $tool >/dev/null || {
		echo "relay-profile: $tool not found (scripts/install-deps.sh --bench installs valgrind)" >&2
		exit 1
	}
done
for bin in keyhole-relay relay-profile; do
	[ -x "$BUILD/$bin" ] || { echo "relay-profile: no $BUILD/$bin (run make)" >&2; exit 1; }
done

TMP=$(mktemp -d /tmp/keyhole-profile.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$OUT"

# Collection is on inside relay_udp_receive (recvmmsg, open, route, seal, sendmmsg) and
# off again inside relay_handle_initiation: startup, timers and the two nodes' handshakes
# are left out, so every instruction counted is one of the forwarding path's.
profile() { # size
	local size=$1
	"$BUILD/relay-profile" "$BUILD/keyhole-relay" --packets "$PACKETS" --size "$size" -- \
		valgrind --tool=callgrind --callgrind-out-file="$TMP/callgrind.$size" \
		--toggle-collect=relay_udp_receive --toggle-collect=relay_handle_initiation \
		--log-file="$TMP/valgrind.$size.log" >"$TMP/driver.$size" || {
		echo "relay-profile: the run with $size-byte packets failed" >&2
		cat "$TMP/valgrind.$size.log" >&2 2>/dev/null || true
		exit 1
	}
	callgrind_annotate --auto=no --threshold=100 --inclusive=yes "$TMP/callgrind.$size" \
		>"$TMP/incl.$size" 2>/dev/null
	callgrind_annotate --auto=no --threshold=100 "$TMP/callgrind.$size" \
		>"$TMP/self.$size" 2>/dev/null
}

# The figures of one size, as "name value" lines: forwarded, total, aead, siphash.
figures() { # size
	local size=$1
	sed -n 's/^forwarded_packets=/forwarded /p' "$TMP/driver.$size"
	awk '
		function ir(s) { gsub(",", "", s); return s + 0 }
		/PROGRAM TOTALS/ { print "total", ir($1) }
		/:crypto_aead_chacha20poly1305_ietf_(en|de)crypt \[/ { aead += ir($1) }
		/:crypto_shorthash \[/ { sip += ir($1) }
		END { print "aead", aead + 0; print "siphash", sip + 0 }
	' "$TMP/incl.$size"
}

# The heaviest functions outside libsodium by their own instructions, per packet.
top_self() { # size forwarded
	awk -v n="$2" '
		function ir(s) { gsub(",", "", s); return s + 0 }
		/^ *[0-9,]+ \(/ && !/PROGRAM TOTALS/ {
			fn = $0; sub(/^ *[0-9,]+ *\([^)]*\) */, "", fn)
			# Inlined code is listed without an object: it is in keyhole-relay.
			obj = "keyhole-relay"
			if (fn ~ /\[/) { obj = fn; sub(/^[^[]*\[/, "", obj); sub(/\].*$/, "", obj); sub(/^.*\//, "", obj) }
			sub(/ \[.*$/, "", fn); sub(/^.*:/, "", fn)
			if (obj ~ /^libsodium/) next
			if (shown++ < 8) printf "| `%s` (%s) | %.0f |\n", fn, obj, ir($1) / n
		}
	' "$TMP/self.$1"
}

for size in $SIZES; do
	echo "relay-profile: $PACKETS packets of $size bytes through a relay under callgrind" >&2
	profile "$size"
done

sodium=$(dpkg-query -W -f='${Version}' libsodium23 2>/dev/null || echo unknown)
valgrind_v=$(valgrind --version)
{
	echo "# keyhole-relay forwarding cost, $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo
	echo "$PACKETS IPv4 packets of each size from one node to another through one"
	echo "\`$BUILD/keyhole-relay\` (keyhole $(git describe --always --dirty 2>/dev/null || echo unknown))"
	echo "on 127.0.0.1, sent in bursts of 32, under $valgrind_v; libsodium $sodium."
	echo "$(nproc) CPUs ($(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1)); libsodium picks its"
	echo "ChaCha20 code by CPU features, so the counts hold for this CPU's choice."
	echo "Instructions executed in user space on the forwarding path (receive, open, route, seal,"
	echo "send), divided by the packets the relay forwarded; the kernel's share is not counted."
	echo
	echo "| packet size | forwarded | instructions per packet | in the AEAD (ChaCha20-Poly1305 open + seal) | in SipHash (map lookups) | the rest |"
	echo "|---:|---:|---:|---:|---:|---:|"
	for size in $SIZES; do
		figures "$size" | awk -v size="$size" '
			{ v[$1] = $2 }
			END {
				n = v["forwarded"]; t = v["total"]; a = v["aead"]; s = v["siphash"]
				printf "| %d B | %d | %.0f | %.0f (%.1f%%) | %.0f (%.1f%%) | %.0f (%.1f%%) |\n",
					size, n, t / n, a / n, 100 * a / t, s / n, 100 * s / t,
					(t - a - s) / n, 100 * (t - a - s) / t
			}'
	done
	for size in $SIZES; do
		n=$(sed -n 's/^forwarded_packets=//p' "$TMP/driver.$size")
		echo
		echo "Outside libsodium, the heaviest functions at $size B (own instructions per packet;"
		echo "libc's memset and explicit_bzero include libsodium's wiping of its state):"
		echo
		echo "| function | instructions per packet |"
		echo "|---|---:|"
		top_self "$size" "$n"
	done
} | tee "$OUT/profile.md"
echo "relay-profile: written to $OUT/profile.md" >&2
