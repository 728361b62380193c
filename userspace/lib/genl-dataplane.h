/* genl-dataplane.h - the kernel data plane's messages of the keyhole family (SET_PEER ... RECV_CTRL), pure. */
#ifndef KEYHOLE_GENL_DATAPLANE_H
#define KEYHOLE_GENL_DATAPLANE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "genl.h"

/* A keypair as NEW_KEYS carries it. Holds secrets: wipe it. */
struct kh_dp_keypair {
	uint32_t local_index;  /* the index the relay puts in its messages to us */
	uint32_t remote_index; /* the index we put in ours */
	uint8_t send_key[KEYHOLE_KEY_LEN];
	uint8_t recv_key[KEYHOLE_KEY_LEN];
};

/*
 * Every attribute the data-plane commands and the kernel's GET_DEVICE use;
 * has_* say which are present. payload points into the parsed message (or,
 * to build, at the caller's bytes). A message with a keypair holds secrets.
 */
struct kh_dp_msg {
	bool has_ifindex, has_socket_fd, has_relay, has_addr4, has_addr6, has_keypair;
	bool has_payload, has_counters, has_mtu, has_dataplane, has_key_slots;
	uint32_t ifindex;
	char ifname[IFNAMSIZ];
	uint32_t socket_fd;
	union {
		struct sockaddr sa;
		struct sockaddr_in sin;
		struct sockaddr_in6 sin6;
	} relay;                 /* family AF_INET or AF_INET6 */
	uint8_t addr4[4], plen4; /* plen with its address */
	uint8_t addr6[16], plen6;
	struct kh_dp_keypair keypair;
	const uint8_t *payload;
	size_t payload_len; /* 0..KEYHOLE_CTRL_MAX; 0 is a keepalive */
	/* The kernel's GET_DEVICE reply. */
	uint64_t rx_bytes, tx_bytes, rx_packets, tx_packets, rx_dropped;
	uint32_t mtu;
	uint8_t dataplane, key_slots;
};

/* Put every present field of m behind a header from kh_genl_msg_start; false if len is too small. */
bool kh_genl_put_dataplane(struct nlmsghdr *nlh, size_t len, const struct kh_dp_msg *m);

/*
 * Parse a whole message (nlh checked to be whole) of the kernel family into m.
 * Attributes of the family this side has no use for are skipped (a newer kernel
 * may send more); those it knows must have their exact size, a keypair all four
 * of its parts, a payload at most KEYHOLE_CTRL_MAX bytes, a relay address the
 * size of its family. Returns 0, or -EINVAL with the reason in *why.
 */
int kh_genl_parse_dataplane(const struct nlmsghdr *nlh, struct kh_dp_msg *m, const char **why);

/* Start a genl controller request CTRL_CMD_GETFAMILY for family name. */
struct nlmsghdr *kh_genl_ctrl_getfamily(void *buf, size_t len, const char *name);
/*
 * Parse the controller's answer: the family id, and the id of multicast group
 * `group` (0 when the family has no such group). Returns 0 or -EINVAL (*why).
 */
int kh_genl_parse_family(const struct nlmsghdr *nlh, const char *group, uint16_t *id,
			 uint32_t *group_id, const char **why);

#endif
