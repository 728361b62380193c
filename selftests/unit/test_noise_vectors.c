/* test_noise_vectors.c - reproduce the published Noise IK/IKpsk2 vectors byte for byte. */
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <sodium.h>

#include "../../userspace/lib/noise.h"
#include "suites.h"

#define VEC_MAX 1024

static size_t vectors_with_hash;

struct vec_bytes {
	uint8_t b[VEC_MAX];
	size_t len;
};

static bool field(struct json_object *v, const char *key, struct vec_bytes *out)
{
	struct json_object *o;

	if (!json_object_object_get_ex(v, key, &o))
		return false;
	out->len = test_unhex(out->b, sizeof(out->b), json_object_get_string(o));
	return out->len != (size_t)-1;
}

static bool psk_field(struct json_object *v, const char *key, struct vec_bytes *out)
{
	struct json_object *arr;

	out->len = 0;
	if (!json_object_object_get_ex(v, key, &arr) || json_object_array_length(arr) == 0)
		return true;
	out->len = test_unhex(out->b, sizeof(out->b),
			      json_object_get_string(json_object_array_get_idx(arr, 0)));
	return out->len == NOISE_PSK_LEN;
}

/* Transport messages after Split(): alternate directions, nonces count up per direction. */
static bool check_transport(const struct noise_split *init, const struct noise_split *resp,
			    struct json_object *msgs)
{
	uint64_t nonce_i2r = 0, nonce_r2i = 0;
	size_t i, n = json_object_array_length(msgs);

	for (i = 2; i < n; i++) {
		struct json_object *m = json_object_array_get_idx(msgs, i);
		struct vec_bytes payload, expect;
		uint8_t out[VEC_MAX], back[VEC_MAX];
		bool from_init = (i % 2) == 0;
		const uint8_t *enc_key = from_init ? init->send : resp->send;
		const uint8_t *dec_key = from_init ? resp->recv : init->recv;
		uint64_t nonce = from_init ? nonce_i2r++ : nonce_r2i++;

		if (!field(m, "payload", &payload) || !field(m, "ciphertext", &expect))
			return false;
		noise_aead_encrypt(enc_key, nonce, NULL, 0, payload.b, payload.len, out);
		if (expect.len != payload.len + NOISE_TAG_LEN || memcmp(out, expect.b, expect.len))
			return false;
		if (noise_aead_decrypt(dec_key, nonce, NULL, 0, expect.b, expect.len, back) ||
		    memcmp(back, payload.b, payload.len))
			return false;
	}
	return true;
}

