/* noise.c - the Noise IK / IKpsk2 handshake from libsodium primitives (Noise spec rev 34). */
#include "noise.h"

#include <errno.h>
#include <string.h>

#include <sodium.h>

#define BLAKE2B_BLOCK_LEN 128

static const char protocol_ik[] = "Noise_IK_25519_ChaChaPoly_BLAKE2b";
static const char protocol_ikpsk2[] = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2b";

static void hash2(uint8_t out[NOISE_HASH_LEN], const uint8_t *a, size_t a_len,
		  const uint8_t *b, size_t b_len)
{
	crypto_generichash_blake2b_state st;

	crypto_generichash_blake2b_init(&st, NULL, 0, NOISE_HASH_LEN);
	crypto_generichash_blake2b_update(&st, a, a_len);
	if (b_len)
		crypto_generichash_blake2b_update(&st, b, b_len);
	crypto_generichash_blake2b_final(&st, out, NOISE_HASH_LEN);
	sodium_memzero(&st, sizeof(st));
}

/* HMAC (RFC 2104) over BLAKE2b, as Noise defines it: not BLAKE2b's keyed mode. */
static void hmac_blake2b(uint8_t out[NOISE_HASH_LEN], const uint8_t *key, size_t key_len,
			 const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
	uint8_t pad[BLAKE2B_BLOCK_LEN], inner[NOISE_HASH_LEN];
	crypto_generichash_blake2b_state st;
	size_t i;

	/* Every key here is a chaining key or a derived key: never longer than a block. */
	memset(pad, 0, sizeof(pad));
	memcpy(pad, key, key_len);
	for (i = 0; i < sizeof(pad); i++)
		pad[i] ^= 0x36;
	crypto_generichash_blake2b_init(&st, NULL, 0, NOISE_HASH_LEN);
	crypto_generichash_blake2b_update(&st, pad, sizeof(pad));
	crypto_generichash_blake2b_update(&st, a, a_len);
	if (b_len)
		crypto_generichash_blake2b_update(&st, b, b_len);
	crypto_generichash_blake2b_final(&st, inner, sizeof(inner));

	for (i = 0; i < sizeof(pad); i++)
		pad[i] ^= 0x36 ^ 0x5c;
	crypto_generichash_blake2b_init(&st, NULL, 0, NOISE_HASH_LEN);
	crypto_generichash_blake2b_update(&st, pad, sizeof(pad));
	crypto_generichash_blake2b_update(&st, inner, sizeof(inner));
	crypto_generichash_blake2b_final(&st, out, NOISE_HASH_LEN);

	sodium_memzero(pad, sizeof(pad));
	sodium_memzero(inner, sizeof(inner));
	sodium_memzero(&st, sizeof(st));
}

void noise_hkdf(const uint8_t ck[NOISE_HASH_LEN], const uint8_t *ikm, size_t ikm_len,
		int n, uint8_t *out1, uint8_t *out2, uint8_t *out3)
{
	uint8_t temp_key[NOISE_HASH_LEN], prev[NOISE_HASH_LEN];
	uint8_t counter;

	hmac_blake2b(temp_key, ck, NOISE_HASH_LEN, ikm, ikm_len, NULL, 0);
	counter = 1;
	hmac_blake2b(prev, temp_key, sizeof(temp_key), &counter, 1, NULL, 0);
	memcpy(out1, prev, NOISE_HASH_LEN);
	if (n >= 2) {
		counter = 2;
		hmac_blake2b(prev, temp_key, sizeof(temp_key), prev, sizeof(prev), &counter, 1);
		memcpy(out2, prev, NOISE_HASH_LEN);
	}
	if (n >= 3) {
		counter = 3;
		hmac_blake2b(prev, temp_key, sizeof(temp_key), prev, sizeof(prev), &counter, 1);
		memcpy(out3, prev, NOISE_HASH_LEN);
	}
	sodium_memzero(temp_key, sizeof(temp_key));
	sodium_memzero(prev, sizeof(prev));
}

