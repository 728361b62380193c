/* replay.h - sliding anti-replay window for transport counters (RFC 6479 style bitmap). */
#ifndef KEYHOLE_REPLAY_H
#define KEYHOLE_REPLAY_H

#include <stdbool.h>
#include <stdint.h>

/* 33 words of bitmap; one word is always being recycled, so the 2048 counters
 * behind the highest one seen are still accepted once each. Every session holds
 * up to three of these: their size is most of a session's memory. */
#define KH_REPLAY_BITS (33 * 64)
#define KH_REPLAY_WORDS (KH_REPLAY_BITS / 64)
#define KH_REPLAY_WINDOW (KH_REPLAY_BITS - 64)

struct kh_replay {
	uint64_t top;   /* highest counter seen, plus one; 0 means none yet */
	uint64_t bitmap[KH_REPLAY_WORDS];
};

void kh_replay_init(struct kh_replay *r);
/* Accept counter (true) and remember it, or refuse it as replayed or too old
 * (false). Call only after the message authenticated. limit: first refused counter. */
bool kh_replay_check(struct kh_replay *r, uint64_t counter, uint64_t limit);

#endif
