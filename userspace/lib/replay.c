/* replay.c - sliding anti-replay window: O(1) per counter, words zeroed as the window moves. */
#include "replay.h"

#include <string.h>

void kh_replay_init(struct kh_replay *r)
{
	memset(r, 0, sizeof(*r));
}

bool kh_replay_check(struct kh_replay *r, uint64_t counter, uint64_t limit)
{
	uint64_t index, current, diff, i, bit;

	if (counter >= limit)
		return false;
	/* Shift by one so that top == 0 can mean "nothing seen yet". */
	counter++;
	if (counter + KH_REPLAY_WINDOW < r->top)
		return false;
	index = counter / 64;
	if (counter > r->top) {
		current = r->top / 64;
		diff = index - current;
		if (diff > KH_REPLAY_WORDS)
			diff = KH_REPLAY_WORDS;
		for (i = 1; i <= diff; i++)
			r->bitmap[(current + i) % KH_REPLAY_WORDS] = 0;
		r->top = counter;
	}
	index %= KH_REPLAY_WORDS;
	bit = 1ULL << (counter % 64);
	if (r->bitmap[index] & bit)
		return false;
	r->bitmap[index] |= bit;
	return true;
}
