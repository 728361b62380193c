/* fuzz_gro.c - libFuzzer target: received packets coalesced; what coalesces splits back unchanged. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../userspace/lib/gro.h"
#include "../../userspace/lib/gso.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_SEG 4064

static uint8_t segs[KH_GRO_MAX_SEGS][MAX_SEG], orig[KH_GRO_MAX_SEGS][MAX_SEG];
static size_t seg_len[KH_GRO_MAX_SEGS];
static uint8_t joined[KH_GSO_MAX_PACKET];

/* The run as the kernel gets it, split again: each segment as it came. */
static void check_run(struct kh_gro *g, unsigned first)
{
	struct virtio_net_hdr vnet;
	struct kh_gso gso;
	unsigned n = kh_gro_finish(g, &vnet), i;
	size_t len = g->hdr_len;
	uint8_t out[MAX_SEG];
	int s;

	if (n == 0 || n > KH_GRO_MAX_SEGS)
		abort();
	if (n < 2)
		return;
	memcpy(joined, g->first, g->hdr_len);
	for (i = 0; i < n; i++) {
		memcpy(joined + len, g->payload[i], g->payload_len[i]);
		len += g->payload_len[i];
	}
	if (len != g->total || kh_gso_prepare(&gso, &vnet, joined, len, MAX_SEG) != 1)
		abort();
	for (i = 0; i < n; i++) {
		s = kh_gso_next(&gso, out, sizeof(out));
		if (s <= 0 || (size_t)s != seg_len[first + i] ||
		    memcmp(out, orig[first + i], (size_t)s))
			abort();
	}
	if (kh_gso_next(&gso, out, sizeof(out)) != 0)
		abort();
}

/* segs[0..n) through GRO in order, each run checked as it closes. */
static void coalesce(unsigned n)
{
	struct kh_gro g;
	unsigned i, first = 0;
	bool open = false;

	for (i = 0; i < n; i++) {
		memcpy(orig[i], segs[i], seg_len[i]);
		if (open && kh_gro_append(&g, segs[i], seg_len[i]))
			continue;
		if (open)
			check_run(&g, first);
		open = kh_gro_start(&g, segs[i], seg_len[i]);
		first = i;
	}
	if (open)
		check_run(&g, first);
}

/* Input: a virtio_net_hdr and a super-segment, split by gso.c, one byte of one segment
 * maybe changed; or, if that fails, packets of [length byte][bytes] as they come. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct virtio_net_hdr vnet;
	struct kh_gso g;
	unsigned n = 0;
	uint8_t *pkt;
	size_t len;
	int s;

	if (size < KH_VNET_HDR_LEN + 3)
		return 0;
	memcpy(&vnet, data, KH_VNET_HDR_LEN);
	len = size - KH_VNET_HDR_LEN - 2;
	pkt = malloc(len);
	if (!pkt)
		abort();
	memcpy(pkt, data + KH_VNET_HDR_LEN + 2, len);
	if (kh_gso_prepare(&g, &vnet, pkt, len, MAX_SEG) == 1) {
		while (n < KH_GRO_MAX_SEGS && (s = kh_gso_next(&g, segs[n], MAX_SEG)) > 0)
			seg_len[n++] = (size_t)s;
		if (n && data[KH_VNET_HDR_LEN] & 1)
			segs[data[KH_VNET_HDR_LEN] % n][data[KH_VNET_HDR_LEN + 1] % seg_len[0]] ^= 0x10;
	} else {
		data += KH_VNET_HDR_LEN;
		size -= KH_VNET_HDR_LEN;
		while (n < KH_GRO_MAX_SEGS && size > 1 && (size_t)data[0] * 8 <= size - 1) {
			seg_len[n] = (size_t)data[0] * 8;
			memcpy(segs[n++], data + 1, (size_t)data[0] * 8);
			size -= 1 + (size_t)data[0] * 8;
			data += 1 + (size_t)data[0] * 8;
		}
	}
	free(pkt);
	coalesce(n);
	return 0;
}
