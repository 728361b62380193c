/* test_attr.c - the TLV attribute codec: what the writer lays down, what the reader refuses. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../../userspace/lib/attr.h"
#include "suites.h"

/* A header in the codec's layout, written here by hand rather than by the writer. */
static void raw_header(uint8_t *p, uint16_t len, uint16_t type)
{
	p[0] = (uint8_t)len;
	p[1] = (uint8_t)(len >> 8);
	p[2] = (uint8_t)type;
	p[3] = (uint8_t)(type >> 8);
}

/* An attribute of the given value length, for the typed getters. */
static struct kh_attr attr_of(const uint8_t *data, uint16_t len)
{
	struct kh_attr a = { .type = 1, .len = len, .data = data };

	return a;
}

static void test_round_trip(void)
{
	uint8_t buf[256], bin[5] = { 1, 2, 3, 4, 5 }, got_bin[5];
	struct kh_attr_writer w;
	struct kh_attr_iter it;
	struct kh_attr a;
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;
	uint64_t u64;
	char s[16];

	memset(buf, 0xee, sizeof(buf));
	kh_attr_writer_init(&w, buf, sizeof(buf));
	kh_attr_put_u8(&w, 1, 0xab);
	kh_attr_put_u16(&w, 2, 0xbeef);
	kh_attr_put_u32(&w, 3, 0xdeadbeef);
	kh_attr_put_u64(&w, 4, 0x0123456789abcdefULL);
	kh_attr_put_str(&w, 5, "relay");
	kh_attr_put(&w, 6, bin, sizeof(bin));
	kh_attr_put(&w, 7, NULL, 0);
	CHECK(!w.overflow);
	/* 8 (u8) + 8 (u16) + 8 (u32) + 12 (u64) + 12 ("relay\0") + 12 (5 bytes) + 4 (empty). */
	CHECK_EQ(w.len, 64);
	/* Little endian on the wire, header included, and padding is zero. */
	CHECK_EQ(buf[0], 5);
	CHECK_EQ(buf[1], 0);
	CHECK_EQ(buf[2], 1);
	CHECK_EQ(buf[3], 0);
	CHECK_EQ(buf[4], 0xab);
	CHECK(buf[5] == 0 && buf[6] == 0 && buf[7] == 0);
	CHECK(buf[12] == 0xef && buf[13] == 0xbe);
	CHECK(buf[20] == 0xef && buf[21] == 0xbe && buf[22] == 0xad && buf[23] == 0xde);
	CHECK(buf[28] == 0xef && buf[35] == 0x01);

	kh_attr_iter_init(&it, buf, w.len);
	CHECK(kh_attr_next(&it, &a) && a.type == 1 && a.len == 1);
	CHECK(kh_attr_get_u8(&a, &u8) == 0 && u8 == 0xab);
	CHECK(kh_attr_next(&it, &a) && a.type == 2 && a.len == 2);
	CHECK(kh_attr_get_u16(&a, &u16) == 0 && u16 == 0xbeef);
	CHECK(kh_attr_next(&it, &a) && a.type == 3 && a.len == 4);
	CHECK(kh_attr_get_u32(&a, &u32) == 0 && u32 == 0xdeadbeef);
	CHECK(kh_attr_next(&it, &a) && a.type == 4 && a.len == 8);
	CHECK(kh_attr_get_u64(&a, &u64) == 0 && u64 == 0x0123456789abcdefULL);
	CHECK(kh_attr_next(&it, &a) && a.type == 5 && a.len == 6);
	CHECK(kh_attr_get_str(&a, s, sizeof(s)) == 0 && !strcmp(s, "relay"));
	CHECK(kh_attr_next(&it, &a) && a.type == 6 && a.len == 5);
	CHECK(kh_attr_get_bin(&a, got_bin, sizeof(got_bin)) == 0);
	CHECK_MEM(got_bin, bin, sizeof(bin));
	CHECK(a.data[5] == 0 && a.data[6] == 0 && a.data[7] == 0);
	CHECK(kh_attr_next(&it, &a) && a.type == 7 && a.len == 0);
	CHECK(!kh_attr_next(&it, &a));
	CHECK(!it.malformed);
	/* Nothing was written past the end. */
	CHECK_EQ(buf[w.len], 0xee);
}

