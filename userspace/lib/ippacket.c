/* ippacket.c - IPv4/IPv6 fixed-header parsing and ICMP/ICMPv6 destination-unreachable errors. */
#include "ippacket.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "byteorder.h"

#define IPV4_HDR_LEN 20
#define IPV6_HDR_LEN 40
/* Type, code, checksum, then 4 unused bytes: the same layout in ICMP and ICMPv6. */
#define ICMP_HDR_LEN 8

#define PROTO_ICMP 1
#define PROTO_ICMPV6 58

/* RFC 1812 4.3.2.3: an ICMP error is at most 576 bytes, IP header included. */
#define ICMP4_ERROR_MAX 576
/* RFC 4443 2.4(c): an ICMPv6 error must not exceed the IPv6 minimum MTU (RFC 8200 5). */
#define ICMP6_ERROR_MAX KH_ICMP_ERROR_MAX

#define ICMP4_DEST_UNREACH 3
#define ICMP4_CODE_HOST 1
#define ICMP4_CODE_PROHIBITED 13
#define ICMP6_DEST_UNREACH 1
#define ICMP6_CODE_PROHIBITED 1
#define ICMP6_CODE_ADDRESS 3
/* RFC 4443 2.4(e.2): a redirect is informational yet must not draw an error either. */
#define ICMP6_REDIRECT 137

/* The error's own header: TTL / hop limit as a host would send it (RFC 1700's 64). */
#define ERROR_TTL 64
/* Precedence 6, internetwork control: what routers put on the ICMP errors they send. */
#define ERROR_TOS 0xc0

#define IPV4_FRAG_OFFSET_MASK 0x1fff

/* RFC 1071 one's-complement sum; an odd byte may only come last, so callers add
 * even-length pieces first. 32 bits hold the sum of any packet we build. */
static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	while (len > 1) {
		sum += kh_get_be16(p);
		p += 2;
		len -= 2;
	}
	if (len)
		sum += (uint32_t)p[0] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

int kh_ip_parse(const uint8_t *pkt, size_t len, struct kh_ip_info *info)
{
	struct kh_ip_info res;
	size_t ihl, total;

	if (!pkt || len < 1)
		return -EINVAL;
	memset(&res, 0, sizeof(res));
	switch (pkt[0] >> 4) {
	case 4:
		if (len < IPV4_HDR_LEN)
			return -EINVAL;
		ihl = (size_t)(pkt[0] & 0x0f) * 4;
		total = kh_get_be16(pkt + 2);
		if (ihl < IPV4_HDR_LEN || ihl > total || total > len)
			return -EINVAL;
		res.src.family = res.dst.family = 4;
		memcpy(res.src.bytes, pkt + 12, 4);
		memcpy(res.dst.bytes, pkt + 16, 4);
		res.protocol = pkt[9];
		break;
	case 6:
		if (len < IPV6_HDR_LEN)
			return -EINVAL;
		/* Payload length 0 announces a jumbogram (RFC 2675), which we do not carry. */
		total = IPV6_HDR_LEN + (size_t)kh_get_be16(pkt + 4);
		if (total == IPV6_HDR_LEN || total > len)
			return -EINVAL;
		res.src.family = res.dst.family = 6;
		memcpy(res.src.bytes, pkt + 8, 16);
		memcpy(res.dst.bytes, pkt + 24, 16);
		res.protocol = pkt[6];
		break;
	default:
		return -EINVAL;
	}
	res.total_len = total;
	*info = res;
	return 0;
}

static bool ipv4_is_icmp_error_type(uint8_t type)
{
	/* Destination unreachable, source quench, redirect, time exceeded, parameter problem. */
	return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
}

/* RFC 1122 3.2.2 and RFC 1812 4.3.2.7: no error about an error, about a
 * piece of a packet, or to an address that does not name a single host. */
static bool ipv4_may_answer(const uint8_t *pkt, const struct kh_ip_info *info)
{
	const uint8_t *src = info->src.bytes, *dst = info->dst.bytes;
	static const uint8_t broadcast[4] = { 255, 255, 255, 255 };
	size_t ihl = (size_t)(pkt[0] & 0x0f) * 4;

	if ((src[0] & 0xf0) == 0xe0 || (dst[0] & 0xf0) == 0xe0)
		return false;
	if (!memcmp(src, broadcast, 4) || !memcmp(dst, broadcast, 4))
		return false;
	if (src[0] == 0 && src[1] == 0 && src[2] == 0 && src[3] == 0)
		return false;
	if (src[0] == 127)
		return false;
	if (kh_get_be16(pkt + 6) & IPV4_FRAG_OFFSET_MASK)
		return false;
	/* kh_ip_parse guaranteed ihl <= total_len; a missing type byte cannot name an error. */
	if (info->protocol == PROTO_ICMP && info->total_len > ihl &&
	    ipv4_is_icmp_error_type(pkt[ihl]))
		return false;
	return true;
}

/* RFC 4443 2.4(e). Only the fixed header's next header is looked at: walking
 * extension headers to find an ICMPv6 type is more parser than this is worth. */
