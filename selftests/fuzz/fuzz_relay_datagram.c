/* fuzz_relay_datagram.c - libFuzzer target: a received datagram through every pure function that reads untrusted bytes. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "../../userspace/lib/cookie.h"
#include "../../userspace/lib/handshake.h"
#include "../../userspace/lib/key.h"
#include "../../userspace/lib/messages.h"
#include "../../userspace/lib/transport.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Any fixed instant: the fixed keys never expire during a run. */
#define NOW_NS (1000ULL * 1000000000ULL)
#define NODE_INDEX 0x11223344u
#define RELAY_INDEX 0x55667788u

/*
 * Everything a relay and a node hold after one clean handshake, made once.
 * The messages of that handshake are the seeds that mutations start from:
 * random bytes alone would never get past mac1 or an AEAD tag.
 */
static struct {
	struct noise_static relay, node;
	uint8_t psk[NOISE_PSK_LEN];
	struct kh_cookie_checker checker;  /* the relay's */
	struct kh_cookie_maker maker;      /* the node's, right after its initiation */
	struct noise_handshake node_hs;    /* the node waiting for the response */
	struct kh_keypair relay_kp, node_kp;
	uint8_t initiation[KH_INIT_MAX_LEN];
	size_t initiation_len;
	uint8_t response[KH_RESP_LEN];
	uint8_t cookie_reply[KH_COOKIE_REPLY_LEN];
	uint8_t transport[KH_DATA_OVERHEAD + 5];
} fx;

/* libsodium's randomness made repeatable, so one input always takes the same path. */
static uint64_t rng_calls;

static void rng_buf(void *buf, size_t size)
{
	unsigned char seed[randombytes_SEEDBYTES] = "keyhole fuzz: same every run";

	memcpy(seed, &rng_calls, sizeof(rng_calls));
	rng_calls++;
	randombytes_buf_deterministic(buf, size, seed);
}

static uint32_t rng_random(void)
{
	uint32_t v;

	rng_buf(&v, sizeof(v));
	return v;
}

static const char *rng_name(void)
{
	return "keyhole-fuzz";
}

static struct randombytes_implementation rng = {
	.implementation_name = rng_name,
	.random = rng_random,
	.buf = rng_buf,
};

static void make_static(struct noise_static *s, uint8_t fill)
{
	memset(s->priv, fill, sizeof(s->priv));
	s->priv[0] &= 248;
	s->priv[31] = (s->priv[31] & 127) | 64;
	if (kh_key_public(s->pub, s->priv))
		abort();
}

static void setup(void)
{
	static const uint8_t token[KH_TOKEN_LEN] = { 1, 2, 3 };
	struct noise_handshake relay_hs, node_hs;
	struct kh_initiation init;
	uint8_t timestamp[KH_TAI64N_LEN];
	int len;

	randombytes_set_implementation(&rng);
	if (sodium_init() < 0)
		abort();
	make_static(&fx.relay, 0x42);
	make_static(&fx.node, 0x17);
	kh_cookie_checker_init(&fx.checker, fx.relay.pub);
	kh_cookie_maker_init(&fx.maker, fx.relay.pub);
	kh_tai64n(timestamp, 1700000000, 5);
	len = kh_handshake_initiate(&node_hs, &fx.maker, &fx.node, fx.relay.pub, fx.psk,
				    NODE_INDEX, timestamp, token, "camera-1", fx.initiation,
				    NOW_NS);
	if (len <= 0)
		abort();
	fx.initiation_len = (size_t)len;
	fx.node_hs = node_hs;
	if (kh_handshake_consume_initiation(&relay_hs, &init, &fx.relay, fx.initiation,
					    fx.initiation_len) ||
	    kh_handshake_respond(&relay_hs, fx.psk, RELAY_INDEX, init.sender_index, fx.response,
				 &fx.relay_kp, NOW_NS) != KH_RESP_LEN ||
	    kh_handshake_consume_response(&node_hs, fx.response, KH_RESP_LEN, &fx.node_kp, NOW_NS))
		abort();
	kh_cookie_make_reply(&fx.checker, fx.initiation, fx.initiation_len, NODE_INDEX,
			     (const uint8_t *)"\xc0\x00\x02\x01\x1f\x90", 6, NOW_NS, fx.cookie_reply);
	if (kh_transport_seal(&fx.node_kp, (const uint8_t *)"hello", 5, fx.transport, NOW_NS) !=
	    (int)sizeof(fx.transport))
		abort();
}

