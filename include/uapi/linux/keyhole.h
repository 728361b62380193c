/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/* keyhole.h - the keyhole generic netlink family: commands and attributes (see Documentation/netlink/specs/keyhole.yaml). */
#ifndef _UAPI_LINUX_KEYHOLE_H
#define _UAPI_LINUX_KEYHOLE_H

#define KEYHOLE_GENL_NAME "keyhole"
#define KEYHOLE_GENL_VERSION 1

/* The daemon's control socket carries the family under this fixed id; the
 * kernel family gets a dynamic one, found through the genl controller. */
#define KEYHOLE_DAEMON_FAMILY_ID 0x10

#define KEYHOLE_KEY_LEN 32
/* Largest control payload (KH_CTRL_MAX in Documentation/protocol.md). */
#define KEYHOLE_CTRL_MAX 1152
/* The kernel family's multicast group for RECV_CTRL (CAP_NET_ADMIN to join). */
#define KEYHOLE_MCGRP_CTRL "ctrl"
#define KEYHOLE_TOKEN_LEN 16

enum keyhole_cmd {
	KEYHOLE_CMD_UNSPEC,
	KEYHOLE_CMD_GET_DEVICE, /* do: the device's state and configuration */
	KEYHOLE_CMD_SET_DEVICE, /* do: change configuration; absent attributes are left alone */
	KEYHOLE_CMD_GET_PEERS,  /* dump: the peers the relay lets this node see */
	KEYHOLE_CMD_DEL_DEVICE, /* do: remove the device (the daemon exits) */
	/* The kernel data plane (keyhole.ko only; keyholed drives these): */
	KEYHOLE_CMD_SET_PEER,   /* do: the daemon's UDP socket, the relay's address, the overlay */
	KEYHOLE_CMD_NEW_KEYS,   /* do: install a keypair in the next slot */
	KEYHOLE_CMD_SWAP_KEYS,  /* do: next becomes primary, primary becomes previous (rx only) */
	KEYHOLE_CMD_DEL_KEYS,   /* do: wipe every slot; transmit answers with ICMP unreachable */
	KEYHOLE_CMD_SEND_CTRL,  /* do: seal PAYLOAD under the primary keys and send it to the relay */
	KEYHOLE_CMD_RECV_CTRL,  /* notify (group "ctrl"): a decrypted payload that is not IP */
	__KEYHOLE_CMD_MAX,
};
#define KEYHOLE_CMD_MAX (__KEYHOLE_CMD_MAX - 1)

enum keyhole_session_state {
	KEYHOLE_SESSION_DOWN,       /* link down or not configured */
	KEYHOLE_SESSION_CONNECTING, /* handshaking with the relay */
	KEYHOLE_SESSION_UP,         /* authenticated, addresses assigned */
};

enum keyhole_dataplane {
	KEYHOLE_DATAPLANE_TUN,
	KEYHOLE_DATAPLANE_KERNEL,
};

/* Flags for KEYHOLE_A_FLAGS. */
#define KEYHOLE_F_SHOW_PRIVATE_KEY (1U << 0) /* GET_DEVICE: include the private key (root only) */
#define KEYHOLE_F_CLEAR_PRESHARED_KEY (1U << 1) /* SET_DEVICE: back to no pre-shared key */
#define KEYHOLE_F_CLEAR_AUTH_TOKEN (1U << 2)

