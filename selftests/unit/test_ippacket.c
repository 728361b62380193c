/* test_ippacket.c - IP header parsing and the ICMP errors the relay sends, byte by byte. */
#include <errno.h>
#include <string.h>

#include "../../userspace/lib/ippacket.h"
#include "suites.h"

/* Documentation ranges (RFC 5737, RFC 3849) for hosts; the relay speaks from CGNAT / ULA space. */
static const uint8_t host4_a[4] = { 192, 0, 2, 1 }, host4_b[4] = { 198, 51, 100, 7 };
static const uint8_t host6_a[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
static const uint8_t host6_b[16] = { 0x20, 0x01, 0x0d, 0xb8, [14] = 0xab, [15] = 2 };
static const struct kh_ipaddr relay4 = { .family = 4, .bytes = { 100, 64, 0, 1 } };
static const struct kh_ipaddr relay6 = { .family = 6, .bytes = { 0xfd, 0x00, [15] = 1 } };

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* The one's-complement sum, written apart from the library's: byte by byte,
 * each at its weight, folded once at the end. */
static uint16_t ones_sum(uint64_t sum, const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		sum += i % 2 ? p[i] : (uint64_t)p[i] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

static void v4_checksum(uint8_t *pkt)
{
	uint16_t c;

	pkt[10] = pkt[11] = 0;
	c = (uint16_t)~ones_sum(0, pkt, 20);
	pkt[10] = (uint8_t)(c >> 8);
	pkt[11] = (uint8_t)c;
}

/* An IPv4 packet, IHL 5, with a payload that differs at every offset. */
static size_t make_v4(uint8_t *pkt, size_t total, uint8_t proto, const uint8_t *src,
		      const uint8_t *dst)
{
	size_t i;

	for (i = 20; i < total; i++)
		pkt[i] = (uint8_t)(i * 13 + 7);
	pkt[0] = 0x45;
	pkt[1] = 0;
	pkt[2] = (uint8_t)(total >> 8);
	pkt[3] = (uint8_t)total;
	pkt[4] = 0x12;
	pkt[5] = 0x34;
	pkt[6] = 0x40; /* DF, as most hosts send */
	pkt[7] = 0;
	pkt[8] = 63;
	pkt[9] = proto;
	memcpy(pkt + 12, src, 4);
	memcpy(pkt + 16, dst, 4);
	v4_checksum(pkt);
	return total;
}

static size_t make_v6(uint8_t *pkt, size_t total, uint8_t next, const uint8_t *src,
		      const uint8_t *dst)
{
	size_t i;

	for (i = 40; i < total; i++)
		pkt[i] = (uint8_t)(i * 13 + 7);
	pkt[0] = 0x60;
	pkt[1] = 0x0a; /* a traffic class and flow label the error must not copy */
	pkt[2] = 0xbc;
	pkt[3] = 0xde;
	pkt[4] = (uint8_t)((total - 40) >> 8);
	pkt[5] = (uint8_t)(total - 40);
	pkt[6] = next;
	pkt[7] = 63;
	memcpy(pkt + 8, src, 16);
	memcpy(pkt + 24, dst, 16);
	return total;
}

static void test_parse_ipv4(void)
{
	uint8_t pkt[100];
	struct kh_ip_info info;

	/* The buffer may be longer than the packet: total_len comes from the header. */
	make_v4(pkt, 84, 17, host4_a, host4_b);
	CHECK_EQ(kh_ip_parse(pkt, sizeof(pkt), &info), 0);
	CHECK_EQ(info.src.family, 4);
	CHECK_EQ(info.dst.family, 4);
	CHECK_MEM(info.src.bytes, host4_a, 4);
	CHECK_MEM(info.dst.bytes, host4_b, 4);
	CHECK_EQ(info.protocol, 17);
	CHECK_EQ(info.total_len, 84);
	/* Options: a 60-byte header and nothing after it is still a packet. */
	make_v4(pkt, 60, 6, host4_b, host4_a);
	pkt[0] = 0x4f;
	CHECK_EQ(kh_ip_parse(pkt, 60, &info), 0);
	CHECK_MEM(info.src.bytes, host4_b, 4);
	CHECK_EQ(info.protocol, 6);
	CHECK_EQ(info.total_len, 60);
}

static void test_parse_ipv6(void)
{
	uint8_t pkt[100];
	struct kh_ip_info info;

	make_v6(pkt, 72, 6, host6_a, host6_b);
	CHECK_EQ(kh_ip_parse(pkt, sizeof(pkt), &info), 0);
	CHECK_EQ(info.src.family, 6);
	CHECK_EQ(info.dst.family, 6);
	CHECK_MEM(info.src.bytes, host6_a, 16);
	CHECK_MEM(info.dst.bytes, host6_b, 16);
	CHECK_EQ(info.protocol, 6);
	CHECK_EQ(info.total_len, 72);
	/* The smallest packet: one byte of payload. */
	make_v6(pkt, 41, 59, host6_b, host6_a);
	CHECK_EQ(kh_ip_parse(pkt, 41, &info), 0);
	CHECK_EQ(info.protocol, 59);
	CHECK_EQ(info.total_len, 41);
}

static void test_parse_truncated(void)
{
	uint8_t pkt[100];
	struct kh_ip_info info;
	size_t len;

	CHECK_EQ(kh_ip_parse(NULL, 0, &info), -EINVAL);
	make_v4(pkt, 24, 17, host4_a, host4_b);
	pkt[0] = 0x46; /* one word of options */
	for (len = 0; len < 24; len++)
		CHECK_EQ(kh_ip_parse(pkt, len, &info), -EINVAL);
	CHECK_EQ(kh_ip_parse(pkt, 24, &info), 0);
	make_v6(pkt, 48, 17, host6_a, host6_b);
	for (len = 0; len < 48; len++)
		CHECK_EQ(kh_ip_parse(pkt, len, &info), -EINVAL);
	CHECK_EQ(kh_ip_parse(pkt, 48, &info), 0);
}

static void test_parse_bad_version(void)
{
	uint8_t pkt[100];
	struct kh_ip_info info;
	unsigned v;

	for (v = 0; v < 16; v++) {
		if (v == 4 || v == 6)
			continue;
		make_v4(pkt, sizeof(pkt), 17, host4_a, host4_b);
		pkt[0] = (uint8_t)(v << 4 | 5);
		CHECK_EQ(kh_ip_parse(pkt, sizeof(pkt), &info), -EINVAL);
	}
	/* An IPv4 header that claims to be IPv6 is too short for one. */
	make_v4(pkt, 20, 17, host4_a, host4_b);
	pkt[0] = 0x65;
	CHECK_EQ(kh_ip_parse(pkt, 20, &info), -EINVAL);
}

static void test_parse_bad_ihl(void)
{
	uint8_t pkt[100];
	struct kh_ip_info info;
	unsigned ihl;

	for (ihl = 0; ihl < 5; ihl++) {
		make_v4(pkt, sizeof(pkt), 17, host4_a, host4_b);
		pkt[0] = (uint8_t)(0x40 | ihl);
		CHECK_EQ(kh_ip_parse(pkt, sizeof(pkt), &info), -EINVAL);
	}
	/* A 60-byte header in a 40-byte packet, whether or not the buffer goes on. */
	make_v4(pkt, 40, 17, host4_a, host4_b);
	pkt[0] = 0x4f;
	CHECK_EQ(kh_ip_parse(pkt, 40, &info), -EINVAL);
	CHECK_EQ(kh_ip_parse(pkt, sizeof(pkt), &info), -EINVAL);
}

static void test_parse_bad_length(void)
{
	uint8_t pkt[100];
	struct kh_ip_info info;

	make_v4(pkt, 85, 17, host4_a, host4_b);
	CHECK_EQ(kh_ip_parse(pkt, 84, &info), -EINVAL);
	CHECK_EQ(kh_ip_parse(pkt, 85, &info), 0);
	/* A total length shorter than the header it sits in. */
	make_v4(pkt, 19, 17, host4_a, host4_b);
	CHECK_EQ(kh_ip_parse(pkt, sizeof(pkt), &info), -EINVAL);
	make_v4(pkt, 0, 17, host4_a, host4_b);
	CHECK_EQ(kh_ip_parse(pkt, sizeof(pkt), &info), -EINVAL);

	make_v6(pkt, 61, 17, host6_a, host6_b);
	CHECK_EQ(kh_ip_parse(pkt, 60, &info), -EINVAL);
	CHECK_EQ(kh_ip_parse(pkt, 61, &info), 0);
	/* Payload length 0 would be a jumbogram: not supported, so not a packet. */
	make_v6(pkt, 40, 17, host6_a, host6_b);
	CHECK_EQ(kh_ip_parse(pkt, sizeof(pkt), &info), -EINVAL);
	/* 0xffff of payload can never fit this buffer. */
	make_v6(pkt, 100, 17, host6_a, host6_b);
	pkt[4] = pkt[5] = 0xff;
	CHECK_EQ(kh_ip_parse(pkt, sizeof(pkt), &info), -EINVAL);
}

/* Check an IPv4 error about orig (orig_len bytes of packet) field by field. */
static void check_icmp4(const uint8_t *err, int n, const uint8_t *orig, size_t orig_len,
			uint8_t code)
{
	size_t quote = orig_len < 576 - 28 ? orig_len : 576 - 28;
	uint8_t copy[576];
	struct kh_ip_info info;

	CHECK_EQ(n, 28 + quote);
	CHECK(n <= 576);
	CHECK_EQ(err[0], 0x45);
	CHECK_EQ(err[1], 0xc0);
	CHECK_EQ(be16(err + 2), n);
	CHECK_EQ(be16(err + 4), 0);
	CHECK_EQ(be16(err + 6), 0); /* neither DF nor a fragment offset */
	CHECK_EQ(err[8], 64);
	CHECK_EQ(err[9], 1);
	CHECK_MEM(err + 12, relay4.bytes, 4);
	CHECK_MEM(err + 16, orig + 12, 4);
	memcpy(copy, err, (size_t)n);
	copy[10] = copy[11] = 0;
	CHECK_EQ(be16(err + 10), (uint16_t)~ones_sum(0, copy, 20));

	CHECK_EQ(err[20], 3);
	CHECK_EQ(err[21], code);
	CHECK_EQ(be16(err + 24) | be16(err + 26), 0);
	copy[22] = copy[23] = 0;
	CHECK_EQ(be16(err + 22), (uint16_t)~ones_sum(0, copy + 20, (size_t)n - 20));
	CHECK_MEM(err + 28, orig, quote);

	CHECK_EQ(kh_ip_parse(err, (size_t)n, &info), 0);
	CHECK_EQ(info.total_len, n);
	CHECK_EQ(info.protocol, 1);
}

static void check_icmp6(const uint8_t *err, int n, const uint8_t *orig, size_t orig_len,
			uint8_t code)
{
	size_t quote = orig_len < 1280 - 48 ? orig_len : 1280 - 48;
	/* The RFC 8200 8.1 pseudo-header, then the ICMPv6 message with its checksum zeroed. */
	uint8_t pseudo[40 + 1280];
	struct kh_ip_info info;
	size_t icmp_len = (size_t)n - 40;

	CHECK_EQ(n, 48 + quote);
	CHECK(n <= 1280);
	CHECK_EQ(err[0], 0x60);
	CHECK_EQ(err[1] | err[2] | err[3], 0);
	CHECK_EQ(be16(err + 4), icmp_len);
	CHECK_EQ(err[6], 58);
	CHECK_EQ(err[7], 64);
	CHECK_MEM(err + 8, relay6.bytes, 16);
	CHECK_MEM(err + 24, orig + 8, 16);

	CHECK_EQ(err[40], 1);
	CHECK_EQ(err[41], code);
	CHECK_EQ(be16(err + 44) | be16(err + 46), 0);
	memcpy(pseudo, relay6.bytes, 16);
	memcpy(pseudo + 16, orig + 8, 16);
	pseudo[32] = (uint8_t)(icmp_len >> 24);
	pseudo[33] = (uint8_t)(icmp_len >> 16);
	pseudo[34] = (uint8_t)(icmp_len >> 8);
	pseudo[35] = (uint8_t)icmp_len;
	pseudo[36] = pseudo[37] = pseudo[38] = 0;
	pseudo[39] = 58;
	memcpy(pseudo + 40, err + 40, icmp_len);
	pseudo[42] = pseudo[43] = 0;
	CHECK_EQ(be16(err + 42), (uint16_t)~ones_sum(0, pseudo, 40 + icmp_len));
	CHECK_MEM(err + 48, orig, quote);

	CHECK_EQ(kh_ip_parse(err, (size_t)n, &info), 0);
	CHECK_EQ(info.total_len, n);
	CHECK_EQ(info.protocol, 58);
}

static void icmp4_case(enum kh_unreach_reason reason, uint8_t code)
{
	uint8_t pkt[100], err[KH_ICMP_ERROR_MAX];
	int n;

	make_v4(pkt, sizeof(pkt), 17, host4_a, host4_b);
	n = kh_icmp_unreachable(&relay4, pkt, sizeof(pkt), reason, err, sizeof(err));
	check_icmp4(err, n, pkt, sizeof(pkt), code);
}

static void icmp6_case(enum kh_unreach_reason reason, uint8_t code)
{
	uint8_t pkt[101], err[KH_ICMP_ERROR_MAX]; /* odd: the checksum's last byte stands alone */
	int n;

	make_v6(pkt, sizeof(pkt), 17, host6_a, host6_b);
	n = kh_icmp_unreachable(&relay6, pkt, sizeof(pkt), reason, err, sizeof(err));
	check_icmp6(err, n, pkt, sizeof(pkt), code);
}

static void test_icmp4_host(void)
{
	icmp4_case(KH_UNREACH_HOST, 1);
}

static void test_icmp4_prohibited(void)
{
	icmp4_case(KH_UNREACH_PROHIBITED, 13);
}

static void test_icmp6_address(void)
{
	icmp6_case(KH_UNREACH_HOST, 3);
}

static void test_icmp6_prohibited(void)
{
	icmp6_case(KH_UNREACH_PROHIBITED, 1);
}

static void test_icmp_truncates(void)
{
	uint8_t pkt[1500], err[KH_ICMP_ERROR_MAX];
	int n;

	make_v4(pkt, sizeof(pkt), 6, host4_a, host4_b);
	n = kh_icmp_unreachable(&relay4, pkt, sizeof(pkt), KH_UNREACH_HOST, err, sizeof(err));
	CHECK_EQ(n, 576);
	check_icmp4(err, n, pkt, sizeof(pkt), 1);
	if (test_failed)
		return;
	make_v6(pkt, sizeof(pkt), 6, host6_a, host6_b);
	n = kh_icmp_unreachable(&relay6, pkt, sizeof(pkt), KH_UNREACH_HOST, err, sizeof(err));
	CHECK_EQ(n, 1280);
	check_icmp6(err, n, pkt, sizeof(pkt), 3);
}

static void test_icmp_quotes_packet(void)
{
	uint8_t pkt[300], err[KH_ICMP_ERROR_MAX];
	int n;

	memset(pkt, 0xee, sizeof(pkt));
	make_v4(pkt, 100, 17, host4_a, host4_b);
	n = kh_icmp_unreachable(&relay4, pkt, sizeof(pkt), KH_UNREACH_HOST, err, sizeof(err));
	check_icmp4(err, n, pkt, 100, 1);
	if (test_failed)
		return;
	memset(pkt, 0xee, sizeof(pkt));
	make_v6(pkt, 100, 17, host6_a, host6_b);
	n = kh_icmp_unreachable(&relay6, pkt, sizeof(pkt), KH_UNREACH_HOST, err, sizeof(err));
	check_icmp6(err, n, pkt, 100, 3);
}

static int answer4(const uint8_t *pkt, size_t len)
{
	uint8_t err[KH_ICMP_ERROR_MAX];

	return kh_icmp_unreachable(&relay4, pkt, len, KH_UNREACH_HOST, err, sizeof(err));
}

static int answer6(const uint8_t *pkt, size_t len)
{
	uint8_t err[KH_ICMP_ERROR_MAX];

	return kh_icmp_unreachable(&relay6, pkt, len, KH_UNREACH_PROHIBITED, err, sizeof(err));
}

static void test_icmp4_refusals(void)
{
	static const uint8_t errors[] = { 3, 4, 5, 11, 12 }, queries[] = { 0, 8, 13, 14 };
	static const uint8_t mcast_lo[4] = { 224, 0, 0, 1 }, mcast_hi[4] = { 239, 255, 255, 255 };
	static const uint8_t bcast[4] = { 255, 255, 255, 255 }, zero[4] = { 0, 0, 0, 0 };
	static const uint8_t lo[4] = { 127, 0, 0, 1 }, lo_hi[4] = { 127, 255, 255, 254 };
	uint8_t pkt[100], err[KH_ICMP_ERROR_MAX];
	size_t i;
	int n;

	/* The control: this packet is answered, so each refusal below is the change's doing. */
	make_v4(pkt, sizeof(pkt), 17, host4_a, host4_b);
	CHECK_EQ(answer4(pkt, sizeof(pkt)), 128);

	/* Malformed. */
	CHECK_EQ(answer4(pkt, 19), -EINVAL);
	pkt[0] = 0x55;
	CHECK_EQ(answer4(pkt, sizeof(pkt)), -EINVAL);
	/* The router's address family must be the packet's. */
	make_v4(pkt, sizeof(pkt), 17, host4_a, host4_b);
	CHECK_EQ(kh_icmp_unreachable(&relay6, pkt, sizeof(pkt), KH_UNREACH_HOST, err, sizeof(err)),
		 -EINVAL);

	/* ICMP errors are never answered; ICMP queries are. */
	for (i = 0; i < sizeof(errors); i++) {
		make_v4(pkt, sizeof(pkt), 1, host4_a, host4_b);
		pkt[20] = errors[i];
		CHECK_EQ(answer4(pkt, sizeof(pkt)), -EINVAL);
	}
	for (i = 0; i < sizeof(queries); i++) {
		make_v4(pkt, sizeof(pkt), 1, host4_a, host4_b);
		pkt[20] = queries[i];
		CHECK_EQ(answer4(pkt, sizeof(pkt)), 128);
	}
	/* Our own error, looped back to us, is itself an ICMP error. */
	make_v4(pkt, sizeof(pkt), 17, host4_a, host4_b);
	n = kh_icmp_unreachable(&relay4, pkt, sizeof(pkt), KH_UNREACH_HOST, err, sizeof(err));
	CHECK_EQ(n, 128);
	CHECK_EQ(answer4(err, (size_t)n), -EINVAL);

	/* Fragments: only the first (offset 0) is answered, with or without MF. */
	make_v4(pkt, sizeof(pkt), 17, host4_a, host4_b);
	pkt[6] = 0x20;
	pkt[7] = 0x00;
	v4_checksum(pkt);
	CHECK_EQ(answer4(pkt, sizeof(pkt)), 128);
	pkt[7] = 0x01;
	v4_checksum(pkt);
	CHECK_EQ(answer4(pkt, sizeof(pkt)), -EINVAL);
	pkt[6] = 0x10; /* the offset's top bit alone */
	pkt[7] = 0x00;
	v4_checksum(pkt);
	CHECK_EQ(answer4(pkt, sizeof(pkt)), -EINVAL);
	pkt[6] = 0x1f; /* last fragment, largest offset */
	pkt[7] = 0xff;
	v4_checksum(pkt);
	CHECK_EQ(answer4(pkt, sizeof(pkt)), -EINVAL);
	/* A non-initial fragment whose bytes look like ICMP echo still is one. */
	make_v4(pkt, sizeof(pkt), 1, host4_a, host4_b);
	pkt[20] = 8;
	pkt[7] = 0x10;
	v4_checksum(pkt);
	CHECK_EQ(answer4(pkt, sizeof(pkt)), -EINVAL);

	/* Sources and destinations that are not one host. */
	make_v4(pkt, sizeof(pkt), 17, mcast_lo, host4_b);
	CHECK_EQ(answer4(pkt, sizeof(pkt)), -EINVAL);
	make_v4(pkt, sizeof(pkt), 17, mcast_hi, host4_b);
	CHECK_EQ(answer4(pkt, sizeof(pkt)), -EINVAL);
	make_v4(pkt, sizeof(pkt), 17, host4_a, mcast_lo);
	CHECK_EQ(answer4(pkt, sizeof(pkt)), -EINVAL);
	make_v4(pkt, sizeof(pkt), 17, host4_a, mcast_hi);
	CHECK_EQ(answer4(pkt, sizeof(pkt)), -EINVAL);
	make_v4(pkt, sizeof(pkt), 17, host4_a, bcast);
	CHECK_EQ(answer4(pkt, sizeof(pkt)), -EINVAL);
	make_v4(pkt, sizeof(pkt), 17, bcast, host4_b);
	CHECK_EQ(answer4(pkt, sizeof(pkt)), -EINVAL);
	make_v4(pkt, sizeof(pkt), 17, zero, host4_b);
	CHECK_EQ(answer4(pkt, sizeof(pkt)), -EINVAL);
	make_v4(pkt, sizeof(pkt), 17, lo, host4_b);
	CHECK_EQ(answer4(pkt, sizeof(pkt)), -EINVAL);
	make_v4(pkt, sizeof(pkt), 17, lo_hi, host4_b);
	CHECK_EQ(answer4(pkt, sizeof(pkt)), -EINVAL);
	/* The neighbours of those ranges are ordinary hosts. */
	make_v4(pkt, sizeof(pkt), 17, (const uint8_t[]){ 223, 255, 255, 255 }, host4_b);
	CHECK_EQ(answer4(pkt, sizeof(pkt)), 128);
	make_v4(pkt, sizeof(pkt), 17, (const uint8_t[]){ 128, 0, 0, 1 }, host4_b);
	CHECK_EQ(answer4(pkt, sizeof(pkt)), 128);
}

static void test_icmp6_refusals(void)
{
	static const uint8_t errors[] = { 0, 1, 2, 3, 4, 127 }, queries[] = { 128, 129, 135, 255 };
	static const uint8_t mcast[16] = { 0xff, 0x02, [15] = 1 }, unspec[16];
	uint8_t pkt[100], err[KH_ICMP_ERROR_MAX];
	size_t i;
	int n;

	make_v6(pkt, sizeof(pkt), 17, host6_a, host6_b);
	CHECK_EQ(answer6(pkt, sizeof(pkt)), 148);

	CHECK_EQ(answer6(pkt, 39), -EINVAL);
	CHECK_EQ(answer6(pkt, 99), -EINVAL);
	CHECK_EQ(kh_icmp_unreachable(&relay4, pkt, sizeof(pkt), KH_UNREACH_HOST, err, sizeof(err)),
		 -EINVAL);

	for (i = 0; i < sizeof(errors); i++) {
		make_v6(pkt, sizeof(pkt), 58, host6_a, host6_b);
		pkt[40] = errors[i];
		CHECK_EQ(answer6(pkt, sizeof(pkt)), -EINVAL);
	}
	for (i = 0; i < sizeof(queries); i++) {
		make_v6(pkt, sizeof(pkt), 58, host6_a, host6_b);
		pkt[40] = queries[i];
		CHECK_EQ(answer6(pkt, sizeof(pkt)), 148);
	}
	/* RFC 4443 2.4(e.2): nor a redirect, though it is informational. */
	make_v6(pkt, sizeof(pkt), 58, host6_a, host6_b);
	pkt[40] = 137;
	CHECK_EQ(answer6(pkt, sizeof(pkt)), -EINVAL);
	/* Behind an extension header the type is not looked for: answered. */
	make_v6(pkt, sizeof(pkt), 0, host6_a, host6_b);
	pkt[40] = 58;
	pkt[41] = 0;
	pkt[48] = 1;
	CHECK_EQ(answer6(pkt, sizeof(pkt)), 148);
	/* Our own error, looped back to us. */
	make_v6(pkt, sizeof(pkt), 17, host6_a, host6_b);
	n = kh_icmp_unreachable(&relay6, pkt, sizeof(pkt), KH_UNREACH_HOST, err, sizeof(err));
	CHECK_EQ(n, 148);
	CHECK_EQ(answer6(err, (size_t)n), -EINVAL);

	make_v6(pkt, sizeof(pkt), 17, mcast, host6_b);
	CHECK_EQ(answer6(pkt, sizeof(pkt)), -EINVAL);
	make_v6(pkt, sizeof(pkt), 17, host6_a, mcast);
	CHECK_EQ(answer6(pkt, sizeof(pkt)), -EINVAL);
	make_v6(pkt, sizeof(pkt), 17, unspec, host6_b);
	CHECK_EQ(answer6(pkt, sizeof(pkt)), -EINVAL);
	/* ::1 and fe00:: are one host each. */
	make_v6(pkt, sizeof(pkt), 17, (const uint8_t[16]){ [15] = 1 }, host6_b);
	CHECK_EQ(answer6(pkt, sizeof(pkt)), 148);
	make_v6(pkt, sizeof(pkt), 17, (const uint8_t[16]){ 0xfe }, host6_b);
	CHECK_EQ(answer6(pkt, sizeof(pkt)), 148);
}

static void test_icmp_nospace(void)
{
	uint8_t pkt4[100], pkt6[100], err[KH_ICMP_ERROR_MAX + 1], zero[sizeof(err)];

	make_v4(pkt4, sizeof(pkt4), 17, host4_a, host4_b);
	make_v6(pkt6, sizeof(pkt6), 17, host6_a, host6_b);
	memset(err, 0, sizeof(err));
	memset(zero, 0, sizeof(zero));
	/* One byte short: refused, and nothing written. */
	CHECK_EQ(kh_icmp_unreachable(&relay4, pkt4, sizeof(pkt4), KH_UNREACH_HOST, err, 127),
		 -ENOSPC);
	CHECK_EQ(kh_icmp_unreachable(&relay6, pkt6, sizeof(pkt6), KH_UNREACH_HOST, err, 147),
		 -ENOSPC);
	CHECK_EQ(kh_icmp_unreachable(&relay4, pkt4, sizeof(pkt4), KH_UNREACH_HOST, err, 0),
		 -ENOSPC);
	CHECK_MEM(err, zero, sizeof(err));
	/* Exactly enough: written, and not a byte past it. */
	CHECK_EQ(kh_icmp_unreachable(&relay4, pkt4, sizeof(pkt4), KH_UNREACH_HOST, err, 128), 128);
	CHECK_MEM(err + 128, zero, sizeof(err) - 128);
	CHECK_EQ(kh_icmp_unreachable(&relay6, pkt6, sizeof(pkt6), KH_UNREACH_HOST, err, 148), 148);
	/* A packet that may not be answered says so even when there is no room. */
	pkt4[12] = 224;
	CHECK_EQ(kh_icmp_unreachable(&relay4, pkt4, sizeof(pkt4), KH_UNREACH_HOST, err, 0),
		 -EINVAL);
}

static void test_icmp_in_place(void)
{
	uint8_t buf[KH_ICMP_ERROR_MAX], orig[200];
	int n;

	make_v4(orig, sizeof(orig), 17, host4_a, host4_b);
	memcpy(buf, orig, sizeof(orig));
	n = kh_icmp_unreachable(&relay4, buf, sizeof(orig), KH_UNREACH_HOST, buf, sizeof(buf));
	check_icmp4(buf, n, orig, sizeof(orig), 1);
	if (test_failed)
		return;
	make_v6(orig, sizeof(orig), 17, host6_a, host6_b);
	memcpy(buf, orig, sizeof(orig));
	n = kh_icmp_unreachable(&relay6, buf, sizeof(orig), KH_UNREACH_HOST, buf, sizeof(buf));
	check_icmp6(buf, n, orig, sizeof(orig), 3);
}

TEST_SUITE(ippacket_tests) = {
	{ "parse IPv4: addresses, protocol, total length", test_parse_ipv4 },
	{ "parse IPv6: addresses, next header, 40 + payload length", test_parse_ipv6 },
	{ "parse refuses every truncation of header and packet", test_parse_truncated },
	{ "parse refuses versions other than 4 and 6", test_parse_bad_version },
	{ "parse refuses IHL below 5 or past the packet", test_parse_bad_ihl },
	{ "parse refuses lengths past the buffer, IPv6 payload 0", test_parse_bad_length },
	{ "ICMP host unreachable, field by field", test_icmp4_host },
	{ "ICMP administratively prohibited, field by field", test_icmp4_prohibited },
	{ "ICMPv6 address unreachable, field by field", test_icmp6_address },
	{ "ICMPv6 administratively prohibited, field by field", test_icmp6_prohibited },
	{ "a 1500-byte packet is quoted up to 576 / 1280 bytes", test_icmp_truncates },
	{ "the quote is the packet, not the rest of the buffer", test_icmp_quotes_packet },
	{ "no ICMP error where RFC 1122 / RFC 1812 forbid one", test_icmp4_refusals },
	{ "no ICMPv6 error where RFC 4443 forbids one", test_icmp6_refusals },
	{ "out_max too small: -ENOSPC and nothing written", test_icmp_nospace },
	{ "the error can be built over the packet it quotes", test_icmp_in_place },
	TEST_END,
};
