/* byteorder.h - reading and writing integers in wire byte order, whatever the host's. */
#ifndef KEYHOLE_BYTEORDER_H
#define KEYHOLE_BYTEORDER_H

#include <stdint.h>

/* Big-endian: the IP, UDP and TCP headers. */
static inline uint16_t kh_get_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline void kh_put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline uint32_t kh_get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void kh_put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Little-endian: keyhole's own messages (Documentation/protocol.md). */
static inline uint32_t kh_get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static inline void kh_put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static inline uint64_t kh_get_le64(const uint8_t *p)
{
	return (uint64_t)kh_get_le32(p) | (uint64_t)kh_get_le32(p + 4) << 32;
}

static inline void kh_put_le64(uint8_t *p, uint64_t v)
{
	kh_put_le32(p, (uint32_t)v);
	kh_put_le32(p + 4, (uint32_t)(v >> 32));
}

#endif