static void test_nesting(void)
{
	uint8_t buf[128];
	struct kh_attr_writer w;
	struct kh_attr_iter outer, inner;
	struct kh_attr a, b;
	size_t nest;
	uint32_t u32;

	kh_attr_writer_init(&w, buf, sizeof(buf));
	kh_attr_put_u8(&w, 1, 7);
	nest = kh_attr_nest_start(&w, 2);
	CHECK_EQ(nest, 8);
	kh_attr_put_u32(&w, 3, 42);
	kh_attr_put_str(&w, 4, "x");
	kh_attr_nest_end(&w, nest);
	kh_attr_put_u8(&w, 5, 9);
	CHECK(!w.overflow);
	/* The nest's header spans its members and carries the nested flag. */
	CHECK_EQ(buf[8] | buf[9] << 8, 4 + 8 + 8);
	CHECK_EQ(buf[10] | buf[11] << 8, 2 | KH_ATTR_F_NESTED);

	kh_attr_iter_init(&outer, buf, w.len);
	CHECK(kh_attr_next(&outer, &a) && a.type == 1);
	CHECK(kh_attr_next(&outer, &a));
	CHECK_EQ(a.type, 2); /* the flag is not part of the type */
	CHECK_EQ(a.len, 16);
	kh_attr_iter_init(&inner, a.data, a.len);
	CHECK(kh_attr_next(&inner, &b) && b.type == 3);
	CHECK(kh_attr_get_u32(&b, &u32) == 0 && u32 == 42);
	CHECK(kh_attr_next(&inner, &b) && b.type == 4);
	CHECK(!kh_attr_next(&inner, &b) && !inner.malformed);
	CHECK(kh_attr_next(&outer, &a) && a.type == 5);
	CHECK(!kh_attr_next(&outer, &a) && !outer.malformed);

	/* An empty nest is a bare header. */
	kh_attr_writer_init(&w, buf, sizeof(buf));
	kh_attr_nest_end(&w, kh_attr_nest_start(&w, 6));
	CHECK(!w.overflow);
	CHECK_EQ(w.len, 4);
	CHECK_EQ(buf[0], 4);
}

static void test_overflow(void)
{
	uint8_t buf[16];
	struct kh_attr_writer w;
	size_t nest;

	/* Exactly full is fine. */
	kh_attr_writer_init(&w, buf, 8);
	kh_attr_put_u32(&w, 1, 1);
	CHECK(!w.overflow);
	CHECK_EQ(w.len, 8);
	/* One byte more is not, and the length does not move. */
	kh_attr_put_u8(&w, 2, 1);
	CHECK(w.overflow);
	CHECK_EQ(w.len, 8);

	/* Padding counts: 5 bytes of value need 12, not 9. */
	kh_attr_writer_init(&w, buf, 11);
	kh_attr_put(&w, 1, "abcde", 5);
	CHECK(w.overflow);
	CHECK_EQ(w.len, 0);

	/* Once set the flag sticks, even for a put that would fit. */
	kh_attr_writer_init(&w, buf, sizeof(buf));
	kh_attr_put(&w, 1, buf, 13);
	CHECK(w.overflow);
	kh_attr_put_u8(&w, 2, 1);
	CHECK(w.overflow);
	CHECK_EQ(w.len, 0);

	/* A value too long for the 16-bit length field. */
	kh_attr_writer_init(&w, buf, SIZE_MAX);
	kh_attr_put(&w, 1, buf, UINT16_MAX - 3);
	CHECK(w.overflow);

	/* Nesting on a full writer: start says so, end is harmless. */
	kh_attr_writer_init(&w, buf, 2);
	nest = kh_attr_nest_start(&w, 1);
	CHECK_EQ(nest, SIZE_MAX);
	kh_attr_nest_end(&w, nest);
	CHECK(w.overflow);
	CHECK_EQ(w.len, 0);

	/* A nest whose members overflow leaves the writer marked. */
	kh_attr_writer_init(&w, buf, sizeof(buf));
	nest = kh_attr_nest_start(&w, 1);
	kh_attr_put_u64(&w, 2, 1);
	kh_attr_put_u64(&w, 3, 1);
	kh_attr_nest_end(&w, nest);
	CHECK(w.overflow);
}