int noise_aead_encrypt(const uint8_t key[NOISE_KEY_LEN], uint64_t nonce,
		       const uint8_t *ad, size_t ad_len,
		       const uint8_t *in, size_t in_len, uint8_t *out)
{
	uint8_t n[crypto_aead_chacha20poly1305_IETF_NPUBBYTES] = { 0 };
	int i;

	for (i = 0; i < 8; i++)
		n[4 + i] = (uint8_t)(nonce >> (8 * i));
	crypto_aead_chacha20poly1305_ietf_encrypt(out, NULL, in, in_len, ad, ad_len,
						  NULL, n, key);
	return 0;
}

int noise_aead_decrypt(const uint8_t key[NOISE_KEY_LEN], uint64_t nonce,
		       const uint8_t *ad, size_t ad_len,
		       const uint8_t *in, size_t in_len, uint8_t *out)
{
	uint8_t n[crypto_aead_chacha20poly1305_IETF_NPUBBYTES] = { 0 };
	int i;

	if (in_len < NOISE_TAG_LEN)
		return -EINVAL;
	for (i = 0; i < 8; i++)
		n[4 + i] = (uint8_t)(nonce >> (8 * i));
	if (crypto_aead_chacha20poly1305_ietf_decrypt(out, NULL, NULL, in, in_len, ad,
						      ad_len, n, key) != 0)
		return -EBADMSG;
	return 0;
}

static void mix_hash(struct noise_handshake *hs, const uint8_t *data, size_t len)
{
	hash2(hs->h, hs->h, NOISE_HASH_LEN, data, len);
}

static void mix_key(struct noise_handshake *hs, const uint8_t *ikm, size_t len)
{
	uint8_t temp_k[NOISE_HASH_LEN];

	noise_hkdf(hs->ck, ikm, len, 2, hs->ck, temp_k, NULL);
	memcpy(hs->k, temp_k, NOISE_KEY_LEN);
	hs->has_key = true;
	hs->nonce = 0;
	sodium_memzero(temp_k, sizeof(temp_k));
}

static void mix_key_and_hash(struct noise_handshake *hs, const uint8_t *ikm, size_t len)
{
	uint8_t temp_h[NOISE_HASH_LEN], temp_k[NOISE_HASH_LEN];

	noise_hkdf(hs->ck, ikm, len, 3, hs->ck, temp_h, temp_k);
	mix_hash(hs, temp_h, sizeof(temp_h));
	memcpy(hs->k, temp_k, NOISE_KEY_LEN);
	hs->has_key = true;
	hs->nonce = 0;
	sodium_memzero(temp_h, sizeof(temp_h));
	sodium_memzero(temp_k, sizeof(temp_k));
}

/* Every EncryptAndHash in IK runs after a DH, so k is always set here. */
static void encrypt_and_hash(struct noise_handshake *hs, const uint8_t *in, size_t len,
			     uint8_t *out)
{
	noise_aead_encrypt(hs->k, hs->nonce++, hs->h, NOISE_HASH_LEN, in, len, out);
	mix_hash(hs, out, len + NOISE_TAG_LEN);
}

static int decrypt_and_hash(struct noise_handshake *hs, const uint8_t *in, size_t len,
			    uint8_t *out)
{
	int ret = noise_aead_decrypt(hs->k, hs->nonce, hs->h, NOISE_HASH_LEN, in, len, out);

	if (ret)
		return ret;
	hs->nonce++;
	mix_hash(hs, in, len);
	return 0;
}

static int dh(uint8_t out[NOISE_DH_LEN], const uint8_t priv[NOISE_DH_LEN],
	      const uint8_t pub[NOISE_DH_LEN])
{
	/* libsodium refuses low-order points (an all-zero result). */
	return crypto_scalarmult_curve25519(out, priv, pub) ? -EBADMSG : 0;
}

