#!/bin/bash
# dkms-check.sh - build keyhole.ko with DKMS, the way users install it, without touching the
# system's DKMS tree: `make install-dkms` into a staging root, then `dkms add` and `dkms build`
# with their trees under build/dkms/.
#
# Usage: scripts/dkms-check.sh [KERNEL_RELEASE]   (default: the newest Debian headers installed)
set -euo pipefail
cd "$(dirname "$0")/.."
KV=${1:-$(find /usr/src -maxdepth 1 -name 'linux-headers-*-amd64' -printf '%f\n' | sort -V |
	tail -n 1 | sed 's/^linux-headers-//')}
[ -n "$KV" ] || { echo "dkms-check: no kernel headers installed" >&2; exit 1; }
[ -d "/lib/modules/$KV/build" ] || { echo "dkms-check: no /lib/modules/$KV/build" >&2; exit 1; }
command -v dkms >/dev/null || { echo "dkms-check: dkms is missing (install-deps.sh --vm)" >&2; exit 1; }
D=$(pwd -P)/build/dkms
VERSION=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' dkms.conf)
rm -rf "$D"
mkdir -p "$D/src" "$D/tree"
make --no-print-directory install-dkms DESTDIR="$D/staging" >/dev/null
mv "$D/staging/usr/src/keyhole-$VERSION" "$D/src/"
trees=(--sourcetree "$D/src" --dkmstree "$D/tree")
dkms add -m keyhole -v "$VERSION" "${trees[@]}" >/dev/null
if ! dkms build -m keyhole -v "$VERSION" -k "$KV" "${trees[@]}" >"$D/build.log" 2>&1; then
	cat "$D/build.log"
	find "$D/tree" -name make.log -exec cat {} \;
	exit 1
fi
ko=$(find "$D/tree/keyhole/$VERSION/$KV" -name 'keyhole.ko*' | head -n 1)
[ -n "$ko" ] || { echo "dkms-check: dkms built no keyhole.ko" >&2; exit 1; }
echo "  DKMS   keyhole/$VERSION for $KV: ${ko#"$(pwd -P)"/}"
