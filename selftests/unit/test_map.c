/* test_map.c - the relay's hash map: basic use, full and duplicate inserts, and a long random run against a plain array. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "../../userspace/relay/map.h"
#include "suites.h"

static void test_basic(void)
{
	struct kh_map m;
	uint32_t v = 0;
	bool ok;

	CHECK_EQ(kh_map_init(&m, 8), 0);
	ok = kh_map_insert(&m, 1, 100) == 0 && kh_map_insert(&m, 0, 200) == 0 &&
	     kh_map_insert(&m, UINT64_MAX, 300) == 0;
	ok = ok && kh_map_get(&m, 1, &v) && v == 100;
	ok = ok && kh_map_get(&m, 0, &v) && v == 200;
	ok = ok && kh_map_get(&m, UINT64_MAX, &v) && v == 300;
	ok = ok && !kh_map_get(&m, 2, &v) && m.count == 3;
	ok = ok && kh_map_remove(&m, 1) && !kh_map_get(&m, 1, &v) && !kh_map_remove(&m, 1);
	ok = ok && kh_map_get(&m, 0, &v) && v == 200 && m.count == 2;
	/* A removed key can come back with another value. */
	ok = ok && kh_map_insert(&m, 1, 101) == 0 && kh_map_get(&m, 1, &v) && v == 101;
	kh_map_free(&m);
	CHECK(ok);
	/* Freeing twice is harmless: the pointers are cleared. */
	kh_map_free(&m);
}

static void test_duplicate(void)
{
	struct kh_map m;
	uint32_t v = 0;
	int ret;

	CHECK_EQ(kh_map_init(&m, 4), 0);
	kh_map_insert(&m, 42, 1);
	ret = kh_map_insert(&m, 42, 2);
	kh_map_get(&m, 42, &v);
	kh_map_free(&m);
	CHECK_EQ(ret, -EEXIST);
	/* The first value stays. */
	CHECK_EQ(v, 1);
}

static void test_full(void)
{
	struct kh_map m;
	uint32_t i, v, max = 10, inserted = 0;
	int ret = 0;

	CHECK_EQ(kh_map_init(&m, max), 0);
	/* At least what was asked for fits; then the map says it is full. */
	for (i = 0; i < 10 * max && !(ret = kh_map_insert(&m, i * 0x9e3779b97f4a7c15ULL, i)); i++)
		inserted++;
	CHECK_EQ(ret, -ENOSPC);
	CHECK(inserted >= max);
	CHECK_EQ(inserted, m.limit);
	CHECK_EQ(m.count, m.limit);
	/* Everything in a full map is still found, and a removal makes room again. */
	for (i = 0; i < inserted; i++)
		if (!kh_map_get(&m, i * 0x9e3779b97f4a7c15ULL, &v) || v != i)
			break;
	ret = i == inserted && kh_map_remove(&m, 0) && kh_map_insert(&m, 12345, 7) == 0 &&
	      kh_map_insert(&m, 54321, 7) == -ENOSPC;
	kh_map_free(&m);
	CHECK(ret);
}

/* xorshift64*: a fixed sequence on every machine, so a failure can be replayed. */
static uint64_t next_random(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dULL;
}

struct reference {
	uint64_t key;
	uint32_t value;
	bool present;
};

/* One random operation on both the map and the reference; false on any disagreement. */
static bool random_op(struct kh_map *m, struct reference *ref, size_t nref, uint32_t *count,
		      uint64_t *seed, uint32_t op)
{
	struct reference *r = &ref[next_random(seed) % nref];
	uint64_t dice = next_random(seed) % 10;
	uint32_t v;
	int ret;

	if (dice < 5) {
		ret = kh_map_insert(m, r->key, op);
		if (*count >= m->limit && r->present)
			return ret == -ENOSPC || ret == -EEXIST;
		if (r->present)
			return ret == -EEXIST;
		if (*count >= m->limit)
			return ret == -ENOSPC;
		if (ret)
			return false;
		r->present = true;
		r->value = op;
		++*count;
		return true;
	}
	if (dice < 8) {
		if (kh_map_remove(m, r->key) != r->present)
			return false;
		if (r->present)
			--*count;
		r->present = false;
		return true;
	}
	return kh_map_get(m, r->key, &v) == r->present && (!r->present || v == r->value);
}

/* Every key of the reference, present or not, answers as the reference says. */
static bool matches(const struct kh_map *m, const struct reference *ref, size_t nref,
		    uint32_t count)
{
	uint32_t v;
	size_t i;

	if (m->count != count)
		return false;
	for (i = 0; i < nref; i++)
		if (kh_map_get(m, ref[i].key, &v) != ref[i].present ||
		    (ref[i].present && v != ref[i].value))
			return false;
	return true;
}

/* 100000 random inserts, removals and lookups; keys drawn from a pool a bit larger
 * than the map holds, so runs collide, wrap around the table, fill it and empty it. */
static bool random_run(uint32_t max_entries, size_t nref, uint64_t seed, uint32_t *failed_op)
{
	struct reference *ref = calloc(nref, sizeof(*ref));
	struct kh_map m;
	uint32_t op, count = 0;
	bool ok = ref && kh_map_init(&m, max_entries) == 0;
	size_t i;

	for (i = 0; ok && i < nref; i++) {
		ref[i].key = next_random(&seed);
		/* A few small keys too: they share their high bits. */
		if (i % 7 == 0)
			ref[i].key = i;
	}
	for (op = 0; ok && op < 100000; op++) {
		ok = random_op(&m, ref, nref, &count, &seed, op) &&
		     (op % 997 || matches(&m, ref, nref, count));
		*failed_op = op;
	}
	ok = ok && matches(&m, ref, nref, count);
	if (ref && m.keys)
		kh_map_free(&m);
	free(ref);
	return ok;
}

static void test_random_against_reference(void)
{
	uint32_t op = 0;

	/* A tiny table (16 slots) and a larger one. */
	if (!random_run(4, 12, 0x6b657968ULL, &op)) {
		printf("    tiny map: first disagreement at operation %u\n", op);
		CHECK(!"the map agrees with the reference");
	}
	if (!random_run(300, 900, 0x72656c6179ULL, &op)) {
		printf("    map of 300: first disagreement at operation %u\n", op);
		CHECK(!"the map agrees with the reference");
	}
}

TEST_SUITE(map_tests) = {
	{ "insert, get, remove", test_basic },
	{ "duplicate insert is -EEXIST and keeps the value", test_duplicate },
	{ "full map is -ENOSPC and everything stays findable", test_full },
	{ "100000 random operations agree with a plain array", test_random_against_reference },
	TEST_END,
};