/* The enrollment TLV rules of Documentation/protocol.md, written out apart from handshake.c. */
static bool tlvs_valid(const uint8_t *p, size_t len)
{
	bool token = false, name = false;
	size_t i, vlen;

	while (len) {
		if (len < 2 || (size_t)p[1] + 2 > len)
			return false;
		vlen = p[1];
		if (p[0] == KH_ENROLL_TOKEN) {
			if (token || vlen != KH_TOKEN_LEN)
				return false;
			token = true;
		} else if (p[0] == KH_ENROLL_NAME) {
			if (name || vlen < 1 || vlen > KH_NAME_MAX || p[2] == '-' ||
			    p[1 + vlen] == '-')
				return false;
			for (i = 0; i < vlen; i++)
				if (!strchr("abcdefghijklmnopqrstuvwxyz0123456789-", p[2 + i]) ||
				    !p[2 + i])
					return false;
			name = true;
		} else {
			return false;
		}
		p += 2 + vlen;
		len -= 2 + vlen;
	}
	return true;
}

static void check_initiation(const uint8_t *msg, size_t len)
{
	struct noise_handshake hs;
	struct kh_initiation init;
	size_t i, name_len;
	int ret = kh_handshake_consume_initiation(&hs, &init, &fx.relay, msg, len);

	if (ret != 0 && ret != -EINVAL && ret != -EBADMSG)
		abort();
	if (ret == 0) {
		/* Only the node's key can have made an initiation that authenticates. */
		if (memcmp(init.static_pub, fx.node.pub, 32) ||
		    init.sender_index != kh_get_le32(msg + KH_INIT_SENDER_OFF))
			abort();
		name_len = strnlen(init.name, sizeof(init.name));
		if (name_len == sizeof(init.name))
			abort();
		for (i = 0; i < name_len; i++)
			if (!strchr("abcdefghijklmnopqrstuvwxyz0123456789-", init.name[i]))
				abort();
	}
	noise_handshake_wipe(&hs);
}

static void check_transport(const uint8_t *msg, size_t len)
{
	struct kh_keypair kp = fx.relay_kp;
	int64_t index = kh_transport_receiver(msg, len);
	uint8_t *out;
	int ret;

	if (index >= 0 && (len < KH_DATA_OVERHEAD || len > KH_DATA_MAX_LEN ||
			   kh_msg_type(msg, len) != KH_MSG_TRANSPORT || index > UINT32_MAX))
		abort();
	/* Exactly the room the API promises to need, so ASan sees any write past it. */
	out = malloc(len > KH_DATA_OVERHEAD ? len - KH_DATA_OVERHEAD : 1);
	if (!out)
		abort();
	ret = kh_transport_open(&kp, msg, len, out, NOW_NS);
	if (ret >= 0 && (index < 0 || (size_t)ret != len - KH_DATA_OVERHEAD))
		abort();
	if (ret < 0 && ret != -EINVAL && ret != -ESTALE && ret != -EBADMSG && ret != -EALREADY)
		abort();
	free(out);
	kh_keypair_wipe(&kp);
}

static void check_response(const uint8_t *msg, size_t len)
{
	struct noise_handshake hs = fx.node_hs;
	struct kh_keypair kp;
	int ret = kh_handshake_consume_response(&hs, msg, len, &kp, NOW_NS);

	if (ret != 0 && ret != -EINVAL && ret != -EBADMSG)
		abort();
	if ((kh_handshake_response_receiver(msg, len) >= 0) != (len == KH_RESP_LEN &&
								kh_msg_type(msg, len) == KH_MSG_RESPONSE))
		abort();
	/* Success takes the very keys the relay holds. */
	if (ret == 0 && memcmp(kp.send_key, fx.relay_kp.recv_key, NOISE_KEY_LEN))
		abort();
	if (ret == 0)
		kh_keypair_wipe(&kp);
	noise_handshake_wipe(&hs);
}

static void check_cookie(const uint8_t *msg, size_t len)
{
	static const uint8_t src[] = { 192, 0, 2, 1, 0x1f, 0x90 };
	struct kh_cookie_maker cm = fx.maker;
	bool mac1 = kh_cookie_mac1_valid(&fx.checker, msg, len);
	enum kh_mac_verdict v = kh_cookie_validate(&fx.checker, msg, len, src, sizeof(src), NOW_NS);
	int ret;

	if (mac1 != (v != KH_MAC_INVALID) || (mac1 && len < KH_HEADER_LEN + 2 * KH_MAC_LEN))
		abort();
	ret = kh_cookie_consume_reply(&cm, msg, len, NOW_NS);
	if (ret != 0 && ret != -EINVAL && ret != -EBADMSG)
		abort();
	kh_cookie_maker_wipe(&cm);
}

/* Everything the relay (and a node, for responses and cookie replies) does with a datagram. */
static void check_datagram(const uint8_t *msg, size_t len)
{
	int type = kh_msg_type(msg, len);

	if (type != 0 && (len < KH_HEADER_LEN || type != msg[0]))
		abort();
	check_cookie(msg, len);
	check_initiation(msg, len);
	check_transport(msg, len);
	check_response(msg, len);
}

