/* handshake.c - build and read keyhole's initiation and response messages (pure, no I/O). */
#include "handshake.h"

#include <errno.h>
#include <string.h>

#include <sodium.h>

#define TAI64_EPOCH_OFFSET 0x400000000000000aULL /* 2^62 + 10 leap seconds, as WireGuard uses */

void kh_tai64n(uint8_t out[KH_TAI64N_LEN], int64_t sec, uint32_t nsec)
{
	uint64_t label = TAI64_EPOCH_OFFSET + (uint64_t)sec;
	int i;

	for (i = 0; i < 8; i++)
		out[i] = (uint8_t)(label >> (56 - 8 * i));
	for (i = 0; i < 4; i++)
		out[8 + i] = (uint8_t)(nsec >> (24 - 8 * i));
}

static size_t put_tlv(uint8_t *p, uint8_t type, const void *value, size_t len)
{
	p[0] = type;
	p[1] = (uint8_t)len;
	memcpy(p + 2, value, len);
	return 2 + len;
}

int kh_handshake_initiate(struct noise_handshake *hs, struct kh_cookie_maker *cm,
			  const struct noise_static *node, const uint8_t relay_pub[32],
			  const uint8_t psk[NOISE_PSK_LEN], uint32_t sender_index,
			  const uint8_t timestamp[KH_TAI64N_LEN],
			  const uint8_t *token, const char *name,
			  uint8_t *out, uint64_t now_ns)
{
	uint8_t payload[KH_TAI64N_LEN + KH_INIT_MAX_EXTRA];
	size_t payload_len = KH_TAI64N_LEN, name_len = name ? strlen(name) : 0, len;
	int ret;

	if (name_len > KH_NAME_MAX)
		return -ENAMETOOLONG;
	memcpy(payload, timestamp, KH_TAI64N_LEN);
	if (token)
		payload_len += put_tlv(payload + payload_len, KH_ENROLL_TOKEN, token, KH_TOKEN_LEN);
	if (name_len)
		payload_len += put_tlv(payload + payload_len, KH_ENROLL_NAME, name, name_len);

	ret = noise_handshake_init(hs, NOISE_INITIATOR, (const uint8_t *)KH_PROLOGUE,
				   strlen(KH_PROLOGUE), node, relay_pub, psk);
	if (ret)
		goto out;
	kh_put_header(out, KH_MSG_INITIATION);
	kh_put_le32(out + KH_INIT_SENDER_OFF, sender_index);
	ret = noise_ik_write_msg1(hs, payload, payload_len, out + KH_INIT_NOISE_OFF);
	if (ret)
		goto out;
	len = KH_INIT_NOISE_OFF + NOISE_IK_MSG1_LEN(payload_len) + 2 * KH_MAC_LEN;
	kh_cookie_add_macs(cm, out, len, now_ns);
	ret = (int)len;
out:
	sodium_memzero(payload, sizeof(payload));
	return ret;
}

/* Name TLV value: a DNS label (letters, digits, inner hyphens). */
static bool name_is_label(const uint8_t *p, size_t len)
{
	size_t i;

	if (len == 0 || len > KH_NAME_MAX || p[0] == '-' || p[len - 1] == '-')
		return false;
	for (i = 0; i < len; i++)
		if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= '0' && p[i] <= '9') ||
		      p[i] == '-'))
			return false;
	return true;
}

static int parse_enroll_tlvs(struct kh_initiation *init, const uint8_t *p, size_t len)
{
	while (len) {
		uint8_t type, vlen;

		if (len < 2 || (size_t)p[1] + 2 > len)
			return -EINVAL;
		type = p[0];
		vlen = p[1];
		switch (type) {
		case KH_ENROLL_TOKEN:
			if (vlen != KH_TOKEN_LEN || init->has_token)
				return -EINVAL;
			memcpy(init->token, p + 2, KH_TOKEN_LEN);
			init->has_token = true;
			break;
		case KH_ENROLL_NAME:
			if (!name_is_label(p + 2, vlen) || init->name[0])
				return -EINVAL;
			memcpy(init->name, p + 2, vlen);
			init->name[vlen] = '\0';
			break;
		default:
			return -EINVAL;
		}
		p += 2 + vlen;
		len -= 2 + (size_t)vlen;
	}
	return 0;
}

int kh_handshake_consume_initiation(struct noise_handshake *hs, struct kh_initiation *init,
				    const struct noise_static *relay,
				    const uint8_t *msg, size_t len)
{
	return kh_handshake_consume_initiation_cached(hs, init, relay, NULL, NULL, msg, len);
}

