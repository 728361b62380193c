/* transport.h - a session's transport keys: seal and open data messages, counters, limits. */
#ifndef KEYHOLE_TRANSPORT_H
#define KEYHOLE_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "messages.h"
#include "noise.h"
#include "replay.h"

/* WireGuard's figures (whitepaper section 6.1). */
#define KH_REKEY_AFTER_MESSAGES (1ULL << 60)
#define KH_REJECT_AFTER_MESSAGES (UINT64_MAX - (1ULL << 13))
#define KH_REKEY_AFTER_TIME_NS (120ULL * 1000000000ULL)
#define KH_REJECT_AFTER_TIME_NS (180ULL * 1000000000ULL)

struct kh_keypair {
	uint8_t send_key[NOISE_KEY_LEN];
	uint8_t recv_key[NOISE_KEY_LEN];
	uint64_t send_counter;
	struct kh_replay replay;
	uint32_t local_index;  /* the index peers put in messages to us */
	uint32_t remote_index; /* the index we put in messages to the peer */
	uint64_t birth_ns;
	bool initiator;        /* we started the handshake that made these keys */
	bool valid;
};

void kh_keypair_init(struct kh_keypair *kp, const struct noise_split *keys,
		     uint32_t local_index, uint32_t remote_index, bool initiator,
		     uint64_t now_ns);
void kh_keypair_wipe(struct kh_keypair *kp);

/* The keys may no longer be used in either direction. */
bool kh_keypair_expired(const struct kh_keypair *kp, uint64_t now_ns);
/* The initiator should start a new handshake (time or message count). */
bool kh_keypair_needs_rekey(const struct kh_keypair *kp, uint64_t now_ns);

/*
 * Seal payload into a transport message at out (room for len + KH_DATA_OVERHEAD).
 * payload may sit at out + KH_DATA_HEADER_LEN (in place). Returns the message
 * length, or -ESTALE when the keys are spent.
 */
int kh_transport_seal(struct kh_keypair *kp, const uint8_t *payload, size_t len,
		      uint8_t *out, uint64_t now_ns);

/* Receiver index of a transport message, for finding its session; -EINVAL if malformed. */
int64_t kh_transport_receiver(const uint8_t *msg, size_t len);

/*
 * Open a transport message into out (room for len - KH_DATA_OVERHEAD; may be
 * msg + KH_DATA_HEADER_LEN). Returns the payload length, -EINVAL if malformed,
 * -ESTALE if the keys are spent, -EBADMSG if it fails authentication,
 * -EALREADY if it is a replay or too old.
 */
int kh_transport_open(struct kh_keypair *kp, const uint8_t *msg, size_t len,
		      uint8_t *out, uint64_t now_ns);

#endif