/* A seed message changed by the input: its first byte moves the length, then (offset, xor) pairs. */
static void check_mutated(const uint8_t *seed, size_t seed_len, const uint8_t *edits, size_t n)
{
	long len = (long)seed_len + (n ? (int8_t)edits[0] : 0);
	uint8_t *msg;
	size_t i;

	if (len < 0)
		len = 0;
	msg = calloc(1, len ? (size_t)len : 1);
	if (!msg)
		abort();
	memcpy(msg, seed, (size_t)len < seed_len ? (size_t)len : seed_len);
	for (i = 1; len && i + 1 < n; i += 2)
		msg[edits[i] % (size_t)len] ^= edits[i + 1];
	check_datagram(msg, (size_t)len);
	free(msg);
}

/* An initiation that authenticates as the node, carrying the input as enrollment TLVs. */
static void check_enrollment_payload(const uint8_t *tlvs, size_t n)
{
	uint8_t payload[KH_TAI64N_LEN + KH_INIT_MAX_EXTRA], msg[KH_INIT_MAX_LEN], e[32] = { 9 };
	struct kh_cookie_maker cm = fx.maker;
	struct noise_handshake hs, relay_hs;
	struct kh_initiation init;
	size_t len;
	int ret;

	if (n > KH_INIT_MAX_EXTRA)
		n = KH_INIT_MAX_EXTRA;
	kh_tai64n(payload, 1700000001, 0);
	memcpy(payload + KH_TAI64N_LEN, tlvs, n);
	if (noise_handshake_init(&hs, NOISE_INITIATOR, (const uint8_t *)KH_PROLOGUE,
				 strlen(KH_PROLOGUE), &fx.node, fx.relay.pub, fx.psk))
		abort();
	noise_handshake_set_ephemeral(&hs, e);
	kh_put_header(msg, KH_MSG_INITIATION);
	kh_put_le32(msg + KH_INIT_SENDER_OFF, NODE_INDEX);
	if (noise_ik_write_msg1(&hs, payload, KH_TAI64N_LEN + n, msg + KH_INIT_NOISE_OFF))
		abort();
	len = KH_INIT_NOISE_OFF + NOISE_IK_MSG1_LEN(KH_TAI64N_LEN + n) + 2 * KH_MAC_LEN;
	kh_cookie_add_macs(&cm, msg, len, NOW_NS);
	ret = kh_handshake_consume_initiation(&relay_hs, &init, &fx.relay, msg, len);
	/* The library and the written rules agree on every payload. */
	if (ret != (tlvs_valid(tlvs, n) ? 0 : -EINVAL))
		abort();
	if (!kh_cookie_mac1_valid(&fx.checker, msg, len))
		abort();
	noise_handshake_wipe(&hs);
	noise_handshake_wipe(&relay_hs);
}

/* The input sealed by the node must open at the relay once, byte for byte, and never twice. */
static void check_sealed(const uint8_t *payload, size_t n)
{
	struct kh_keypair node = fx.node_kp, relay = fx.relay_kp;
	uint8_t *msg = malloc(n + KH_DATA_OVERHEAD), *out = malloc(n ? n : 1);
	int ret;

	if (!msg || !out || n > KH_DATA_MAX_PAYLOAD)
		abort();
	if (kh_transport_seal(&node, payload, n, msg, NOW_NS) != (int)(n + KH_DATA_OVERHEAD))
		abort();
	ret = kh_transport_open(&relay, msg, n + KH_DATA_OVERHEAD, out, NOW_NS);
	if (ret != (int)n || memcmp(out, payload, n))
		abort();
	if (kh_transport_open(&relay, msg, n + KH_DATA_OVERHEAD, out, NOW_NS) != -EALREADY)
		abort();
	free(msg);
	free(out);
	kh_keypair_wipe(&node);
	kh_keypair_wipe(&relay);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;

	if (!ready) {
		setup();
		ready = true;
	}
	rng_calls = 1000;
	check_datagram(data, size);
	if (size < 1)
		return 0;
	switch (data[0] % 6) {
	case 0:
		check_mutated(fx.initiation, fx.initiation_len, data + 1, size - 1);
		break;
	case 1:
		check_mutated(fx.response, sizeof(fx.response), data + 1, size - 1);
		break;
	case 2:
		check_mutated(fx.transport, sizeof(fx.transport), data + 1, size - 1);
		break;
	case 3:
		check_mutated(fx.cookie_reply, sizeof(fx.cookie_reply), data + 1, size - 1);
		break;
	case 4:
		check_enrollment_payload(data + 1, size - 1);
		break;
	default:
		if (size - 1 <= KH_DATA_MAX_PAYLOAD)
			check_sealed(data + 1, size - 1);
		break;
	}
	return 0;
}
