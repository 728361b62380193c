#!/bin/bash
# netns.sh - keyhole end to end: a relay on the "internet", a device and a client each behind
# NAT, real OpenSSH over the overlay, and everything that must happen when things go wrong.
# Usage: selftests/netns.sh [BUILD_DIR]   (root; every namespace it makes is removed on exit)
set -u
cd "$(dirname "$0")/.."
BUILD=${1:-build/default}
. selftests/lib.sh
NLCHECK=$BUILD/nlcheck
HOSTILE=$BUILD/hostile

# Time bounds are the product's promises on real hardware; under emulation (make vmcheck)
# every step is slower, so the VM scales them by KH_TIME_SCALE.
SCALE=${KH_TIME_SCALE:-1}
[ "$SCALE" != 1 ] && echo "(time bounds scaled by $SCALE for an emulated machine)"
ms() { echo $(($1 * SCALE)); }

pass=0
fail=0
scenario() { printf '\n== %s\n' "$*"; }
ok() { echo "PASS $*"; pass=$((pass + 1)); }
bad() { echo "FAIL $*"; fail=$((fail + 1)); }
# check DESCRIPTION CMD...: a PASS/FAIL line from a command's status.
check() {
	local what=$1
	shift
	if "$@"; then ok "$what"; else bad "$what"; return 1; fi
}
say() { echo "   \$ $*"; }

