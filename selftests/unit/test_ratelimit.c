/* test_ratelimit.c - the token bucket: burst, steady refill without loss, rate 0. */
#include "../../userspace/lib/ratelimit.h"
#include "suites.h"

#define MS 1000000ULL
#define SEC 1000000000ULL

/* How many of n calls, spaced step_ns apart from start_ns, the bucket allows. */
static unsigned allowed(struct kh_ratelimit *rl, uint32_t rate, uint32_t burst,
			uint64_t start_ns, uint64_t step_ns, unsigned n)
{
	unsigned i, yes = 0;

	for (i = 0; i < n; i++)
		yes += kh_ratelimit_allow(rl, rate, burst, start_ns + i * step_ns);
	return yes;
}

static void test_burst_then_refill(void)
{
	struct kh_ratelimit rl = { 0 };
	uint64_t t = 5 * SEC;

	/* A new bucket starts full: the burst at once, then nothing. */
	CHECK_EQ(allowed(&rl, 10, 5, t, 0, 8), 5);
	/* A tenth of a second buys one token at 10/s; a little less buys none. */
	CHECK(!kh_ratelimit_allow(&rl, 10, 5, t + 100 * MS - 1));
	CHECK(kh_ratelimit_allow(&rl, 10, 5, t + 100 * MS));
	CHECK(!kh_ratelimit_allow(&rl, 10, 5, t + 100 * MS));
	/* A long silence refills to the burst, never beyond. */
	t += 60 * SEC;
	CHECK_EQ(allowed(&rl, 10, 5, t, 0, 20), 5);
	/* Half a second later: five tokens. */
	CHECK_EQ(allowed(&rl, 10, 5, t + 500 * MS, 0, 20), 5);
}

static void test_no_loss_with_frequent_calls(void)
{
	struct kh_ratelimit rl = { 0 };
	uint64_t t = SEC;

	CHECK_EQ(allowed(&rl, 10, 10, t, 0, 10), 10);
	/* A call every microsecond for one second: each adds a sliver of a token,
	 * and none of the slivers may be rounded away. */
	CHECK_EQ(allowed(&rl, 10, 10, t + 1000, 1000, 1000000), 10);
	/* Same at a rate whose token cost is not a whole number of microseconds
	 * (with room for two tokens: a full bucket rightly drops what overflows it). */
	rl = (struct kh_ratelimit){ 0 };
	CHECK_EQ(allowed(&rl, 3, 2, t, 0, 2), 2);
	CHECK_EQ(allowed(&rl, 3, 2, t + 1000, 1000, 3000000), 9);
}

static void test_rate_zero(void)
{
	struct kh_ratelimit rl = { 0 };

	CHECK_EQ(allowed(&rl, 0, 100, 0, 0, 10), 0);
	CHECK_EQ(allowed(&rl, 0, 100, SEC, 60 * SEC, 10), 0);
	/* A burst of 0 holds no token either. */
	rl = (struct kh_ratelimit){ 0 };
	CHECK_EQ(allowed(&rl, 10, 0, SEC, SEC, 10), 0);
}

static void test_independent_buckets(void)
{
	struct kh_ratelimit a = { 0 }, b = { 0 };

	CHECK_EQ(allowed(&a, 1, 2, SEC, 0, 5), 2);
	/* Draining one sender's bucket leaves another's alone. */
	CHECK_EQ(allowed(&b, 1, 2, SEC, 0, 5), 2);
	CHECK(kh_ratelimit_allow(&a, 1, 2, 2 * SEC));
	CHECK(!kh_ratelimit_allow(&a, 1, 2, 2 * SEC));
}

TEST_SUITE(ratelimit_tests) = {
	{ "burst at once, then one token per 1/rate", test_burst_then_refill },
	{ "very frequent calls lose no refill", test_no_loss_with_frequent_calls },
	{ "rate 0 or burst 0 never allows", test_rate_zero },
	{ "buckets are independent", test_independent_buckets },
	TEST_END,
};