static bool ipv6_may_answer(const uint8_t *pkt, const struct kh_ip_info *info)
{
	static const uint8_t unspecified[16];

	if (info->src.bytes[0] == 0xff || info->dst.bytes[0] == 0xff)
		return false;
	if (!memcmp(info->src.bytes, unspecified, 16))
		return false;
	if (info->protocol == PROTO_ICMPV6 && info->total_len > IPV6_HDR_LEN) {
		uint8_t type = pkt[IPV6_HDR_LEN];

		/* Types below 128 are errors (RFC 4443 2.1). */
		if (type < 128 || type == ICMP6_REDIRECT)
			return false;
	}
	return true;
}

static void build_ipv4(const struct kh_ipaddr *from, const struct kh_ip_info *info,
		       uint8_t code, size_t quote, uint8_t *out)
{
	size_t total = IPV4_HDR_LEN + ICMP_HDR_LEN + quote;
	uint8_t *icmp = out + IPV4_HDR_LEN;

	out[0] = 0x45; /* version 4, IHL 5: no options */
	out[1] = ERROR_TOS;
	kh_put_be16(out + 2, (uint16_t)total);
	/* ID 0 and no flags: the error is never fragmented, it fits in 576 bytes. */
	memset(out + 4, 0, 4);
	out[8] = ERROR_TTL;
	out[9] = PROTO_ICMP;
	memset(out + 10, 0, 2);
	memcpy(out + 12, from->bytes, 4);
	memcpy(out + 16, info->src.bytes, 4);
	kh_put_be16(out + 10, csum_fold(csum_add(0, out, IPV4_HDR_LEN)));

	icmp[0] = ICMP4_DEST_UNREACH;
	icmp[1] = code;
	memset(icmp + 2, 0, 6); /* checksum, then the unused word */
	kh_put_be16(icmp + 2, csum_fold(csum_add(0, icmp, ICMP_HDR_LEN + quote)));
}

static void build_ipv6(const struct kh_ipaddr *from, const struct kh_ip_info *info,
		       uint8_t code, size_t quote, uint8_t *out)
{
	size_t icmp_len = ICMP_HDR_LEN + quote;
	uint8_t *icmp = out + IPV6_HDR_LEN;
	uint8_t pseudo_tail[8];
	uint32_t sum;

	out[0] = 0x60; /* version 6; traffic class and flow label 0 */
	memset(out + 1, 0, 3);
	kh_put_be16(out + 4, (uint16_t)icmp_len);
	out[6] = PROTO_ICMPV6;
	out[7] = ERROR_TTL;
	memcpy(out + 8, from->bytes, 16);
	memcpy(out + 24, info->src.bytes, 16);

	icmp[0] = ICMP6_DEST_UNREACH;
	icmp[1] = code;
	memset(icmp + 2, 0, 6);
	/* RFC 8200 8.1 pseudo-header: source, destination (both already in out),
	 * 32-bit upper-layer length, three zero bytes, next header. */
	memset(pseudo_tail, 0, sizeof(pseudo_tail));
	pseudo_tail[0] = (uint8_t)(icmp_len >> 24);
	pseudo_tail[1] = (uint8_t)(icmp_len >> 16);
	pseudo_tail[2] = (uint8_t)(icmp_len >> 8);
	pseudo_tail[3] = (uint8_t)icmp_len;
	pseudo_tail[7] = PROTO_ICMPV6;
	sum = csum_add(0, out + 8, 32);
	sum = csum_add(sum, pseudo_tail, sizeof(pseudo_tail));
	sum = csum_add(sum, icmp, icmp_len);
	kh_put_be16(icmp + 2, csum_fold(sum));
}

int kh_icmp_unreachable(const struct kh_ipaddr *from, const uint8_t *pkt, size_t len,
			enum kh_unreach_reason reason, uint8_t *out, size_t out_max)
{
	struct kh_ip_info info;
	size_t hdr, limit, quote;
	uint8_t code;

	if (!from || kh_ip_parse(pkt, len, &info) || from->family != info.src.family)
		return -EINVAL;
	if (reason != KH_UNREACH_HOST && reason != KH_UNREACH_PROHIBITED)
		return -EINVAL;
	if (info.src.family == 4) {
		if (!ipv4_may_answer(pkt, &info))
			return -EINVAL;
		hdr = IPV4_HDR_LEN + ICMP_HDR_LEN;
		limit = ICMP4_ERROR_MAX;
		code = reason == KH_UNREACH_HOST ? ICMP4_CODE_HOST : ICMP4_CODE_PROHIBITED;
	} else {
		if (!ipv6_may_answer(pkt, &info))
			return -EINVAL;
		hdr = IPV6_HDR_LEN + ICMP_HDR_LEN;
		limit = ICMP6_ERROR_MAX;
		code = reason == KH_UNREACH_HOST ? ICMP6_CODE_ADDRESS : ICMP6_CODE_PROHIBITED;
	}
	/* Quote the packet its header describes, not whatever follows it in the buffer. */
	quote = info.total_len;
	if (quote > limit - hdr)
		quote = limit - hdr;
	if (!out || out_max < hdr + quote)
		return -ENOSPC;
	/* Everything needed from pkt is in info by now, and the quote moves before
	 * the headers are written: out may be the very buffer that holds pkt. */
	memmove(out + hdr, pkt, quote);
	if (info.src.family == 4)
		build_ipv4(from, &info, code, quote, out);
	else
		build_ipv6(from, &info, code, quote, out);
	return (int)(hdr + quote);
}
