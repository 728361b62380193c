/* gso.c - TCP segmentation of TUN super-segments and partial checksums, as a NIC would do them. */
#include <errno.h>
#include <string.h>

#include "byteorder.h"
#include "csum.h"
#include "gso.h"

#define IPV4_MIN_HDR 20
#define IPV6_HDR 40
#define TCP_MIN_HDR 20
#define TCP_CSUM_OFF 16 /* the checksum's offset in the TCP header (RFC 9293) */
#define TCP_FLAGS_OFF 13
#define TCP_FIN 0x01
#define TCP_PSH 0x08
#define TCP_CWR 0x80
#define PROTO_TCP 6

/* The partial checksum of VIRTIO_NET_HDR_F_NEEDS_CSUM: the field holds the
 * pseudo-header's sum already; sum from csum_start to the end and store it. */
static int complete_csum(const struct virtio_net_hdr *vnet, uint8_t *pkt, size_t len)
{
	size_t start = vnet->csum_start, field = start + vnet->csum_offset;

	if (start >= len || field + 2 > len)
		return -EINVAL;
	kh_csum_store(pkt + field, kh_csum_add(0, pkt + start, len - start));
	return 0;
}

/* The IP header of a super-segment: its version, its length, TCP inside, lengths that add up. */
static int parse_ip(struct kh_gso *g, uint8_t gso_type, const uint8_t *pkt, size_t len)
{
	size_t ihl;

	if (gso_type == VIRTIO_NET_HDR_GSO_TCPV4) {
		if (len < IPV4_MIN_HDR || pkt[0] >> 4 != 4)
			return -EINVAL;
		ihl = (size_t)(pkt[0] & 0x0f) * 4;
		/* Fragments are never super-segments: MF set or an offset. */
		if (ihl < IPV4_MIN_HDR || ihl > len || pkt[9] != PROTO_TCP ||
		    kh_get_be16(pkt + 2) != len || (kh_get_be16(pkt + 6) & 0x3fff))
			return -EINVAL;
		g->version = 4;
		g->l4_off = ihl;
		return 0;
	}
	if (gso_type == VIRTIO_NET_HDR_GSO_TCPV6) {
		/* Extension headers are refused: the kernel's TSO6 packets have none. */
		if (len < IPV6_HDR || pkt[0] >> 4 != 6 || pkt[6] != PROTO_TCP ||
		    kh_get_be16(pkt + 4) != len - IPV6_HDR)
			return -EINVAL;
		g->version = 6;
		g->l4_off = IPV6_HDR;
		return 0;
	}
	return -EINVAL;
}

static int parse_super(struct kh_gso *g, const struct virtio_net_hdr *vnet, const uint8_t *pkt,
		       size_t len, size_t max_seg)
{
	/* The ECN bit says CWR may be set: handled the same either way. */
	uint8_t type = vnet->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
	size_t doff;
	int ret;

	memset(g, 0, sizeof(*g));
	ret = parse_ip(g, type, pkt, len);
	if (ret)
		return ret;
	if ((vnet->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
	    (vnet->csum_start != g->l4_off || vnet->csum_offset != TCP_CSUM_OFF))
		return -EINVAL;
	if (g->l4_off + TCP_MIN_HDR > len)
		return -EINVAL;
	doff = (size_t)(pkt[g->l4_off + 12] >> 4) * 4;
	if (doff < TCP_MIN_HDR || g->l4_off + doff >= len || vnet->gso_size == 0)
		return -EINVAL;
	g->pkt = pkt;
	g->len = len;
	g->hdr_len = g->l4_off + doff;
	g->mss = vnet->gso_size;
	if (g->hdr_len + g->mss > max_seg)
		return -EMSGSIZE;
	return 0;
}

int kh_gso_prepare(struct kh_gso *g, const struct virtio_net_hdr *vnet, uint8_t *pkt,
		   size_t len, size_t max_seg)
{
	if (!pkt || len == 0 || len > KH_GSO_MAX_PACKET)
		return -EINVAL;
	if (vnet->gso_type != VIRTIO_NET_HDR_GSO_NONE) {
		int ret = parse_super(g, vnet, pkt, len, max_seg);

		return ret ? ret : 1;
	}
	if (len > max_seg)
		return -EMSGSIZE;
	if (vnet->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
		return complete_csum(vnet, pkt, len);
	return 0;
}

unsigned kh_gso_count(const struct kh_gso *g)
{
	size_t payload = g->len - g->hdr_len;

	return (unsigned)((payload + g->mss - 1) / g->mss);
}

/* IP lengths, the IPv4 ID (one more per segment, as the kernel's TSO does) and header checksum. */
static void fix_ip(const struct kh_gso *g, uint8_t *seg, size_t seg_len)
{
	uint64_t sum;

	if (g->version == 6) {
		kh_put_be16(seg + 4, (uint16_t)(seg_len - IPV6_HDR));
		return;
	}
	kh_put_be16(seg + 2, (uint16_t)seg_len);
	kh_put_be16(seg + 4, (uint16_t)(kh_get_be16(g->pkt + 4) + g->index));
	memset(seg + 10, 0, 2);
	sum = kh_csum_add(0, seg, g->l4_off);
	kh_csum_store(seg + 10, sum);
}

/* Sequence number, flags (CWR on the first only, FIN and PSH on the last only) and
 * the full checksum, pseudo-header included. */
static void fix_tcp(const struct kh_gso *g, uint8_t *seg, size_t seg_len, bool last)
{
	uint8_t *tcp = seg + g->l4_off;
	size_t tcp_len = seg_len - g->l4_off;
	uint64_t sum;

	kh_put_be32(tcp + 4, kh_get_be32(g->pkt + g->l4_off + 4) + (uint32_t)g->off);
	if (g->index > 0)
		tcp[TCP_FLAGS_OFF] &= (uint8_t)~TCP_CWR;
	if (!last)
		tcp[TCP_FLAGS_OFF] &= (uint8_t)~(TCP_FIN | TCP_PSH);
	memset(tcp + TCP_CSUM_OFF, 0, 2);
	sum = kh_csum_pseudo(seg, PROTO_TCP, tcp_len);
	kh_csum_store(tcp + TCP_CSUM_OFF, kh_csum_add(sum, tcp, tcp_len));
}

int kh_gso_next(struct kh_gso *g, uint8_t *out, size_t cap)
{
	size_t payload = g->len - g->hdr_len, chunk, seg_len;
	bool last;

	if (g->off >= payload)
		return 0;
	chunk = payload - g->off < g->mss ? payload - g->off : g->mss;
	seg_len = g->hdr_len + chunk;
	if (seg_len > cap)
		return -ENOSPC;
	last = g->off + chunk == payload;
	memcpy(out, g->pkt, g->hdr_len);
	memcpy(out + g->hdr_len, g->pkt + g->hdr_len + g->off, chunk);
	fix_ip(g, out, seg_len);
	fix_tcp(g, out, seg_len, last);
	g->off += chunk;
	g->index++;
	return (int)seg_len;
}
