#!/bin/bash
# kmod.sh - keyhole.ko in the running kernel: its load-time self-tests, the link kind, the
# netlink family and the data path (kmodcheck), and unloading with live interfaces.
#
# Usage: selftests/kmod.sh BUILD MODULE   (root; in the VM: the host kernel loads no modules)
#
# Leaves the module unloaded. Prints PASS/FAIL lines and "N passed, N failed" counting
# kmodcheck's checks too; the kernel log is checked for warnings by scripts/vm.sh.
set -u
BUILD=$1
MOD=$2
NS=kh-kmod
pass=0
fail=0
ok() { echo "PASS $*"; pass=$((pass + 1)); }
bad() { echo "FAIL $*"; fail=$((fail + 1)); }
# expect DESCRIPTION CMD...: CMD must succeed.
expect() {
	local what=$1
	shift
	if "$@" >/dev/null 2>&1; then ok "$what"; else bad "$what"; fi
}
# refuse DESCRIPTION CMD...: CMD must fail.
refuse() {
	local what=$1
	shift
	if "$@" >/dev/null 2>&1; then bad "$what"; else ok "$what"; fi
}
cleanup() {
	ip netns del "$NS" 2>/dev/null
	rmmod keyhole 2>/dev/null
	return 0
}
trap cleanup EXIT
loaded() { grep -q '^keyhole ' /proc/modules; }

# The module's dependencies: the VM's /init loads them before the chroot (where the guest
# kernel's module tree is not); anywhere else modprobe finds them.
for dep in $(modinfo -F depends "$MOD" | tr , ' '); do
	grep -q "^$dep " /proc/modules || modprobe "$dep" || bad "load the dependency $dep"
done
before=$(dmesg | grep -c 'keyhole: self-tests passed')
expect "insmod keyhole.ko selftest=1" insmod "$MOD" selftest=1
after=$(dmesg | grep -c 'keyhole: self-tests passed')
if [ "$after" -gt "$before" ]; then ok "the load-time self-tests passed"; else
	bad "the load-time self-tests passed"
	dmesg | grep 'keyhole' | tail -n 20
fi

ip netns add "$NS"
ip -n "$NS" link set lo up
expect "ip link add khk0 type keyhole" ip -n "$NS" link add khk0 type keyhole
if ip -n "$NS" -d link show khk0 2>/dev/null | grep -q 'keyhole'; then ok "ip -d link shows kind keyhole"; else
	bad "ip -d link shows kind keyhole"; fi
mtu=$(ip netns exec "$NS" cat /sys/class/net/khk0/mtu)
if [ "$mtu" = 1420 ]; then ok "default MTU 1420"; else bad "default MTU 1420 (got $mtu)"; fi
expect "ip link set mtu 1280" ip -n "$NS" link set khk0 mtu 1280
refuse "ip link set mtu 100 is refused" ip -n "$NS" link set khk0 mtu 100
refuse "a second khk0 is refused" ip -n "$NS" link add khk0 type keyhole
ip -n "$NS" link set khk0 mtu 1420 up
ip -n "$NS" addr add 100.64.0.2/10 dev khk0
ip -n "$NS" addr add fd00:6b68::2/48 dev khk0 nodad

out=$(ip netns exec "$NS" "$BUILD/kmodcheck" khk0 2>&1)
echo "$out" | grep -E '^(PASS|FAIL) '
summary=$(echo "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -n 1)
if [ -n "$summary" ]; then
	p=${summary%% passed*}
	f=${summary#*, }
	f=${f%% failed}
	pass=$((pass + p))
	fail=$((fail + f))
else
	echo "$out" | tail -n 20
	bad "kmodcheck ended without its summary"
fi

expect "ip link del khk0" ip -n "$NS" link del khk0

# Unload with live interfaces, some up with addresses, in two namespaces: the devices go with
# the module, nothing is left, and it loads again.
for round in 1 2 3 4 5; do
	loaded || insmod "$MOD" || { bad "insmod, round $round"; break; }
	ip -n "$NS" link add khk1 type keyhole &&
		ip -n "$NS" link set khk1 up &&
		ip -n "$NS" addr add 100.64.0.3/10 dev khk1 &&
		ip link add "khr$round" type keyhole || { bad "live interfaces, round $round"; break; }
	rmmod keyhole || { bad "rmmod with live interfaces, round $round"; break; }
	if ip -n "$NS" link show khk1 >/dev/null 2>&1 || ip link show "khr$round" >/dev/null 2>&1; then
		bad "the interfaces went with the module, round $round"
		break
	fi
	[ "$round" = 5 ] && ok "5 rounds of load, live interfaces, unload: nothing left behind"
done
refuse "no keyhole link kind without the module" ip -n "$NS" link add khk2 type keyhole

# Unload under a link that holds a live socket and keys: the socket must come back to its
# owner as an ordinary one (kmodcheck --hold checks that a message reaches userspace after).
insmod "$MOD" && ip -n "$NS" link add khk3 type keyhole && ip -n "$NS" link set khk3 up &&
	ip -n "$NS" addr add 100.64.0.5/10 dev khk3 || bad "a link for the held socket"
FIFO=$(mktemp -u /tmp/keyhole-kmod.XXXXXX)
mkfifo -m 600 "$FIFO"
HOLD_OUT=$(mktemp /tmp/keyhole-kmod-out.XXXXXX)
ip netns exec "$NS" timeout 60 "$BUILD/kmodcheck" --hold khk3 <"$FIFO" >"$HOLD_OUT" 2>&1 &
HOLD_PID=$!
exec 9>"$FIFO"
for _ in $(seq 1 100); do grep -q holding "$HOLD_OUT" && break; sleep 0.1; done
if grep -q holding "$HOLD_OUT" && rmmod keyhole; then
	echo go >&9
	exec 9>&-
	if wait "$HOLD_PID" && grep -q released "$HOLD_OUT"; then
		ok "unloaded under a live socket and keys: the socket is an ordinary one again"
	else
		bad "unloaded under a live socket and keys: $(tr '\n' ' ' <"$HOLD_OUT")"
	fi
else
	exec 9>&-
	bad "a held socket and keys, then rmmod: $(tr '\n' ' ' <"$HOLD_OUT")"
	kill "$HOLD_PID" 2>/dev/null
	wait "$HOLD_PID" 2>/dev/null
fi
rm -f "$FIFO" "$HOLD_OUT"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