/* Every value of the length field for an attribute alone in a buffer of size n. */
static void test_malformed_lengths(void)
{
	uint8_t *buf;
	struct kh_attr_iter it;
	struct kh_attr a;
	size_t n, len, i;

	for (n = 1; n <= 24; n++) {
		/* Exactly n bytes on the heap: a read past them is an ASan error. */
		buf = malloc(n);
		CHECK(buf);
		for (len = 0; len <= 32; len++) {
			memset(buf, 0x5a, n);
			if (n >= KH_ATTR_HDRLEN)
				raw_header(buf, (uint16_t)len, 9);
			else
				for (i = 0; i < n; i++)
					buf[i] = (uint8_t)(i ? 0 : len);
			kh_attr_iter_init(&it, buf, n);
			if (n < KH_ATTR_HDRLEN || len < KH_ATTR_HDRLEN || len > n) {
				if (kh_attr_next(&it, &a) || !it.malformed) {
					free(buf);
					CHECK(!"a malformed length was accepted");
				}
				continue;
			}
			if (!kh_attr_next(&it, &a) || a.len != len - KH_ATTR_HDRLEN ||
			    a.data != buf + KH_ATTR_HDRLEN) {
				free(buf);
				CHECK(!"a well-formed attribute was refused");
			}
			/* What follows the attribute (and its padding) is parsed in turn. */
			if (KH_ATTR_ALIGN(len) >= n) {
				if (kh_attr_next(&it, &a) || it.malformed) {
					free(buf);
					CHECK(!"the last attribute may omit its padding");
				}
			} else if (n - KH_ATTR_ALIGN(len) < KH_ATTR_HDRLEN) {
				if (kh_attr_next(&it, &a) || !it.malformed) {
					free(buf);
					CHECK(!"trailing bytes shorter than a header were accepted");
				}
			}
		}
		free(buf);
	}

	/* An empty buffer holds no attribute and is not malformed. */
	kh_attr_iter_init(&it, NULL, 0);
	CHECK(!kh_attr_next(&it, &a));
	CHECK(!it.malformed);
}

static void test_typed_getters(void)
{
	static const uint8_t data[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
	uint8_t u8 = 0, bin[16];
	uint16_t u16 = 0, len;
	uint32_t u32 = 0;
	uint64_t u64 = 0;
	struct kh_attr a;

	for (len = 0; len <= 16; len++) {
		a = attr_of(data, len);
		CHECK_EQ(kh_attr_get_u8(&a, &u8), len == 1 ? 0 : -EINVAL);
		CHECK_EQ(kh_attr_get_u16(&a, &u16), len == 2 ? 0 : -EINVAL);
		CHECK_EQ(kh_attr_get_u32(&a, &u32), len == 4 ? 0 : -EINVAL);
		CHECK_EQ(kh_attr_get_u64(&a, &u64), len == 8 ? 0 : -EINVAL);
		CHECK_EQ(kh_attr_get_bin(&a, bin, 16), len == 16 ? 0 : -EINVAL);
		CHECK_EQ(kh_attr_get_bin(&a, bin, 3), len == 3 ? 0 : -EINVAL);
	}
	CHECK_EQ(u8, 0x01);
	CHECK_EQ(u16, 0x0201);
	CHECK_EQ(u32, 0x04030201);
	CHECK(u64 == 0x0807060504030201ULL);
}

static void test_strings(void)
{
	char out[8];
	struct kh_attr a;

	memset(out, 'z', sizeof(out));
	a = attr_of((const uint8_t *)"abc", 4);
	CHECK_EQ(kh_attr_get_str(&a, out, sizeof(out)), 0);
	CHECK(!strcmp(out, "abc"));
	/* No terminating NUL. */
	a = attr_of((const uint8_t *)"abcd", 4);
	CHECK_EQ(kh_attr_get_str(&a, out, sizeof(out)), -EINVAL);
	/* A NUL inside. */
	a = attr_of((const uint8_t *)"ab\0d", 5);
	CHECK_EQ(kh_attr_get_str(&a, out, sizeof(out)), -EINVAL);
	a = attr_of((const uint8_t *)"\0bc", 4);
	CHECK_EQ(kh_attr_get_str(&a, out, sizeof(out)), -EINVAL);
	/* Empty: neither a bare NUL nor nothing at all. */
	a = attr_of((const uint8_t *)"", 1);
	CHECK_EQ(kh_attr_get_str(&a, out, sizeof(out)), -EINVAL);
	a = attr_of((const uint8_t *)"", 0);
	CHECK_EQ(kh_attr_get_str(&a, out, sizeof(out)), -EINVAL);
	/* max - 1 characters fit, max do not. */
	a = attr_of((const uint8_t *)"1234567", 8);
	CHECK_EQ(kh_attr_get_str(&a, out, sizeof(out)), 0);
	CHECK(!strcmp(out, "1234567"));
	a = attr_of((const uint8_t *)"12345678", 9);
	CHECK_EQ(kh_attr_get_str(&a, out, sizeof(out)), -EINVAL);
	/* A refused string leaves out as it was. */
	CHECK(!strcmp(out, "1234567"));
}

TEST_SUITE(attr_tests) = {
	{ "writer and iterator round trip, little endian, zero padding", test_round_trip },
	{ "nested attributes", test_nesting },
	{ "overflow is sticky and never writes past max", test_overflow },
	{ "every malformed length is refused", test_malformed_lengths },
	{ "typed getters take their exact length only", test_typed_getters },
	{ "strings need one NUL, at the end, and room", test_strings },
	TEST_END,
};
