#!/bin/bash
# lib.sh - the namespace topology and helpers shared by selftests/netns.sh and scripts/demo.sh.
#
#                       kh-inet (the "internet" router)
#        203.0.113.254 /     |198.51.100.254  \ 192.0.2.254    \ 198.18.0.1
#   kh-relay 203.0.113.1   kh-dhome 198.51.100.10  kh-chome 192.0.2.20   kh-imp 198.18.0.2
#                            | NAT 192.168.1.1      | NAT 192.168.2.1     (spare host, later
#                          kh-dev 192.168.1.2     kh-cli 192.168.2.2      the impostor)
#
# Every name starts with "kh-"; everything is torn down by topo_cleanup, which the
# callers run from an EXIT trap.

KH_NS="kh-inet kh-relay kh-dhome kh-chome kh-dev kh-cli kh-imp"
RELAY_IP=203.0.113.1
RELAY_PORT=51830

: "${BUILD:=build/default}"
BUILD=$(cd "$BUILD" && pwd)
KEYHOLE=$BUILD/keyhole
RELAY_BIN=$BUILD/keyhole-relay
# Fast timers for tests: a node sends a keepalive every 2 s, silence for 6 s is offline.
RELAY_TIMERS="--keepalive 2 --dead-peer-timeout 6"

# now_ms, wait_until
. "$(dirname "${BASH_SOURCE[0]}")/wait.sh"

# in_ns NS CMD...: run CMD in namespace NS with that namespace's keyhole run dir, and the
# data plane its keyholed should use: $KH_DATAPLANE (auto when unset), or for the client
# $KH_DATAPLANE_CLIENT when set (a mixed setup: the device in kernel mode, the client on TUN).
in_ns() {
	local ns=$1 dp=${KH_DATAPLANE:-auto}
	shift
	[ "$ns" = kh-cli ] && [ -n "${KH_DATAPLANE_CLIENT:-}" ] && dp=$KH_DATAPLANE_CLIENT
	ip netns exec "$ns" env KEYHOLE_RUN_DIR="$KH_TMP/run-$ns" KEYHOLE_DATAPLANE="$dp" "$@"
}

# veth NS_A IF_A NS_B IF_B: a cable between two namespaces.
veth() {
	ip link add "$2" netns "$1" type veth peer name "$4" netns "$3"
	ip -n "$1" link set "$2" up
	ip -n "$3" link set "$4" up
}

# nat_router NS WAN LAN: forward and masquerade everything leaving by anything but LAN.
nat_router() {
	ip netns exec "$1" sysctl -qw net.ipv4.ip_forward=1
	ip netns exec "$1" nft -f - <<EOF
table ip nat {
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		oifname != "$3" masquerade
	}
}
EOF
}

topo_setup() {
	local ns
	KH_TMP=$(mktemp -d /tmp/keyhole-netns.XXXXXX)
	chmod 700 "$KH_TMP"
	for ns in $KH_NS; do
		ip netns add "$ns"
		ip -n "$ns" link set lo up
		mkdir -p "$KH_TMP/run-$ns"
	done
	ip netns exec kh-inet sysctl -qw net.ipv4.ip_forward=1
	veth kh-relay eth0 kh-inet r0
	ip -n kh-relay addr add $RELAY_IP/24 dev eth0
	ip -n kh-inet addr add 203.0.113.254/24 dev r0
	ip -n kh-relay route add default via 203.0.113.254

	veth kh-dhome wan kh-inet d0
	ip -n kh-dhome addr add 198.51.100.10/24 dev wan
	ip -n kh-inet addr add 198.51.100.254/24 dev d0
	ip -n kh-dhome route add default via 198.51.100.254
	veth kh-dev eth0 kh-dhome lan
	ip -n kh-dhome addr add 192.168.1.1/24 dev lan
	ip -n kh-dev addr add 192.168.1.2/24 dev eth0
	ip -n kh-dev route add default via 192.168.1.1
	nat_router kh-dhome wan lan

	veth kh-chome wan kh-inet c0
	ip -n kh-chome addr add 192.0.2.20/24 dev wan
	ip -n kh-inet addr add 192.0.2.254/24 dev c0
	ip -n kh-chome route add default via 192.0.2.254
	veth kh-cli eth0 kh-chome lan
	ip -n kh-chome addr add 192.168.2.1/24 dev lan
	ip -n kh-cli addr add 192.168.2.2/24 dev eth0
	ip -n kh-cli route add default via 192.168.2.1
	nat_router kh-chome wan lan

	veth kh-imp eth0 kh-inet i0
	ip -n kh-imp addr add 198.18.0.2/24 dev eth0
	ip -n kh-inet addr add 198.18.0.1/24 dev i0
	ip -n kh-imp route add default via 198.18.0.1
}

