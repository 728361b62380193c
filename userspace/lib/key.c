/* key.c - key text encoding (constant-time base64 from libsodium) and key generation. */
#include "key.h"

#include <errno.h>
#include <string.h>

#include <sodium.h>

void kh_key_to_base64(char out[KH_KEY_B64_LEN + 1], const uint8_t key[KH_KEY_LEN])
{
	sodium_bin2base64(out, KH_KEY_B64_LEN + 1, key, KH_KEY_LEN,
			  sodium_base64_VARIANT_ORIGINAL);
}

int kh_key_from_base64(uint8_t key[KH_KEY_LEN], const char *text, size_t len,
		       const char **why)
{
	uint8_t buf[KH_KEY_LEN + 4];
	size_t bin_len = 0;
	const char *end = NULL;
	int ret;

	if (len && text[len - 1] == '\n')
		len--;
	if (len && text[len - 1] == '\r')
		len--;
	if (len != KH_KEY_B64_LEN) {
		*why = "a key is 44 characters of base64";
		return -EINVAL;
	}
	/* Only the '=' at the very end belongs to a 32-byte key. */
	if (text[KH_KEY_B64_LEN - 1] != '=' || text[KH_KEY_B64_LEN - 2] == '=') {
		*why = "a key is 44 characters of base64 ending in one '='";
		return -EINVAL;
	}
	ret = sodium_base642bin(buf, sizeof(buf), text, len, NULL, &bin_len, &end,
				sodium_base64_VARIANT_ORIGINAL);
	if (ret || bin_len != KH_KEY_LEN || end != text + len) {
		sodium_memzero(buf, sizeof(buf));
		*why = "not valid base64";
		return -EINVAL;
	}
	memcpy(key, buf, KH_KEY_LEN);
	sodium_memzero(buf, sizeof(buf));
	return 0;
}

void kh_key_generate(uint8_t priv[KH_KEY_LEN])
{
	randombytes_buf(priv, KH_KEY_LEN);
	priv[0] &= 248;
	priv[31] &= 127;
	priv[31] |= 64;
}

int kh_key_public(uint8_t pub[KH_KEY_LEN], const uint8_t priv[KH_KEY_LEN])
{
	return crypto_scalarmult_curve25519_base(pub, priv) ? -EINVAL : 0;
}
