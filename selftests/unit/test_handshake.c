/* test_handshake.c - keyhole's wire handshake between a node and a relay, good and hostile cases. */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "../../userspace/lib/handshake.h"
#include "../../userspace/lib/key.h"
#include "suites.h"

#define NOW (1000ULL * 1000000000ULL)

struct pair {
	struct noise_static node, relay;
	uint8_t psk[NOISE_PSK_LEN];
	struct noise_handshake node_hs, relay_hs;
	struct kh_cookie_maker maker;
	struct kh_cookie_checker checker;
	struct kh_initiation init;
	struct kh_keypair node_kp, relay_kp;
	uint8_t initiation[KH_INIT_MAX_LEN], response[KH_RESP_LEN];
	int init_len;
};

static void pair_setup(struct pair *p)
{
	memset(p, 0, sizeof(*p));
	kh_key_generate(p->node.priv);
	kh_key_public(p->node.pub, p->node.priv);
	kh_key_generate(p->relay.priv);
	kh_key_public(p->relay.pub, p->relay.priv);
	kh_cookie_maker_init(&p->maker, p->relay.pub);
	kh_cookie_checker_init(&p->checker, p->relay.pub);
}

static int pair_initiate(struct pair *p, const uint8_t *token, const char *name, int64_t sec)
{
	uint8_t ts[KH_TAI64N_LEN];

	kh_tai64n(ts, sec, 0);
	p->init_len = kh_handshake_initiate(&p->node_hs, &p->maker, &p->node, p->relay.pub,
					    p->psk, 0x11223344, ts, token, name, p->initiation,
					    NOW);
	return p->init_len;
}

/* Drive the full exchange; returns 0 when both sides hold matching keys. */
static int pair_complete(struct pair *p, const uint8_t relay_psk[NOISE_PSK_LEN])
{
	int ret;

	if (!kh_cookie_mac1_valid(&p->checker, p->initiation, (size_t)p->init_len))
		return -EPERM;
	ret = kh_handshake_consume_initiation(&p->relay_hs, &p->init, &p->relay,
					      p->initiation, (size_t)p->init_len);
	if (ret)
		return ret;
	ret = kh_handshake_respond(&p->relay_hs, relay_psk, 0x55667788, p->init.sender_index,
				   p->response, &p->relay_kp, NOW);
	if (ret != KH_RESP_LEN)
		return -EIO;
	return kh_handshake_consume_response(&p->node_hs, p->response,
					     KH_RESP_LEN, &p->node_kp, NOW);
}

static void test_full_handshake(void)
{
	struct pair p;
	uint8_t msg[64 + KH_DATA_OVERHEAD], out[64];

	pair_setup(&p);
	CHECK_EQ(pair_initiate(&p, NULL, NULL, 1700000000), KH_INIT_MIN_LEN);
	CHECK_EQ(pair_complete(&p, p.psk), 0);
	CHECK_MEM(p.init.static_pub, p.node.pub, 32);
	CHECK(!p.init.has_token);
	CHECK_EQ(p.init.sender_index, 0x11223344);
	CHECK_EQ(p.node_kp.remote_index, 0x55667788);
	CHECK_EQ(p.node_kp.local_index, 0x11223344);
	CHECK_MEM(p.node_kp.send_key, p.relay_kp.recv_key, 32);
	CHECK_MEM(p.node_kp.recv_key, p.relay_kp.send_key, 32);
	CHECK(memcmp(p.node_kp.send_key, p.node_kp.recv_key, 32) != 0);
	/* A data message goes through both ways. */
	CHECK_EQ(kh_transport_seal(&p.node_kp, (const uint8_t *)"hello", 5, msg, NOW),
		 5 + KH_DATA_OVERHEAD);
	CHECK_EQ(kh_transport_open(&p.relay_kp, msg, 5 + KH_DATA_OVERHEAD, out, NOW), 5);
	CHECK_MEM(out, "hello", 5);
}

static void test_psk(void)
{
	struct pair p;
	uint8_t other[NOISE_PSK_LEN];

	pair_setup(&p);
	randombytes_buf(p.psk, sizeof(p.psk));
	CHECK(pair_initiate(&p, NULL, NULL, 1) > 0);
	CHECK_EQ(pair_complete(&p, p.psk), 0);

	/* The relay holding another psk: the node refuses the response. */
	pair_setup(&p);
	randombytes_buf(p.psk, sizeof(p.psk));
	memcpy(other, p.psk, sizeof(other));
	other[0] ^= 1;
	CHECK(pair_initiate(&p, NULL, NULL, 1) > 0);
	CHECK_EQ(pair_complete(&p, other), -EBADMSG);
}