/* Run one vector; returns a description of the first mismatch, or NULL. */
static const char *run_vector(struct json_object *v)
{
	struct vec_bytes prologue, s_i, e_i, rs_i, s_r, e_r, psk, hash, payload, expect;
	struct noise_handshake init, resp;
	struct noise_static st_i, st_r;
	struct noise_split ki, kr;
	struct json_object *msgs;
	uint8_t out[VEC_MAX], got[VEC_MAX];
	size_t got_len;

	if (!field(v, "init_prologue", &prologue) || !field(v, "init_static", &s_i) ||
	    !field(v, "init_ephemeral", &e_i) || !field(v, "init_remote_static", &rs_i) ||
	    !field(v, "resp_static", &s_r) || !field(v, "resp_ephemeral", &e_r) ||
	    !psk_field(v, "init_psks", &psk) ||
	    !json_object_object_get_ex(v, "messages", &msgs))
		return "vector is malformed";

	memcpy(st_i.priv, s_i.b, NOISE_DH_LEN);
	crypto_scalarmult_curve25519_base(st_i.pub, st_i.priv);
	memcpy(st_r.priv, s_r.b, NOISE_DH_LEN);
	crypto_scalarmult_curve25519_base(st_r.pub, st_r.priv);
	noise_handshake_init(&init, NOISE_INITIATOR, prologue.b, prologue.len, &st_i, rs_i.b,
			     psk.len ? psk.b : NULL);
	noise_handshake_set_ephemeral(&init, e_i.b);
	noise_handshake_init(&resp, NOISE_RESPONDER, prologue.b, prologue.len, &st_r, NULL,
			     psk.len ? psk.b : NULL);
	noise_handshake_set_ephemeral(&resp, e_r.b);

	/* -> e, es, s, ss */
	if (!field(json_object_array_get_idx(msgs, 0), "payload", &payload) ||
	    !field(json_object_array_get_idx(msgs, 0), "ciphertext", &expect))
		return "message 0 is malformed";
	if (noise_ik_write_msg1(&init, payload.b, payload.len, out) ||
	    expect.len != NOISE_IK_MSG1_LEN(payload.len) || memcmp(out, expect.b, expect.len))
		return "message 0 differs";
	if (noise_ik_read_msg1(&resp, expect.b, expect.len, got, &got_len) ||
	    got_len != payload.len || memcmp(got, payload.b, got_len))
		return "message 0 does not read back";
	if (memcmp(resp.rs, init.s_pub, NOISE_DH_LEN))
		return "responder learnt the wrong static key";

	/* <- e, ee, se (psk) */
	if (!field(json_object_array_get_idx(msgs, 1), "payload", &payload) ||
	    !field(json_object_array_get_idx(msgs, 1), "ciphertext", &expect))
		return "message 1 is malformed";
	if (noise_ik_write_msg2(&resp, payload.b, payload.len, out) ||
	    expect.len != NOISE_IK_MSG2_LEN(payload.len) || memcmp(out, expect.b, expect.len))
		return "message 1 differs";
	if (noise_ik_read_msg2(&init, expect.b, expect.len, got, &got_len) ||
	    got_len != payload.len || memcmp(got, payload.b, got_len))
		return "message 1 does not read back";

	/* Not every published vector carries the hash; both sides must agree regardless. */
	if (memcmp(init.h, resp.h, NOISE_HASH_LEN))
		return "the two sides' handshake hashes differ";
	if (field(v, "handshake_hash", &hash)) {
		if (hash.len != NOISE_HASH_LEN || memcmp(init.h, hash.b, NOISE_HASH_LEN))
			return "handshake hash differs";
		vectors_with_hash++;
	}
	noise_handshake_split(&init, &ki);
	noise_handshake_split(&resp, &kr);
	if (!check_transport(&ki, &kr, msgs))
		return "a transport message differs";
	return NULL;
}

static struct json_object *load_vectors(void)
{
	struct json_object *root = json_object_from_file(
		test_data_path("vectors/noise-ik-25519-chachapoly-blake2b.json"));
	struct json_object *vectors;

	if (!root || !json_object_object_get_ex(root, "vectors", &vectors)) {
		json_object_put(root);
		return NULL;
	}
	json_object_get(vectors);
	json_object_put(root);
	return vectors;
}

static void test_all_vectors(void)
{
	struct json_object *vectors = load_vectors();
	size_t i, n, ran_psk = 0, ran_ik = 0;

	CHECK(vectors != NULL);
	n = json_object_array_length(vectors);
	CHECK(n >= 3);
	vectors_with_hash = 0;
	for (i = 0; i < n; i++) {
		struct json_object *v = json_object_array_get_idx(vectors, i), *name;
		const char *why = run_vector(v);

		json_object_object_get_ex(v, "protocol_name", &name);
		if (why) {
			printf("    vector %zu (%s): %s\n", i, json_object_get_string(name), why);
			json_object_put(vectors);
			CHECK(why == NULL);
		}
		if (strstr(json_object_get_string(name), "psk2"))
			ran_psk++;
		else
			ran_ik++;
	}
	json_object_put(vectors);
	CHECK(ran_psk >= 1);
	CHECK(ran_ik >= 1);
	CHECK(vectors_with_hash >= 2);
}

/* The test would notice a one-byte change: flip each vector's first ciphertext byte. */
static void test_vector_mismatch_detected(void)
{
	struct json_object *vectors = load_vectors(), *v, *msgs, *m0, *ct;
	char *hex;

	CHECK(vectors != NULL);
	v = json_object_array_get_idx(vectors, 1);
	CHECK(json_object_object_get_ex(v, "messages", &msgs));
	m0 = json_object_array_get_idx(msgs, 0);
	CHECK(json_object_object_get_ex(m0, "ciphertext", &ct));
	hex = strdup(json_object_get_string(ct));
	hex[0] = hex[0] == '0' ? '1' : '0';
	json_object_object_add(m0, "ciphertext", json_object_new_string(hex));
	free(hex);
	CHECK(run_vector(v) != NULL);
	json_object_put(vectors);
}

TEST_SUITE(noise_vector_tests) = {
	{ "every IK and IKpsk2 vector, handshake and transport", test_all_vectors },
	{ "a one-byte change in a vector is caught", test_vector_mismatch_detected },
	TEST_END,
};
