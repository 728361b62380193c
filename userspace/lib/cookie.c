/* cookie.c - mac1/mac2 and cookie replies, after WireGuard's design, on BLAKE2b and XChaCha20-Poly1305. */
#include "cookie.h"

#include <errno.h>

#include <sodium.h>

static const char label_mac1[8] = { 'm', 'a', 'c', '1', '-', '-', '-', '-' };
static const char label_cookie[8] = { 'c', 'o', 'o', 'k', 'i', 'e', '-', '-' };

static void derive_key(uint8_t out[32], const char label[8], const uint8_t pub[32])
{
	crypto_generichash_blake2b_state st;

	crypto_generichash_blake2b_init(&st, NULL, 0, 32);
	crypto_generichash_blake2b_update(&st, (const uint8_t *)label, 8);
	crypto_generichash_blake2b_update(&st, pub, 32);
	crypto_generichash_blake2b_final(&st, out, 32);
}

static void mac(uint8_t out[KH_MAC_LEN], const uint8_t *key, size_t key_len,
		const uint8_t *msg, size_t len)
{
	crypto_generichash_blake2b(out, KH_MAC_LEN, msg, len, key, key_len);
}

void kh_cookie_checker_init(struct kh_cookie_checker *cc, const uint8_t pub[32])
{
	sodium_memzero(cc, sizeof(*cc));
	derive_key(cc->mac1_key, label_mac1, pub);
	derive_key(cc->cookie_key, label_cookie, pub);
}

void kh_cookie_maker_init(struct kh_cookie_maker *cm, const uint8_t remote_pub[32])
{
	sodium_memzero(cm, sizeof(*cm));
	derive_key(cm->mac1_key, label_mac1, remote_pub);
	derive_key(cm->cookie_key, label_cookie, remote_pub);
}

/* The cookie a source must echo: a MAC of its address under a secret that rotates. */
static void current_cookie(struct kh_cookie_checker *cc, uint8_t out[KH_COOKIE_LEN],
			   const uint8_t *src, size_t src_len, uint64_t now_ns)
{
	if (!cc->has_secret || now_ns - cc->secret_birth_ns > KH_COOKIE_SECRET_MAX_AGE_NS) {
		randombytes_buf(cc->secret, sizeof(cc->secret));
		cc->secret_birth_ns = now_ns;
		cc->has_secret = true;
	}
	mac(out, cc->secret, sizeof(cc->secret), src, src_len);
}

bool kh_cookie_mac1_valid(const struct kh_cookie_checker *cc, const uint8_t *msg, size_t len)
{
	uint8_t computed[KH_MAC_LEN];
	size_t mac1_off;

	if (len < KH_HEADER_LEN + 2 * KH_MAC_LEN)
		return false;
	mac1_off = len - 2 * KH_MAC_LEN;
	mac(computed, cc->mac1_key, sizeof(cc->mac1_key), msg, mac1_off);
	return sodium_memcmp(computed, msg + mac1_off, KH_MAC_LEN) == 0;
}

enum kh_mac_verdict kh_cookie_validate(struct kh_cookie_checker *cc, const uint8_t *msg,
				       size_t len, const uint8_t *src, size_t src_len,
				       uint64_t now_ns)
{
	uint8_t computed[KH_MAC_LEN], cookie[KH_COOKIE_LEN];
	size_t mac2_off = len - KH_MAC_LEN;
	enum kh_mac_verdict verdict;

	if (!kh_cookie_mac1_valid(cc, msg, len))
		return KH_MAC_INVALID;
	verdict = KH_MAC1_VALID;
	current_cookie(cc, cookie, src, src_len, now_ns);
	mac(computed, cookie, sizeof(cookie), msg, mac2_off);
	if (!sodium_memcmp(computed, msg + mac2_off, KH_MAC_LEN))
		verdict = KH_MAC1_MAC2_VALID;
	sodium_memzero(cookie, sizeof(cookie));
	return verdict;
}

void kh_cookie_make_reply(struct kh_cookie_checker *cc, const uint8_t *msg, size_t len,
			  uint32_t receiver_index, const uint8_t *src, size_t src_len,
			  uint64_t now_ns, uint8_t *out)
{
	uint8_t cookie[KH_COOKIE_LEN];
	const uint8_t *mac1 = msg + len - 2 * KH_MAC_LEN;

	kh_put_header(out, KH_MSG_COOKIE_REPLY);
	kh_put_le32(out + KH_COOKIE_RECEIVER_OFF, receiver_index);
	randombytes_buf(out + KH_COOKIE_NONCE_OFF, KH_COOKIE_NONCE_LEN);
	current_cookie(cc, cookie, src, src_len, now_ns);
	/* Bound to the mac1 it answers, so a reply cannot be replayed onto another handshake. */
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + KH_COOKIE_BOX_OFF, NULL, cookie,
						   sizeof(cookie), mac1, KH_MAC_LEN, NULL,
						   out + KH_COOKIE_NONCE_OFF, cc->cookie_key);
	sodium_memzero(cookie, sizeof(cookie));
}

void kh_cookie_add_macs(struct kh_cookie_maker *cm, uint8_t *msg, size_t len, uint64_t now_ns)
{
	size_t mac2_off = len - KH_MAC_LEN, mac1_off = mac2_off - KH_MAC_LEN;

	mac(msg + mac1_off, cm->mac1_key, sizeof(cm->mac1_key), msg, mac1_off);
	memcpy(cm->last_mac1, msg + mac1_off, KH_MAC_LEN);
	cm->has_last_mac1 = true;
	if (cm->has_cookie && now_ns - cm->cookie_birth_ns <= KH_COOKIE_USE_MAX_AGE_NS)
		mac(msg + mac2_off, cm->cookie, sizeof(cm->cookie), msg, mac2_off);
	else
		memset(msg + mac2_off, 0, KH_MAC_LEN);
}

int kh_cookie_consume_reply(struct kh_cookie_maker *cm, const uint8_t *reply, size_t len,
			    uint64_t now_ns)
{
	uint8_t cookie[KH_COOKIE_LEN];

	if (len != KH_COOKIE_REPLY_LEN || kh_msg_type(reply, len) != KH_MSG_COOKIE_REPLY)
		return -EINVAL;
	if (!cm->has_last_mac1)
		return -EBADMSG;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(cookie, NULL, NULL,
						       reply + KH_COOKIE_BOX_OFF,
						       KH_COOKIE_LEN + NOISE_TAG_LEN,
						       cm->last_mac1, KH_MAC_LEN,
						       reply + KH_COOKIE_NONCE_OFF,
						       cm->cookie_key))
		return -EBADMSG;
	memcpy(cm->cookie, cookie, sizeof(cookie));
	cm->cookie_birth_ns = now_ns;
	cm->has_cookie = true;
	/* One reply, one cookie: a replayed reply for the same mac1 is useless. */
	cm->has_last_mac1 = false;
	sodium_memzero(cookie, sizeof(cookie));
	return 0;
}

void kh_cookie_checker_wipe(struct kh_cookie_checker *cc)
{
	sodium_memzero(cc, sizeof(*cc));
}

void kh_cookie_maker_wipe(struct kh_cookie_maker *cm)
{
	sodium_memzero(cm, sizeof(*cm));
}
