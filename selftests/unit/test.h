/* test.h - the unit test harness: CHECK macros, one suite per file, a closing summary. */
#ifndef KEYHOLE_TEST_H
#define KEYHOLE_TEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct test_case {
	const char *name;
	void (*run)(void);
};

/* Set by CHECK when a test case fails; the runner resets it per case. */
extern bool test_failed;

void test_report(const char *file, int line, const char *expr, const char *detail);

#define CHECK(cond)                                                   \
	do {                                                          \
		if (!(cond)) {                                        \
			test_report(__FILE__, __LINE__, #cond, NULL); \
			return;                                       \
		}                                                     \
	} while (0)

#define CHECK_EQ(a, b)                                                          \
	do {                                                                    \
		long long a_ = (long long)(a), b_ = (long long)(b);             \
		if (a_ != b_) {                                                 \
			char d_[64];                                            \
			snprintf(d_, sizeof(d_), "%lld != %lld", a_, b_);       \
			test_report(__FILE__, __LINE__, #a " == " #b, d_);      \
			return;                                                 \
		}                                                               \
	} while (0)

#define CHECK_MEM(a, b, n) CHECK(memcmp((a), (b), (n)) == 0)

#define TEST_SUITE(name) const struct test_case name[]
#define TEST_END { NULL, NULL }

/* Helpers shared by the suites. */
size_t test_unhex(uint8_t *out, size_t max, const char *hex);
/* Path of a file under selftests/ (the runner is started from the tree's root). */
const char *test_data_path(const char *rel);

#endif
