/* fuzz_gso.c - libFuzzer target: a virtio_net_hdr and a packet from the TUN device, split or completed. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../userspace/lib/gso.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The daemon's room for a payload in a seal buffer, and a small one. */
static const size_t max_segs[] = { 4064, 600 };

/* One's-complement sum in network order, apart from the library's. */
static uint16_t ones_sum(uint64_t sum, const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		sum += i % 2 ? p[i] : (uint64_t)p[i] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* Every segment a well-formed TCP packet whose checksums verify. */
static void check_segment(const uint8_t *s, size_t len, size_t l4)
{
	uint64_t pseudo = 6 + (len - l4);

	if (s[0] >> 4 == 4) {
		if (ones_sum(0, s, l4) != 0xffff || (size_t)(s[2] << 8 | s[3]) != len)
			abort();
		pseudo += ones_sum(0, s + 12, 8);
	} else {
		if ((size_t)(s[4] << 8 | s[5]) != len - 40)
			abort();
		pseudo += ones_sum(0, s + 8, 32);
	}
	if (ones_sum(pseudo, s + l4, len - l4) != 0xffff)
		abort();
}

static void split(struct kh_gso *g, size_t max_seg, size_t len)
{
	size_t payload = 0;
	unsigned n = 0;
	uint8_t *out;
	int s;

	/* Exactly max_seg bytes on the heap, so ASan sees any write past them. */
	out = malloc(max_seg);
	if (!out)
		abort();
	while ((s = kh_gso_next(g, out, max_seg)) > 0) {
		if ((size_t)s > max_seg || (size_t)s <= g->hdr_len)
			abort();
		check_segment(out, (size_t)s, g->l4_off);
		payload += (size_t)s - g->hdr_len;
		n++;
	}
	if (s != 0 || n != kh_gso_count(g) || payload != len - g->hdr_len)
		abort();
	free(out);
}

static void check(const struct virtio_net_hdr *vnet, const uint8_t *data, size_t size)
{
	struct kh_gso g;
	uint8_t *pkt;
	size_t i;
	int ret;

	for (i = 0; i < sizeof(max_segs) / sizeof(max_segs[0]); i++) {
		pkt = malloc(size ? size : 1);
		if (!pkt)
			abort();
		memcpy(pkt, data, size);
		ret = kh_gso_prepare(&g, vnet, pkt, size, max_segs[i]);
		if (ret == 1)
			split(&g, max_segs[i], size);
		else if (ret != 0 && ret != -EINVAL && ret != -EMSGSIZE)
			abort();
		else if (ret == 0 && size > max_segs[i])
			abort();
		free(pkt);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct virtio_net_hdr vnet;
	uint8_t *fixed;

	if (size < KH_VNET_HDR_LEN)
		return 0;
	memcpy(&vnet, data, KH_VNET_HDR_LEN);
	data += KH_VNET_HDR_LEN;
	size -= KH_VNET_HDR_LEN;
	check(&vnet, data, size);
	/* Random lengths rarely match: try again with the IP length fields made to fit. */
	if (size < 40 || size > 0xffff)
		return 0;
	fixed = malloc(size);
	if (!fixed)
		abort();
	memcpy(fixed, data, size);
	if (fixed[0] >> 4 == 4) {
		fixed[2] = (uint8_t)(size >> 8);
		fixed[3] = (uint8_t)size;
	} else {
		fixed[4] = (uint8_t)((size - 40) >> 8);
		fixed[5] = (uint8_t)(size - 40);
	}
	check(&vnet, fixed, size);
	free(fixed);
	return 0;
}
