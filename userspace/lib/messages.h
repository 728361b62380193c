/* messages.h - keyhole's wire format: message types, offsets and sizes (see Documentation/protocol.md). */
#ifndef KEYHOLE_MESSAGES_H
#define KEYHOLE_MESSAGES_H

#include <stdint.h>
#include <string.h>

#include "byteorder.h"
#include "noise.h"

/* Every datagram starts with: type (1 byte), version (1 byte), 2 reserved zero bytes. */
#define KH_HEADER_LEN 4
#define KH_VERSION 1

/* Types 1-4: node <-> relay. 5-15 are kept for end-to-end node <-> node sessions. */
enum kh_msg_type {
	KH_MSG_INITIATION = 1,
	KH_MSG_RESPONSE = 2,
	KH_MSG_COOKIE_REPLY = 3,
	KH_MSG_TRANSPORT = 4,
};

#define KH_MAC_LEN 16
#define KH_TAI64N_LEN 12
#define KH_COOKIE_LEN 16
#define KH_COOKIE_NONCE_LEN 24

/* Handshake initiation: header, sender index, then Noise message 1, then mac1, mac2. */
#define KH_INIT_SENDER_OFF 4
#define KH_INIT_NOISE_OFF 8
/* The initiation payload: TAI64N timestamp, then optional enrollment TLVs. */
#define KH_INIT_MAX_EXTRA 128
#define KH_INIT_MIN_LEN (KH_INIT_NOISE_OFF + NOISE_IK_MSG1_LEN(KH_TAI64N_LEN) + 2 * KH_MAC_LEN)
#define KH_INIT_MAX_LEN (KH_INIT_MIN_LEN + KH_INIT_MAX_EXTRA)

/* Enrollment TLVs inside the initiation payload: type (1), length (1), value. */
enum kh_enroll_tlv {
	KH_ENROLL_TOKEN = 1, /* enrollment token, 16 bytes */
	KH_ENROLL_NAME = 2,  /* requested node name, a DNS label, 1-63 bytes */
};
#define KH_TOKEN_LEN 16
#define KH_NAME_MAX 63

/* Handshake response: header, sender index, receiver index, Noise message 2 (empty payload), macs. */
#define KH_RESP_SENDER_OFF 4
#define KH_RESP_RECEIVER_OFF 8
#define KH_RESP_NOISE_OFF 12
#define KH_RESP_LEN (KH_RESP_NOISE_OFF + NOISE_IK_MSG2_LEN(0) + 2 * KH_MAC_LEN)

/* Cookie reply: header, receiver index, nonce, encrypted cookie. */
#define KH_COOKIE_RECEIVER_OFF 4
#define KH_COOKIE_NONCE_OFF 8
#define KH_COOKIE_BOX_OFF (KH_COOKIE_NONCE_OFF + KH_COOKIE_NONCE_LEN)
#define KH_COOKIE_REPLY_LEN (KH_COOKIE_BOX_OFF + KH_COOKIE_LEN + NOISE_TAG_LEN)

/* Transport: header, receiver index, 64-bit counter, ciphertext of the inner payload. */
#define KH_DATA_RECEIVER_OFF 4
#define KH_DATA_COUNTER_OFF 8
#define KH_DATA_HEADER_LEN 16
#define KH_DATA_OVERHEAD (KH_DATA_HEADER_LEN + NOISE_TAG_LEN)
/* Largest inner payload: an IPv6 minimum-MTU-sized margin over any sane overlay MTU. */
#define KH_DATA_MAX_PAYLOAD 65535
#define KH_DATA_MAX_LEN (KH_DATA_OVERHEAD + KH_DATA_MAX_PAYLOAD)

/*
 * The inner payload of a transport message: empty is a keepalive; a first
 * nibble of 4 or 6 is an IP packet; a first byte below 0x40 is a control
 * message whose type is that byte (see control.h).
 */

static inline void kh_put_header(uint8_t *p, enum kh_msg_type type)
{
	p[0] = (uint8_t)type;
	p[1] = KH_VERSION;
	p[2] = 0;
	p[3] = 0;
}

/* The type of a datagram whose header is well formed, or 0. */
static inline int kh_msg_type(const uint8_t *p, size_t len)
{
	if (len < KH_HEADER_LEN || p[1] != KH_VERSION || p[2] || p[3])
		return 0;
	return p[0];
}

#endif