static void test_enrollment_payload(void)
{
	struct pair p;
	uint8_t token[KH_TOKEN_LEN];

	pair_setup(&p);
	randombytes_buf(token, sizeof(token));
	CHECK(pair_initiate(&p, token, "pi-basement", 2) > KH_INIT_MIN_LEN);
	CHECK_EQ(pair_complete(&p, p.psk), 0);
	CHECK(p.init.has_token);
	CHECK_MEM(p.init.token, token, KH_TOKEN_LEN);
	CHECK(strcmp(p.init.name, "pi-basement") == 0);
	/* Names that are no DNS label are refused by the relay's parser. */
	pair_setup(&p);
	CHECK(pair_initiate(&p, NULL, "Bad_Name", 2) > 0);
	CHECK_EQ(pair_complete(&p, p.psk), -EINVAL);
	pair_setup(&p);
	CHECK_EQ(pair_initiate(&p, NULL, "a123456789012345678901234567890123456789012345678901234567890123", 2),
		 -ENAMETOOLONG);
}

/* Flip every bit of the initiation and of the response in turn: every one is refused. */
static void test_tamper_every_byte(void)
{
	struct pair p;
	size_t i;
	int bit;

	pair_setup(&p);
	CHECK(pair_initiate(&p, NULL, NULL, 3) > 0);
	for (i = 0; i < (size_t)p.init_len; i++) {
		for (bit = 0; bit < 8; bit += 7) {
			uint8_t copy[KH_INIT_MAX_LEN];
			bool mac_ok;
			int ret;

			memcpy(copy, p.initiation, (size_t)p.init_len);
			copy[i] ^= (uint8_t)(1 << bit);
			mac_ok = kh_cookie_mac1_valid(&p.checker, copy, (size_t)p.init_len);
			ret = kh_handshake_consume_initiation(&p.relay_hs, &p.init, &p.relay,
							      copy, (size_t)p.init_len);
			/* mac2 is all zero and unchecked here; every other byte is covered. */
			if (i >= (size_t)p.init_len - KH_MAC_LEN)
				continue;
			if (i >= (size_t)p.init_len - 2 * KH_MAC_LEN) {
				CHECK(!mac_ok);
				continue;
			}
			CHECK(!mac_ok);
			/* The sender index is not authenticated by Noise, only by mac1. */
			if (i >= KH_INIT_SENDER_OFF && i < KH_INIT_NOISE_OFF)
				continue;
			CHECK(ret != 0);
		}
	}

	CHECK_EQ(pair_complete(&p, p.psk), 0);
	for (i = 0; i < KH_RESP_LEN - KH_MAC_LEN; i++) {
		uint8_t copy[KH_RESP_LEN];
		struct pair q;

		pair_setup(&q);
		CHECK(pair_initiate(&q, NULL, NULL, 3) > 0);
		CHECK_EQ(kh_handshake_consume_initiation(&q.relay_hs, &q.init, &q.relay,
							 q.initiation, (size_t)q.init_len), 0);
		CHECK_EQ(kh_handshake_respond(&q.relay_hs, q.psk, 7, q.init.sender_index,
					      q.response, &q.relay_kp, NOW), KH_RESP_LEN);
		memcpy(copy, q.response, KH_RESP_LEN);
		copy[i] ^= 0x80;
		CHECK(kh_handshake_consume_response(&q.node_hs, copy, KH_RESP_LEN,
						    &q.node_kp, NOW) != 0);
		/* The handshake in flight survives the forgery: the real response still works. */
		CHECK_EQ(kh_handshake_consume_response(&q.node_hs, q.response,
						       KH_RESP_LEN, &q.node_kp, NOW), 0);
	}
}

static void test_wrong_relay_key(void)
{
	struct pair p;
	struct noise_static other;

	pair_setup(&p);
	CHECK(pair_initiate(&p, NULL, NULL, 4) > 0);
	/* Another relay: mac1 fails, and even without mac1 the Noise message does not open. */
	kh_key_generate(other.priv);
	kh_key_public(other.pub, other.priv);
	CHECK_EQ(kh_handshake_consume_initiation(&p.relay_hs, &p.init, &other,
						 p.initiation, (size_t)p.init_len), -EBADMSG);
}

