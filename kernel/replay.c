// SPDX-License-Identifier: GPL-2.0
/*
 * replay.c - the anti-replay window: a ring of 64-bit words, O(1) per counter. The same
 * algorithm and width as userspace/lib/replay.c (the module cannot link the userspace
 * library): change both together; selftest.c and selftests/unit/test_replay.c hold them to it.
 */
#include "keyhole.h"

void keyhole_replay_init(struct keyhole_replay *r)
{
	memset(r, 0, sizeof(*r));
}

/* Accept counter once (true), or refuse it as replayed, too old or past limit (false).
 * Call only for messages that authenticated, with the keypair's replay_lock held.
 */
bool keyhole_replay_check(struct keyhole_replay *r, u64 counter, u64 limit)
{
	u64 index, current_word, diff, i, bit;

	if (counter >= limit)
		return false;
	/* Shifted by one, so that top == 0 means "nothing seen yet". */
	counter++;
	if (counter + KH_REPLAY_WINDOW < r->top)
		return false;
	index = counter / 64;
	if (counter > r->top) {
		current_word = r->top / 64;
		diff = min_t(u64, index - current_word, KH_REPLAY_WORDS);
		for (i = 1; i <= diff; i++)
			r->bitmap[(current_word + i) % KH_REPLAY_WORDS] = 0;
		r->top = counter;
	}
	index %= KH_REPLAY_WORDS;
	bit = 1ULL << (counter % 64);
	if (r->bitmap[index] & bit)
		return false;
	r->bitmap[index] |= bit;
	return true;
}
