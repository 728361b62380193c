/* key.h - X25519 keys in WireGuard's text form: base64 of 32 bytes (44 characters). */
#ifndef KEYHOLE_KEY_H
#define KEYHOLE_KEY_H

#include <stddef.h>
#include <stdint.h>

#define KH_KEY_LEN 32
#define KH_KEY_B64_LEN 44 /* without the terminating NUL */

/* Encode key as base64 into out (KH_KEY_B64_LEN + 1 bytes, NUL-terminated). */
void kh_key_to_base64(char out[KH_KEY_B64_LEN + 1], const uint8_t key[KH_KEY_LEN]);

/*
 * Decode text holding one key, optionally followed by a single newline.
 * Returns 0, or -EINVAL with *why set to a short reason for the user.
 */
int kh_key_from_base64(uint8_t key[KH_KEY_LEN], const char *text, size_t len,
		       const char **why);

/* Make a new private key, clamped as X25519 expects. */
void kh_key_generate(uint8_t priv[KH_KEY_LEN]);
/* Derive the public key; -EINVAL for a private key whose public key is low order. */
int kh_key_public(uint8_t pub[KH_KEY_LEN], const uint8_t priv[KH_KEY_LEN]);

#endif