# Every process in our namespaces is one we started; end them by PID, then the namespaces.
topo_cleanup() {
	local ns pid tries
	for ns in $KH_NS; do
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			kill "$pid" 2>/dev/null
		done
	done
	for tries in 1 2 3 4 5 6 7 8 9 10; do
		[ -z "$(for ns in $KH_NS; do ip netns pids "$ns" 2>/dev/null; done)" ] && break
		sleep 0.2
	done
	for ns in $KH_NS; do
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			kill -9 "$pid" 2>/dev/null
		done
		ip netns del "$ns" 2>/dev/null
	done
	[ -n "${KH_TMP:-}" ] && rm -rf "$KH_TMP"
	return 0
}

relay_start() {
	ip netns exec kh-relay "$RELAY_BIN" -d "$KH_TMP/relay" -l $RELAY_IP -p $RELAY_PORT \
		$RELAY_TIMERS run 2>>"$KH_TMP/relay.log" &
	RELAY_PID=$!
	wait_until 3000 relay status
}

# relay ARGS...: the relay's admin CLI.
relay() {
	ip netns exec kh-relay "$RELAY_BIN" -d "$KH_TMP/relay" $RELAY_TIMERS "$@"
}

# node_up NS NAME [TAGS...]: key, enrollment, interface kh0 in NS, configured and up.
node_up() {
	local ns=$1 name=$2
	shift 2
	(umask 077 && "$KEYHOLE" genkey >"$KH_TMP/$name.key")
	relay node add "$name" "$("$KEYHOLE" pubkey <"$KH_TMP/$name.key")" "$@" >"$KH_TMP/$name.addr" ||
		return 1
	node_connect "$ns" "$name.key"
}

# node_connect NS KEYFILE: bring up kh0 in NS with the given key (no enrollment).
node_connect() {
	local ns=$1 key=$2
	in_ns "$ns" "$KEYHOLE" link add dev kh0 || return 1
	in_ns "$ns" "$KEYHOLE" set kh0 private-key "$KH_TMP/$key" relay $RELAY_IP:$RELAY_PORT \
		relay-key "$(relay pubkey 2>/dev/null)" || return 1
	in_ns "$ns" "$KEYHOLE" link set dev kh0 up
}

# session_up NS: the node in NS holds a session with the relay.
session_up() {
	[ "$(in_ns "$1" "$KEYHOLE" show kh0 --json 2>/dev/null | jq -r .session)" = up ]
}

# overlay NS 4|6: the node's overlay address, as keyhole show reports it.
overlay() {
	in_ns "$1" "$KEYHOLE" show kh0 --json | jq -r ".ipv$2" | cut -d/ -f1
}

# capture_start NS IFACE FILE: tcpdump into FILE, returning once it listens; sets CAP_PID.
# Immediate mode: packets still in the kernel's buffer are lost when tcpdump is stopped.
# Everything is captured and filtered when read: some kernels (this CI's among them) do
# not apply a socket filter to packet sockets, and a filter that drops all would let a
# "nothing arrived" check pass for the wrong reason.
capture_start() {
	local ns=$1 ifc=$2 file=$3
	ip netns exec "$ns" tcpdump -Z root --immediate-mode -i "$ifc" -U -n -w "$file" 2>"$file.err" &
	CAP_PID=$!
	wait_until 5000 grep -q "listening on" "$file.err"
}

capture_stop() {
	kill "$CAP_PID" 2>/dev/null
	wait "$CAP_PID" 2>/dev/null
}

# capture_count FILE FILTER...: packets in FILE that match FILTER.
capture_count() {
	local file=$1
	shift
	tcpdump -r "$file" -n "$@" 2>/dev/null | wc -l
}

# relay_online NAME: the relay counts NAME as online.
relay_online() {
	[ "$(relay node list --json | jq -r ".[] | select(.name == \"$1\") | .online")" = true ]
}
