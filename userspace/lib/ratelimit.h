/* ratelimit.h - a token bucket, for ICMP errors per sender and handshakes under load (pure). */
#ifndef KEYHOLE_RATELIMIT_H
#define KEYHOLE_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

struct kh_ratelimit {
	uint64_t last_ns;
	uint64_t budget_ns; /* saved-up time; a token costs 1e9 / rate of it */
	bool started;
};

/* Take one token if there is one: at most `rate` per second on average, `burst` at once. */
bool kh_ratelimit_allow(struct kh_ratelimit *rl, uint32_t rate, uint32_t burst, uint64_t now_ns);

#endif
