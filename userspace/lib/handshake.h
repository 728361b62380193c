/* handshake.h - keyhole's handshake messages: Noise IKpsk2 inside the wire format, with indices and MACs. */
#ifndef KEYHOLE_HANDSHAKE_H
#define KEYHOLE_HANDSHAKE_H

#include <stddef.h>
#include <stdint.h>

#include "cookie.h"
#include "messages.h"
#include "noise.h"
#include "transport.h"

/* Bound into every handshake hash: a keyhole handshake is no other protocol's. */
#define KH_PROLOGUE "keyhole protocol v1"

/* What the relay learns from an initiation once it authenticated. */
struct kh_initiation {
	uint32_t sender_index;
	uint8_t static_pub[NOISE_DH_LEN];
	uint8_t timestamp[KH_TAI64N_LEN];
	uint8_t token[KH_TOKEN_LEN];
	bool has_token;
	char name[KH_NAME_MAX + 1];
};

/* TAI64N label for a wall-clock time: 8 bytes of 2^62 + seconds, 4 of nanoseconds, big endian. */
void kh_tai64n(uint8_t out[KH_TAI64N_LEN], int64_t sec, uint32_t nsec);

/*
 * Node side: start a handshake with the relay and write the initiation into
 * out (room for KH_INIT_MAX_LEN). token and name are optional (NULL) and ask
 * for enrollment. psk is all-zero when none is configured. Returns the length
 * or a negative errno.
 */
int kh_handshake_initiate(struct noise_handshake *hs, struct kh_cookie_maker *cm,
			  const struct noise_static *node, const uint8_t relay_pub[32],
			  const uint8_t psk[NOISE_PSK_LEN], uint32_t sender_index,
			  const uint8_t timestamp[KH_TAI64N_LEN],
			  const uint8_t *token, const char *name,
			  uint8_t *out, uint64_t now_ns);

/*
 * Relay side: read an initiation whose MACs were already checked. Fills hs
 * (ready for kh_handshake_respond) and init. Returns 0, -EINVAL when
 * malformed, -EBADMSG when it does not authenticate.
 */
int kh_handshake_consume_initiation(struct noise_handshake *hs, struct kh_initiation *init,
				    const struct noise_static *relay,
				    const uint8_t *msg, size_t len);

/* The same, with a cache of static-static DH results (see noise_ss_fn); fn may be NULL. */
int kh_handshake_consume_initiation_cached(struct noise_handshake *hs,
					   struct kh_initiation *init,
					   const struct noise_static *relay, noise_ss_fn fn,
					   void *ctx, const uint8_t *msg, size_t len);

/* Relay side: answer into out (KH_RESP_LEN bytes) and derive the session's keys. */
int kh_handshake_respond(struct noise_handshake *hs, const uint8_t psk[NOISE_PSK_LEN],
			 uint32_t sender_index, uint32_t receiver_index,
			 uint8_t *out, struct kh_keypair *kp, uint64_t now_ns);

/* Receiver index of a response, or -EINVAL if it is not one. */
int64_t kh_handshake_response_receiver(const uint8_t *msg, size_t len);

/*
 * Node side: check and read the relay's response (MACs included), derive the
 * keys. The handshake state is wiped on success. Returns 0, -EINVAL or -EBADMSG.
 */
int kh_handshake_consume_response(struct noise_handshake *hs, const uint8_t *msg,
				  size_t len, struct kh_keypair *kp,
				  uint64_t now_ns);

#endif
