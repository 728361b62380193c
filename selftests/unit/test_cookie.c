/* test_cookie.c - mac1 gates handshakes; a cookie reply makes a source prove its address. */
#include <errno.h>
#include <string.h>

#include "../../userspace/lib/cookie.h"
#include "../../userspace/lib/key.h"
#include "suites.h"

#define SEC 1000000000ULL

static void fake_message(uint8_t *msg, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		msg[i] = (uint8_t)(i * 7);
	kh_put_header(msg, KH_MSG_INITIATION);
}

static void test_cookie_round(void)
{
	uint8_t priv[32], pub[32], msg[KH_INIT_MIN_LEN], reply[KH_COOKIE_REPLY_LEN];
	const uint8_t src[] = { 192, 0, 2, 1, 0x1f, 0x90 }, other_src[] = { 192, 0, 2, 2, 0x1f, 0x90 };
	struct kh_cookie_checker cc;
	struct kh_cookie_maker cm;

	kh_key_generate(priv);
	kh_key_public(pub, priv);
	kh_cookie_checker_init(&cc, pub);
	kh_cookie_maker_init(&cm, pub);
	fake_message(msg, sizeof(msg));

	kh_cookie_add_macs(&cm, msg, sizeof(msg), 10 * SEC);
	CHECK_EQ(kh_cookie_validate(&cc, msg, sizeof(msg), src, sizeof(src), 10 * SEC),
		 KH_MAC1_VALID);
	/* Under load the relay answers with a cookie; the node echoes it in mac2. */
	kh_cookie_make_reply(&cc, msg, sizeof(msg), 42, src, sizeof(src), 10 * SEC, reply);
	CHECK_EQ(kh_get_le32(reply + KH_COOKIE_RECEIVER_OFF), 42);
	CHECK_EQ(kh_cookie_consume_reply(&cm, reply, sizeof(reply), 11 * SEC), 0);
	/* The same reply again is refused: it was bound to a mac1 that is spent. */
	CHECK_EQ(kh_cookie_consume_reply(&cm, reply, sizeof(reply), 11 * SEC), -EBADMSG);
	kh_cookie_add_macs(&cm, msg, sizeof(msg), 12 * SEC);
	CHECK_EQ(kh_cookie_validate(&cc, msg, sizeof(msg), src, sizeof(src), 12 * SEC),
		 KH_MAC1_MAC2_VALID);
	/* The cookie belongs to the address: from elsewhere mac2 does not count. */
	CHECK_EQ(kh_cookie_validate(&cc, msg, sizeof(msg), other_src, sizeof(other_src),
				    12 * SEC), KH_MAC1_VALID);
	/* After the maker's use-by time, mac2 is left out. */
	kh_cookie_add_macs(&cm, msg, sizeof(msg), 11 * SEC + KH_COOKIE_USE_MAX_AGE_NS + 1);
	CHECK_EQ(kh_cookie_validate(&cc, msg, sizeof(msg), src, sizeof(src), 12 * SEC),
		 KH_MAC1_VALID);
}

static void test_mac1_tamper_and_key(void)
{
	uint8_t priv[32], pub[32], other[32], msg[KH_INIT_MIN_LEN];
	const uint8_t src[] = { 1, 2, 3, 4 };
	struct kh_cookie_checker cc;
	struct kh_cookie_maker cm;
	size_t i;

	kh_key_generate(priv);
	kh_key_public(pub, priv);
	kh_key_generate(priv);
	kh_key_public(other, priv);
	kh_cookie_checker_init(&cc, pub);
	fake_message(msg, sizeof(msg));
	kh_cookie_maker_init(&cm, other);
	kh_cookie_add_macs(&cm, msg, sizeof(msg), SEC);
	CHECK_EQ(kh_cookie_validate(&cc, msg, sizeof(msg), src, sizeof(src), SEC), KH_MAC_INVALID);
	kh_cookie_maker_init(&cm, pub);
	kh_cookie_add_macs(&cm, msg, sizeof(msg), SEC);
	for (i = 0; i < sizeof(msg) - KH_MAC_LEN; i++) {
		msg[i] ^= 4;
		CHECK(!kh_cookie_mac1_valid(&cc, msg, sizeof(msg)));
		msg[i] ^= 4;
	}
	CHECK(kh_cookie_mac1_valid(&cc, msg, sizeof(msg)));
	CHECK(!kh_cookie_mac1_valid(&cc, msg, 2 * KH_MAC_LEN));
}

static void test_bad_replies(void)
{
	uint8_t priv[32], pub[32], msg[KH_INIT_MIN_LEN], reply[KH_COOKIE_REPLY_LEN];
	const uint8_t src[] = { 1, 2, 3, 4 };
	struct kh_cookie_checker cc;
	struct kh_cookie_maker cm;
	size_t i;

	kh_key_generate(priv);
	kh_key_public(pub, priv);
	kh_cookie_checker_init(&cc, pub);
	kh_cookie_maker_init(&cm, pub);
	/* No handshake sent yet: nothing to bind a reply to. */
	memset(reply, 0, sizeof(reply));
	kh_put_header(reply, KH_MSG_COOKIE_REPLY);
	CHECK_EQ(kh_cookie_consume_reply(&cm, reply, sizeof(reply), SEC), -EBADMSG);
	fake_message(msg, sizeof(msg));
	kh_cookie_add_macs(&cm, msg, sizeof(msg), SEC);
	kh_cookie_make_reply(&cc, msg, sizeof(msg), 1, src, sizeof(src), SEC, reply);
	CHECK_EQ(kh_cookie_consume_reply(&cm, reply, sizeof(reply) - 1, SEC), -EINVAL);
	for (i = KH_COOKIE_NONCE_OFF; i < sizeof(reply); i++) {
		reply[i] ^= 1;
		CHECK_EQ(kh_cookie_consume_reply(&cm, reply, sizeof(reply), SEC), -EBADMSG);
		reply[i] ^= 1;
	}
	CHECK_EQ(kh_cookie_consume_reply(&cm, reply, sizeof(reply), SEC), 0);
}

TEST_SUITE(cookie_tests) = {
	{ "cookie reply, mac2 from the right address only", test_cookie_round },
	{ "mac1 covers every byte and the responder's key", test_mac1_tamper_and_key },
	{ "forged or truncated cookie replies are refused", test_bad_replies },
	TEST_END,
};
