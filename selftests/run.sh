#!/bin/bash
# run.sh - run every test suite of keyhole, plain and under ASan/UBSan, and print one closing
# line "N passed, N failed". Each suite prints PASS/FAIL lines and its own "N passed, N failed".
set -u
cd "$(dirname "$0")/.."

total_pass=0
total_fail=0
failed_suites=()

# run_suite NAME COMMAND...: run one suite, add its closing figures to the totals.
run_suite() {
	local name=$1 out rc line p f
	shift
	echo "== $name"
	out=$(mktemp)
	"$@" 2>&1 | tee "$out"
	rc=${PIPESTATUS[0]}
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$out" | tail -n 1)
	rm -f "$out"
	if [ -z "$line" ]; then
		echo "FAIL $name: the suite ended without its summary line (exit $rc)"
		total_fail=$((total_fail + 1))
		failed_suites+=("$name")
		return
	fi
	p=${line%% passed*}
	f=${line#*, }
	f=${f%% failed}
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "FAIL $name: exit status $rc with no failed case"
		total_fail=$((total_fail + 1))
	fi
	if [ "$rc" -ne 0 ] || [ "$f" -ne 0 ]; then
		failed_suites+=("$name")
	fi
}

# run_check NAME COMMAND...: a command that is one test by its exit status.
run_check() {
	local name=$1
	shift
	echo "== $name"
	if "$@"; then
		echo "PASS $name"
		total_pass=$((total_pass + 1))
	else
		echo "FAIL $name"
		total_fail=$((total_fail + 1))
		failed_suites+=("$name")
	fi
}

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

# Every suite runs on the plain build and again under ASan/UBSan. The netns suite is
# bounded as a whole; on a timeout its EXIT trap still removes what it made.
for variant in default san; do
	run_suite "unit ($variant)" "build/$variant/unit-tests"
	run_suite "cli ($variant)" selftests/cli.sh "build/$variant"
	run_suite "relay ($variant)" "build/$variant/relay-test" "build/$variant"
	run_suite "netns ($variant)" timeout --kill-after=20 600 selftests/netns.sh "build/$variant"
done
# keyhole.ko's static checks: sparse and the kernel's checkpatch.pl.
run_check "kernel: sparse and checkpatch --strict over keyhole.ko" \
	make --no-print-directory module-check
run_check "kernel: DKMS builds keyhole.ko" scripts/dkms-check.sh
# Inside Debian's own kernel under qemu: keyhole.ko's tests, then the netns suite on TUN, in
# kernel mode and mixed (after the host suites, never beside them: they share the two cores).
run_suite "vm: keyhole.ko and the netns suite in Debian's kernel" scripts/vm.sh build/default
# The relay load generator, briefly, so the benchmark cannot rot.
run_check "relay-load smoke" build/default/relay-load build/default/keyhole-relay --quick
# And the benchmark itself, shortly (plain routing, keyhole, wireguard-go): it fails if keyhole
# moves no traffic.
run_check "bench smoke" selftests/bench/bench.sh --smoke --build build/default

echo
[ ${#failed_suites[@]} -gt 0 ] && echo "failed suites: ${failed_suites[*]}"
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
