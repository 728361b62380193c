#!/bin/bash
# cli.sh - the keyhole tool as a user meets it: keys, errors, exit codes. Usage: cli.sh BUILD_DIR
set -u
build=${1:-build/default}
keyhole="$build/keyhole"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# No daemon is reachable from here: control sockets are looked for in an empty
# directory, and a `link add` that got past its checks would start false, not keyholed.
mkdir "$tmp/run"
export KEYHOLE_RUN_DIR="$tmp/run" KEYHOLED=false
pass=0
fail=0

ok() { echo "PASS cli: $1"; pass=$((pass + 1)); }
bad() { echo "FAIL cli: $1"; shift; for l in "$@"; do echo "    $l"; done; fail=$((fail + 1)); }

# expect_error NAME STDERR_REGEX COMMAND...: a non-zero exit and one error line matching.
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

# expect_usage_error NAME STDERR_REGEX COMMAND...: a non-zero exit, a first line
# matching, then the command's usage.
expect_usage_error() {
	local name=$1 regex=$2
	shift 2
	local err rc
	err=$("$@" 2>&1 >/dev/null)
	rc=$?
	if [ $rc -ne 0 ] && printf '%s\n' "$err" | head -n 1 | grep -Eq "$regex" &&
		printf '%s\n' "$err" | tail -n +2 | grep -q '^Usage:'; then
		ok "$name"
	else
		bad "$name" "expected a line matching /$regex/, the usage and a non-zero exit" \
			"got exit $rc and: $err"
	fi
}

# Arguments `set` refuses before it looks for the interface.
expect_error "set: relay port out of range" "relay 'x:99999': port must be 1-65535" \
	"$keyhole" set kh0 relay x:99999
expect_error "set: relay IPv6 address without brackets" "brackets" \
	"$keyhole" set kh0 relay fd00::1:51820
expect_error "set: relay-key that is no key" "relay-key 'notakey': .*44 characters" \
	"$keyhole" set kh0 relay-key notakey
expect_error "set: keepalive out of range" "keepalive '99999': expected 0-3600" \
	"$keyhole" set kh0 keepalive 99999
expect_error "set: malformed auth-token" "auth-token 'bogus': expected an enrollment token" \
	"$keyhole" set kh0 auth-token bogus
expect_error "set: name that is no DNS label" "name 'Bad_Name': expected a DNS label" \
	"$keyhole" set kh0 name Bad_Name
expect_error "set: private-key file missing" "cannot open /nonexistent: No such file" \
	"$keyhole" set kh0 private-key /nonexistent
(umask 022; "$keyhole" genkey >"$tmp/loose.key")
chmod 644 "$tmp/loose.key"
expect_error "set: private-key file others can read" "loose.key.*chmod 600" \
	"$keyhole" set kh0 private-key "$tmp/loose.key"
expect_error "set: preshared-key file others can read" "loose.key.*chmod 600" \
	"$keyhole" set kh0 preshared-key "$tmp/loose.key"
expect_error "set: keyword without its value" "'relay' needs a value" "$keyhole" set kh0 relay
expect_usage_error "set: unknown keyword, then usage" "unknown keyword 'frob'" \
	"$keyhole" set kh0 frob 1

# setconf names the file and the line at fault.
printf '[Interface]\n# a comment\nName = camera-1\n\n[Relay]\nEndpoint = relay:0\n' >"$tmp/bad.conf"
chmod 600 "$tmp/bad.conf"
expect_error "setconf: bad line named as FILE:LINE" \
	"$tmp/bad.conf:6: Endpoint: port must be 1-65535" \
	"$keyhole" setconf kh0 "$tmp/bad.conf"
printf '[Interface]\nPrivateKey = %s\n' "$("$keyhole" genkey)" >"$tmp/open.conf"
chmod 644 "$tmp/open.conf"
expect_error "setconf: secrets in a file others can read" "open.conf holds secrets.*chmod 600" \
	"$keyhole" setconf kh0 "$tmp/open.conf"
expect_error "setconf: missing file" "cannot open $tmp/absent.conf" \
	"$keyhole" setconf kh0 "$tmp/absent.conf"

# Interface names and link values checked before any netlink.
expect_error "link set: mtu below 1280" "mtu '100': expected 1280-65535" \
	"$keyhole" link set dev kh0 mtu 100
expect_error "link add: 16-character name" "'abcdefghijklmnop' is not a valid interface name" \
	"$keyhole" link add dev abcdefghijklmnop
cp "$tmp/bad.conf" "$tmp/toolongname-for-iface.conf"
expect_error "up: file named beyond 15 characters" \
	"cannot name an interface after .*toolongname-for-iface.conf" \
	"$keyhole" up "$tmp/toolongname-for-iface.conf"

# No daemon for the interface: the message says so and how to make one.
expect_error "show: no such interface" \
	"nonexistent: no such keyhole interface.*link add dev nonexistent" \
	"$keyhole" show nonexistent
expect_error "peers: no such interface" "nonexistent: no such keyhole interface" \
	"$keyhole" peers nonexistent
expect_error "set: no such interface" "kh0: no such keyhole interface" \
	"$keyhole" set kh0 keepalive 25

# keyholed's data plane: kernel insists on keyhole.ko and says so when it is not loaded.
keyholed="$build/keyholed"
expect_error "keyholed: KEYHOLE_DATAPLANE takes auto, kernel or tun" \
	"keyholed: KEYHOLE_DATAPLANE='fast': expected auto, kernel or tun" \
	env KEYHOLE_DATAPLANE=fast "$keyholed" --foreground khcli0
expect_error "keyholed: --dataplane takes auto, kernel or tun" \
	"keyholed: [-][-]dataplane 'fast': expected auto, kernel or tun" \
	"$keyholed" --foreground --dataplane fast khcli0
if [ -d /sys/module/keyhole ]; then
	ok "keyholed --dataplane kernel without the module (skipped: keyhole.ko is loaded)"
else
	expect_error "keyholed --dataplane kernel without the module fails, naming it" \
		"^keyholed: khcli0: no kernel data plane: the keyhole kernel module is not loaded" \
		"$keyholed" --foreground --dataplane kernel khcli0
	[ -z "$(ls -A "$tmp/run")" ] && ok "keyholed --dataplane kernel leaves no control socket" ||
		bad "keyholed --dataplane kernel leaves no control socket" "found: $(ls "$tmp/run")"
fi
"$keyholed" --help | grep -q -- '--dataplane auto|kernel|tun' &&
	ok "keyholed --help documents --dataplane" || bad "keyholed --help documents --dataplane"

# Every command listed by `keyhole help` has its own help: usage on stdout, exit 0.
commands=$("$keyhole" help | sed -n 's/^  \([a-z]\{1,\}\) .*/\1/p' | grep -vx help)
for cmd in $commands; do
	out=$("$keyhole" "$cmd" help 2>&1)
	rc=$?
	if [ $rc -eq 0 ] && printf '%s\n' "$out" | head -n 1 | grep -q "^Usage: .*$cmd"; then
		ok "$cmd help prints its usage and exits 0"
	else
		bad "$cmd help" "expected exit 0 and 'Usage: ... $cmd'" "got exit $rc and: $out"
	fi
done
[ "$(printf '%s\n' $commands | wc -l)" -ge 10 ] && ok "keyhole help lists every command" ||
	bad "keyhole help lists every command" "found: $commands"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
