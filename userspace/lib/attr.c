/* attr.c - bounded writer and defensive reader of little-endian TLV attributes. */
#include "attr.h"

#include <errno.h>
#include <string.h>

#include "messages.h"

void kh_attr_writer_init(struct kh_attr_writer *w, uint8_t *buf, size_t max)
{
	w->buf = buf;
	w->len = 0;
	w->max = max;
	w->overflow = false;
}

static void put_header(uint8_t *p, uint16_t len, uint16_t type)
{
	p[0] = (uint8_t)len;
	p[1] = (uint8_t)(len >> 8);
	p[2] = (uint8_t)type;
	p[3] = (uint8_t)(type >> 8);
}

void kh_attr_put(struct kh_attr_writer *w, uint16_t type, const void *data, size_t len)
{
	size_t total = KH_ATTR_ALIGN(KH_ATTR_HDRLEN + len);

	if (w->overflow || len > UINT16_MAX - KH_ATTR_HDRLEN - 3 || total > w->max - w->len) {
		w->overflow = true;
		return;
	}
	put_header(w->buf + w->len, (uint16_t)(KH_ATTR_HDRLEN + len), type);
	if (len)
		memcpy(w->buf + w->len + KH_ATTR_HDRLEN, data, len);
	memset(w->buf + w->len + KH_ATTR_HDRLEN + len, 0, total - KH_ATTR_HDRLEN - len);
	w->len += total;
}

void kh_attr_put_u8(struct kh_attr_writer *w, uint16_t type, uint8_t value)
{
	kh_attr_put(w, type, &value, 1);
}

void kh_attr_put_u16(struct kh_attr_writer *w, uint16_t type, uint16_t value)
{
	uint8_t le[2] = { (uint8_t)value, (uint8_t)(value >> 8) };

	kh_attr_put(w, type, le, sizeof(le));
}

void kh_attr_put_u32(struct kh_attr_writer *w, uint16_t type, uint32_t value)
{
	uint8_t le[4];

	kh_put_le32(le, value);
	kh_attr_put(w, type, le, sizeof(le));
}

void kh_attr_put_u64(struct kh_attr_writer *w, uint16_t type, uint64_t value)
{
	uint8_t le[8];

	kh_put_le64(le, value);
	kh_attr_put(w, type, le, sizeof(le));
}

void kh_attr_put_str(struct kh_attr_writer *w, uint16_t type, const char *s)
{
	kh_attr_put(w, type, s, strlen(s) + 1);
}

size_t kh_attr_nest_start(struct kh_attr_writer *w, uint16_t type)
{
	size_t start = w->len;

	kh_attr_put(w, type | KH_ATTR_F_NESTED, NULL, 0);
	return w->overflow ? SIZE_MAX : start;
}

void kh_attr_nest_end(struct kh_attr_writer *w, size_t start)
{
	uint8_t *p;

	if (w->overflow || start == SIZE_MAX)
		return;
	if (w->len - start > UINT16_MAX) {
		w->overflow = true;
		return;
	}
	p = w->buf + start;
	put_header(p, (uint16_t)(w->len - start), (uint16_t)(p[2] | p[3] << 8));
}

void kh_attr_iter_init(struct kh_attr_iter *it, const uint8_t *buf, size_t len)
{
	it->p = buf;
	it->left = len;
	it->malformed = false;
}

bool kh_attr_next(struct kh_attr_iter *it, struct kh_attr *attr)
{
	uint16_t len;
	size_t step;

	if (it->left == 0)
		return false;
	if (it->left < KH_ATTR_HDRLEN) {
		it->malformed = true;
		return false;
	}
	len = (uint16_t)(it->p[0] | it->p[1] << 8);
	if (len < KH_ATTR_HDRLEN || len > it->left) {
		it->malformed = true;
		return false;
	}
	attr->type = (uint16_t)((it->p[2] | it->p[3] << 8) & ~KH_ATTR_F_NESTED);
	attr->len = (uint16_t)(len - KH_ATTR_HDRLEN);
	attr->data = it->p + KH_ATTR_HDRLEN;
	/* The last attribute may omit its padding. */
	step = KH_ATTR_ALIGN(len);
	if (step > it->left)
		step = it->left;
	it->p += step;
	it->left -= step;
	return true;
}

int kh_attr_get_u8(const struct kh_attr *a, uint8_t *out)
{
	if (a->len != 1)
		return -EINVAL;
	*out = a->data[0];
	return 0;
}

int kh_attr_get_u16(const struct kh_attr *a, uint16_t *out)
{
	if (a->len != 2)
		return -EINVAL;
	*out = (uint16_t)(a->data[0] | a->data[1] << 8);
	return 0;
}

int kh_attr_get_u32(const struct kh_attr *a, uint32_t *out)
{
	if (a->len != 4)
		return -EINVAL;
	*out = kh_get_le32(a->data);
	return 0;
}

int kh_attr_get_u64(const struct kh_attr *a, uint64_t *out)
{
	if (a->len != 8)
		return -EINVAL;
	*out = kh_get_le64(a->data);
	return 0;
}

int kh_attr_get_bin(const struct kh_attr *a, void *out, size_t len)
{
	if (a->len != len)
		return -EINVAL;
	memcpy(out, a->data, len);
	return 0;
}

int kh_attr_get_str(const struct kh_attr *a, char *out, size_t max)
{
	if (a->len < 2 || a->len > max || a->data[a->len - 1] != '\0' ||
	    memchr(a->data, '\0', a->len - 1))
		return -EINVAL;
	memcpy(out, a->data, a->len);
	return 0;
}
