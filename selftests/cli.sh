#!/bin/bash
# cli.sh - the keyhole tool as a user meets it: keys, errors, exit codes. Usage: cli.sh BUILD_DIR
set -u
build=${1:-build/default}
keyhole="$build/keyhole"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0

ok() { echo "PASS cli: $1"; pass=$((pass + 1)); }
bad() { echo "FAIL cli: $1"; shift; for l in "$@"; do echo "    $l"; done; fail=$((fail + 1)); }

# check NAME EXPECTED_RC EXPECTED_STDERR_REGEX -- COMMAND...
expect_error() {
	local name=$1 regex=$2
	shift 2
	local err rc
	err=$("$@" 2>&1 >/dev/null)
	rc=$?
	if [ $rc -ne 0 ] && [ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] &&
		printf '%s' "$err" | grep -Eq "$regex"; then
		ok "$name"
	else
		bad "$name" "expected one error line matching /$regex/ and a non-zero exit" \
			"got exit $rc and: $err"
	fi
}

# genkey | tee | pubkey, as with wg.
(umask 022; "$keyhole" genkey | tee "$tmp/node.key" | "$keyhole" pubkey >"$tmp/node.pub")
if [ $? -eq 0 ] && grep -Eq '^[A-Za-z0-9+/]{43}=$' "$tmp/node.key" &&
	grep -Eq '^[A-Za-z0-9+/]{43}=$' "$tmp/node.pub" &&
	! cmp -s "$tmp/node.key" "$tmp/node.pub"; then
	ok "genkey | tee node.key | pubkey gives two 44-character keys"
else
	bad "genkey | tee | pubkey" "key: $(cat "$tmp/node.key")" "pub: $(cat "$tmp/node.pub")"
fi

# genkey's output file, created by the shell's redirection, is private.
(umask 022; "$keyhole" genkey >"$tmp/redir.key")
mode=$(stat -c %a "$tmp/redir.key")
[ "$mode" = 600 ] && ok "genkey > FILE creates it with mode 0600" || bad "genkey file mode" "mode $mode"

# Two keys differ; the same key gives the same public key.
k1=$("$keyhole" genkey); k2=$("$keyhole" genkey)
[ "$k1" != "$k2" ] && ok "two genkey runs give different keys" || bad "genkey repeats" "$k1"
p1=$(echo "$k1" | "$keyhole" pubkey); p1b=$(echo "$k1" | "$keyhole" pubkey)
[ "$p1" = "$p1b" ] && ok "pubkey is deterministic" || bad "pubkey differs" "$p1 $p1b"

# RFC 7748 section 6.1's private key gives its published public key.
p=$(echo "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=" | "$keyhole" pubkey)
[ "$p" = "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=" ] && ok "pubkey matches RFC 7748's example" ||
	bad "pubkey of RFC 7748 key" "got $p"

expect_error "pubkey refuses a short key" "44 characters" \
	sh -c "echo abc | $keyhole pubkey"
expect_error "pubkey refuses bad base64" "base64" \
	sh -c "echo 'dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25L*o=' | $keyhole pubkey"
expect_error "pubkey refuses trailing garbage" "invalid key" \
	sh -c "printf 'dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=\ngarbage\n' | $keyhole pubkey"
expect_error "pubkey refuses empty input" "invalid key" \
	sh -c "$keyhole pubkey </dev/null"
expect_error "genkey refuses arguments" "no arguments" "$keyhole" genkey extra
expect_error "unknown command is named" "unknown command 'frobnicate'" "$keyhole" frobnicate
if "$keyhole" help | grep -q genkey && "$keyhole" genkey help | grep -q Usage; then
	ok "help and COMMAND help print usage"
else
	bad "help output"
fi

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
