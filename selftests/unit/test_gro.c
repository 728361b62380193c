/* test_gro.c - received TCP segments coalesced into one TUN write, and what must not be. */
#include <errno.h>
#include <string.h>

#include "../../userspace/lib/gro.h"
#include "../../userspace/lib/gso.h"
#include "suites.h"

#define MAX_SEG 4064
#define NSEG 6

static uint8_t super[KH_GSO_MAX_PACKET], joined[KH_GSO_MAX_PACKET];
static uint8_t segs[NSEG][MAX_SEG], orig[NSEG][MAX_SEG], again[MAX_SEG];
static size_t seg_len[NSEG];

static void put16(uint8_t *p, size_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* NSEG segments of one flow, as a sender's TSO would make them: split from one
 * super-segment of 5 full segments of mss and a shorter sixth, flags on the last. */
static int make_segments(int version, uint16_t mss, uint8_t flags)
{
	struct virtio_net_hdr v = { .gso_size = mss };
	size_t l4 = version == 4 ? 20 : 40, len = l4 + 20 + 5 * (size_t)mss + 100, i;
	struct kh_gso g;
	int n = 0, s;

	memset(super, 0, l4 + 20);
	if (version == 4) {
		super[0] = 0x45;
		put16(super + 2, len);
		put16(super + 4, 0x1234);
		super[8] = 64;
		super[9] = 6;
		memcpy(super + 12, (const uint8_t[]){ 100, 64, 0, 2, 100, 64, 0, 3 }, 8);
		v.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	} else {
		super[0] = 0x60;
		put16(super + 4, len - 40);
		super[6] = 6;
		super[7] = 64;
		super[8] = super[24] = 0xfd;
		super[23] = 2;
		super[39] = 3;
		v.gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
	}
	put16(super + l4, 5201);
	put16(super + l4 + 2, 40000);
	put16(super + l4 + 4, 0x7fff);
	super[l4 + 12] = 5 << 4;
	super[l4 + 13] = flags;
	put16(super + l4 + 14, 1000);
	for (i = l4 + 20; i < len; i++)
		super[i] = (uint8_t)(i * 13);
	if (kh_gso_prepare(&g, &v, super, len, MAX_SEG) != 1)
		return -1;
	while (n < NSEG && (s = kh_gso_next(&g, segs[n], MAX_SEG)) > 0) {
		memcpy(orig[n], segs[n], (size_t)s);
		seg_len[n++] = (size_t)s;
	}
	return n;
}

/* Coalesce segs[0..n), then check the result as the kernel would use it: split by
 * gso.c at vnet's size, it gives back each segment as it was, byte for byte. */
static unsigned coalesce_and_resplit(unsigned n, bool *same)
{
	struct virtio_net_hdr vnet;
	struct kh_gro gro;
	size_t len, i;
	unsigned count;
	struct kh_gso g;
	int s;

	*same = false;
	if (!kh_gro_start(&gro, segs[0], seg_len[0]))
		return 0;
	for (i = 1; i < n; i++)
		if (!kh_gro_append(&gro, segs[i], seg_len[i]))
			return 0;
	count = kh_gro_finish(&gro, &vnet);
	if (vnet.flags != VIRTIO_NET_HDR_F_NEEDS_CSUM)
		return count;
	memcpy(joined, gro.first, gro.hdr_len);
	len = gro.hdr_len;
	for (i = 0; i < count; i++) {
		memcpy(joined + len, gro.payload[i], gro.payload_len[i]);
		len += gro.payload_len[i];
	}
	if (len != gro.total || kh_gso_prepare(&g, &vnet, joined, len, MAX_SEG) != 1)
		return count;
	for (i = 0; i < count; i++) {
		s = kh_gso_next(&g, again, sizeof(again));
		if (s <= 0 || (size_t)s != seg_len[i] || memcmp(again, orig[i], seg_len[i]))
			return count;
	}
	*same = kh_gso_next(&g, again, sizeof(again)) == 0;
	return count;
}

static void test_coalesce_ipv4(void)
{
	bool same;

	CHECK_EQ(make_segments(4, 1380, 0x18), NSEG); /* ACK, PSH on the last */
	CHECK_EQ(coalesce_and_resplit(NSEG, &same), NSEG);
	CHECK(same);
	CHECK(segs[0][33] == 0x18); /* the run says PSH, as its last segment did */
}

static void test_coalesce_ipv6(void)
{
	bool same;

	CHECK_EQ(make_segments(6, 1360, 0x10), NSEG);
	CHECK_EQ(coalesce_and_resplit(NSEG, &same), NSEG);
	CHECK(same);
}

static void test_one_segment_untouched(void)
{
	struct virtio_net_hdr vnet;
	struct kh_gro gro;

	CHECK_EQ(make_segments(4, 1380, 0x10), NSEG);
	memcpy(again, segs[0], seg_len[0]);
	CHECK(kh_gro_start(&gro, segs[0], seg_len[0]));
	CHECK_EQ(kh_gro_finish(&gro, &vnet), 1);
	CHECK_EQ(vnet.gso_type, VIRTIO_NET_HDR_GSO_NONE);
	CHECK_EQ(vnet.flags, 0);
	CHECK_MEM(again, segs[0], seg_len[0]);
}

/* Start a run with segment 0, break segment 1 with breakit, and try to append it. */
static bool appends(int version, void (*breakit)(uint8_t *p, size_t *len))
{
	struct kh_gro gro;
	size_t len;

	if (make_segments(version, 1380, 0x10) != NSEG)
		return true;
	len = seg_len[1];
	breakit(segs[1], &len);
	return !kh_gro_start(&gro, segs[0], seg_len[0]) || kh_gro_append(&gro, segs[1], len);
}

static void sum_fix(uint8_t *p, int delta)
{
	/* Keep a checksum right after a change of delta in one 16-bit word it covers. */
	uint32_t c = (uint32_t)(p[0] << 8 | p[1]) + (uint32_t)(0xffff - delta);

	c = (c & 0xffff) + (c >> 16);
	c = (c & 0xffff) + (c >> 16);
	put16(p, c);
}

static void bad_seq(uint8_t *p, size_t *len) { p[27] ^= 1; (void)len; }
static void bad_csum(uint8_t *p, size_t *len) { p[200] ^= 0x40; (void)len; }
static void other_port(uint8_t *p, size_t *len) { p[21] += 1; sum_fix(p + 36, 1); (void)len; }
static void syn(uint8_t *p, size_t *len) { p[33] |= 0x02; sum_fix(p + 36, 2); (void)len; }
static void other_ttl(uint8_t *p, size_t *len) { p[8]--; sum_fix(p + 10, -0x100); (void)len; }
static void id_gap(uint8_t *p, size_t *len) { p[5] += 1; sum_fix(p + 10, 1); (void)len; }
static void ip_csum(uint8_t *p, size_t *len) { p[11] ^= 1; (void)len; }
static void longer(uint8_t *p, size_t *len) { (void)p; *len += 1; }
static void truncated(uint8_t *p, size_t *len) { (void)p; *len = 30; }

static void test_refused(void)
{
	CHECK(!appends(4, bad_seq));
	CHECK(!appends(4, bad_csum));
	CHECK(!appends(4, other_port));
	CHECK(!appends(4, syn));
	CHECK(!appends(4, other_ttl));
	CHECK(!appends(4, id_gap));
	CHECK(!appends(4, ip_csum));
	CHECK(!appends(4, longer));
	CHECK(!appends(4, truncated));
	CHECK(!appends(6, bad_csum));
}

static void test_run_ends(void)
{
	struct kh_gro gro;

	/* After the shorter segment nothing more joins, nor after one with PSH. */
	CHECK_EQ(make_segments(4, 1380, 0x10), NSEG);
	CHECK(kh_gro_start(&gro, segs[4], seg_len[4]));
	CHECK(kh_gro_append(&gro, segs[5], seg_len[5]));
	CHECK(gro.closed);
	CHECK_EQ(make_segments(4, 1380, 0x18), NSEG);
	segs[0][33] |= 0x08;
	sum_fix(segs[0] + 36, 0x08);
	CHECK(kh_gro_start(&gro, segs[0], seg_len[0]));
	CHECK(!kh_gro_append(&gro, segs[1], seg_len[1]));
	/* Nor a segment that leads nothing: a SYN or a bare ACK. */
	CHECK(!kh_gro_start(&gro, segs[0], 20 + 20));
}

TEST_SUITE(gro_tests) = {
	{ "six IPv4 segments become one write that splits back into them", test_coalesce_ipv4 },
	{ "six IPv6 segments become one write that splits back into them", test_coalesce_ipv6 },
	{ "a run of one segment is written as it came", test_one_segment_untouched },
	{ "segments that do not follow on are not appended", test_refused },
	{ "a shorter segment or PSH ends the run", test_run_ends },
	TEST_END,
};
