/* test_gso.c - TUN super-segments split into TCP segments, partial checksums completed, bad input refused. */
#include <errno.h>
#include <string.h>

#include "../../userspace/lib/gso.h"
#include "suites.h"

#define MAX_SEG 4064 /* the daemon's room for a payload in a seal buffer */
#define TCP_HDR 32   /* 20 bytes and a timestamp option, as Linux sends */

static uint8_t pkt[KH_GSO_MAX_PACKET + 1], seg[MAX_SEG], joined[KH_GSO_MAX_PACKET];

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)be16(p) << 16 | be16(p + 2);
}

/* The one's-complement sum, written apart from the library's: byte by byte in
 * network order, each at its weight, folded once at the end. */
static uint16_t ones_sum(uint64_t sum, const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		sum += i % 2 ? p[i] : (uint64_t)p[i] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* The pseudo-header's sum for a transport segment of l4_len bytes at p + l4. */
static uint16_t pseudo_sum(const uint8_t *p, size_t l4, size_t l4_len, uint8_t proto)
{
	uint64_t sum = proto + l4_len;

	(void)l4;
	if (p[0] >> 4 == 4)
		return ones_sum(sum + ones_sum(0, p + 12, 8), NULL, 0);
	return ones_sum(sum + ones_sum(0, p + 8, 32), NULL, 0);
}

/* A segment checks out when its sums, the checksum included, come to all ones. */
static bool transport_ok(const uint8_t *p, size_t len, size_t l4, uint8_t proto)
{
	return ones_sum(pseudo_sum(p, l4, len - l4, proto), p + l4, len - l4) == 0xffff;
}

static void put16(uint8_t *p, size_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* An IPv4 (ihl 5) or IPv6 packet carrying TCP with a 32-byte header and payload bytes. */
static size_t build_tcp(int version, size_t payload, uint32_t seq, uint8_t flags)
{
	size_t l4 = version == 4 ? 20 : 40, len = l4 + TCP_HDR + payload, i;

	memset(pkt, 0, l4 + TCP_HDR);
	if (version == 4) {
		pkt[0] = 0x45;
		put16(pkt + 2, len);
		put16(pkt + 4, 0xfffe); /* the ID wraps during the split */
		pkt[6] = 0x40;          /* DF */
		pkt[8] = 64;
		pkt[9] = 6;
		memcpy(pkt + 12, (const uint8_t[]){ 100, 64, 0, 2, 100, 64, 0, 3 }, 8);
	} else {
		pkt[0] = 0x60;
		put16(pkt + 4, len - 40);
		pkt[6] = 6;
		pkt[7] = 64;
		pkt[8] = 0xfd;
		pkt[23] = 2;
		pkt[24] = 0xfd;
		pkt[39] = 3;
	}
	put16(pkt + l4, 40000);
	put16(pkt + l4 + 2, 5201);
	pkt[l4 + 4] = (uint8_t)(seq >> 24);
	pkt[l4 + 5] = (uint8_t)(seq >> 16);
	pkt[l4 + 6] = (uint8_t)(seq >> 8);
	pkt[l4 + 7] = (uint8_t)seq;
	pkt[l4 + 12] = (TCP_HDR / 4) << 4;
	pkt[l4 + 13] = flags;
	put16(pkt + l4 + 14, 502);
	memcpy(pkt + l4 + 20, (const uint8_t[]){ 1, 1, 8, 10, 0, 0, 0, 42, 0, 0, 0, 7 }, 12);
	for (i = 0; i < payload; i++)
		pkt[l4 + TCP_HDR + i] = (uint8_t)(i * 7 + i / 251);
	return len;
}

static struct virtio_net_hdr super_hdr(int version, uint16_t mss)
{
	struct virtio_net_hdr v = {
		.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
		.gso_type = version == 4 ? VIRTIO_NET_HDR_GSO_TCPV4 : VIRTIO_NET_HDR_GSO_TCPV6,
		.hdr_len = (uint16_t)((version == 4 ? 20 : 40) + TCP_HDR),
		.gso_size = mss,
		.csum_start = version == 4 ? 20 : 40,
		.csum_offset = 16,
	};
	return v;
}

/* Split the packet in pkt and check every segment against it; returns how many came. */
static unsigned split_and_check(int version, size_t len, uint16_t mss, bool *ok)
{
	struct virtio_net_hdr v = super_hdr(version, mss);
	size_t l4 = version == 4 ? 20 : 40, hdr = l4 + TCP_HDR, payload = len - hdr, got = 0;
	uint8_t flags = pkt[l4 + 13];
	unsigned n = 0, expected;
	struct kh_gso g;
	int s;

	*ok = false;
	if (kh_gso_prepare(&g, &v, pkt, len, MAX_SEG) != 1)
		return 0;
	expected = kh_gso_count(&g);
	while ((s = kh_gso_next(&g, seg, sizeof(seg))) > 0) {
		size_t chunk = (size_t)s - hdr;
		bool first = n == 0, last = got + chunk == payload;
		uint8_t want = flags;

		if (chunk != (last ? payload - got : mss) || chunk == 0)
			return n;
		if (version == 4 && (be16(seg + 2) != s || be16(seg + 4) != (uint16_t)(0xfffe + n) ||
				     ones_sum(0, seg, 20) != 0xffff))
			return n;
		if (version == 6 && be16(seg + 4) != s - 40)
			return n;
		if (be32(seg + l4 + 4) != be32(pkt + l4 + 4) + (uint32_t)got)
			return n;
		if (!first)
			want &= (uint8_t)~0x80;
		if (!last)
			want &= (uint8_t)~0x09;
		if (seg[l4 + 13] != want || !transport_ok(seg, (size_t)s, l4, 6))
			return n;
		/* Everything else of the headers is the original's. */
		if (memcmp(seg + l4 + 8, pkt + l4 + 8, 5) || memcmp(seg + l4 + 14, pkt + l4 + 14, 2) ||
		    memcmp(seg + l4 + 18, pkt + l4 + 18, TCP_HDR - 18))
			return n;
		memcpy(joined + got, seg + hdr, chunk);
		got += chunk;
		n++;
	}
	*ok = s == 0 && n == expected && got == payload && !memcmp(joined, pkt + hdr, payload);
	return n;
}

static void test_split_ipv4(void)
{
	size_t len = build_tcp(4, 4000, 1000, 0x80 | 0x10 | 0x08 | 0x01); /* CWR ACK PSH FIN */
	bool ok;

	CHECK_EQ(split_and_check(4, len, 1368, &ok), 3);
	CHECK(ok);
}

static void test_split_ipv6_even(void)
{
	size_t len = build_tcp(6, 3 * 1348, 0xfffffa00u, 0x10 | 0x08); /* the sequence wraps */
	bool ok;

	CHECK_EQ(split_and_check(6, len, 1348, &ok), 3);
	CHECK(ok);
}

static void test_split_largest(void)
{
	size_t len = build_tcp(4, 65535 - 20 - TCP_HDR, 7, 0x10);
	bool ok;

	CHECK_EQ(split_and_check(4, len, 1368, &ok), 48);
	CHECK(ok);
	len = build_tcp(6, 65535 - TCP_HDR, 7, 0x10);
	CHECK_EQ(split_and_check(6, len, 1348, &ok), 49);
	CHECK(ok);
}

static void test_split_one_segment(void)
{
	size_t len = build_tcp(4, 1368, 1, 0x80 | 0x10 | 0x01);
	bool ok;

	CHECK_EQ(split_and_check(4, len, 1368, &ok), 1);
	CHECK(ok);
	len = build_tcp(6, 1, 1, 0x18);
	CHECK_EQ(split_and_check(6, len, 1348, &ok), 1);
	CHECK(ok);
}

/* What the kernel leaves in a CHECKSUM_PARTIAL packet's field: the pseudo-header's sum. */
static void partial(size_t l4, size_t len, uint8_t proto, size_t field)
{
	put16(pkt + l4 + field, pseudo_sum(pkt, l4, len - l4, proto));
}

static void test_partial_checksum(void)
{
	struct virtio_net_hdr v = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = 20,
				    .csum_offset = 16 };
	struct kh_gso g;
	size_t len;

	len = build_tcp(4, 1001, 5, 0x18); /* an odd length */
	partial(20, len, 6, 16);
	CHECK_EQ(kh_gso_prepare(&g, &v, pkt, len, MAX_SEG), 0);
	CHECK(transport_ok(pkt, len, 20, 6));

	/* UDP over IPv6: its checksum field is at 6. */
	len = build_tcp(6, 500, 5, 0);
	pkt[6] = 17;
	put16(pkt + 44, len - 40);
	partial(40, len, 17, 6);
	v.csum_start = 40;
	v.csum_offset = 6;
	CHECK_EQ(kh_gso_prepare(&g, &v, pkt, len, MAX_SEG), 0);
	CHECK(transport_ok(pkt, len, 40, 17));
}

static void test_plain_untouched(void)
{
	struct virtio_net_hdr v = { 0 };
	struct kh_gso g;
	size_t len = build_tcp(4, 100, 5, 0x18);

	memcpy(joined, pkt, len);
	CHECK_EQ(kh_gso_prepare(&g, &v, pkt, len, MAX_SEG), 0);
	CHECK_MEM(pkt, joined, len);
	/* Bigger than a seal buffer and not a super-segment: refused, not cut. */
	CHECK_EQ(kh_gso_prepare(&g, &v, pkt, len, len - 1), -EMSGSIZE);
}

/* A well-formed IPv4 super-segment in pkt, then one thing broken in it. */
static int refused(void (*breakit)(struct virtio_net_hdr *v, size_t *len))
{
	struct virtio_net_hdr v = super_hdr(4, 1368);
	size_t len = build_tcp(4, 3000, 1, 0x10);
	struct kh_gso g;

	breakit(&v, &len);
	return kh_gso_prepare(&g, &v, pkt, len, MAX_SEG);
}

static void no_mss(struct virtio_net_hdr *v, size_t *len) { v->gso_size = 0; (void)len; }
static void short_doff(struct virtio_net_hdr *v, size_t *len) { pkt[32] = 4 << 4; (void)v; (void)len; }
static void long_doff(struct virtio_net_hdr *v, size_t *len)
{
	*len = 20 + 40;
	put16(pkt + 2, *len);
	pkt[32] = 15 << 4;
	(void)v;
}
static void no_payload(struct virtio_net_hdr *v, size_t *len)
{
	*len = 20 + TCP_HDR;
	put16(pkt + 2, *len);
	(void)v;
}
static void wrong_type(struct virtio_net_hdr *v, size_t *len) { v->gso_type = VIRTIO_NET_HDR_GSO_TCPV6; (void)len; }
static void udp_gso(struct virtio_net_hdr *v, size_t *len) { v->gso_type = VIRTIO_NET_HDR_GSO_UDP; (void)len; }
static void udp_inside(struct virtio_net_hdr *v, size_t *len) { pkt[9] = 17; (void)v; (void)len; }
static void short_total(struct virtio_net_hdr *v, size_t *len) { put16(pkt + 2, *len - 1); (void)v; }
static void truncated(struct virtio_net_hdr *v, size_t *len) { *len = 19; (void)v; }
static void small_ihl(struct virtio_net_hdr *v, size_t *len) { pkt[0] = 0x44; (void)v; (void)len; }
static void fragment(struct virtio_net_hdr *v, size_t *len) { pkt[6] = 0x20; (void)v; (void)len; }
static void csum_elsewhere(struct virtio_net_hdr *v, size_t *len) { v->csum_start = 24; (void)len; }
static void huge(struct virtio_net_hdr *v, size_t *len) { *len = KH_GSO_MAX_PACKET + 1; (void)v; }
static void big_mss(struct virtio_net_hdr *v, size_t *len) { v->gso_size = MAX_SEG - 20 - TCP_HDR + 1; (void)len; }

static void test_malformed_refused(void)
{
	CHECK_EQ(refused(no_mss), -EINVAL);
	CHECK_EQ(refused(short_doff), -EINVAL);
	CHECK_EQ(refused(long_doff), -EINVAL);
	CHECK_EQ(refused(no_payload), -EINVAL);
	CHECK_EQ(refused(wrong_type), -EINVAL);
	CHECK_EQ(refused(udp_gso), -EINVAL);
	CHECK_EQ(refused(udp_inside), -EINVAL);
	CHECK_EQ(refused(short_total), -EINVAL);
	CHECK_EQ(refused(truncated), -EINVAL);
	CHECK_EQ(refused(small_ihl), -EINVAL);
	CHECK_EQ(refused(fragment), -EINVAL);
	CHECK_EQ(refused(csum_elsewhere), -EINVAL);
	CHECK_EQ(refused(huge), -EINVAL);
	CHECK_EQ(refused(big_mss), -EMSGSIZE);
}

static void test_partial_out_of_bounds(void)
{
	struct virtio_net_hdr v = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = 20 };
	size_t len = build_tcp(4, 10, 1, 0x10);
	struct kh_gso g;

	v.csum_offset = (uint16_t)(len - 20 - 1); /* the field's second byte past the end */
	CHECK_EQ(kh_gso_prepare(&g, &v, pkt, len, MAX_SEG), -EINVAL);
	v.csum_start = (uint16_t)len;
	v.csum_offset = 0;
	CHECK_EQ(kh_gso_prepare(&g, &v, pkt, len, MAX_SEG), -EINVAL);
	v.csum_start = 0xffff;
	v.csum_offset = 0xffff;
	CHECK_EQ(kh_gso_prepare(&g, &v, pkt, len, MAX_SEG), -EINVAL);
}

