#!/bin/bash
# vm.sh - run keyhole.ko's tests and selftests/netns.sh inside Debian 12's own kernel, under qemu.
#
# Usage: scripts/vm.sh [BUILD_DIR]   (root, Debian 12; `make vmcheck` installs what it needs
# with scripts/install-deps.sh --vm, builds, then runs this on build/default)
#
# The kernel is the one linux-image-amd64 points at, fetched with apt-get download and
# unpacked with dpkg -x under build/vm/ (never installed on the host; kept there, so a second
# run downloads nothing). qemu boots its uncompressed vmlinux directly (PVH), which skips the
# firmware and the in-guest decompression that cost about 3 s under emulation, or the stock
# bzImage when vmlinux cannot be had. The initramfs is busybox and the 9p modules; its /init
# (selftests/qemu/init) mounts this machine's / read-only over 9p and runs the suite in a
# chroot of it, so the guest uses the very programs the host suite would.
#
# The verdict comes from the serial console (build/vm/console.log): the suite's own
# "N passed, N failed" line and its exit status, then a check of the guest's kernel log for
# WARNING:, BUG: and Oops. The last line is "N passed, N failed" counting both.
#
# Environment: KV= kernel ABI (default: what linux-image-amd64 depends on),
# VM_TIMEOUT= seconds for the whole VM, SUITE_TIMEOUT= seconds for the suite inside it,
# VM_MEM= guest memory, VM_CPUS= guest CPUs, VM_SUITE= the script the guest runs.
set -euo pipefail
shopt -s extglob
cd "$(dirname "$0")/.."
export LC_ALL=C DEBIAN_FRONTEND=noninteractive
PATH=$PATH:/usr/sbin:/sbin

BUILD=${1:-build/default}
REPO=$(pwd -P)
VM=$REPO/build/vm
# Bounds: inside, the suite gets SUITE_TIMEOUT (under emulation keyhole.ko's tests and the three
# runs of the netns suite take about 6 minutes on an idle machine, more on a busy one); qemu is killed after VM_TIMEOUT whatever the guest
# does, which leaves the guest 2 minutes to boot, print its kernel log and power off.
SUITE_TIMEOUT=${SUITE_TIMEOUT:-1200}
VM_TIMEOUT=${VM_TIMEOUT:-$((SUITE_TIMEOUT + 120))}
VM_MEM=${VM_MEM:-2G}
VM_CPUS=${VM_CPUS:-2}
# What the guest runs (a script of the repository, given BUILD and keyhole.ko's path):
# the tests, or selftests/bench/vm-bench.sh for `make vmbench`.
VM_SUITE=${VM_SUITE:-selftests/vm-suite.sh}

