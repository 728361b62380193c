/* csum.h - the Internet checksum (RFC 1071) in host byte order, for the TUN offload code. */
#ifndef KEYHOLE_CSUM_H
#define KEYHOLE_CSUM_H

#include <stddef.h>
#include <stdint.h>

/*
 * Add len bytes at p to a running sum. Host byte order: the folded sum's bytes
 * are in network order once stored with memcpy (RFC 1071 section 2). An odd
 * byte may only come in the last piece.
 */
uint64_t kh_csum_add(uint64_t sum, const uint8_t *p, size_t len);
/* The sum folded to 16 bits, not complemented: 0xffff when a packet checks out. */
uint16_t kh_csum_fold(uint64_t sum);
/* Store the checksum of sum at field: folded and complemented; 0 is sent as 0xffff. */
void kh_csum_store(uint8_t *field, uint64_t sum);
/* The sum of the pseudo-header (RFC 9293 3.1, RFC 8200 8.1) of the IPv4 or IPv6
 * packet at ip, for proto and l4_len bytes of transport header and payload. */
uint64_t kh_csum_pseudo(const uint8_t *ip, uint8_t proto, size_t l4_len);

#endif
