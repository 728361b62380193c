/* csum.c - the Internet checksum, 32 bits at a time, for segmenting and coalescing TCP. */
#include <string.h>

#include "csum.h"

/* 32-bit words into 64 bits: the end-around carry makes it the same sum as 16-bit words. */
uint64_t kh_csum_add(uint64_t sum, const uint8_t *p, size_t len)
{
	uint8_t tail[2] = { 0, 0 };
	uint32_t w;
	uint16_t h;

	for (; len >= 4; p += 4, len -= 4) {
		memcpy(&w, p, 4);
		sum += w;
	}
	if (len >= 2) {
		memcpy(&h, p, 2);
		sum += h;
		p += 2;
		len -= 2;
	}
	if (len) {
		tail[0] = p[0];
		memcpy(&h, tail, 2);
		sum += h;
	}
	return sum;
}

uint16_t kh_csum_fold(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

void kh_csum_store(uint8_t *field, uint64_t sum)
{
	uint16_t c = (uint16_t)~kh_csum_fold(sum);

	if (!c)
		c = 0xffff;
	memcpy(field, &c, 2);
}

/* Addresses, then zero, the protocol and the length: the same sum in both layouts
 * (IPv6's 32-bit length and 24 zero bits add up alike for lengths under 64 KiB). */
uint64_t kh_csum_pseudo(const uint8_t *ip, uint8_t proto, size_t l4_len)
{
	uint8_t tail[4] = { 0, proto, (uint8_t)(l4_len >> 8), (uint8_t)l4_len };
	uint64_t sum;

	if (ip[0] >> 4 == 4)
		sum = kh_csum_add(0, ip + 12, 8);
	else
		sum = kh_csum_add(0, ip + 8, 32);
	return kh_csum_add(sum, tail, sizeof(tail));
}
