#!/bin/bash
# systems.sh - bring each benchmarked system up in the topology of topo.sh: plain routing, keyhole, wireguard-go, OpenVPN, n2n.
#
# sys_up NAME starts one system on a fresh topology and sets DST, the device's address that
# the client's traffic goes to (its overlay address, or its underlay one for plain routing),
# and VERSION. It returns non-zero, with the reason in $BT/NAME.log, if the system does not
# carry a ping from client to device within its time. sys_down ends it with the topology.

# Overlay subnets, one per system (each system has the topology to itself anyway).
WG_NET=198.19.1
OVPN_NET=198.19.2
N2N_NET=198.19.3
WG_PORT=51820
OVPN_PORT=1194
N2N_PORT=7654
KH_PORT=51830
# How long a system may take from start to carrying a ping (handshakes, TLS, registration).
UP_TIMEOUT_MS=20000

# fail MESSAGE...: say why a system did not come up (into its log) and fail.
fail() {
	echo "$*"
	return 1
}

# udp_listening NS PORT: a socket in NS is bound to UDP port PORT.
udp_listening() { [ -n "$(ip netns exec "$1" ss -Hluna "sport = :$2")" ]; }

# overlay_ping: the client reaches DST through the system.
overlay_ping() { ip netns exec khb-cli ping -c 1 -W 1 "$DST"; }

sys_up() {
	local name=$1
	DST=""
	VERSION=""
	topo_up || return 1
	case $name in
	plain) sys_plain_up ;;
	keyhole) sys_keyhole_up ;;
	wireguard-go) sys_wg_up ;;
	openvpn-chacha) sys_ovpn_up CHACHA20-POLY1305 ;;
	openvpn-aes) sys_ovpn_up AES-256-GCM ;;
	n2n) sys_n2n_up ;;
	*)
		echo "unknown system $name"
		return 1
		;;
	esac >>"$BT/$name.log" 2>&1 || return 1
	wait_until $UP_TIMEOUT_MS overlay_ping || {
		echo "no ping from client to $DST within $((UP_TIMEOUT_MS / 1000)) s" >>"$BT/$name.log"
		return 1
	}
}

sys_down() {
	topo_down
	# wireguard-go's UAPI sockets live in the shared /run, not in the namespace.
	rm -f /var/run/wireguard/khbwg-*.sock
	rm -rf "$BT"/run-khb-*
}

# --- plain routing: the kernel forwards in khb-relay, no tunnel (the ceiling) ---------------
sys_plain_up() {
	ip netns exec khb-relay sysctl -qw net.ipv4.ip_forward=1
	ip -n khb-cli route add 198.18.1.0/24 via 198.18.0.1
	ip -n khb-dev route add 198.18.0.0/24 via 198.18.1.1
	DST=$DEV_ADDR
	VERSION="Linux $(uname -r) forwarding"
}

# --- keyhole: keyhole-relay in khb-relay, keyholed in client and device ---------------------
kh_relay() { ip netns exec khb-relay "$KH_BUILD/keyhole-relay" -d "$BT/kh-relay" "$@"; }
kh_session_up() {
	[ "$(in_ns "$1" "$KH_BUILD/keyhole" show khb0 --json 2>/dev/null | jq -r .session)" = up ]
}

# kh_node NS NAME: enroll a key as NAME and bring up khb0 in NS, as selftests/lib.sh node_up.
kh_node() {
	local ns=$1 name=$2
	(umask 077 && "$KH_BUILD/keyhole" genkey >"$BT/kh-$name.key") || fail "keyhole genkey failed"
	kh_relay node add "$name" "$("$KH_BUILD/keyhole" pubkey <"$BT/kh-$name.key")" ||
		fail "keyhole-relay node add $name failed"
	in_ns "$ns" "$KH_BUILD/keyhole" link add dev khb0 || fail "keyhole link add failed in $ns"
	in_ns "$ns" "$KH_BUILD/keyhole" set khb0 private-key "$BT/kh-$name.key" \
		relay $RELAY_ADDR:$KH_PORT relay-key "$(kh_relay pubkey)" || fail "keyhole set failed in $ns"
	in_ns "$ns" "$KH_BUILD/keyhole" link set dev khb0 up || fail "keyhole link set up failed in $ns"
}

