/* main.c - run every unit test suite and print "N passed, N failed". */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "suites.h"
#include "test.h"

bool test_failed;

void test_report(const char *file, int line, const char *expr, const char *detail)
{
	test_failed = true;
	printf("    %s:%d: expected %s%s%s\n", file, line, expr, detail ? ": " : "",
	       detail ? detail : "");
}

size_t test_unhex(uint8_t *out, size_t max, const char *hex)
{
	size_t len = 0;

	if (sodium_hex2bin(out, max, hex, strlen(hex), NULL, &len, NULL))
		return (size_t)-1;
	return len;
}

const char *test_data_path(const char *rel)
{
	static char path[512];
	const char *root = getenv("KEYHOLE_SELFTESTS");

	snprintf(path, sizeof(path), "%s/%s", root ? root : "selftests", rel);
	return path;
}

int main(int argc, char *argv[])
{
	const char *only = argc > 1 ? argv[1] : NULL;
	unsigned passed = 0, failed = 0;
	size_t s, t;

	if (sodium_init() < 0) {
		fprintf(stderr, "unit-tests: cannot initialise libsodium\n");
		return 1;
	}
	for (s = 0; all_suites[s].name; s++) {
		if (only && strcmp(only, all_suites[s].name))
			continue;
		for (t = 0; all_suites[s].cases[t].name; t++) {
			test_failed = false;
			all_suites[s].cases[t].run();
			printf("%s %s: %s\n", test_failed ? "FAIL" : "PASS", all_suites[s].name,
			       all_suites[s].cases[t].name);
			if (test_failed)
				failed++;
			else
				passed++;
		}
	}
	printf("%u passed, %u failed\n", passed, failed);
	return failed ? 1 : 0;
}
