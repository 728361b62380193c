/* attr.h - TLV attributes in netlink's layout (u16 length, u16 type, 4-byte aligned), little endian on the wire. */
#ifndef KEYHOLE_ATTR_H
#define KEYHOLE_ATTR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Control messages cross machines, so unlike netlink every integer - the
 * attribute header included - is little endian whatever the host. */
#define KH_ATTR_HDRLEN 4
#define KH_ATTR_ALIGN(len) (((len) + 3) & ~(size_t)3)
#define KH_ATTR_F_NESTED 0x8000

struct kh_attr_writer {
	uint8_t *buf;
	size_t len;
	size_t max;
	bool overflow; /* a put did not fit: the message must not be sent */
};

void kh_attr_writer_init(struct kh_attr_writer *w, uint8_t *buf, size_t max);
void kh_attr_put(struct kh_attr_writer *w, uint16_t type, const void *data, size_t len);
void kh_attr_put_u8(struct kh_attr_writer *w, uint16_t type, uint8_t value);
void kh_attr_put_u16(struct kh_attr_writer *w, uint16_t type, uint16_t value);
void kh_attr_put_u32(struct kh_attr_writer *w, uint16_t type, uint32_t value);
void kh_attr_put_u64(struct kh_attr_writer *w, uint16_t type, uint64_t value);
void kh_attr_put_str(struct kh_attr_writer *w, uint16_t type, const char *s);
/* Nesting: start returns the offset to pass to end (SIZE_MAX on overflow). */
size_t kh_attr_nest_start(struct kh_attr_writer *w, uint16_t type);
void kh_attr_nest_end(struct kh_attr_writer *w, size_t start);

/* One attribute met while parsing. */
struct kh_attr {
	uint16_t type; /* without the nested flag */
	uint16_t len;  /* of the value */
	const uint8_t *data;
};

struct kh_attr_iter {
	const uint8_t *p;
	size_t left;
	bool malformed;
};

void kh_attr_iter_init(struct kh_attr_iter *it, const uint8_t *buf, size_t len);
/* Next attribute, or false at the end or on a malformed one (then it->malformed). */
bool kh_attr_next(struct kh_attr_iter *it, struct kh_attr *attr);

/* Typed reads: each checks the exact length and returns -EINVAL otherwise. */
int kh_attr_get_u8(const struct kh_attr *a, uint8_t *out);
int kh_attr_get_u16(const struct kh_attr *a, uint16_t *out);
int kh_attr_get_u32(const struct kh_attr *a, uint32_t *out);
int kh_attr_get_u64(const struct kh_attr *a, uint64_t *out);
int kh_attr_get_bin(const struct kh_attr *a, void *out, size_t len);
/* A NUL-terminated string of 1..max-1 characters with no NUL inside, copied to out[max]. */
int kh_attr_get_str(const struct kh_attr *a, char *out, size_t max);

#endif
