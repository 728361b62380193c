/* genl.h - the keyhole generic netlink family as C structs: one codec for the daemon socket and the kernel. */
#ifndef KEYHOLE_GENL_H
#define KEYHOLE_GENL_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libmnl/libmnl.h>
#include <linux/genetlink.h>

#include "../../include/uapi/linux/keyhole.h"
#include "control.h"

#define KH_ENDPOINT_MAX 256

/* A device as GET_DEVICE reports it and SET_DEVICE changes it; has_* say which fields are present. */
struct kh_device {
	uint32_t ifindex;
	char ifname[IFNAMSIZ];
	uint32_t flags;
	bool has_private_key, has_public_key, has_relay_endpoint, has_relay_public_key;
	bool has_psk, has_keepalive, has_token, has_node_name;
	bool has_state, has_addr4, has_addr6, has_mtu;
	uint8_t private_key[KEYHOLE_KEY_LEN];
	uint8_t public_key[KEYHOLE_KEY_LEN];
	char relay_endpoint[KH_ENDPOINT_MAX];
	uint8_t relay_public_key[KEYHOLE_KEY_LEN];
	uint8_t psk[KEYHOLE_KEY_LEN];
	uint16_t keepalive;
	uint8_t token[KEYHOLE_TOKEN_LEN];
	char node_name[KH_NAME_LEN];
	/* State, reported by GET_DEVICE only. */
	uint8_t session_state;
	uint64_t last_handshake, rx_bytes, tx_bytes, rx_packets, tx_packets;
	uint8_t addr4[4], plen4;
	uint8_t addr6[16], plen6;
	uint32_t mtu;
	uint8_t dataplane;
	char relay_address[64];
	bool psk_set, token_set;
};

/* Start a genl message in buf (room for len bytes). */
struct nlmsghdr *kh_genl_msg_start(void *buf, uint16_t family, uint8_t cmd, uint16_t flags,
				   uint32_t seq);
/* Put every present field of dev; false if buf (len bytes) is too small. */
bool kh_genl_put_device(struct nlmsghdr *nlh, size_t len, const struct kh_device *dev);
bool kh_genl_put_peer(struct nlmsghdr *nlh, size_t len, const struct kh_ctrl_peer *peer);

/*
 * Parse the attributes of a keyhole genl message (nlh already checked to be
 * whole) into dev. Every attribute is checked against the family's policy;
 * returns 0, or -EINVAL with a message for the extended ACK in *why.
 */
int kh_genl_parse_device(const struct nlmsghdr *nlh, struct kh_device *dev, const char **why);
/* Parse the one KEYHOLE_A_PEER of a GET_PEERS dump message. */
int kh_genl_parse_peer(const struct nlmsghdr *nlh, struct kh_ctrl_peer *peer, const char **why);

/* The command of a whole, well-formed keyhole message for family, or -EINVAL. */
int kh_genl_cmd(const struct nlmsghdr *nlh, size_t len, uint16_t family);

/* Build an NLMSG_ERROR for request (error 0 = ACK) with an optional extended-ACK message. */
struct nlmsghdr *kh_genl_put_error(void *buf, size_t len, const struct nlmsghdr *request,
				   int error, const char *msg);

#endif
