#!/bin/bash
# checkpatch.sh - the kernel's own style checker over keyhole.ko's sources (make module-check).
#
# Debian ships scripts/checkpatch.pl only inside the kernel source tarball (linux-source-6.1):
# the first run fetches that package with apt-get download (never installing it) and keeps
# checkpatch.pl and the two data files it reads under build/checkpatch/.
set -euo pipefail
cd "$(dirname "$0")/.."
export LC_ALL=C DEBIAN_FRONTEND=noninteractive
DIR=build/checkpatch
PKG=${CHECKPATCH_PKG:-linux-source-6.1}

if [ ! -x "$DIR/scripts/checkpatch.pl" ]; then
	rm -rf "$DIR" && mkdir -p "$DIR/download"
	(cd "$DIR/download" && apt-get download -q -o APT::Sandbox::User=root "$PKG" >/dev/null) ||
		{ apt-get update -qq && (cd "$DIR/download" &&
			apt-get download -q -o APT::Sandbox::User=root "$PKG" >/dev/null); }
	dpkg-deb --fsys-tarfile "$DIR"/download/*.deb | tar -x -C "$DIR/download" --wildcards \
		'./usr/src/linux-source-*.tar.xz'
	tar -xJf "$DIR"/download/usr/src/linux-source-*.tar.xz -C "$DIR" --strip-components=1 \
		--wildcards '*/scripts/checkpatch.pl' '*/scripts/spelling.txt' \
		'*/scripts/const_structs.checkpatch'
	rm -rf "$DIR/download"
fi
# --no-tree: no kernel tree around; the files are checked as files, not as a patch.
"$DIR/scripts/checkpatch.pl" --no-tree --strict --terse --show-types \
	--ignore SPDX_LICENSE_TAG,FILE_PATH_CHANGES -f kernel/*.c kernel/*.h