static int mix_dh(struct noise_handshake *hs, const uint8_t priv[NOISE_DH_LEN],
		  const uint8_t pub[NOISE_DH_LEN])
{
	uint8_t shared[NOISE_DH_LEN];
	int ret = dh(shared, priv, pub);

	if (!ret)
		mix_key(hs, shared, sizeof(shared));
	sodium_memzero(shared, sizeof(shared));
	return ret;
}

int noise_handshake_init(struct noise_handshake *hs, enum noise_role role,
			 const uint8_t *prologue, size_t prologue_len,
			 const struct noise_static *s,
			 const uint8_t *remote_static, const uint8_t *psk)
{
	const char *name = psk ? protocol_ikpsk2 : protocol_ik;
	size_t name_len = strlen(name);

	if (role == NOISE_INITIATOR && !remote_static)
		return -EINVAL;
	memset(hs, 0, sizeof(*hs));
	hs->role = role;
	hs->has_psk = psk != NULL;
	if (psk)
		memcpy(hs->psk, psk, NOISE_PSK_LEN);
	memcpy(hs->s_priv, s->priv, NOISE_DH_LEN);
	memcpy(hs->s_pub, s->pub, NOISE_DH_LEN);
	randombytes_buf(hs->e_priv, sizeof(hs->e_priv));

	/* InitializeSymmetric: the name fits in HASHLEN, so h is it zero-padded. */
	memcpy(hs->h, name, name_len);
	memcpy(hs->ck, hs->h, NOISE_HASH_LEN);
	mix_hash(hs, prologue, prologue_len);

	/* Pre-message pattern "<- s": both sides hash the responder's static key. */
	if (role == NOISE_INITIATOR) {
		memcpy(hs->rs, remote_static, NOISE_DH_LEN);
		mix_hash(hs, hs->rs, NOISE_DH_LEN);
	} else {
		mix_hash(hs, hs->s_pub, NOISE_DH_LEN);
	}
	return 0;
}

void noise_handshake_set_ss_fn(struct noise_handshake *hs, noise_ss_fn fn, void *ctx)
{
	hs->ss_fn = fn;
	hs->ss_ctx = ctx;
}

void noise_handshake_set_ephemeral(struct noise_handshake *hs,
				   const uint8_t e_priv[NOISE_DH_LEN])
{
	memcpy(hs->e_priv, e_priv, NOISE_DH_LEN);
}

/* The "e" token: send or receive the ephemeral, and in a PSK handshake mix it as a key too. */
static void token_e(struct noise_handshake *hs, const uint8_t e_pub[NOISE_DH_LEN])
{
	mix_hash(hs, e_pub, NOISE_DH_LEN);
	if (hs->has_psk)
		mix_key(hs, e_pub, NOISE_DH_LEN);
}

int noise_ik_write_msg1(struct noise_handshake *hs, const uint8_t *payload,
			size_t payload_len, uint8_t *out)
{
	uint8_t *p = out;

	if (hs->role != NOISE_INITIATOR)
		return -EINVAL;
	/* e */
	crypto_scalarmult_curve25519_base(hs->e_pub, hs->e_priv);
	memcpy(p, hs->e_pub, NOISE_DH_LEN);
	token_e(hs, hs->e_pub);
	p += NOISE_DH_LEN;
	/* es */
	if (mix_dh(hs, hs->e_priv, hs->rs))
		return -EINVAL;
	/* s */
	encrypt_and_hash(hs, hs->s_pub, NOISE_DH_LEN, p);
	p += NOISE_DH_LEN + NOISE_TAG_LEN;
	/* ss */
	if (mix_dh(hs, hs->s_priv, hs->rs))
		return -EINVAL;
	encrypt_and_hash(hs, payload, payload_len, p);
	return 0;
}

