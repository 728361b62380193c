#!/bin/sh
# install-deps.sh - install every build and test dependency of keyhole (Debian 12, root).
# Idempotent: quiet and quick when everything is already there.
# Usage: install-deps.sh [--fuzz] [--vm] [--bench]
#   --fuzz adds clang and its libFuzzer runtime; --vm adds what `make vmcheck` needs to boot
#   Debian's kernel under qemu (scripts/vm.sh); --bench adds the peers `make bench` measures
#   keyhole against and the tools that measure (selftests/bench/bench.sh).
set -eu

# Build: compiler and libraries. Tests: the namespace suite's real programs
# (OpenSSH, nftables, conntrack, tcpdump, ping) and jq for --json output.
PACKAGES="build-essential pkg-config libsodium-dev libmnl-dev libsqlite3-dev sqlite3
libjson-c-dev iproute2 iputils-ping openssh-server openssh-client nftables conntrack
tcpdump jq procps"
# clang's libFuzzer and sanitizer runtimes are in libclang-rt-14-dev, which clang
# only recommends (and recommends are not installed below).
FUZZ_PACKAGES="clang libclang-rt-14-dev"
# The VM: qemu, a static busybox for the guest's initramfs, cpio to pack it, kmod's depmod
# and modprobe to index the kernel's modules, xz to unpack vmlinux for a direct (PVH) boot.
# keyhole.ko: the headers of the kernel linux-image-amd64 points at (the VM boots that one),
# make and gcc to build against them, sparse for `make module C=1`, dkms for the DKMS check.
VM_PACKAGES="qemu-system-x86 busybox-static cpio kmod xz-utils linux-headers-amd64 sparse dkms"
# The benchmark: the peers (userspace WireGuard and its wg tool, OpenVPN 2.6, n2n), iperf3
# for the traffic, openssl for OpenVPN's throwaway PKI, valgrind for `make bench-profile`
# (callgrind's instruction counts: perf has no counters in most VMs).
BENCH_PACKAGES="wireguard-go wireguard-tools openvpn n2n iperf3 openssl valgrind"

for opt in "$@"; do
	case $opt in
	--fuzz) PACKAGES="$PACKAGES $FUZZ_PACKAGES" ;;
	--vm) PACKAGES="$PACKAGES $VM_PACKAGES" ;;
	--bench) PACKAGES="$PACKAGES $BENCH_PACKAGES" ;;
	*)
		echo "usage: install-deps.sh [--fuzz] [--vm] [--bench]" >&2
		exit 2
		;;
	esac
done

missing=""
for pkg in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed"; then
		missing="$missing $pkg"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing packages:$missing (run as root to install them)" >&2
	exit 1
fi
echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
