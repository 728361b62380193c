/* fuzz_ippacket.c - libFuzzer target: IP header parsing and ICMP errors built from any packet. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../userspace/lib/ippacket.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct kh_ipaddr froms[] = {
	{ .family = 4, .bytes = { 100, 64, 0, 1 } },
	{ .family = 6, .bytes = { 0xfd, 0x00, [15] = 1 } },
};

static const enum kh_unreach_reason reasons[] = { KH_UNREACH_HOST, KH_UNREACH_PROHIBITED };

/* What any packet must yield: a bounded, well-formed error to its source, or a refusal. */
static void check_error(const struct kh_ipaddr *from, const struct kh_ip_info *orig,
			const uint8_t *pkt, size_t size, enum kh_unreach_reason reason)
{
	struct kh_ip_info info;
	uint8_t *out, again[KH_ICMP_ERROR_MAX];
	size_t out_max;
	int n;

	/* Exactly KH_ICMP_ERROR_MAX bytes on the heap, so ASan sees any write past it. */
	out = malloc(KH_ICMP_ERROR_MAX);
	if (!out)
		abort();
	n = kh_icmp_unreachable(from, pkt, size, reason, out, KH_ICMP_ERROR_MAX);
	if (n == -EINVAL) {
		free(out);
		return;
	}
	if (n <= 0 || n > KH_ICMP_ERROR_MAX || !orig || from->family != orig->src.family)
		abort();
	if (kh_ip_parse(out, (size_t)n, &info) || info.total_len != (size_t)n)
		abort();
	if (info.src.family != from->family || memcmp(info.src.bytes, from->bytes, 16) ||
	    memcmp(info.dst.bytes, orig->src.bytes, 16))
		abort();
	if (n > (from->family == 4 ? 576 : 1280))
		abort();
	/* An error is never answered, or two relays could bounce errors forever. */
	if (kh_icmp_unreachable(from, out, (size_t)n, reason, again, sizeof(again)) != -EINVAL)
		abort();
	free(out);

	/* One byte less room than the result needs: refused, never overrun. */
	out_max = (size_t)n - 1;
	out = malloc(out_max ? out_max : 1);
	if (!out)
		abort();
	if (kh_icmp_unreachable(from, pkt, size, reason, out, out_max) != -ENOSPC)
		abort();
	free(out);
}

static void check_packet(const uint8_t *pkt, size_t size)
{
	struct kh_ip_info info;
	const struct kh_ip_info *orig = NULL;
	size_t f, r;

	if (kh_ip_parse(pkt, size, &info) == 0) {
		if (info.total_len > size || (info.src.family != 4 && info.src.family != 6) ||
		    info.dst.family != info.src.family)
			abort();
		orig = &info;
	}
	for (f = 0; f < sizeof(froms) / sizeof(froms[0]); f++)
		for (r = 0; r < sizeof(reasons) / sizeof(reasons[0]); r++)
			check_error(&froms[f], orig, pkt, size, reasons[r]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t field, len;
	uint8_t *fixed;

	check_packet(data, size);
	/* Random bytes rarely carry a length field that matches their size, which
	 * leaves long valid packets (where the quote is cut) hard to reach: try the
	 * input again with its IPv4 total length or IPv6 payload length made to fit. */
	if (size < 4 || size > 0xffff)
		return 0;
	if (data[0] >> 4 == 4) {
		field = 2;
		len = size;
	} else if (data[0] >> 4 == 6 && size > 40) {
		field = 4;
		len = size - 40;
	} else {
		return 0;
	}
	fixed = malloc(size);
	if (!fixed)
		abort();
	memcpy(fixed, data, size);
	fixed[field] = (uint8_t)(len >> 8);
	fixed[field + 1] = (uint8_t)len;
	check_packet(fixed, size);
	free(fixed);
	return 0;
}
