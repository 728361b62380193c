/* test_transport.c - data messages: round trip, tampering, replay, key expiry, counter exhaustion. */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "../../userspace/lib/transport.h"
#include "suites.h"

#define NOW (500ULL * 1000000000ULL)

static void make_pair(struct kh_keypair *a, struct kh_keypair *b)
{
	struct noise_split ka, kb;

	randombytes_buf(ka.send, sizeof(ka.send));
	randombytes_buf(ka.recv, sizeof(ka.recv));
	memcpy(kb.send, ka.recv, sizeof(kb.send));
	memcpy(kb.recv, ka.send, sizeof(kb.recv));
	kh_keypair_init(a, &ka, 1, 2, true, NOW);
	kh_keypair_init(b, &kb, 2, 1, false, NOW);
}

static void test_roundtrip_in_place(void)
{
	struct kh_keypair a, b;
	uint8_t buf[1400 + KH_DATA_OVERHEAD];
	int len;

	make_pair(&a, &b);
	memset(buf + KH_DATA_HEADER_LEN, 0x45, 1400);
	len = kh_transport_seal(&a, buf + KH_DATA_HEADER_LEN, 1400, buf, NOW);
	CHECK_EQ(len, 1400 + KH_DATA_OVERHEAD);
	CHECK_EQ(kh_transport_receiver(buf, (size_t)len), 2);
	CHECK_EQ(kh_transport_open(&b, buf, (size_t)len, buf + KH_DATA_HEADER_LEN, NOW), 1400);
	CHECK_EQ(buf[KH_DATA_HEADER_LEN + 1399], 0x45);
	/* Empty payload: a keepalive. */
	len = kh_transport_seal(&b, NULL, 0, buf, NOW);
	CHECK_EQ(len, KH_DATA_OVERHEAD);
	CHECK_EQ(kh_transport_open(&a, buf, (size_t)len, buf + KH_DATA_HEADER_LEN, NOW), 0);
}

static void test_tamper_and_replay(void)
{
	struct kh_keypair a, b;
	uint8_t msg[100 + KH_DATA_OVERHEAD], copy[sizeof(msg)], out[100];
	size_t i;
	int len;

	make_pair(&a, &b);
	memset(out, 1, sizeof(out));
	len = kh_transport_seal(&a, out, sizeof(out), msg, NOW);
	for (i = 0; i < (size_t)len; i++) {
		memcpy(copy, msg, (size_t)len);
		copy[i] ^= 0x01;
		/* The receiver index is a routing hint, not authenticated: changing it
		 * still fails here because the real session is the one we hold. */
		if (i >= KH_DATA_RECEIVER_OFF && i < KH_DATA_COUNTER_OFF)
			continue;
		CHECK(kh_transport_open(&b, copy, (size_t)len, out, NOW) < 0);
	}
	CHECK_EQ(kh_transport_open(&b, msg, (size_t)len, out, NOW), 100);
	CHECK_EQ(kh_transport_open(&b, msg, (size_t)len, out, NOW), -EALREADY);
	/* A forged packet far ahead must not move the window (it fails authentication). */
	memcpy(copy, msg, (size_t)len);
	kh_put_le64(copy + KH_DATA_COUNTER_OFF, 1ULL << 40);
	CHECK_EQ(kh_transport_open(&b, copy, (size_t)len, out, NOW), -EBADMSG);
	len = kh_transport_seal(&a, out, 10, msg, NOW);
	CHECK_EQ(kh_transport_open(&b, msg, (size_t)len, out, NOW), 10);
}

static void test_reordered(void)
{
	struct kh_keypair a, b;
	uint8_t msgs[64][8 + KH_DATA_OVERHEAD], out[8];
	int i;

	make_pair(&a, &b);
	for (i = 0; i < 64; i++)
		CHECK_EQ(kh_transport_seal(&a, (const uint8_t *)"12345678", 8, msgs[i], NOW),
			 8 + KH_DATA_OVERHEAD);
	for (i = 63; i >= 0; i--)
		CHECK_EQ(kh_transport_open(&b, msgs[i], sizeof(msgs[i]), out, NOW), 8);
	for (i = 0; i < 64; i++)
		CHECK_EQ(kh_transport_open(&b, msgs[i], sizeof(msgs[i]), out, NOW), -EALREADY);
}

static void test_limits(void)
{
	struct kh_keypair a, b;
	uint8_t msg[4 + KH_DATA_OVERHEAD], out[4];
	int len;

	make_pair(&a, &b);
	CHECK(!kh_keypair_needs_rekey(&a, NOW));
	CHECK(kh_keypair_needs_rekey(&a, NOW + KH_REKEY_AFTER_TIME_NS));
	CHECK(!kh_keypair_needs_rekey(&b, NOW + KH_REKEY_AFTER_TIME_NS));
	len = kh_transport_seal(&a, out, 4, msg, NOW);
	CHECK_EQ(kh_transport_open(&b, msg, (size_t)len, out, NOW + KH_REJECT_AFTER_TIME_NS),
		 -ESTALE);
	CHECK_EQ(kh_transport_seal(&a, out, 4, msg, NOW + KH_REJECT_AFTER_TIME_NS), -ESTALE);
	/* Counter exhaustion: the last usable counter, then nothing more. */
	a.send_counter = KH_REKEY_AFTER_MESSAGES;
	CHECK(kh_keypair_needs_rekey(&a, NOW));
	a.send_counter = KH_REJECT_AFTER_MESSAGES - 1;
	len = kh_transport_seal(&a, out, 4, msg, NOW);
	CHECK_EQ(len, 4 + KH_DATA_OVERHEAD);
	CHECK_EQ(kh_transport_open(&b, msg, (size_t)len, out, NOW), 4);
	CHECK_EQ(kh_transport_seal(&a, out, 4, msg, NOW), -ESTALE);
	/* A message claiming a counter past the limit is refused before decryption. */
	kh_put_le64(msg + KH_DATA_COUNTER_OFF, KH_REJECT_AFTER_MESSAGES);
	CHECK_EQ(kh_transport_open(&b, msg, (size_t)len, out, NOW), -ESTALE);
	kh_keypair_wipe(&a);
	CHECK(kh_keypair_expired(&a, NOW));
}

static void test_malformed(void)
{
	struct kh_keypair a, b;
	uint8_t msg[KH_DATA_OVERHEAD + 4] = { 0 }, out[4];
	size_t len;

	make_pair(&a, &b);
	for (len = 0; len < KH_DATA_OVERHEAD; len++)
		CHECK_EQ(kh_transport_open(&b, msg, len, out, NOW), -EINVAL);
	kh_put_header(msg, KH_MSG_TRANSPORT);
	msg[1] = 2; /* unknown version */
	CHECK_EQ(kh_transport_receiver(msg, sizeof(msg)), -EINVAL);
	msg[1] = KH_VERSION;
	msg[2] = 1; /* reserved must be zero */
	CHECK_EQ(kh_transport_receiver(msg, sizeof(msg)), -EINVAL);
	CHECK_EQ(kh_transport_receiver(msg, KH_DATA_MAX_LEN + 1), -EINVAL);
}

TEST_SUITE(transport_tests) = {
	{ "seal and open in place, keepalive", test_roundtrip_in_place },
	{ "tampered and replayed messages are refused", test_tamper_and_replay },
	{ "reordered messages accepted once each", test_reordered },
	{ "time and counter limits", test_limits },
	{ "malformed headers are refused", test_malformed },
	TEST_END,
};