sys_keyhole_up() {
	# A fresh registry each time: the names and keys of the last repetition are gone.
	rm -rf "$BT/kh-relay"
	spawn khb-relay "$BT/keyhole.log" "$KH_BUILD/keyhole-relay" -d "$BT/kh-relay" \
		-l $RELAY_ADDR -p $KH_PORT run
	wait_until 5000 kh_relay status || fail "keyhole-relay does not answer status"
	kh_node khb-dev device || return 1
	kh_node khb-cli client || return 1
	wait_until 10000 kh_session_up khb-dev || fail "the device has no session after 10 s"
	wait_until 10000 kh_session_up khb-cli || fail "the client has no session after 10 s"
	DST=$(in_ns khb-dev "$KH_BUILD/keyhole" show khb0 --json | jq -r .ipv4 | cut -d/ -f1)
	VERSION="keyhole $(git -C "$KH_BUILD" describe --always --dirty 2>/dev/null || echo '?')"
	[ -n "$DST" ] && [ "$DST" != null ] || fail "keyhole show gives the device no IPv4 address"
}

# --- wireguard-go as a hub: the relay forwards between its two peers ------------------------
# wg_if NS IFNAME ADDR: a userspace WireGuard interface with a new key; sets WG_PUB.
wg_if() {
	local ns=$1 ifc=$2 addr=$3
	(umask 077 && wg genkey >"$BT/$ifc.key") || return 1
	WG_PUB=$(wg pubkey <"$BT/$ifc.key")
	spawn "$ns" "$BT/wireguard-go.log" env WG_PROCESS_FOREGROUND=1 wireguard-go "$ifc"
	wait_until 5000 test -S "/var/run/wireguard/$ifc.sock" || fail "wireguard-go made no $ifc.sock"
	in_ns "$ns" wg set "$ifc" private-key "$BT/$ifc.key" || fail "wg set $ifc failed"
	ip -n "$ns" addr add "$addr/24" dev "$ifc" && ip -n "$ns" link set "$ifc" up
}

sys_wg_up() {
	local hub cli dev
	wg_if khb-relay khbwg-r $WG_NET.1 || return 1
	hub=$WG_PUB
	wg_if khb-cli khbwg-c $WG_NET.2 || return 1
	cli=$WG_PUB
	wg_if khb-dev khbwg-d $WG_NET.3 || return 1
	dev=$WG_PUB
	ip netns exec khb-relay sysctl -qw net.ipv4.ip_forward=1
	in_ns khb-relay wg set khbwg-r listen-port $WG_PORT \
		peer "$cli" allowed-ips $WG_NET.2/32 peer "$dev" allowed-ips $WG_NET.3/32 || return 1
	# The device speaks first (as a node behind NAT must) so the hub learns its endpoint.
	in_ns khb-dev wg set khbwg-d peer "$hub" allowed-ips $WG_NET.0/24 \
		endpoint $RELAY_ADDR:$WG_PORT persistent-keepalive 25 || return 1
	in_ns khb-cli wg set khbwg-c peer "$hub" allowed-ips $WG_NET.0/24 \
		endpoint $RELAY_ADDR:$WG_PORT persistent-keepalive 25 || return 1
	wait_until 5000 ip netns exec khb-dev ping -c 1 -W 1 $WG_NET.1 || fail "the device cannot ping the hub"
	DST=$WG_NET.3
	VERSION="wireguard-go $(wireguard-go --version | sed -n 's/^wireguard-go v//p')"
}

