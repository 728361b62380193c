/* test_replay.c - the anti-replay window at its edges. */
#include "../../userspace/lib/replay.h"
#include "suites.h"

#define LIMIT UINT64_MAX

static void test_in_order_and_duplicates(void)
{
	struct kh_replay r;
	uint64_t i;

	kh_replay_init(&r);
	for (i = 0; i < 10000; i++)
		CHECK(kh_replay_check(&r, i, LIMIT));
	for (i = 10000 - KH_REPLAY_WINDOW; i < 10000; i++)
		CHECK(!kh_replay_check(&r, i, LIMIT));
	CHECK(!kh_replay_check(&r, 0, LIMIT));
}

static void test_window_edges(void)
{
	struct kh_replay r;
	uint64_t top = 100000, i;

	kh_replay_init(&r);
	CHECK(kh_replay_check(&r, top, LIMIT));
	/* The oldest counter still inside the window is accepted once; one further is not. */
	CHECK(kh_replay_check(&r, top - KH_REPLAY_WINDOW + 1, LIMIT));
	CHECK(!kh_replay_check(&r, top - KH_REPLAY_WINDOW + 1, LIMIT));
	CHECK(!kh_replay_check(&r, top - KH_REPLAY_WINDOW - 1, LIMIT));
	CHECK(!kh_replay_check(&r, 0, LIMIT));
	/* Reordering inside the window: every counter exactly once, in any order. */
	for (i = top - 1; i > top - 2000; i -= 2)
		CHECK(kh_replay_check(&r, i, LIMIT));
	for (i = top - 2; i > top - 2000; i -= 2)
		CHECK(kh_replay_check(&r, i, LIMIT));
	for (i = top - 1999; i < top; i++)
		CHECK(!kh_replay_check(&r, i, LIMIT));
	CHECK(KH_REPLAY_WINDOW >= 2048);
}

static void test_big_jump_clears(void)
{
	struct kh_replay r;
	uint64_t i;

	kh_replay_init(&r);
	for (i = 0; i < 64; i++)
		CHECK(kh_replay_check(&r, i, LIMIT));
	/* A jump far ahead: old bits must not linger to refuse fresh counters. */
	CHECK(kh_replay_check(&r, 64 + KH_REPLAY_BITS * 3, LIMIT));
	for (i = 64 + KH_REPLAY_BITS * 3 - 100; i < 64 + KH_REPLAY_BITS * 3; i++)
		CHECK(kh_replay_check(&r, i, LIMIT));
	/* Jumps of exactly one bitmap word. */
	kh_replay_init(&r);
	for (i = 0; i < 5 * KH_REPLAY_BITS; i += 64)
		CHECK(kh_replay_check(&r, i, LIMIT));
	for (i = 5 * KH_REPLAY_BITS - 64 - 63; i < 5 * KH_REPLAY_BITS - 64; i++)
		CHECK(kh_replay_check(&r, i, LIMIT));
}

static void test_limit(void)
{
	struct kh_replay r;

	kh_replay_init(&r);
	CHECK(!kh_replay_check(&r, 1000, 1000));
	CHECK(kh_replay_check(&r, 999, 1000));
	CHECK(!kh_replay_check(&r, UINT64_MAX, UINT64_MAX));
	CHECK(kh_replay_check(&r, UINT64_MAX - 1, UINT64_MAX));
}

TEST_SUITE(replay_tests) = {
	{ "in order accepted once, duplicates refused", test_in_order_and_duplicates },
	{ "window edges and reordering", test_window_edges },
	{ "large jumps clear stale bits", test_big_jump_clears },
	{ "counters at and past the limit are refused", test_limit },
	TEST_END,
};
