/* names.c - node names, tags and enrollment tokens as text: checked and converted, no I/O. */
#include "names.h"

#include <errno.h>
#include <string.h>

#include <sodium.h>

#define TOKEN_PREFIX "kh1-"
_Static_assert(sizeof(TOKEN_PREFIX) - 1 + 2 * KH_TOKEN_LEN == KH_TOKEN_TEXT_LEN,
	       "KH_TOKEN_TEXT_LEN is the prefix and the token in hex");

static bool label_chars(const char *s, size_t max)
{
	size_t len = s ? strnlen(s, max + 1) : 0;

	return len >= 1 && len <= max &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == len;
}

bool kh_valid_name(const char *name)
{
	return label_chars(name, KH_NAME_LEN - 1) && name[0] != '-' &&
	       name[strlen(name) - 1] != '-';
}

bool kh_valid_tag(const char *tag)
{
	return label_chars(tag, KH_TAG_LEN - 1);
}

void kh_token_format(char text[KH_TOKEN_TEXT_LEN + 1], const uint8_t token[KH_TOKEN_LEN])
{
	memcpy(text, TOKEN_PREFIX, strlen(TOKEN_PREFIX));
	sodium_bin2hex(text + strlen(TOKEN_PREFIX), 2 * KH_TOKEN_LEN + 1, token, KH_TOKEN_LEN);
}

int kh_token_parse(const char *text, uint8_t token[KH_TOKEN_LEN])
{
	size_t plen = strlen(TOKEN_PREFIX), i, bin_len = 0;
	bool upper = false;

	if (!text || strnlen(text, KH_TOKEN_TEXT_LEN + 1) != KH_TOKEN_TEXT_LEN ||
	    memcmp(text, TOKEN_PREFIX, plen))
		return -EINVAL;
	/* sodium_hex2bin takes upper case too; the text form is lower case only. */
	for (i = plen; i < KH_TOKEN_TEXT_LEN; i++)
		upper |= text[i] >= 'A' && text[i] <= 'F';
	if (upper || sodium_hex2bin(token, KH_TOKEN_LEN, text + plen, KH_TOKEN_TEXT_LEN - plen,
				    NULL, &bin_len, NULL) || bin_len != KH_TOKEN_LEN) {
		sodium_memzero(token, KH_TOKEN_LEN);
		return -EINVAL;
	}
	return 0;
}