int kh_handshake_consume_initiation_cached(struct noise_handshake *hs,
					   struct kh_initiation *init,
					   const struct noise_static *relay, noise_ss_fn fn,
					   void *ctx, const uint8_t *msg, size_t len)
{
	uint8_t payload[KH_TAI64N_LEN + KH_INIT_MAX_EXTRA];
	size_t noise_len, payload_len;
	int ret;

	if (len < KH_INIT_MIN_LEN || len > KH_INIT_MAX_LEN ||
	    kh_msg_type(msg, len) != KH_MSG_INITIATION)
		return -EINVAL;
	memset(init, 0, sizeof(*init));
	init->sender_index = kh_get_le32(msg + KH_INIT_SENDER_OFF);
	/* The psk is mixed in only at the response: it may depend on who this is. */
	ret = noise_handshake_init(hs, NOISE_RESPONDER, (const uint8_t *)KH_PROLOGUE,
				   strlen(KH_PROLOGUE), relay, NULL,
				   (const uint8_t[NOISE_PSK_LEN]){ 0 });
	if (ret)
		return ret;
	noise_handshake_set_ss_fn(hs, fn, ctx);
	noise_len = len - KH_INIT_NOISE_OFF - 2 * KH_MAC_LEN;
	ret = noise_ik_read_msg1(hs, msg + KH_INIT_NOISE_OFF, noise_len, payload, &payload_len);
	if (ret)
		goto fail;
	memcpy(init->static_pub, hs->rs, NOISE_DH_LEN);
	memcpy(init->timestamp, payload, KH_TAI64N_LEN);
	ret = parse_enroll_tlvs(init, payload + KH_TAI64N_LEN, payload_len - KH_TAI64N_LEN);
	if (ret)
		goto fail;
	sodium_memzero(payload, sizeof(payload));
	return 0;
fail:
	sodium_memzero(payload, sizeof(payload));
	noise_handshake_wipe(hs);
	return ret == -EINVAL ? -EINVAL : -EBADMSG;
}

int kh_handshake_respond(struct noise_handshake *hs, const uint8_t psk[NOISE_PSK_LEN],
			 uint32_t sender_index, uint32_t receiver_index,
			 uint8_t *out, struct kh_keypair *kp, uint64_t now_ns)
{
	struct kh_cookie_maker cm;
	struct noise_split keys;
	int ret;

	memcpy(hs->psk, psk, NOISE_PSK_LEN);
	kh_put_header(out, KH_MSG_RESPONSE);
	kh_put_le32(out + KH_RESP_SENDER_OFF, sender_index);
	kh_put_le32(out + KH_RESP_RECEIVER_OFF, receiver_index);
	ret = noise_ik_write_msg2(hs, NULL, 0, out + KH_RESP_NOISE_OFF);
	if (ret)
		return ret;
	/* The response's mac1 is keyed by the initiator's key; the relay never sends mac2. */
	kh_cookie_maker_init(&cm, hs->rs);
	kh_cookie_add_macs(&cm, out, KH_RESP_LEN, now_ns);
	kh_cookie_maker_wipe(&cm);
	noise_handshake_split(hs, &keys);
	kh_keypair_init(kp, &keys, sender_index, receiver_index, false, now_ns);
	sodium_memzero(&keys, sizeof(keys));
	noise_handshake_wipe(hs);
	return KH_RESP_LEN;
}

int64_t kh_handshake_response_receiver(const uint8_t *msg, size_t len)
{
	if (len != KH_RESP_LEN || kh_msg_type(msg, len) != KH_MSG_RESPONSE)
		return -EINVAL;
	return kh_get_le32(msg + KH_RESP_RECEIVER_OFF);
}

int kh_handshake_consume_response(struct noise_handshake *hs, const uint8_t *msg,
				  size_t len, struct kh_keypair *kp,
				  uint64_t now_ns)
{
	struct kh_cookie_checker cc;
	struct noise_handshake trial;
	struct noise_split keys;
	uint8_t empty[1];
	size_t payload_len;
	bool mac1_ok;
	int ret;

	if (kh_handshake_response_receiver(msg, len) < 0)
		return -EINVAL;
	kh_cookie_checker_init(&cc, hs->s_pub);
	mac1_ok = kh_cookie_mac1_valid(&cc, msg, len);
	kh_cookie_checker_wipe(&cc);
	if (!mac1_ok)
		return -EBADMSG;
	/* Work on a copy: a forged response must not spoil the handshake in flight. */
	trial = *hs;
	ret = noise_ik_read_msg2(&trial, msg + KH_RESP_NOISE_OFF, NOISE_IK_MSG2_LEN(0), empty,
				 &payload_len);
	if (ret) {
		noise_handshake_wipe(&trial);
		return -EBADMSG;
	}
	noise_handshake_split(&trial, &keys);
	noise_handshake_wipe(&trial);
	kh_keypair_init(kp, &keys, kh_get_le32(msg + KH_RESP_RECEIVER_OFF),
			kh_get_le32(msg + KH_RESP_SENDER_OFF), true, now_ns);
	sodium_memzero(&keys, sizeof(keys));
	noise_handshake_wipe(hs);
	return 0;
}
