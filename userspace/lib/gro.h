/* gro.h - received TCP segments of one flow coalesced into one TUN write, as a NIC's GRO would. */
#ifndef KEYHOLE_GRO_H
#define KEYHOLE_GRO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/virtio_net.h>

/* One receive batch (recvmmsg) at most; the kernel's GRO stops at 64 segments too. */
#define KH_GRO_MAX_SEGS 64

/*
 * A run of segments: the first packet whole, then the payload of each next one. The
 * packets stay where they are (the caller's receive buffers) until kh_gro_finish; the
 * first one's headers are rewritten there.
 */
struct kh_gro {
	uint8_t *first;
	size_t first_len;
	size_t l4_off, hdr_len;
	size_t mss;       /* the first segment's payload: every other is as long, the last may be shorter */
	size_t total;     /* the coalesced packet's length */
	uint32_t next_seq;
	uint16_t next_id; /* IPv4: IDs must follow on, as Linux's GRO requires */
	uint8_t version;
	bool closed;      /* a shorter segment or PSH ended the run */
	unsigned count;
	const uint8_t *payload[KH_GRO_MAX_SEGS];
	size_t payload_len[KH_GRO_MAX_SEGS];
};

/*
 * Start a run with pkt if it can lead one: a TCP segment over IPv4 or IPv6 (no
 * extension headers) with payload, only ACK and maybe PSH set, lengths that add up
 * and a checksum that verifies (the kernel will not check it again). False if not:
 * write pkt alone.
 */
bool kh_gro_start(struct kh_gro *g, uint8_t *pkt, size_t len);

/* Add pkt to the run if it follows on: the same flow and headers, the next sequence
 * number, no longer than the first, a valid checksum, room left. */
bool kh_gro_append(struct kh_gro *g, const uint8_t *pkt, size_t len);

/*
 * Close the run: with one segment, 0 and the packet is unchanged. With more, the
 * first packet's headers now describe the whole (IP lengths, IPv4 header checksum,
 * the pseudo-header's sum in the TCP checksum, PSH if the last had it), vnet asks
 * the kernel for TSO at the first segment's size, and the packet to write is
 * first[0..hdr_len) then every payload[i]; returns how many segments.
 */
unsigned kh_gro_finish(struct kh_gro *g, struct virtio_net_hdr *vnet);

#endif