# --- OpenVPN 2.6: a server with client-to-client, a throwaway PKI ---------------------------
# ovpn_pki: a CA and certificates for server, client and device (P-256), in $BT/pki.
ovpn_pki() {
	local d=$BT/pki n
	[ -f "$d/device.crt" ] && return 0
	mkdir -p "$d"
	(
		umask 077
		cd "$d" || exit 1
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
			-keyout ca.key -out ca.crt -days 2 -subj /CN=khb-bench-ca || exit 1
		printf 'extendedKeyUsage=serverAuth\nkeyUsage=digitalSignature,keyAgreement\n' >server.ext
		printf 'extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature,keyAgreement\n' >client.ext
		for n in server client device; do
			openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
				-keyout $n.key -out $n.csr -subj /CN=$n || exit 1
			openssl x509 -req -in $n.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
				-days 2 -out $n.crt -extfile "$([ $n = server ] && echo server || echo client).ext" ||
				exit 1
		done
	) >>"$BT/pki.log" 2>&1
}

sys_ovpn_up() {
	local cipher=$1 d=$BT/pki n
	ovpn_pki || fail "openssl could not make the PKI (pki.log)"
	mkdir -p "$BT/ccd"
	echo "ifconfig-push $OVPN_NET.2 255.255.255.0" >"$BT/ccd/client"
	echo "ifconfig-push $OVPN_NET.3 255.255.255.0" >"$BT/ccd/device"
	cat >"$BT/ovpn-server.conf" <<EOF
mode server
tls-server
proto udp4
local $RELAY_ADDR
port $OVPN_PORT
dev khbov-r
dev-type tun
topology subnet
server $OVPN_NET.0 255.255.255.0
client-to-client
client-config-dir $BT/ccd
ca $d/ca.crt
cert $d/server.crt
key $d/server.key
dh none
data-ciphers $cipher
disable-dco
keepalive 10 60
verb 3
EOF
	spawn khb-relay "$BT/openvpn.log" openvpn --config "$BT/ovpn-server.conf"
	wait_until 5000 udp_listening khb-relay $OVPN_PORT || fail "the OpenVPN server does not listen"
	for n in device client; do
		cat >"$BT/ovpn-$n.conf" <<EOF
client
proto udp4
remote $RELAY_ADDR $OVPN_PORT
nobind
dev khbov-${n:0:1}
dev-type tun
ca $d/ca.crt
cert $d/$n.crt
key $d/$n.key
remote-cert-tls server
data-ciphers $cipher
disable-dco
verb 3
EOF
		spawn "khb-${n:0:3}" "$BT/openvpn.log" openvpn --config "$BT/ovpn-$n.conf"
	done
	DST=$OVPN_NET.3
	VERSION="OpenVPN $(openvpn --version | awk 'NR == 1 { print $2 }') $cipher, $(openvpn --version |
		sed -n 's/^library versions: \(OpenSSL [^ ,]*\).*/\1/p'), DCO off"
}

# --- n2n: supernode in the relay, an edge at each end ---------------------------------------
sys_n2n_up() {
	spawn khb-relay "$BT/n2n.log" supernode -l $N2N_PORT
	# An edge registers once at start and then only every minute or so: the supernode must
	# be listening before the edges come.
	wait_until 5000 udp_listening khb-relay $N2N_PORT || fail "the supernode does not listen"
	# The key goes in the environment, not on the command line where ps shows it.
	spawn khb-cli "$BT/n2n.log" env N2N_KEY=khb-bench-key edge -d khbn2n -a $N2N_NET.2 \
		-s 255.255.255.0 -c khbbench -l $RELAY_ADDR:$N2N_PORT
	spawn khb-dev "$BT/n2n.log" env N2N_KEY=khb-bench-key edge -d khbn2n -a $N2N_NET.3 \
		-s 255.255.255.0 -c khbbench -l $RELAY_ADDR:$N2N_PORT
	DST=$N2N_NET.3
	VERSION="n2n $(edge -h 2>&1 | sed -n 's/^Welcome to n2n v\.\([^ ]*\).*/\1/p') (Debian $(dpkg-query -W -f='${Version}' n2n 2>/dev/null))"
}
