/* ratelimit.c - token bucket kept as saved-up time: no rounding loss, no timers. */
#include "ratelimit.h"

bool kh_ratelimit_allow(struct kh_ratelimit *rl, uint32_t rate, uint32_t burst, uint64_t now_ns)
{
	uint64_t cost, cap;

	if (rate == 0)
		return false;
	cost = 1000000000ULL / rate;
	cap = cost * burst;
	if (!rl->started) {
		rl->started = true;
		rl->budget_ns = cap;
	} else if (now_ns > rl->last_ns) {
		uint64_t elapsed = now_ns - rl->last_ns;

		rl->budget_ns = elapsed >= cap || rl->budget_ns + elapsed > cap ? cap
								   : rl->budget_ns + elapsed;
	}
	rl->last_ns = now_ns;
	if (rl->budget_ns < cost)
		return false;
	rl->budget_ns -= cost;
	return true;
}