static void test_no_room(void)
{
	struct virtio_net_hdr v = super_hdr(6, 1348);
	size_t len = build_tcp(6, 2000, 1, 0x10);
	struct kh_gso g;

	CHECK_EQ(kh_gso_prepare(&g, &v, pkt, len, MAX_SEG), 1);
	CHECK_EQ(kh_gso_next(&g, seg, 40 + TCP_HDR + 1347), -ENOSPC);
	CHECK_EQ(kh_gso_next(&g, seg, sizeof(seg)), 40 + TCP_HDR + 1348);
	CHECK_EQ(kh_gso_next(&g, seg, sizeof(seg)), 40 + TCP_HDR + 652);
	CHECK_EQ(kh_gso_next(&g, seg, sizeof(seg)), 0);
}

TEST_SUITE(gso_tests) = {
	{ "an IPv4 super-segment becomes 3 segments, flags on first and last", test_split_ipv4 },
	{ "an IPv6 super-segment splits evenly, the sequence number wraps", test_split_ipv6_even },
	{ "the largest super-segments, IPv4 ID wrapping", test_split_largest },
	{ "a super-segment of one segment keeps every flag", test_split_one_segment },
	{ "partial checksums completed: TCP odd length, UDP over IPv6", test_partial_checksum },
	{ "a packet with no offload is left as it is", test_plain_untouched },
	{ "malformed super-segments refused", test_malformed_refused },
	{ "partial checksum fields out of bounds refused", test_partial_out_of_bounds },
	{ "a segment that does not fit is refused, then the split goes on", test_no_room },
	TEST_END,
};
