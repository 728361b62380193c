#!/bin/sh
# install-deps.sh - install every build and test dependency of keyhole (Debian 12, root).
# Idempotent: quiet and quick when everything is already there.
set -eu

# clang builds the fuzzers; its libFuzzer and sanitizer runtimes are in libclang-rt-14-dev,
# which clang only recommends (and recommends are not installed below).
PACKAGES="build-essential pkg-config libsodium-dev libmnl-dev libsqlite3-dev sqlite3
libjson-c-dev iproute2 clang libclang-rt-14-dev"

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
