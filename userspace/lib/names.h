/* names.h - what an admin types: node names (DNS labels), tags, enrollment tokens. */
#ifndef KEYHOLE_NAMES_H
#define KEYHOLE_NAMES_H

#include <stdbool.h>
#include <stdint.h>

#include "control.h"  /* KH_NAME_LEN, KH_TAG_LEN */
#include "messages.h" /* KH_TOKEN_LEN */

/* A DNS label: 1-63 of a-z 0-9 -, not starting or ending with '-'. */
bool kh_valid_name(const char *name);
/* 1-32 of a-z 0-9 -. */
bool kh_valid_tag(const char *tag);

/*
 * A token's text form, shown to the admin once: "kh1-" followed by the
 * KH_TOKEN_LEN bytes as 32 lowercase hex digits.
 */
#define KH_TOKEN_TEXT_LEN 36 /* "kh1-" + 32 hex, without NUL */
void kh_token_format(char text[KH_TOKEN_TEXT_LEN + 1], const uint8_t token[KH_TOKEN_LEN]);
/* Parse the text form into the token bytes; -EINVAL if malformed (upper case too). */
int kh_token_parse(const char *text, uint8_t token[KH_TOKEN_LEN]);

#endif