static void test_truncated_and_oversized(void)
{
	struct pair p;
	uint8_t big[KH_INIT_MAX_LEN + 64];
	size_t len;

	pair_setup(&p);
	CHECK(pair_initiate(&p, NULL, NULL, 5) > 0);
	for (len = 0; len < (size_t)p.init_len; len++)
		CHECK(kh_handshake_consume_initiation(&p.relay_hs, &p.init, &p.relay,
						      p.initiation, len) != 0);
	memset(big, 0, sizeof(big));
	memcpy(big, p.initiation, (size_t)p.init_len);
	CHECK_EQ(kh_handshake_consume_initiation(&p.relay_hs, &p.init, &p.relay, big,
						 sizeof(big)), -EINVAL);
	/* Extra bytes appended to a valid initiation break its authentication. */
	CHECK(kh_handshake_consume_initiation(&p.relay_hs, &p.init, &p.relay, big,
					      (size_t)p.init_len + 1) != 0);
	CHECK_EQ(pair_complete(&p, p.psk), 0);
	for (len = 0; len < KH_RESP_LEN + 8; len++) {
		uint8_t resp[KH_RESP_LEN + 8] = { 0 };

		if (len == KH_RESP_LEN)
			continue;
		memcpy(resp, p.response, len < KH_RESP_LEN ? len : KH_RESP_LEN);
		CHECK_EQ(kh_handshake_consume_response(&p.node_hs, resp, len,
						       &p.node_kp, NOW), -EINVAL);
	}
}

struct ss_cache {
	uint8_t rs[32], ss[32];
	int computed, served;
};

static int test_ss(void *ctx, const uint8_t rs[32], const uint8_t s_priv[32], uint8_t out[32])
{
	struct ss_cache *c = ctx;

	if (c->computed && !memcmp(c->rs, rs, 32)) {
		c->served++;
	} else {
		if (crypto_scalarmult_curve25519(c->ss, s_priv, rs))
			return -EBADMSG;
		memcpy(c->rs, rs, 32);
		c->computed++;
	}
	memcpy(out, c->ss, 32);
	return 0;
}

/* A cached static-static DH gives exactly the handshake the plain one gives. */
static void test_cached_static_dh(void)
{
	struct ss_cache cache = { 0 };
	struct pair p;
	int round;

	pair_setup(&p);
	for (round = 0; round < 3; round++) {
		CHECK(pair_initiate(&p, NULL, NULL, 10 + round) > 0);
		CHECK_EQ(kh_handshake_consume_initiation_cached(&p.relay_hs, &p.init, &p.relay,
								test_ss, &cache, p.initiation,
								(size_t)p.init_len), 0);
		CHECK_EQ(kh_handshake_respond(&p.relay_hs, p.psk, 9, p.init.sender_index,
					      p.response, &p.relay_kp, NOW), KH_RESP_LEN);
		CHECK_EQ(kh_handshake_consume_response(&p.node_hs, p.response, KH_RESP_LEN,
						       &p.node_kp, NOW), 0);
		CHECK_MEM(p.node_kp.send_key, p.relay_kp.recv_key, 32);
	}
	CHECK_EQ(cache.computed, 1);
	CHECK_EQ(cache.served, 2);
	/* A wrong cached value breaks the handshake: the cache is really used. */
	cache.ss[0] ^= 1;
	CHECK(pair_initiate(&p, NULL, NULL, 20) > 0);
	CHECK(kh_handshake_consume_initiation_cached(&p.relay_hs, &p.init, &p.relay, test_ss,
						     &cache, p.initiation, (size_t)p.init_len) != 0);
}

static void test_tai64n_order(void)
{
	uint8_t a[KH_TAI64N_LEN], b[KH_TAI64N_LEN], c[KH_TAI64N_LEN];

	kh_tai64n(a, 1700000000, 999999999);
	kh_tai64n(b, 1700000001, 0);
	kh_tai64n(c, 1700000001, 1);
	CHECK(memcmp(a, b, KH_TAI64N_LEN) < 0);
	CHECK(memcmp(b, c, KH_TAI64N_LEN) < 0);
	CHECK_EQ(a[0], 0x40);
}

TEST_SUITE(handshake_tests) = {
	{ "node and relay derive matching keys", test_full_handshake },
	{ "pre-shared key must match", test_psk },
	{ "enrollment token and name travel in the initiation", test_enrollment_payload },
	{ "a change to any byte of either message is refused", test_tamper_every_byte },
	{ "initiation for another relay's key is refused", test_wrong_relay_key },
	{ "truncated and oversized messages are refused", test_truncated_and_oversized },
	{ "a cached static-static DH gives the same handshake", test_cached_static_dh },
	{ "TAI64N labels order as time does", test_tai64n_order },
	TEST_END,
};
