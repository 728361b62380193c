/* map.h - open-addressing hash map from 64-bit keys to 32-bit values, sized up front. */
#ifndef KEYHOLE_RELAY_MAP_H
#define KEYHOLE_RELAY_MAP_H

#include <stdbool.h>
#include <stdint.h>

/* Keys are hashes already (SipHash of a public key or an address, or a random
 * session index), so the map mixes them only lightly. Capacity is fixed at
 * creation: inserting never allocates on the data path. */
struct kh_map {
	uint64_t *keys;
	uint32_t *values;
	uint8_t *used;
	uint32_t mask;  /* capacity - 1 */
	uint32_t count;
	uint32_t limit; /* count never exceeds this: load factor 1/2 */
};

int kh_map_init(struct kh_map *m, uint32_t max_entries);
void kh_map_free(struct kh_map *m);
/* -EEXIST if the key is present, -ENOSPC if full. */
int kh_map_insert(struct kh_map *m, uint64_t key, uint32_t value);
bool kh_map_get(const struct kh_map *m, uint64_t key, uint32_t *value);
bool kh_map_remove(struct kh_map *m, uint64_t key);

#endif