int noise_ik_read_msg1(struct noise_handshake *hs, const uint8_t *msg, size_t len,
		       uint8_t *payload_out, size_t *payload_len)
{
	const uint8_t *p = msg;

	if (hs->role != NOISE_RESPONDER || len < NOISE_IK_MSG1_LEN(0))
		return -EINVAL;
	/* e */
	memcpy(hs->re, p, NOISE_DH_LEN);
	token_e(hs, hs->re);
	p += NOISE_DH_LEN;
	/* es */
	if (mix_dh(hs, hs->s_priv, hs->re))
		return -EBADMSG;
	/* s */
	if (decrypt_and_hash(hs, p, NOISE_DH_LEN + NOISE_TAG_LEN, hs->rs))
		return -EBADMSG;
	p += NOISE_DH_LEN + NOISE_TAG_LEN;
	/* ss */
	if (hs->ss_fn) {
		uint8_t shared[NOISE_DH_LEN];
		int ret = hs->ss_fn(hs->ss_ctx, hs->rs, hs->s_priv, shared);

		if (!ret)
			mix_key(hs, shared, sizeof(shared));
		sodium_memzero(shared, sizeof(shared));
		if (ret)
			return -EBADMSG;
	} else if (mix_dh(hs, hs->s_priv, hs->rs)) {
		return -EBADMSG;
	}
	*payload_len = len - NOISE_IK_MSG1_LEN(0);
	if (decrypt_and_hash(hs, p, *payload_len + NOISE_TAG_LEN, payload_out))
		return -EBADMSG;
	return 0;
}

int noise_ik_write_msg2(struct noise_handshake *hs, const uint8_t *payload,
			size_t payload_len, uint8_t *out)
{
	uint8_t *p = out;

	if (hs->role != NOISE_RESPONDER)
		return -EINVAL;
	/* e */
	crypto_scalarmult_curve25519_base(hs->e_pub, hs->e_priv);
	memcpy(p, hs->e_pub, NOISE_DH_LEN);
	token_e(hs, hs->e_pub);
	p += NOISE_DH_LEN;
	/* ee */
	if (mix_dh(hs, hs->e_priv, hs->re))
		return -EINVAL;
	/* se */
	if (mix_dh(hs, hs->e_priv, hs->rs))
		return -EINVAL;
	/* psk */
	if (hs->has_psk)
		mix_key_and_hash(hs, hs->psk, NOISE_PSK_LEN);
	encrypt_and_hash(hs, payload, payload_len, p);
	return 0;
}

int noise_ik_read_msg2(struct noise_handshake *hs, const uint8_t *msg, size_t len,
		       uint8_t *payload_out, size_t *payload_len)
{
	const uint8_t *p = msg;

	if (hs->role != NOISE_INITIATOR || len < NOISE_IK_MSG2_LEN(0))
		return -EINVAL;
	/* e */
	memcpy(hs->re, p, NOISE_DH_LEN);
	token_e(hs, hs->re);
	p += NOISE_DH_LEN;
	/* ee */
	if (mix_dh(hs, hs->e_priv, hs->re))
		return -EBADMSG;
	/* se */
	if (mix_dh(hs, hs->s_priv, hs->re))
		return -EBADMSG;
	/* psk */
	if (hs->has_psk)
		mix_key_and_hash(hs, hs->psk, NOISE_PSK_LEN);
	*payload_len = len - NOISE_IK_MSG2_LEN(0);
	if (decrypt_and_hash(hs, p, *payload_len + NOISE_TAG_LEN, payload_out))
		return -EBADMSG;
	return 0;
}

void noise_handshake_split(const struct noise_handshake *hs, struct noise_split *out)
{
	uint8_t k1[NOISE_HASH_LEN], k2[NOISE_HASH_LEN];

	noise_hkdf(hs->ck, NULL, 0, 2, k1, k2, NULL);
	if (hs->role == NOISE_INITIATOR) {
		memcpy(out->send, k1, NOISE_KEY_LEN);
		memcpy(out->recv, k2, NOISE_KEY_LEN);
	} else {
		memcpy(out->send, k2, NOISE_KEY_LEN);
		memcpy(out->recv, k1, NOISE_KEY_LEN);
	}
	sodium_memzero(k1, sizeof(k1));
	sodium_memzero(k2, sizeof(k2));
}

void noise_handshake_wipe(struct noise_handshake *hs)
{
	sodium_memzero(hs, sizeof(*hs));
}
