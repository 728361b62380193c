/* gso.h - what a TUN device with offloads hands over: TCP super-segments split, partial checksums completed. */
#ifndef KEYHOLE_GSO_H
#define KEYHOLE_GSO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/virtio_net.h>

/* Every read from and write to a TUN device opened with IFF_VNET_HDR starts with this. */
#define KH_VNET_HDR_LEN sizeof(struct virtio_net_hdr)
/* The largest IP packet: an IPv6 header and the largest payload length (no jumbograms). */
#define KH_GSO_MAX_PACKET (40 + 65535)

/* A super-segment being split, one segment per kh_gso_next. */
struct kh_gso {
	const uint8_t *pkt;
	size_t len;     /* the whole super-segment */
	size_t l4_off;  /* the TCP header */
	size_t hdr_len; /* IP and TCP headers, copied into every segment */
	size_t mss;     /* payload bytes per segment, the last may have fewer */
	size_t off;     /* payload bytes already handed out */
	unsigned index; /* segments already handed out */
	uint8_t version;
};

/*
 * Look at a packet read from the TUN device, vnet the virtio_net_hdr in front of it
 * (host byte order, as TUN uses without TUNSETVNETLE/BE). Returns 0 when pkt is one
 * ordinary packet, ready to send (a partial checksum is completed in place); 1 when it
 * is a TCP super-segment to split with kh_gso_next into segments of at most max_seg
 * bytes; -EINVAL when the header or the packet is malformed or of a kind not offered
 * (UDP segmentation); -EMSGSIZE when a segment would not fit in max_seg bytes.
 */
int kh_gso_prepare(struct kh_gso *g, const struct virtio_net_hdr *vnet, uint8_t *pkt,
		   size_t len, size_t max_seg);

/* Write the next segment to out (room for cap bytes): its length, 0 once every
 * segment is out, -ENOSPC if it does not fit. */
int kh_gso_next(struct kh_gso *g, uint8_t *out, size_t cap);

/* How many segments kh_gso_next yields in all. */
unsigned kh_gso_count(const struct kh_gso *g);

#endif
