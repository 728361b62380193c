/* noise.h - Noise_IK(psk2)_25519_ChaChaPoly_BLAKE2b handshake state, pure (no I/O). */
#ifndef KEYHOLE_NOISE_H
#define KEYHOLE_NOISE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NOISE_DH_LEN 32
#define NOISE_HASH_LEN 64
#define NOISE_KEY_LEN 32
#define NOISE_TAG_LEN 16
#define NOISE_PSK_LEN 32

enum noise_role { NOISE_INITIATOR, NOISE_RESPONDER };

/* A static X25519 key pair; the public half is computed once, not per handshake. */
struct noise_static {
	uint8_t priv[NOISE_DH_LEN];
	uint8_t pub[NOISE_DH_LEN];
};

/*
 * The responder's static-static DH, DH(s, rs), is the same for every handshake
 * of one initiator: a responder may keep it. Given rs, the function writes
 * DH(s_priv, rs) into out (from its cache, or computing and remembering it)
 * and returns 0, or -EBADMSG for a low-order rs.
 */
typedef int (*noise_ss_fn)(void *ctx, const uint8_t rs[NOISE_DH_LEN],
			   const uint8_t s_priv[NOISE_DH_LEN], uint8_t out[NOISE_DH_LEN]);

/* The state of one Noise IK handshake, on either side. Holds secrets: wipe
 * with noise_handshake_wipe() on every path that drops it. */
struct noise_handshake {
	enum noise_role role;
	bool has_psk;
	bool has_key;       /* k is set (a DH has been mixed in) */
	uint64_t nonce;     /* n of the CipherState */
	uint8_t ck[NOISE_HASH_LEN];
	uint8_t h[NOISE_HASH_LEN];
	uint8_t k[NOISE_KEY_LEN];
	uint8_t psk[NOISE_PSK_LEN];
	uint8_t s_priv[NOISE_DH_LEN];
	uint8_t s_pub[NOISE_DH_LEN];
	uint8_t e_priv[NOISE_DH_LEN];
	uint8_t e_pub[NOISE_DH_LEN];
	uint8_t rs[NOISE_DH_LEN]; /* remote static: known up front by the initiator */
	uint8_t re[NOISE_DH_LEN];
	noise_ss_fn ss_fn; /* responder only, optional */
	void *ss_ctx;
};

/* The pair of transport keys that Split() yields. */
struct noise_split {
	uint8_t send[NOISE_KEY_LEN];
	uint8_t recv[NOISE_KEY_LEN];
};

/* Length of message 1 for a payload of payload_len bytes: e, enc(s), enc(payload). */
#define NOISE_IK_MSG1_LEN(payload_len) \
	(NOISE_DH_LEN + NOISE_DH_LEN + NOISE_TAG_LEN + (payload_len) + NOISE_TAG_LEN)
/* Length of message 2: e, enc(payload). */
#define NOISE_IK_MSG2_LEN(payload_len) (NOISE_DH_LEN + (payload_len) + NOISE_TAG_LEN)

/*
 * Start a handshake. The initiator passes the responder's static public key as
 * remote_static; the responder passes NULL. psk is NULL for plain IK, or
 * NOISE_PSK_LEN bytes for IKpsk2. Returns 0 or -EINVAL.
 */
int noise_handshake_init(struct noise_handshake *hs, enum noise_role role,
			 const uint8_t *prologue, size_t prologue_len,
			 const struct noise_static *s,
			 const uint8_t *remote_static, const uint8_t *psk);

/* Responder: take the static-static DH from fn (a per-initiator cache) instead of computing it. */
void noise_handshake_set_ss_fn(struct noise_handshake *hs, noise_ss_fn fn, void *ctx);

/* Use a fixed ephemeral private key instead of a random one (test vectors). */
void noise_handshake_set_ephemeral(struct noise_handshake *hs,
				   const uint8_t e_priv[NOISE_DH_LEN]);

/* -> e, es, s, ss, payload. out must hold NOISE_IK_MSG1_LEN(payload_len). */
int noise_ik_write_msg1(struct noise_handshake *hs, const uint8_t *payload,
			size_t payload_len, uint8_t *out);
/* Responder side. On success hs->rs holds the initiator's static key and
 * payload_out (room for len - NOISE_IK_MSG1_LEN(0)) the decrypted payload.
 * Returns 0, -EINVAL on a short message, -EBADMSG on failed authentication. */
int noise_ik_read_msg1(struct noise_handshake *hs, const uint8_t *msg, size_t len,
		       uint8_t *payload_out, size_t *payload_len);
/* <- e, ee, se, psk, payload. */
int noise_ik_write_msg2(struct noise_handshake *hs, const uint8_t *payload,
			size_t payload_len, uint8_t *out);
int noise_ik_read_msg2(struct noise_handshake *hs, const uint8_t *msg, size_t len,
		       uint8_t *payload_out, size_t *payload_len);

/* Split into transport keys, oriented for this side. */
void noise_handshake_split(const struct noise_handshake *hs, struct noise_split *out);
void noise_handshake_wipe(struct noise_handshake *hs);

/* ChaCha20-Poly1305 (IETF) with Noise's nonce: 32 zero bits, 64-bit LE counter. */
int noise_aead_encrypt(const uint8_t key[NOISE_KEY_LEN], uint64_t nonce,
		       const uint8_t *ad, size_t ad_len,
		       const uint8_t *in, size_t in_len, uint8_t *out);
int noise_aead_decrypt(const uint8_t key[NOISE_KEY_LEN], uint64_t nonce,
		       const uint8_t *ad, size_t ad_len,
		       const uint8_t *in, size_t in_len, uint8_t *out);

/* Noise's HKDF with HMAC-BLAKE2b; n outputs (1..3) of NOISE_HASH_LEN bytes. */
void noise_hkdf(const uint8_t ck[NOISE_HASH_LEN], const uint8_t *ikm, size_t ikm_len,
		int n, uint8_t *out1, uint8_t *out2, uint8_t *out3);

#endif
