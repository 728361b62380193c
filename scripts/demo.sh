#!/bin/bash
# demo.sh - the keyhole story in network namespaces, narrated: what dynamic DNS gets wrong
# and what keyhole does instead. Run by `make demo` (root); leaves nothing behind.
set -u
cd "$(dirname "$0")/.."
BUILD=${1:-build/default}
. selftests/lib.sh

if [ "$(id -u)" -ne 0 ]; then
	echo "demo: needs root (it builds a small network out of namespaces)"
	exit 1
fi

bold=$(tput bold 2>/dev/null || true)
plain=$(tput sgr0 2>/dev/null || true)
PAUSE=${DEMO_PAUSE:-1}

chapter() { printf '\n%s== %s%s\n' "$bold" "$*" "$plain"; }
tell() { printf '%s\n' "$*" | fold -s -w 90; }
# run NS LABEL CMD...: show the command as a prompt in that namespace, then run it.
run() {
	local ns=$1 who=$2
	shift 2
	printf '%s%s#%s %s\n' "$bold" "$who" "$plain" "$*"
	in_ns "$ns" "$@" 2>&1 | sed 's/^/    /'
	sleep "$PAUSE"
}

trap topo_cleanup EXIT
trap 'exit 1' INT TERM
topo_cleanup >/dev/null 2>&1

chapter "The problem"
tell "A Raspberry Pi sits behind a home router with an address that changes. Dynamic DNS
points a name at that address. When the Pi loses power, the name keeps pointing at the old
address - and the ISP may hand it to someone else's device. You ssh to the name and type
your password into a stranger's machine. Nothing warns you."
tell ""
tell "keyhole gives the Pi an overlay address that belongs to its key forever, reachable
only while the Pi itself is online and authenticated. Let's build a small internet and see."

chapter "A small internet, in network namespaces"
topo_setup
tell "relay      203.0.113.1  (a public server)"
tell "device     192.168.1.2  behind NAT 198.51.100.10  (the Pi)"
tell "client     192.168.2.2  behind NAT 192.0.2.20     (your laptop)"
tell "stranger   198.18.0.2   (someone else's camera, for now elsewhere)"

chapter "1. The relay"
relay_start
run kh-relay relay "$RELAY_BIN" -d "$KH_TMP/relay" pubkey
tell "Nodes pin this public key, as ssh pins a host key."

chapter "2. Enroll the device and the client"
(umask 077 && "$KEYHOLE" genkey >"$KH_TMP/device.key" && "$KEYHOLE" genkey >"$KH_TMP/client.key")
run kh-relay relay "$RELAY_BIN" -d "$KH_TMP/relay" node add device \
	"$("$KEYHOLE" pubkey <"$KH_TMP/device.key")" tag device
run kh-relay relay "$RELAY_BIN" -d "$KH_TMP/relay" node add client \
	"$("$KEYHOLE" pubkey <"$KH_TMP/client.key")" tag admin
tell "Those addresses belong to those keys forever; no other key will ever get them."

chapter "3. Bring both up: keyholed connects OUT to the relay, through the NATs"
RELAY_KEY=$(relay pubkey 2>/dev/null)
run kh-dev device "$KEYHOLE" link add dev kh0
run kh-dev device "$KEYHOLE" set kh0 private-key "$KH_TMP/device.key" relay $RELAY_IP:$RELAY_PORT relay-key "$RELAY_KEY"
run kh-dev device ip link set kh0 up
node_connect kh-cli client.key
wait_until 8000 session_up kh-dev
wait_until 8000 session_up kh-cli
run kh-dev device "$KEYHOLE" show kh0
run kh-cli client "$KEYHOLE" peers
DEV4=$(overlay kh-dev 4)

chapter "4. ssh from the client to the device's overlay address"
mkdir -p /run/sshd
ssh-keygen -q -t ed25519 -N '' -f "$KH_TMP/host_key" </dev/null
ssh-keygen -q -t ed25519 -N '' -f "$KH_TMP/client_id" </dev/null
cp "$KH_TMP/client_id.pub" "$KH_TMP/authorized_keys"
cat >"$KH_TMP/sshd_config" <<EOF
HostKey $KH_TMP/host_key
PidFile $KH_TMP/sshd.pid
AuthorizedKeysFile $KH_TMP/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
StrictModes no
EOF
ip netns exec kh-dev /usr/sbin/sshd -D -f "$KH_TMP/sshd_config" 2>/dev/null &
SSH=(ssh -F /dev/null -i "$KH_TMP/client_id" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
	-o BatchMode=yes -o ConnectTimeout=5 -o LogLevel=ERROR)
wait_until 3000 in_ns kh-cli "${SSH[@]}" "root@$DEV4" true
run kh-cli client "${SSH[@]}" "root@$DEV4" "echo hello from \$(hostname -s), reached through keyhole; ip -brief addr show kh0"

chapter "5. The device loses power"
DEV_PIDS=$(ip netns pids kh-dev)
for p in $DEV_PIDS; do [ "$(cat /proc/$p/comm 2>/dev/null)" = keyholed ] && kill -KILL "$p"; done
tell "(keyholed killed with SIGKILL: no goodbye.) The relay notices the silence within its
dead-peer timeout - 6 s in this demo, 15 s by default..."
t0=$(now_ms)
device_offline() { ! relay_online device; }
wait_until 10000 device_offline
tell "... offline after $(($(now_ms) - t0)) ms."
tell "And the ISP hands the device's public address to the stranger:"
ip -n kh-dhome link del wan
ip -n kh-imp addr flush dev eth0
ip -n kh-imp addr add 198.51.100.10/24 dev eth0
ip -n kh-imp route add default via 198.51.100.254
ip -n kh-inet addr flush dev i0
ip -n kh-inet addr add 198.51.100.254/24 dev i0
tell "With dynamic DNS, 'ssh pi.example.net' would now reach the stranger's device. With keyhole:"
t0=$(now_ms)
run kh-cli client "${SSH[@]}" "root@$DEV4" true
tell "(\"No route to host\" after $(($(now_ms) - t0)) ms: the relay answered with ICMP
host-unreachable at once. Not a hang, and never someone else's device.)"

chapter "6. The device comes back, from a different address"
veth kh-dhome wan2 kh-inet d2
ip -n kh-dhome addr add 198.19.0.10/24 dev wan2
ip -n kh-inet addr add 198.19.0.254/24 dev d2
ip -n kh-dhome route add default via 198.19.0.254
node_connect kh-dev device.key
t0=$(now_ms)
wait_until 15000 in_ns kh-cli "${SSH[@]}" "root@$DEV4" true
tell "Back after $(($(now_ms) - t0)) ms, public address 198.19.0.10 now, same overlay address:"
run kh-cli client "${SSH[@]}" "root@$DEV4" "ip -brief addr show kh0"
run kh-relay relay "$RELAY_BIN" -d "$KH_TMP/relay" node list

chapter "That's keyhole"
tell "The overlay address follows the key, not the network: reachable only while the device
itself is online and authenticated. Everything this demo made is being removed now."
