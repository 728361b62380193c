// SPDX-License-Identifier: GPL-2.0
/* selftest.c - load-time checks (keyhole.selftest=1): the replay window's edges and the
 * transport AEAD against a message libsodium sealed, as the TUN data plane does.
 */
#include <crypto/chacha20poly1305.h>
#include <linux/ktime.h>
#include <linux/slab.h>

#include "keyhole.h"

struct replay_step {
	u64 counter;
	bool accept;
};

/* Each row runs on the window the rows before it left behind. */
static const struct replay_step replay_steps[] = {
	{ 0, true }, { 0, false }, { 1, true }, { 1, false }, { 9, true }, { 8, true },
	{ 7, true }, { 7, false },
	{ 2048, true },
	{ 0, false },      /* exactly the window behind, but seen */
	{ 2, true },       /* inside, never seen */
	{ 2049, true },
	{ 1, false },      /* exactly the window behind, seen */
	{ 0, false },      /* one behind the window */
	{ 3, true },
	{ 4097, true },    /* a jump of a whole window */
	{ 2049, false },   /* its word survived the jump */
	{ 2050, true },
	{ 1 << 20, true }, /* a jump past every word */
	{ (1 << 20) - KH_REPLAY_WINDOW, true },
	{ (1 << 20) - KH_REPLAY_WINDOW - 1, false },
	{ (1 << 20) + 1, true },
	{ KH_REJECT_AFTER_MESSAGES - 1, true },
	{ KH_REJECT_AFTER_MESSAGES, false },
	{ U64_MAX, false },
	{ KH_REJECT_AFTER_MESSAGES - 2, true },
};

static bool replay_selftest(void)
{
	struct keyhole_replay *r = kzalloc(sizeof(*r), GFP_KERNEL);
	bool ok = true;
	unsigned int i;

	if (!r)
		return false;
	keyhole_replay_init(r);
	for (i = 0; i < ARRAY_SIZE(replay_steps); i++) {
		if (keyhole_replay_check(r, replay_steps[i].counter, KH_REJECT_AFTER_MESSAGES) !=
		    replay_steps[i].accept) {
			pr_err("keyhole: self-test: replay step %u (counter %llu) should be %s\n",
			       i, replay_steps[i].counter,
			       replay_steps[i].accept ? "accepted" : "refused");
			ok = false;
		}
	}
	kfree(r);
	return ok;
}

/* libsodium's crypto_aead_chacha20poly1305_ietf_encrypt, key 0x80..0x9f, counter
 * 0x0102030405060708 (nonce: four zero bytes, then the counter little-endian, no AD).
 */
static const u8 vector_plain[] = "keyhole transport vector";
static const u8 vector_sealed[] = {
	0x9f, 0xd4, 0x97, 0xd3, 0x3f, 0xb6, 0x3e, 0xfd, 0x57, 0xc3, 0x10, 0xe5, 0x7d, 0x07,
	0x0a, 0xad, 0x87, 0x53, 0x22, 0x8e, 0x51, 0x5e, 0xfc, 0xdc, 0xa7, 0xb8, 0x88, 0x0d,
	0xb2, 0x32, 0x8e, 0x27, 0xb6, 0x04, 0x59, 0xb3, 0x3a, 0xd1, 0xb4, 0x8b,
};

#define VECTOR_COUNTER 0x0102030405060708ULL

static bool aead_selftest(void)
{
	u8 key[KEYHOLE_KEY_LEN], buf[sizeof(vector_sealed)];
	size_t plain_len = sizeof(vector_plain) - 1;
	bool ok = true;
	unsigned int i;

	BUILD_BUG_ON(sizeof(vector_sealed) != sizeof(vector_plain) - 1 + KH_TAG_LEN);
	for (i = 0; i < sizeof(key); i++)
		key[i] = 0x80 + i;
	/* In place, as the data path seals. */
	memcpy(buf, vector_plain, plain_len);
	chacha20poly1305_encrypt(buf, buf, plain_len, NULL, 0, VECTOR_COUNTER, key);
	if (memcmp(buf, vector_sealed, sizeof(buf))) {
		pr_err("keyhole: self-test: sealing differs from libsodium's\n");
		ok = false;
	}
	memcpy(buf, vector_sealed, sizeof(buf));
	if (!chacha20poly1305_decrypt(buf, buf, sizeof(buf), NULL, 0, VECTOR_COUNTER, key) ||
	    memcmp(buf, vector_plain, plain_len)) {
		pr_err("keyhole: self-test: opening libsodium's message failed\n");
		ok = false;
	}
	memcpy(buf, vector_sealed, sizeof(buf));
	buf[3] ^= 1;
	if (chacha20poly1305_decrypt(buf, buf, sizeof(buf), NULL, 0, VECTOR_COUNTER, key)) {
		pr_err("keyhole: self-test: a flipped bit was not caught\n");
		ok = false;
	}
	memcpy(buf, vector_sealed, sizeof(buf));
	if (chacha20poly1305_decrypt(buf, buf, sizeof(buf), NULL, 0, VECTOR_COUNTER + 1, key)) {
		pr_err("keyhole: self-test: the wrong counter was not caught\n");
		ok = false;
	}
	memzero_explicit(key, sizeof(key));
	return ok;
}

/* Seal (or open) 1400-byte messages in place for about half a second; Mbit/s of payload.
 * Opening copies the sealed message back first each time (a failed open skips the
 * decryption), so its figure includes a 1416-byte copy.
 */
static u64 aead_rate(bool open)
{
	u8 key[KEYHOLE_KEY_LEN] = { 0 }, *buf, *sealed;
	ktime_t start = ktime_get();
	u64 n = 0, ns;
	bool ok = true;

	buf = kzalloc(2 * (1400 + KH_TAG_LEN), GFP_KERNEL);
	if (!buf)
		return 0;
	sealed = buf + 1400 + KH_TAG_LEN;
	chacha20poly1305_encrypt(sealed, sealed, 1400, NULL, 0, 0, key);
	do {
		unsigned int i;

		for (i = 0; i < 256; i++, n++) {
			if (open) {
				memcpy(buf, sealed, 1400 + KH_TAG_LEN);
				ok &= chacha20poly1305_decrypt(buf, buf, 1400 + KH_TAG_LEN, NULL, 0,
							       0, key);
			} else {
				chacha20poly1305_encrypt(buf, buf, 1400, NULL, 0, n, key);
			}
		}
		cond_resched();
		ns = ktime_to_ns(ktime_sub(ktime_get(), start));
	} while (ns < NSEC_PER_SEC / 2);
	kfree(buf);
	return ok ? div64_u64(n * 1400 * 8 * 1000, ns) : 0;
}

void keyhole_bench(void)
{
	pr_info("keyhole: bench: ChaCha20-Poly1305 on one CPU, 1400-byte messages: seal %llu Mbit/s, open %llu Mbit/s\n",
		aead_rate(false), aead_rate(true));
}

bool keyhole_selftest(void)
{
	bool ok = replay_selftest() & aead_selftest();

	if (ok)
		pr_info("keyhole: self-tests passed\n");
	else
		pr_err("keyhole: self-tests failed\n");
	return ok;
}