finish() {
	local status=$?
	if [ $fail -gt 0 ] && [ -n "${KH_TMP:-}" ] && [ -f "$KH_TMP/relay.log" ]; then
		echo "--- relay log (last lines)"
		tail -n 25 "$KH_TMP/relay.log"
	fi
	[ -n "${KH_TMP:-}" ] && [ -d "$KH_TMP" ] && for f in "$KH_TMP"/*.log; do
		[ -f "$f" ] && grep -H -E 'Sanitizer|runtime error' "$f" && fail=$((fail + 1))
	done
	topo_cleanup
	# Nothing of ours may survive the run.
	local left
	left=$(ip netns list | grep -c '^kh-')
	if [ "$left" -ne 0 ]; then bad "cleanup: $left namespaces left"; fi
	echo
	echo "$pass passed, $fail failed"
	[ $fail -eq 0 ] && [ $status -eq 0 ] || exit 1
}
trap finish EXIT
trap 'exit 1' INT TERM

if [ "$(id -u)" -ne 0 ]; then
	echo "netns.sh: needs root (network namespaces)"
	exit 1
fi
topo_cleanup >/dev/null 2>&1
topo_setup

SSH_OPTS=(-F /dev/null -i "$KH_TMP/client_id" -o StrictHostKeyChecking=no
	-o UserKnownHostsFile=/dev/null -o BatchMode=yes -o ConnectTimeout=5 -o LogLevel=ERROR)
ssh_dev() { in_ns kh-cli ssh "${SSH_OPTS[@]}" "root@$1" "${@:2}"; }
relay_offline() { ! relay_online "$1"; }
no_session() { ! session_up "$1"; }
endpoint_of() { relay node list --json | jq -r ".[] | select(.name == \"$1\") | .endpoint"; }
endpoint_matches() { [[ "$(endpoint_of "$1")" =~ $2 ]]; }
both_up() { session_up kh-dev && session_up kh-cli; }
cli_unreachable() { in_ns kh-cli ping -c 1 -W 1 "$1" 2>&1 | grep -q Unreachable; }

start_sshd() {
	mkdir -p /run/sshd
	ssh-keygen -q -t ed25519 -N '' -f "$KH_TMP/host_key" </dev/null
	ssh-keygen -q -t ed25519 -N '' -f "$KH_TMP/client_id" </dev/null
	cp "$KH_TMP/client_id.pub" "$KH_TMP/authorized_keys"
	cat >"$KH_TMP/sshd_config" <<EOF
ListenAddress 0.0.0.0
ListenAddress ::
HostKey $KH_TMP/host_key
PidFile $KH_TMP/sshd.pid
AuthorizedKeysFile $KH_TMP/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
StrictModes no
Subsystem sftp internal-sftp
EOF
	ip netns exec kh-dev /usr/sbin/sshd -D -e -f "$KH_TMP/sshd_config" 2>>"$KH_TMP/sshd.log" &
}

# --- 1 -------------------------------------------------------------------------------------
scenario "1. enroll device and client; ssh and scp over the overlay"
relay_start
RELAY_KEY=$(relay pubkey 2>/dev/null)
check "relay is up and has a key" test -n "$RELAY_KEY"
# Capture the handshakes of this scenario for the hostile replay of scenario 9.
capture_start kh-relay eth0 "$KH_TMP/handshakes.pcap"
say keyhole-relay node add device DEVKEY tag device
node_up kh-dev device tag device
say keyhole-relay node add client CLIKEY tag admin
node_up kh-cli client tag admin
check "device session up" wait_until 5000 session_up kh-dev
check "client session up" wait_until 5000 session_up kh-cli
capture_stop
check "the capture holds the nodes' handshakes" \
	test "$(capture_count "$KH_TMP/handshakes.pcap" udp dst port $RELAY_PORT)" -ge 2
# dataplane NS: what the node's keyholed says it uses.
dataplane() { in_ns "$1" "$KEYHOLE" show kh0 --json 2>/dev/null | jq -r .dataplane; }
if [ "${KH_DATAPLANE:-auto}" != auto ]; then
	check "the device uses the $KH_DATAPLANE data plane" test "$(dataplane kh-dev)" = "$KH_DATAPLANE"
	check "the client uses the ${KH_DATAPLANE_CLIENT:-$KH_DATAPLANE} data plane" \
		test "$(dataplane kh-cli)" = "${KH_DATAPLANE_CLIENT:-$KH_DATAPLANE}"
fi
DEV4=$(overlay kh-dev 4)
DEV6=$(overlay kh-dev 6)
CLI4=$(overlay kh-cli 4)
echo "   device: $DEV4 $DEV6   client: $CLI4"
check "device got the addresses the relay enrolled" grep -q "$DEV4 $DEV6" "$KH_TMP/device.addr"

# The interface as the kernel sees it, read through rtnetlink.
NL=$(in_ns kh-dev "$NLCHECK" kh0)
check "kh0 is up with MTU 1420 (1500 - IPv6 40 - UDP 8 - keyhole 32)" \
	test "$(echo "$NL" | jq -r '"\(.up) \(.mtu)"')" = "true 1420"
check "kh0 carries $DEV4/10 and $DEV6/48" \
	test "$(echo "$NL" | jq -r '.addresses | map(select(startswith("fe80") | not)) | sort | join(" ")')" = \
	"$(printf '%s\n' "$DEV4/10" "$DEV6/48" | sort | tr '\n' ' ' | sed 's/ $//')"
check "routes to 100.64.0.0/10 and the ULA /48 go through kh0" \
	sh -c "echo '$NL' | jq -e '.routes | index(\"100.64.0.0/10\") and (map(select(endswith(\"::/48\"))) | length == 1)' >/dev/null"
check "ping client -> device over IPv4" in_ns kh-cli ping -c 2 -i 0.2 -W 2 "$DEV4"
check "ping device -> client over IPv4" in_ns kh-dev ping -c 2 -i 0.2 -W 2 "$CLI4"
check "ping client -> device over IPv6" in_ns kh-cli ping -6 -c 2 -i 0.2 -W 2 "$DEV6"

start_sshd
wait_until 3000 ssh_dev "$DEV4" true
say ssh root@$DEV4 hostname
check "ssh to the device's IPv4 overlay address runs a command" \
	test "$(ssh_dev "$DEV4" 'echo hello-from-$(ip -o link show kh0 | cut -d: -f2 | tr -d " ")')" = "hello-from-kh0"
say ssh root@$DEV6 true
check "ssh to the device's IPv6 overlay address" ssh_dev "$DEV6" true
head -c 50000000 /dev/urandom >"$KH_TMP/blob"
t0=$(now_ms)
say scp 50MB root@[$DEV6]:
in_ns kh-cli scp -q "${SSH_OPTS[@]}" "$KH_TMP/blob" "root@[$DEV6]:$KH_TMP/blob.copy"
t1=$(now_ms)
echo "   scp of 50 MB took $((t1 - t0)) ms"
check "scp of 50 MB arrives with the same sha256" \
	test "$(sha256sum <"$KH_TMP/blob")" = "$(sha256sum <"$KH_TMP/blob.copy")"
rm -f "$KH_TMP/blob" "$KH_TMP/blob.copy"

# --- 2 -------------------------------------------------------------------------------------
scenario "2. the client sees the device online"
say keyhole peers
in_ns kh-cli "$KEYHOLE" peers | sed 's/^/   /'
PEERS=$(in_ns kh-cli "$KEYHOLE" peers kh0 --json)
check "peers --json lists the device online with its addresses" \
	test "$(echo "$PEERS" | jq -r '.[] | select(.name == "device") | "\(.online) \(.ipv4) \(.ipv6)"')" = \
	"true $DEV4 $DEV6"
# auto means TUN here: the host's kernel has no keyhole.ko.
CLI_DP=${KH_DATAPLANE_CLIENT:-${KH_DATAPLANE:-auto}}
[ "$CLI_DP" = auto ] && CLI_DP=tun
check "keyhole show names the $CLI_DP data plane" \
	test "$(in_ns kh-cli "$KEYHOLE" show kh0 --json | jq -r .dataplane)" = "$CLI_DP"

# --- link down/up (the daemon follows ip link) ---------------------------------------------
scenario "link set down sends goodbye; up reconnects"
in_ns kh-dev ip link set kh0 down
check "the relay sees the device go at once" wait_until 1500 relay_offline device
in_ns kh-dev ip link set kh0 up
check "up again: session back" wait_until 8000 session_up kh-dev
check "addresses back after down/up" wait_until 3000 in_ns kh-cli ping -6 -c 1 -W 1 "$DEV6"

# --- 3 -------------------------------------------------------------------------------------
scenario "3. the device goes offline: no route to host, at once"
# measure_unreachable ADDR: ms until ssh fails with "No route to host" (or -1).
measure_unreachable() {
	local t0 out
	t0=$(now_ms)
	out=$(ssh_dev "$1" true 2>&1)
	if echo "$out" | grep -q "No route to host"; then echo $(($(now_ms) - t0)); else
		echo "   ssh said instead, after $(($(now_ms) - t0)) ms: $(echo "$out" | tail -n 2)" >&2
		echo -1
	fi
}
DEV_PID=$(ip netns pids kh-dev | while read -r p; do
	[ "$(cat /proc/$p/comm 2>/dev/null)" = keyholed ] && echo "$p"; done | head -n 1)
say kill -TERM keyholed   '# clean stop: goodbye'
kill -TERM "$DEV_PID"
wait_until 2000 sh -c "! kill -0 $DEV_PID"
T_CLEAN=$(measure_unreachable "$DEV4")
echo "   ssh failed with 'No route to host' after $T_CLEAN ms"
check "clean stop: next ssh fails with No route to host in under 1 s" \
	test "$T_CLEAN" -ge 0 -a "$T_CLEAN" -lt "$(ms 1000)"
node_connect kh-dev device.key
wait_until 8000 session_up kh-dev
DEV_PID=$(ip netns pids kh-dev | while read -r p; do
	[ "$(cat /proc/$p/comm 2>/dev/null)" = keyholed ] && echo "$p"; done | head -n 1)
say kill -KILL keyholed   '# power cut: no goodbye'
t0=$(now_ms)
kill -KILL "$DEV_PID"
wait_until 10000 relay_offline device
T_DEAD=$(($(now_ms) - t0))
echo "   the relay marked the device offline after $T_DEAD ms (dead-peer timeout 6 s)"
check "killed daemon: offline within the dead-peer timeout (+1 s of tick and polling)" test "$T_DEAD" -le $((6000 + $(ms 1000)))
T_AFTER=$(measure_unreachable "$DEV4")
echo "   then ssh failed with 'No route to host' after $T_AFTER ms"
check "after that, ssh fails with No route to host in under 1 s" \
	test "$T_AFTER" -ge 0 -a "$T_AFTER" -lt "$(ms 1000)"

# --- 4 -------------------------------------------------------------------------------------
scenario "4. an impostor takes over the device's public address"
say ip link del wan   '# the device'"'"'s NAT router goes away'
ip -n kh-dhome link del wan
ip -n kh-imp addr flush dev eth0
ip -n kh-imp addr add 198.51.100.10/24 dev eth0
ip -n kh-imp route add default via 198.51.100.254
ip -n kh-inet link set i0 down
ip -n kh-inet addr flush dev i0
ip -n kh-inet addr add 198.51.100.254/24 dev i0
ip -n kh-inet link set i0 up
check "the impostor answers on the device's old public address" \
	ip netns exec kh-relay ping -c 1 -W 2 198.51.100.10
# (a) an unenrolled key: no session, no answer at all.
capture_start kh-imp eth0 "$KH_TMP/imp-a.pcap"
(umask 077 && "$KEYHOLE" genkey >"$KH_TMP/stranger.key")
node_connect kh-imp stranger.key
sleep 3
check "(a) unenrolled key: no session" no_session kh-imp
T=$(measure_unreachable "$DEV4")
check "(a) ssh to the device's address: No route to host ($T ms)" test "$T" -ge 0 -a "$T" -lt "$(ms 1000)"
capture_stop
N=$(capture_count "$KH_TMP/imp-a.pcap" src host $RELAY_IP)
SENT=$(capture_count "$KH_TMP/imp-a.pcap" udp dst port $RELAY_PORT)
check "(a) the impostor's handshakes went out ($SENT)" test "$SENT" -ge 1
check "(a) not one packet from the relay reached the impostor ($N)" test "$N" -eq 0
in_ns kh-imp "$KEYHOLE" link del dev kh0
# (b) another enrolled key: its own addresses, never the device's.
node_up kh-imp guest tag guest
check "(b) enrolled impostor: a session of its own" wait_until 5000 session_up kh-imp
IMP4=$(overlay kh-imp 4)
check "(b) its address $IMP4 is not the device's $DEV4" test "$IMP4" != "$DEV4"
check "(b) its IPv6 address differs too" test "$(overlay kh-imp 6)" != "$DEV6"
capture_start kh-imp kh0 "$KH_TMP/imp-b.pcap"
T=$(measure_unreachable "$DEV4")
check "(b) ssh to the device's address: No route to host ($T ms)" test "$T" -ge 0 -a "$T" -lt "$(ms 1000)"
in_ns kh-cli ping -c 3 -i 0.2 -W 1 "$DEV4" >/dev/null 2>&1
# The capture works: what is sent to the impostor's own address shows up in it.
in_ns kh-cli ping -c 1 -W 2 "$IMP4" >/dev/null 2>&1
capture_stop
check "(b) the capture sees traffic for the impostor's own address" \
	test "$(capture_count "$KH_TMP/imp-b.pcap" dst host "$IMP4")" -ge 1
N=$(capture_count "$KH_TMP/imp-b.pcap" dst host "$DEV4" or dst host "$DEV6")
ALL=$(capture_count "$KH_TMP/imp-b.pcap")
check "(b) nothing for the device's address reached the impostor ($N of $ALL on its kh0)" \
	test "$N" -eq 0

# --- 5 -------------------------------------------------------------------------------------
scenario "5. the device comes back from another address; a NAT rebinding under ssh"
veth kh-dhome wan2 kh-inet d2
ip -n kh-dhome addr add 198.19.0.10/24 dev wan2
ip -n kh-inet addr add 198.19.0.254/24 dev d2
ip -n kh-dhome route add default via 198.19.0.254
t0=$(now_ms)
node_connect kh-dev device.key
wait_until 15000 ssh_dev "$DEV4" true
T_BACK=$(($(now_ms) - t0))
echo "   ssh worked again $T_BACK ms after the device came back"
check "same overlay address after moving" test "$(overlay kh-dev 4)" = "$DEV4"
check "ssh works again within 10 s ($T_BACK ms)" test "$T_BACK" -lt "$(ms 10000)"
check "the relay sees the new public address ($(endpoint_of device))" \
	endpoint_matches device '^198\.19\.0\.10:' 
say 'ssh root@device "count to 30 slowly" while the NAT forgets every mapping'
ssh_dev "$DEV4" 'for i in $(seq 1 30); do echo $i; sleep 0.2; done' >"$KH_TMP/long-ssh.out" 2>&1 &
SSH_PID=$!
sleep 1.5
ip netns exec kh-dhome conntrack -F >/dev/null 2>&1
ip netns exec kh-dhome nft flush ruleset
ip netns exec kh-dhome nft -f - <<EOF
table ip nat {
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		oifname != "lan" meta l4proto { tcp, udp } masquerade to :40000-40999
		oifname != "lan" masquerade
	}
}
EOF
ip netns exec kh-dhome conntrack -F >/dev/null 2>&1
wait $SSH_PID
SSH_STATUS=$?
check "the ssh session survived the rebinding (exit $SSH_STATUS, $(wc -l <"$KH_TMP/long-ssh.out") lines)" \
	test $SSH_STATUS -eq 0 -a "$(tail -n 1 "$KH_TMP/long-ssh.out")" = 30
check "the relay follows the new NAT port ($(endpoint_of device))" \
	endpoint_matches device ':40[0-9]{3}$' 

# --- 6 -------------------------------------------------------------------------------------
scenario "6. relay restart (kill -9): both nodes come back by themselves"
say kill -9 keyhole-relay
kill -9 "$RELAY_PID"
wait "$RELAY_PID" 2>/dev/null
t0=$(now_ms)
wait_until 10000 no_session kh-cli
echo "   the client noticed the relay was gone after $(($(now_ms) - t0)) ms"
OUT=$(in_ns kh-cli ping -c 1 -W 1 "$DEV4" 2>&1)
check "no session: the client's own daemon answers 'Destination Host Unreachable'" \
	grep -q "Destination Host Unreachable" <<<"$OUT"
t0=$(now_ms)
relay_start
wait_until 30000 both_up
wait_until 30000 ssh_dev "$DEV4" true
T_RESTART=$(($(now_ms) - t0))
echo "   both nodes back and ssh working $T_RESTART ms after the relay restarted"
check "same addresses after the restart" \
	test "$(overlay kh-dev 4) $(overlay kh-cli 4)" = "$DEV4 $CLI4"
check "back within the reconnect backoff (< 12 s): $T_RESTART ms" test "$T_RESTART" -lt "$(ms 12000)"

# --- 7 -------------------------------------------------------------------------------------
scenario "7. the device is deleted at the relay"
t0=$(now_ms)
say keyhole-relay node del device
relay node del device
wait_until 3000 cli_unreachable "$DEV4"
T_DEL=$(($(now_ms) - t0))
echo "   unreachable $T_DEL ms after the deletion"
check "unreachable within 1 s of node del ($T_DEL ms)" test "$T_DEL" -lt "$(ms 1000)"
(umask 077 && "$KEYHOLE" genkey >"$KH_TMP/device2.key")
relay node add device "$("$KEYHOLE" pubkey <"$KH_TMP/device2.key")" tag device >"$KH_TMP/device2.addr"
NEW4=$(cut -d' ' -f2 "$KH_TMP/device2.addr")
NEW6=$(cut -d' ' -f3 "$KH_TMP/device2.addr")
check "a new key never gets the old addresses ($NEW4 vs $DEV4)" \
	test "$NEW4" != "$DEV4" -a "$NEW6" != "$DEV6"
in_ns kh-dev "$KEYHOLE" set kh0 private-key "$KH_TMP/device2.key"
check "the device is back under its new key" wait_until 10000 ssh_dev "$NEW4" true
check "kh0 dropped the old key's address $DEV4" \
	test "$(in_ns kh-dev "$NLCHECK" kh0 | jq -r --arg a "$DEV4/10" '.addresses | index($a)')" = null
DEV4=$NEW4
DEV6=$NEW6

# --- 8 -------------------------------------------------------------------------------------
scenario "8. policy: a denied pair gets administratively prohibited"
say keyhole-relay policy deny '*' '*'; say keyhole-relay policy allow admin device
relay policy deny '*' '*'
relay policy allow admin device
check "admin -> device still allowed" ssh_dev "$DEV4" true
# The guest reconnects by itself after the relay restart of scenario 6; wait for it.
check "the guest has its session back" wait_until "$(ms 15000)" session_up kh-imp
OUT=$(in_ns kh-imp ping -c 1 -W 1 "$DEV4" 2>&1)
check "guest -> device: ICMP packet filtered (IPv4 code 13)" grep -q "Packet filtered" <<<"$OUT" ||
	echo "$OUT" | sed 's/^/   /'
OUT=$(in_ns kh-imp ping -6 -c 1 -W 1 "$DEV6" 2>&1)
check "guest -> device over IPv6: administratively prohibited" grep -qi "prohibited" <<<"$OUT" ||
	echo "$OUT" | sed 's/^/   /'
relay policy allow '*' '*'
relay policy deny admin device

# --- 9 -------------------------------------------------------------------------------------
scenario "9. hostile traffic at the relay; the established session carries on"
ssh_dev "$DEV4" 'for i in $(seq 1 25); do echo $i; sleep 0.2; done' >"$KH_TMP/hostile-ssh.out" 2>&1 &
SSH_PID=$!
sleep 0.5
say hostile --random 3000 --pcap handshakes.pcap --flood 3000
in_ns kh-imp "$HOSTILE" --relay $RELAY_IP:$RELAY_PORT --relay-key "$RELAY_KEY" --random 3000 \
	--pcap "$KH_TMP/handshakes.pcap" --flood 3000 --seconds 6 | sed 's/^/   /'
wait $SSH_PID
SSH_STATUS=$?
check "the ssh session ran through it (exit $SSH_STATUS)" \
	test $SSH_STATUS -eq 0 -a "$(tail -n 1 "$KH_TMP/hostile-ssh.out")" = 25
check "the relay is still running" kill -0 "$RELAY_PID"
check "a new ssh connection works" ssh_dev "$DEV4" true
STATUS=$(relay status --json)
echo "   relay counters: $(echo "$STATUS" | jq -c '.counters | with_entries(select(.value > 0))')"
check "the relay counted the junk" test "$(echo "$STATUS" | jq '.counters.drop_malformed + .counters.drop_bad_mac')" -gt 0
check "replayed handshakes were refused" test "$(echo "$STATUS" | jq '.counters.drop_replayed_handshake')" -gt 0
