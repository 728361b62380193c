/* control.h - control messages carried inside transport: goodbye, config, peer list, presence. */
#ifndef KEYHOLE_CONTROL_H
#define KEYHOLE_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attr.h"

/* A control message: type (1 byte, 0x01-0x3f), 3 zero bytes, then attributes. */
#define KH_CTRL_HEADER_LEN 4
/* Small enough that a control message never needs IP fragmentation (1280-byte
 * IPv6 minimum MTU, less UDP/IP and transport overhead). */
#define KH_CTRL_MAX 1152

enum kh_ctrl_type {
	KH_CTRL_GOODBYE = 0x01,       /* either way: the session ends now */
	KH_CTRL_CONFIG = 0x02,        /* relay -> node: addresses, MTU, timers */
	KH_CTRL_PEERS_REQUEST = 0x03, /* node -> relay */
	KH_CTRL_PEERS_REPLY = 0x04,   /* relay -> node, one or more messages */
	KH_CTRL_PRESENCE = 0x05,      /* relay -> following nodes: a peer came or went */
};

enum kh_ctrl_attr {
	KH_CA_UNSPEC,
	KH_CA_REASON,      /* u8, enum kh_goodbye_reason */
	KH_CA_IPV4,        /* 4 address bytes + 1 prefix length */
	KH_CA_IPV6,        /* 16 address bytes + 1 prefix length */
	KH_CA_MTU,         /* u16 */
	KH_CA_KEEPALIVE,   /* u16, seconds */
	KH_CA_DEAD_PEER,   /* u16, seconds */
	KH_CA_NAME,        /* string */
	KH_CA_REQUEST_ID,  /* u32 */
	KH_CA_FOLLOW,      /* u8: 1 = push presence changes to me */
	KH_CA_LAST,        /* u8: 1 = last reply of this request */
	KH_CA_PEER,        /* nested: KH_CA_NAME, KH_CA_PUBKEY, KH_CA_IPV4, KH_CA_IPV6, KH_CA_ONLINE, KH_CA_TAG... */
	KH_CA_PUBKEY,      /* 32 bytes */
	KH_CA_ONLINE,      /* u8 */
	KH_CA_TAG,         /* string, repeated */
	KH_CA_MAX = KH_CA_TAG,
};

enum kh_goodbye_reason {
	KH_GOODBYE_SHUTDOWN = 0, /* the node or relay is stopping */
	KH_GOODBYE_DELETED = 1,  /* the node was deleted by the relay's admin */
	KH_GOODBYE_REPLACED = 2, /* a newer session of the same key took over */
};

#define KH_NAME_LEN 64 /* DNS label (63) + NUL */
#define KH_TAG_LEN 33  /* tag (32) + NUL */
#define KH_MAX_TAGS 8

struct kh_ctrl_config {
	uint8_t ipv4[4];
	uint8_t ipv4_plen;
	uint8_t ipv6[16];
	uint8_t ipv6_plen;
	uint16_t mtu;
	uint16_t keepalive_s;
	uint16_t dead_peer_s;
	char name[KH_NAME_LEN];
};

struct kh_ctrl_peer {
	char name[KH_NAME_LEN];
	uint8_t pubkey[32];
	uint8_t ipv4[4];
	uint8_t ipv6[16];
	bool online;
	uint8_t ntags;
	char tags[KH_MAX_TAGS][KH_TAG_LEN];
};

/* Type of a control payload (first byte below 0x40), or -EINVAL. */
int kh_ctrl_type(const uint8_t *msg, size_t len);

/* Builders return the message length, or -EMSGSIZE if out (max bytes) is too small. */
int kh_ctrl_build_goodbye(uint8_t *out, size_t max, enum kh_goodbye_reason reason);
int kh_ctrl_build_config(uint8_t *out, size_t max, const struct kh_ctrl_config *cfg);
int kh_ctrl_build_peers_request(uint8_t *out, size_t max, uint32_t request_id, bool follow);

/* Peer lists span messages: begin, add peers while they fit, finish. */
struct kh_ctrl_peers_writer {
	struct kh_attr_writer w;
	size_t count;
};
void kh_ctrl_peers_begin(struct kh_ctrl_peers_writer *pw, uint8_t *out, size_t max,
			 enum kh_ctrl_type type, uint32_t request_id);
/* False if the peer did not fit (the message is left as before). */
bool kh_ctrl_peers_add(struct kh_ctrl_peers_writer *pw, const struct kh_ctrl_peer *peer);
int kh_ctrl_peers_finish(struct kh_ctrl_peers_writer *pw, bool last);

/* Parsers return 0 or -EINVAL; a missing mandatory attribute is -EINVAL. */
int kh_ctrl_parse_goodbye(const uint8_t *msg, size_t len, enum kh_goodbye_reason *reason);
int kh_ctrl_parse_config(const uint8_t *msg, size_t len, struct kh_ctrl_config *cfg);
int kh_ctrl_parse_peers_request(const uint8_t *msg, size_t len, uint32_t *request_id,
				bool *follow);
/* Calls cb for each peer of a PEERS_REPLY or PRESENCE message; stops if cb returns non-zero. */
int kh_ctrl_parse_peers(const uint8_t *msg, size_t len, uint32_t *request_id, bool *last,
			int (*cb)(const struct kh_ctrl_peer *peer, void *ctx), void *ctx);

#endif
