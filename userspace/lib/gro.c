/* gro.c - coalescing received TCP segments of one flow into a super-segment for the TUN device. */
#include <string.h>

#include "byteorder.h"
#include "csum.h"
#include "gro.h"

#define IPV4_MIN_HDR 20
#define IPV6_HDR 40
#define TCP_MIN_HDR 20
#define TCP_CSUM_OFF 16
#define TCP_FLAGS_OFF 13
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define PROTO_TCP 6
/* The IP length fields' bound (IPv4 total length, IPv6 payload length). */
#define IP_LEN_MAX 65535

/* Where a segment's parts are, once it has been found fit to coalesce. */
struct seg {
	uint8_t version;
	size_t l4_off, hdr_len;
};

static bool parse_ip(const uint8_t *pkt, size_t len, struct seg *s)
{
	if (len >= IPV4_MIN_HDR && pkt[0] >> 4 == 4) {
		s->version = 4;
		s->l4_off = (size_t)(pkt[0] & 0x0f) * 4;
		/* No fragments (MF clear, offset 0); the header checksum verified, as the
		 * kernel's GRO does, since the run's header is summed afresh. */
		return s->l4_off >= IPV4_MIN_HDR && s->l4_off <= len && pkt[9] == PROTO_TCP &&
		       kh_get_be16(pkt + 2) == len && !(kh_get_be16(pkt + 6) & 0x3fff) &&
		       kh_csum_fold(kh_csum_add(0, pkt, s->l4_off)) == 0xffff;
	}
	if (len >= IPV6_HDR && pkt[0] >> 4 == 6) {
		s->version = 6;
		s->l4_off = IPV6_HDR;
		return pkt[6] == PROTO_TCP && kh_get_be16(pkt + 4) == len - IPV6_HDR;
	}
	return false;
}

/* A TCP segment with payload, ACK and maybe PSH, whose checksum verifies. */
static bool parse(const uint8_t *pkt, size_t len, struct seg *s)
{
	size_t doff;
	uint8_t flags;

	if (!parse_ip(pkt, len, s) || s->l4_off + TCP_MIN_HDR > len)
		return false;
	doff = (size_t)(pkt[s->l4_off + 12] >> 4) * 4;
	flags = pkt[s->l4_off + TCP_FLAGS_OFF];
	s->hdr_len = s->l4_off + doff;
	if (doff < TCP_MIN_HDR || s->hdr_len >= len || (flags & ~TCP_PSH) != TCP_ACK)
		return false;
	return kh_csum_fold(kh_csum_add(kh_csum_pseudo(pkt, PROTO_TCP, len - s->l4_off),
					pkt + s->l4_off, len - s->l4_off)) == 0xffff;
}

bool kh_gro_start(struct kh_gro *g, uint8_t *pkt, size_t len)
{
	struct seg s;

	if (!pkt || !parse(pkt, len, &s))
		return false;
	memset(g, 0, sizeof(*g));
	g->first = pkt;
	g->first_len = len;
	g->version = s.version;
	g->l4_off = s.l4_off;
	g->hdr_len = s.hdr_len;
	g->mss = len - s.hdr_len;
	g->total = len;
	g->next_seq = kh_get_be32(pkt + s.l4_off + 4) + (uint32_t)g->mss;
	g->next_id = (uint16_t)(kh_get_be16(pkt + 4) + 1);
	g->closed = pkt[s.l4_off + TCP_FLAGS_OFF] & TCP_PSH;
	g->payload[0] = pkt + s.hdr_len;
	g->payload_len[0] = g->mss;
	g->count = 1;
	return true;
}

/* Every header byte the same as the first's but lengths, IPv4 ID, checksums,
 * the sequence number and PSH: what the kernel's GRO compares, and the window. */
static bool same_headers(const struct kh_gro *g, const uint8_t *pkt)
{
	const uint8_t *a = g->first, *ta = a + g->l4_off, *tb = pkt + g->l4_off;

	if (g->version == 4) {
		if (memcmp(a, pkt, 2) || memcmp(a + 6, pkt + 6, 4) ||
		    memcmp(a + 12, pkt + 12, g->l4_off - 12) || kh_get_be16(pkt + 4) != g->next_id)
			return false;
	} else if (memcmp(a, pkt, 4) || memcmp(a + 6, pkt + 6, IPV6_HDR - 6)) {
		return false;
	}
	return !memcmp(ta, tb, 4) && !memcmp(ta + 8, tb + 8, TCP_FLAGS_OFF - 8) &&
	       !memcmp(ta + 14, tb + 14, TCP_CSUM_OFF - 14) &&
	       !memcmp(ta + 18, tb + 18, g->hdr_len - g->l4_off - 18);
}

bool kh_gro_append(struct kh_gro *g, const uint8_t *pkt, size_t len)
{
	size_t payload, max = g->version == 4 ? IP_LEN_MAX : IP_LEN_MAX + IPV6_HDR;
	struct seg s;

	if (g->closed || g->count >= KH_GRO_MAX_SEGS || !pkt || len <= g->hdr_len ||
	    len - g->hdr_len > g->mss || g->total + (len - g->hdr_len) > max)
		return false;
	/* The cheap comparisons first: the checksum pass only for a segment that fits. */
	if (pkt[0] != g->first[0] || kh_get_be32(pkt + g->l4_off + 4) != g->next_seq)
		return false;
	if (!parse(pkt, len, &s) || s.l4_off != g->l4_off || s.hdr_len != g->hdr_len ||
	    !same_headers(g, pkt))
		return false;
	payload = len - s.hdr_len;
	g->payload[g->count] = pkt + s.hdr_len;
	g->payload_len[g->count] = payload;
	g->count++;
	g->total += payload;
	g->next_seq += (uint32_t)payload;
	g->next_id++;
	if (payload < g->mss || (pkt[s.l4_off + TCP_FLAGS_OFF] & TCP_PSH)) {
		g->closed = true;
		g->first[g->l4_off + TCP_FLAGS_OFF] |= pkt[s.l4_off + TCP_FLAGS_OFF] & TCP_PSH;
	}
	return true;
}

unsigned kh_gro_finish(struct kh_gro *g, struct virtio_net_hdr *vnet)
{
	uint8_t *ip = g->first, *tcp = ip + g->l4_off;
	size_t l4_len = g->total - g->l4_off;
	uint16_t partial;

	memset(vnet, 0, sizeof(*vnet));
	if (g->count < 2)
		return g->count;
	if (g->version == 4) {
		kh_put_be16(ip + 2, (uint16_t)g->total);
		memset(ip + 10, 0, 2);
		kh_csum_store(ip + 10, kh_csum_add(0, ip, g->l4_off));
		vnet->gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	} else {
		kh_put_be16(ip + 4, (uint16_t)(g->total - IPV6_HDR));
		vnet->gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
	}
	/* CHECKSUM_PARTIAL: the field holds the pseudo-header's sum, the kernel adds the rest
	 * if it ever needs the checksum; every segment's was verified on the way in. */
	partial = kh_csum_fold(kh_csum_pseudo(ip, PROTO_TCP, l4_len));
	memcpy(tcp + TCP_CSUM_OFF, &partial, 2);
	vnet->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	vnet->hdr_len = (uint16_t)g->hdr_len;
	vnet->gso_size = (uint16_t)g->mss;
	vnet->csum_start = (uint16_t)g->l4_off;
	vnet->csum_offset = TCP_CSUM_OFF;
	return g->count;
}
