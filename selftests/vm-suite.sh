#!/bin/bash
# vm-suite.sh - what the VM runs (selftests/qemu/init, in a chroot of the host): keyhole.ko's
# own tests (selftests/kmod.sh), then the netns suite with the TUN data plane, with the kernel
# data plane, and mixed (device kernel, client TUN).
#
# Usage: selftests/vm-suite.sh BUILD MODULE   (MODULE: keyhole.ko built for this kernel, or "")
#
# Prints each suite's lines and one "N passed, N failed" for them all.
set -u
BUILD=$1
MOD=${2:-}
total_pass=0
total_fail=0

# run_suite NAME CMD...: run it, add its summary line to the totals.
run_suite() {
	local name=$1 out line p f
	shift
	out=$(mktemp)
	echo "--- $name"
	"$@" 2>&1 | tee "$out"
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$out" | tail -n 1)
	rm -f "$out"
	if [ -z "$line" ]; then
		echo "FAIL $name ended without its summary line"
		total_fail=$((total_fail + 1))
		return
	fi
	p=${line%% passed*}
	f=${line#*, }
	f=${f%% failed}
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
}

if [ -n "$MOD" ] && [ -f "$MOD" ]; then
	run_suite "keyhole.ko ($(uname -r))" selftests/kmod.sh "$BUILD" "$MOD"
else
	echo "FAIL no keyhole.ko for $(uname -r) (${MOD:-none given}; make module KERNELDIR=...)"
	total_fail=$((total_fail + 1))
fi
run_suite "netns suite, TUN data plane" env KH_DATAPLANE=tun selftests/netns.sh "$BUILD"
# With keyhole.ko loaded: every node in kernel mode, then the device in kernel mode and the
# client on TUN, the two data planes talking through the relay.
if [ -n "$MOD" ] && [ -f "$MOD" ] && insmod "$MOD"; then
	run_suite "netns suite, kernel data plane" env KH_DATAPLANE=kernel selftests/netns.sh "$BUILD"
	run_suite "netns suite, device kernel, client TUN" \
		env KH_DATAPLANE=kernel KH_DATAPLANE_CLIENT=tun selftests/netns.sh "$BUILD"
	rmmod keyhole || { echo "FAIL rmmod keyhole after the suites"; total_fail=$((total_fail + 1)); }
fi

echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
