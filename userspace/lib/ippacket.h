/* ippacket.h - read the addresses of an IPv4/IPv6 packet and build ICMP errors about it (pure). */
#ifndef KEYHOLE_IPPACKET_H
#define KEYHOLE_IPPACKET_H

#include <stddef.h>
#include <stdint.h>

/* An IP address of either family, in network byte order. */
struct kh_ipaddr {
	uint8_t family; /* 4 or 6 */
	uint8_t bytes[16]; /* IPv4 uses the first 4 */
};

struct kh_ip_info {
	struct kh_ipaddr src;
	struct kh_ipaddr dst;
	uint8_t protocol; /* IPv4 protocol / IPv6 next header of the fixed header */
	size_t total_len; /* from the header; never more than the buffer */
};

/*
 * Parse the fixed header of an IPv4 or IPv6 packet. Checks: version nibble,
 * IPv4 IHL >= 5 and header within len, total length (IPv4) / payload length
 * (IPv6) consistent with len (the buffer may be longer than the packet, never
 * shorter). Returns 0 or -EINVAL.
 */
int kh_ip_parse(const uint8_t *pkt, size_t len, struct kh_ip_info *info);

/* Why a packet could not be delivered, as the ICMP codes the relay sends. */
enum kh_unreach_reason {
	KH_UNREACH_HOST,       /* IPv4 type 3 code 1; IPv6 type 1 code 3 (address unreachable) */
	KH_UNREACH_PROHIBITED, /* IPv4 type 3 code 13; IPv6 type 1 code 1 (administratively prohibited) */
};

/*
 * Build an ICMP (IPv4) or ICMPv6 destination-unreachable packet, complete with
 * its IP header, from router address `from` to the source of the offending
 * packet `pkt` (whose family must match `from`), quoting it as RFC 1812
 * 4.3.2.3 / RFC 4443 2.4(c) ask: as much as fits in 576 bytes (IPv4) or 1280
 * bytes (IPv6) of the whole error. Writes into out (room for out_max bytes)
 * and returns the length, or -EINVAL when no error may be sent about that
 * packet (malformed, an ICMP error itself, a non-initial fragment, a
 * multicast/broadcast/unspecified source or destination: RFC 1122 3.2.2,
 * RFC 4443 2.4(e)), or -ENOSPC if out_max is too small.
 */
int kh_icmp_unreachable(const struct kh_ipaddr *from, const uint8_t *pkt, size_t len,
			enum kh_unreach_reason reason, uint8_t *out, size_t out_max);

/* The largest packet kh_icmp_unreachable can produce. */
#define KH_ICMP_ERROR_MAX 1280

#endif