T_START=$EPOCHREALTIME
say() { echo "  VM     $*"; }
die() { echo "vm.sh: $*" >&2; exit 1; }
# secs FROM TO: seconds between two $EPOCHREALTIME stamps, one decimal.
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# qemu's -virtfs and the kernel command line carry the path unquoted.
case $REPO in *[[:space:],]*) die "the repository's path may hold no space or comma: $REPO" ;; esac
[ "$(id -u)" -eq 0 ] || die "needs root (apt-get download, and the suite inside the VM)"
[ -x "$BUILD/keyhole-relay" ] || die "no build in $BUILD (run make first)"
# The guest sees the repository at the same path; the build must be inside it.
build_abs=$(cd "$BUILD" && pwd -P)
case $build_abs in
"$REPO"/*) BUILD=${build_abs#"$REPO"/} ;;
*) die "$BUILD is not inside the repository $REPO" ;;
esac
for tool in qemu-system-x86_64 busybox cpio depmod modprobe xz; do
	command -v "$tool" >/dev/null ||
		die "$tool is missing (scripts/install-deps.sh --vm installs it)"
done
mkdir -p "$VM"

# --- the kernel: resolve the ABI, download once, unpack, index the modules ------------------
if [ -z "${KV:-}" ]; then
	# linux-image-amd64 is a metapackage: it depends on linux-image-6.1.0-NN-amd64.
	kabi() {
		apt-cache depends linux-image-amd64 2>/dev/null |
			awk '/Depends: linux-image-[0-9]/ { print $2; exit }'
	}
	KPKG=$(kabi)
	if [ -z "$KPKG" ]; then
		apt-get update -qq
		KPKG=$(kabi)
	fi
	[ -n "$KPKG" ] || die "apt-cache does not know linux-image-amd64"
	KV=${KPKG#linux-image-}
fi
KPKG=linux-image-$KV
KIMG=$VM/kimg-$KV
MODDIR=$KIMG/lib/modules/$KV

debs=("$VM/${KPKG}"_*.deb)
deb=${debs[0]}
if [ ! -f "$deb" ]; then
	# A new ABI replaces the old one: 70 MB of .deb and 400 MB unpacked each.
	rm -rf "$VM"/linux-image-*.deb "$VM"/kimg-* "$VM"/vmlinux-*
	say "apt-get download $KPKG"
	# In a folder of its own, so an interrupted download leaves no .deb to be trusted later.
	rm -rf "$VM/download"
	mkdir "$VM/download"
	fetch() {
		(cd "$VM/download" &&
			apt-get download -q -o APT::Sandbox::User=root "$KPKG" >download.log 2>&1)
	}
	# Stale package lists name a file the mirror no longer has: refresh them once.
	fetch || { apt-get update -qq && fetch; } ||
		{ cat "$VM/download/download.log"; die "apt-get download $KPKG failed"; }
	mv "$VM/download/${KPKG}"_*.deb "$VM/"
	rm -rf "$VM/download"
	debs=("$VM/${KPKG}"_*.deb)
	deb=${debs[0]}
fi
if [ ! -f "$KIMG/.unpacked" ]; then
	say "dpkg -x $(basename "$deb")"
	rm -rf "$KIMG"
	dpkg -x "$deb" "$KIMG" || { rm -f "$deb"; die "cannot unpack $deb (removed; run again)"; }
	# The package ships no modules.dep: modprobe in the guest needs one.
	depmod -b "$KIMG" "$KV"
	touch "$KIMG/.unpacked"
fi
VMLINUZ=$KIMG/boot/vmlinuz-$KV

# The bzImage carries vmlinux as an xz stream; the first stream that unpacks to an ELF is it.
VMLINUX=$VM/vmlinux-$KV
if [ ! -s "$VMLINUX" ]; then
	say "unpack vmlinux from vmlinuz"
	grep -aboP '\xfd7zXZ\x00' "$VMLINUZ" | cut -d: -f1 | while read -r off; do
		tail -c +$((off + 1)) "$VMLINUZ" | xz -dc 2>/dev/null >"$VMLINUX.tmp" || true
		if [ "$(head -c 4 "$VMLINUX.tmp" | od -An -c | tr -d ' ')" = '177ELF' ]; then
			mv "$VMLINUX.tmp" "$VMLINUX"
			break
		fi
	done || true
	rm -f "$VMLINUX.tmp"
	[ -s "$VMLINUX" ] || say "no vmlinux in $VMLINUZ; booting the bzImage"
fi

# --- the initramfs: busybox, the 9p modules, /init --------------------------------------------
# Rebuilt every run (well under a second), so a change to /init always shows.
R=$VM/initramfs
rm -rf "$R"
mkdir -p "$R"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,run,tmp,lib/modules/"$KV"}
cp /bin/busybox "$R/bin/busybox"
for applet in $(/bin/busybox --list-full); do
	[ -e "$R/$applet" ] || ln -s /bin/busybox "$R/$applet"
done
for m in virtio_pci 9pnet_virtio 9p; do
	modprobe -d "$KIMG" -S "$KV" --show-depends "$m" | awk '$1 == "insmod" { print $2 }'
done | sort -u | while read -r f; do
	mkdir -p "$R/lib/modules/$KV/$(dirname "${f#"$MODDIR"/}")"
	cp "$f" "$R/lib/modules/$KV/${f#"$MODDIR"/}"
done
cp "$MODDIR"/modules.{order,builtin,builtin.modinfo} "$R/lib/modules/$KV/"
depmod -b "$R" "$KV"
cp selftests/qemu/init "$R/init"
chmod 755 "$R/init"
# Uncompressed: the emulated CPU would take seconds to inflate it.
(cd "$R" && find . -print0 | cpio --null -o -H newc --quiet) >"$VM/initrd.cpio"

# --- keyhole.ko for this kernel ------------------------------------------------------------------
# Built against Debian's headers for the same ABI (linux-headers-amd64, from install-deps --vm).
KMOD=""
if [ -d "/usr/src/linux-headers-$KV" ]; then
	make --no-print-directory module KERNELDIR="/usr/src/linux-headers-$KV" ||
		die "keyhole.ko does not build against linux-headers-$KV"
	KMOD=build/module/linux-headers-$KV/keyhole.ko
else
	say "no /usr/src/linux-headers-$KV: the guest runs without keyhole.ko (its tests fail)"
fi

# --- boot ---------------------------------------------------------------------------------------
CONSOLE=$VM/console.log
# run_vm KERNEL: boot it and copy the serial console to the terminal and to $CONSOLE, with
# the host's time of the guest's markers. Returns qemu's status (124: timeout).
run_vm() {
	local kernel=$1 line rc
	local cmdline="console=ttyS0 panic=-1 oops=panic loglevel=4 khvm.repo=$REPO khvm.build=$BUILD"
	cmdline+=" khvm.modules=${MODDIR#"$REPO"/} khvm.timeout=$SUITE_TIMEOUT khvm.module=$KMOD"
	cmdline+=" khvm.suite=$VM_SUITE"
	# Debian's kernel has no KASAN: SLUB's red zones, poisoning and free checks on the caches
	# keyhole.ko allocates its keypairs and relay state from are the next best thing.
	cmdline+=" slub_debug=FZP,kmalloc-64,kmalloc-96,kmalloc-128,kmalloc-256,kmalloc-512"
	# -no-reboot with panic=-1 and oops=panic: any kernel panic or oops ends qemu at once.
	# shellcheck disable=SC2054 # the commas are qemu's
	local qemu=(qemu-system-x86_64 -accel tcg,thread=multi -cpu max -m "$VM_MEM" -smp "$VM_CPUS"
		-nographic -nodefaults -no-reboot -serial stdio -monitor none
		-kernel "$kernel" -initrd "$VM/initrd.cpio"
		-append "$cmdline"
		-virtfs "local,path=/,mount_tag=khroot,security_model=none,readonly=on,multidevs=remap"
		-virtfs "local,path=$REPO,mount_tag=khrepo,security_model=none,readonly=on,multidevs=remap")
	echo "${qemu[*]}" >"$VM/qemu-cmdline.txt"
	T_QEMU=$EPOCHREALTIME
	T_SUITE="" T_SUITE_END=""
	local quiet=""
	while IFS= read -r line; do
		# SeaBIOS clears the screen and ends its lines without a newline: drop its escapes.
		line=${line%$'\r'}
		line=${line//$'\e'c/}
		line=${line//$'\e['*([0-9;?])[a-zA-Z]/}
		case $line in
		*"keyhole-vm: suite start"*) T_SUITE=$EPOCHREALTIME ;;
		*"keyhole-vm: suite exit"*) T_SUITE_END=$EPOCHREALTIME ;;
		*"keyhole-vm: dmesg begin"*) quiet=1 ;;
		*"keyhole-vm: qemu exit"*) quiet=1 ;;
		esac
		printf '%s\n' "$line" >>"$CONSOLE"
		# The kernel log is for the check below and the log file, not the terminal.
		[ -n "$quiet" ] || printf '%s\n' "$line"
		case $line in *"keyhole-vm: dmesg end"*) quiet="" ;; esac
	done < <(timeout --kill-after=10 "$VM_TIMEOUT" "${qemu[@]}" </dev/null 2>&1
		echo "keyhole-vm: qemu exit $?")
	T_QEMU_END=$EPOCHREALTIME
	rc=$(sed -n 's/.*keyhole-vm: qemu exit //p' "$CONSOLE" | tail -n 1)
	return "${rc:-1}"
}

: >"$CONSOLE"
kernel=$VMLINUX
[ -s "$kernel" ] || kernel=$VMLINUZ
say "boot $KPKG ($(basename "$kernel")) under qemu TCG, $VM_CPUS CPUs, $VM_MEM; the suite inside"
rc=0
run_vm "$kernel" || rc=$?
if [ "$kernel" = "$VMLINUX" ] && [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && [ "$rc" -ne 137 ] &&
	! grep -q 'keyhole-vm: init' "$CONSOLE"; then
	# qemu refused vmlinux (no PVH entry point, say): the bzImage boots the same kernel.
	say "qemu did not boot vmlinux (exit $rc, log in build/vm/console-pvh.log); booting the bzImage"
	mv "$CONSOLE" "$VM/console-pvh.log"
	: >"$CONSOLE"
	rc=0
	run_vm "$VMLINUZ" || rc=$?
fi
T_END=$EPOCHREALTIME

# --- verdict -----------------------------------------------------------------------------------
pass=0
fail=0
# timeout(1) exits 124, or 137 when qemu needed the KILL.
if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
	echo "FAIL the VM ran out of its $VM_TIMEOUT s and was killed"
fi
summary=$(sed -n '/keyhole-vm: suite start/,/keyhole-vm: suite exit/p' "$CONSOLE" |
	grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -n 1 || true)
suite_rc=$(sed -n 's/.*keyhole-vm: suite exit \([0-9]*\).*/\1/p' "$CONSOLE" | tail -n 1)
if [ -n "$summary" ]; then
	pass=${summary%% passed*}
	fail=${summary#*, }
	fail=${fail%% failed}
	if [ "${suite_rc:-1}" -ne 0 ] && [ "$fail" -eq 0 ]; then
		echo "FAIL the suite exited with status ${suite_rc:-unknown} with no failed case"
		fail=1
	fi
else
	grep 'keyhole-vm: error' "$CONSOLE" || true
	echo "FAIL the suite ended without its summary line (suite exit ${suite_rc:-none}, qemu exit $rc)"
	fail=1
fi
# The kernel log: printed by /init after the suite, or whatever reached the console before a
# panic ended the VM.
oops=$(sed -n '/keyhole-vm: dmesg begin/,/keyhole-vm: dmesg end/p' "$CONSOLE" |
	grep -E 'WARNING:|BUG:|Oops' || true)
if ! grep -q 'keyhole-vm: dmesg end' "$CONSOLE"; then
	echo "FAIL the guest did not print its kernel log (it crashed or hung)"
	grep -E 'WARNING:|BUG:|Oops|Kernel panic' "$CONSOLE" | head -n 20 || true
	fail=$((fail + 1))
elif [ -n "$oops" ]; then
	echo "FAIL the guest's kernel log holds WARNING:, BUG: or Oops:"
	echo "$oops" | head -n 20
	fail=$((fail + 1))
else
	echo "PASS the guest's kernel log holds no WARNING:, BUG: or Oops"
	pass=$((pass + 1))
fi

boot=- suite=-
[ -n "$T_SUITE" ] && boot=$(secs "$T_QEMU" "$T_SUITE")
[ -n "$T_SUITE" ] && [ -n "$T_SUITE_END" ] && suite=$(secs "$T_SUITE" "$T_SUITE_END")
say "boot ${boot} s, suite ${suite} s, qemu $(secs "$T_QEMU" "$T_QEMU_END") s," \
	"total $(secs "$T_START" "$T_END") s (console: ${CONSOLE#"$REPO"/})"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