enum keyhole_attr {
	KEYHOLE_A_UNSPEC,
	KEYHOLE_A_IFINDEX,          /* u32 */
	KEYHOLE_A_IFNAME,           /* string */
	KEYHOLE_A_FLAGS,            /* u32 */
	KEYHOLE_A_PRIVATE_KEY,      /* binary, 32 bytes */
	KEYHOLE_A_PUBLIC_KEY,       /* binary, 32 bytes */
	KEYHOLE_A_RELAY_ENDPOINT,   /* string, "host:port" as configured */
	KEYHOLE_A_RELAY_PUBLIC_KEY, /* binary, 32 bytes */
	KEYHOLE_A_PRESHARED_KEY,    /* binary, 32 bytes (set only) */
	KEYHOLE_A_KEEPALIVE,        /* u16, seconds; 0 = the relay's choice */
	KEYHOLE_A_AUTH_TOKEN,       /* binary, 16 bytes (set only) */
	KEYHOLE_A_NODE_NAME,        /* string: requested at enrollment, then the relay's */
	KEYHOLE_A_SESSION_STATE,    /* u8, enum keyhole_session_state */
	KEYHOLE_A_LAST_HANDSHAKE,   /* u64, unix seconds, 0 = never */
	KEYHOLE_A_RX_BYTES,         /* u64 */
	KEYHOLE_A_TX_BYTES,         /* u64 */
	KEYHOLE_A_RX_PACKETS,       /* u64 */
	KEYHOLE_A_TX_PACKETS,       /* u64 */
	KEYHOLE_A_ADDR4,            /* binary, 4 bytes */
	KEYHOLE_A_PREFIX4_LEN,      /* u8 */
	KEYHOLE_A_ADDR6,            /* binary, 16 bytes */
	KEYHOLE_A_PREFIX6_LEN,      /* u8 */
	KEYHOLE_A_MTU,              /* u32 */
	KEYHOLE_A_DATAPLANE,        /* u8, enum keyhole_dataplane */
	KEYHOLE_A_RELAY_ADDRESS,    /* string, the address the endpoint resolved to */
	KEYHOLE_A_PEER,             /* nested, enum keyhole_peer_attr */
	KEYHOLE_A_HAS_PRESHARED_KEY, /* u8 (get only) */
	KEYHOLE_A_HAS_AUTH_TOKEN,   /* u8 (get only) */
	KEYHOLE_A_SOCKET_FD,        /* u32: the daemon's UDP socket (SET_PEER) */
	KEYHOLE_A_RELAY_SOCKADDR,   /* binary: struct sockaddr_in or sockaddr_in6 (SET_PEER) */
	KEYHOLE_A_KEYPAIR,          /* nested, enum keyhole_keypair_attr (NEW_KEYS) */
	KEYHOLE_A_PAYLOAD,          /* binary, at most KEYHOLE_CTRL_MAX (SEND_CTRL, RECV_CTRL) */
	KEYHOLE_A_KEY_SLOTS,        /* u8, bit 0 primary, 1 next, 2 previous installed (get only) */
	KEYHOLE_A_RX_DROPPED,       /* u64: failed authentication, replays, bad inner packets */
	__KEYHOLE_A_MAX,
};
#define KEYHOLE_A_MAX (__KEYHOLE_A_MAX - 1)

enum keyhole_peer_attr {
	KEYHOLE_PEER_A_UNSPEC,
	KEYHOLE_PEER_A_NAME,        /* string */
	KEYHOLE_PEER_A_PUBLIC_KEY,  /* binary, 32 bytes */
	KEYHOLE_PEER_A_ADDR4,       /* binary, 4 bytes */
	KEYHOLE_PEER_A_ADDR6,       /* binary, 16 bytes */
	KEYHOLE_PEER_A_ONLINE,      /* u8 */
	KEYHOLE_PEER_A_TAG,         /* string, repeated */
	__KEYHOLE_PEER_A_MAX,
};
#define KEYHOLE_PEER_A_MAX (__KEYHOLE_PEER_A_MAX - 1)

/* A keypair the daemon's handshake made; the kernel starts its send counter at 0 and
 * takes the keys over: the daemon must never seal under them itself. */
enum keyhole_keypair_attr {
	KEYHOLE_KEYPAIR_A_UNSPEC,
	KEYHOLE_KEYPAIR_A_LOCAL_INDEX,  /* u32: the receiver index the relay puts in its messages */
	KEYHOLE_KEYPAIR_A_REMOTE_INDEX, /* u32: the receiver index we put in ours */
	KEYHOLE_KEYPAIR_A_SEND_KEY,     /* binary, 32 bytes */
	KEYHOLE_KEYPAIR_A_RECV_KEY,     /* binary, 32 bytes */
	__KEYHOLE_KEYPAIR_A_MAX,
};
#define KEYHOLE_KEYPAIR_A_MAX (__KEYHOLE_KEYPAIR_A_MAX - 1)

#endif
