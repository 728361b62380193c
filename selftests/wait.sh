#!/bin/bash
# wait.sh - time helpers shared by the shell suites, the demo and the benchmark.

now_ms() { date +%s%3N; }

# wait_until TIMEOUT_MS CMD...: poll CMD every 100 ms; succeed as soon as it does.
wait_until() {
	local deadline=$(($(now_ms) + $1))
	shift
	while [ "$(now_ms)" -lt "$deadline" ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	"$@" >/dev/null 2>&1
}
