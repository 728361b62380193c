/* map.c - linear probing with backward-shift deletion: no tombstones, lookups stay short. */
#include "map.h"

#include <errno.h>
#include <stdlib.h>

static uint32_t slot_of(const struct kh_map *m, uint64_t key)
{
	key ^= key >> 33;
	key *= 0xff51afd7ed558ccdULL;
	key ^= key >> 33;
	return (uint32_t)key & m->mask;
}

int kh_map_init(struct kh_map *m, uint32_t max_entries)
{
	uint32_t cap = 16;

	while (cap < 2 * (uint64_t)max_entries && cap < (1u << 31))
		cap <<= 1;
	m->keys = calloc(cap, sizeof(*m->keys));
	m->values = calloc(cap, sizeof(*m->values));
	m->used = calloc(cap, sizeof(*m->used));
	if (!m->keys || !m->values || !m->used) {
		kh_map_free(m);
		return -ENOMEM;
	}
	m->mask = cap - 1;
	m->count = 0;
	m->limit = cap / 2;
	return 0;
}

void kh_map_free(struct kh_map *m)
{
	free(m->keys);
	free(m->values);
	free(m->used);
	m->keys = NULL;
	m->values = NULL;
	m->used = NULL;
}

int kh_map_insert(struct kh_map *m, uint64_t key, uint32_t value)
{
	uint32_t i = slot_of(m, key);

	if (m->count >= m->limit)
		return -ENOSPC;
	while (m->used[i]) {
		if (m->keys[i] == key)
			return -EEXIST;
		i = (i + 1) & m->mask;
	}
	m->used[i] = 1;
	m->keys[i] = key;
	m->values[i] = value;
	m->count++;
	return 0;
}

bool kh_map_get(const struct kh_map *m, uint64_t key, uint32_t *value)
{
	uint32_t i = slot_of(m, key);

	while (m->used[i]) {
		if (m->keys[i] == key) {
			*value = m->values[i];
			return true;
		}
		i = (i + 1) & m->mask;
	}
	return false;
}

bool kh_map_remove(struct kh_map *m, uint64_t key)
{
	uint32_t i = slot_of(m, key), j, home;

	while (m->used[i] && m->keys[i] != key)
		i = (i + 1) & m->mask;
	if (!m->used[i])
		return false;
	/* Shift later members of the probe run back so none is cut off from its home. */
	j = i;
	for (;;) {
		j = (j + 1) & m->mask;
		if (!m->used[j])
			break;
		home = slot_of(m, m->keys[j]);
		/* Move j to i unless its home lies cyclically in (i, j]. */
		if ((j > i && (home <= i || home > j)) || (j < i && (home <= i && home > j))) {
			m->keys[i] = m->keys[j];
			m->values[i] = m->values[j];
			i = j;
		}
	}
	m->used[i] = 0;
	m->count--;
	return true;
}
