/* cookie.h - handshake MACs and cookie replies: drop junk before any DH, make floods prove their address. */
#ifndef KEYHOLE_COOKIE_H
#define KEYHOLE_COOKIE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "messages.h"

/* WireGuard's figures: the cookie secret rotates every two minutes; an initiator
 * stops using a cookie a little before the responder would stop accepting it. */
#define KH_COOKIE_SECRET_MAX_AGE_NS (120ULL * 1000000000ULL)
#define KH_COOKIE_USE_MAX_AGE_NS (118ULL * 1000000000ULL)

/* The responder's side: checks mac1/mac2 and makes cookie replies. */
struct kh_cookie_checker {
	uint8_t mac1_key[32];
	uint8_t cookie_key[32];
	uint8_t secret[32];
	uint64_t secret_birth_ns;
	bool has_secret;
};

/* The initiator's side: adds mac1 and, while it holds a fresh cookie, mac2. */
struct kh_cookie_maker {
	uint8_t mac1_key[32];
	uint8_t cookie_key[32];
	uint8_t cookie[KH_COOKIE_LEN];
	uint64_t cookie_birth_ns;
	bool has_cookie;
	uint8_t last_mac1[KH_MAC_LEN];
	bool has_last_mac1;
};

enum kh_mac_verdict {
	KH_MAC_INVALID,      /* mac1 wrong: drop silently */
	KH_MAC1_VALID,       /* mac1 right, mac2 absent or wrong */
	KH_MAC1_MAC2_VALID,  /* both right: the source proved its address */
};

/* The keys are derived from the public key of the side that checks mac1. */
void kh_cookie_checker_init(struct kh_cookie_checker *cc, const uint8_t pub[32]);
void kh_cookie_maker_init(struct kh_cookie_maker *cm, const uint8_t remote_pub[32]);

/* mac1 alone: cheap, and enough while the responder is not under load. */
bool kh_cookie_mac1_valid(const struct kh_cookie_checker *cc, const uint8_t *msg, size_t len);
/* msg is a whole handshake message ending in mac1 and mac2; src is the
 * sender's address in any stable byte form (e.g. IP then port). */
enum kh_mac_verdict kh_cookie_validate(struct kh_cookie_checker *cc, const uint8_t *msg,
				       size_t len, const uint8_t *src, size_t src_len,
				       uint64_t now_ns);
/* Answer msg with a cookie reply for receiver_index into out (KH_COOKIE_REPLY_LEN). */
void kh_cookie_make_reply(struct kh_cookie_checker *cc, const uint8_t *msg, size_t len,
			  uint32_t receiver_index, const uint8_t *src, size_t src_len,
			  uint64_t now_ns, uint8_t *out);

/* Fill in mac1 and mac2 at the end of msg (len includes both). */
void kh_cookie_add_macs(struct kh_cookie_maker *cm, uint8_t *msg, size_t len, uint64_t now_ns);
/* Take the cookie from a reply; -EINVAL on bad length, -EBADMSG if it does not open. */
int kh_cookie_consume_reply(struct kh_cookie_maker *cm, const uint8_t *reply, size_t len,
			    uint64_t now_ns);

void kh_cookie_checker_wipe(struct kh_cookie_checker *cc);
void kh_cookie_maker_wipe(struct kh_cookie_maker *cm);

#endif
