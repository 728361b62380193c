/* SPDX-License-Identifier: GPL-2.0 */
/*
 * keyhole.h - keyhole.ko's internal interfaces: one device per node, its relay, its keys.
 *
 * keyholed owns the control plane (handshakes, presence, configuration); the module carries
 * the data plane: it seals what the stack transmits on a keyhole device and sends it to the
 * relay through the daemon's own UDP socket, and it opens the transport messages that arrive
 * on that socket, handing IP packets to the stack and everything else up to the daemon.
 */
#ifndef KEYHOLE_KMOD_H
#define KEYHOLE_KMOD_H

#include <linux/mutex.h>
#include <linux/netdevice.h>
#include <linux/rcupdate.h>
#include <linux/socket.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <net/gro_cells.h>

#include "../include/uapi/linux/keyhole.h"

/* The wire format (Documentation/protocol.md): a 16-byte header, the sealed payload, a tag. */
#define KH_MSG_TRANSPORT 4
#define KH_PROTOCOL_VERSION 1
#define KH_HEADER_LEN 16
#define KH_TAG_LEN 16
#define KH_OVERHEAD (KH_HEADER_LEN + KH_TAG_LEN)
#define KH_RECEIVER_OFF 4
#define KH_COUNTER_OFF 8

/* WireGuard's limits (whitepaper section 6.1), the same as the TUN data plane's. */
#define KH_REJECT_AFTER_MESSAGES (U64_MAX - (1ULL << 13))
#define KH_REJECT_AFTER_SECONDS 180

/* 33 words of bitmap: 2048 counters behind the highest one seen are accepted once each. */
#define KH_REPLAY_WORDS 33
#define KH_REPLAY_WINDOW ((KH_REPLAY_WORDS - 1) * 64)

struct keyhole_replay {
	u64 top; /* highest counter seen, plus one; 0 means none yet */
	u64 bitmap[KH_REPLAY_WORDS];
};

void keyhole_replay_init(struct keyhole_replay *r);
bool keyhole_replay_check(struct keyhole_replay *r, u64 counter, u64 limit);

struct keyhole_keypair {
	struct rcu_head rcu;
	u8 send_key[KEYHOLE_KEY_LEN];
	u8 recv_key[KEYHOLE_KEY_LEN];
	atomic64_t send_counter;
	spinlock_t replay_lock; /* guards replay */
	struct keyhole_replay replay;
	u32 local_index;
	u32 remote_index;
	u64 birth_jiffies;
};

struct keyhole_keypair *keyhole_keypair_new(u32 local_index, u32 remote_index,
					    const u8 *send_key, const u8 *recv_key);
void keyhole_keypair_free(struct keyhole_keypair *kp);
bool keyhole_keypair_expired(const struct keyhole_keypair *kp);

/* Where the relay is and which overlay this node lives in; replaced whole under RCU. */
struct keyhole_peer {
	struct rcu_head rcu;
	union {
		struct sockaddr_in v4;
		struct sockaddr_in6 v6;
	} relay;
	bool has_relay;
	bool has_overlay4;
	bool has_overlay6;
	u8 plen4;
	u8 plen6;
	__be32 overlay4;
	struct in6_addr overlay6;
};

struct keyhole_dev {
	struct net_device *dev;
	struct mutex conf_lock; /* serialises the netlink commands that change the device */
	struct socket __rcu *sock;
	struct keyhole_peer __rcu *peer;
	struct keyhole_keypair __rcu *primary;  /* transmit, receive */
	struct keyhole_keypair __rcu *next;     /* receive; primary after SWAP_KEYS */
	struct keyhole_keypair __rcu *previous; /* receive, until the next swap */
	struct gro_cells gro_cells;
	/* The netlink port (keyholed's genl socket) that handed over the UDP socket: when it
	 * closes (the daemon exited or was killed) the keys and the socket go with it.
	 */
	u32 owner_portid;
	struct work_struct owner_gone;
	atomic64_t rx_dropped;
	atomic64_t tx_dropped;
	/* queue.c: packets waiting for the crypto, each drained in order by its work item. */
	struct sk_buff_head tx_queue;
	struct sk_buff_head rx_queue;
	struct work_struct tx_work;
	struct work_struct rx_work;
};

/* device.c */
int keyhole_device_init(void);
void keyhole_device_uninit(void);
bool keyhole_is_device(const struct net_device *dev);
void keyhole_dev_release_keys(struct keyhole_dev *kd);

/* socket.c */
int keyhole_socket_attach(struct keyhole_dev *kd, int fd, struct netlink_ext_ack *extack);
void keyhole_socket_detach(struct keyhole_dev *kd);

/* send.c: seal skb (an IP packet or a control payload) and send it; consumes skb. */
int keyhole_send(struct keyhole_dev *kd, struct sk_buff *skb);
netdev_tx_t keyhole_xmit(struct sk_buff *skb, struct net_device *dev);

/* icmp.c: no session, answer "host unreachable" from the relay's overlay address. */
void keyhole_icmp_unreachable(struct keyhole_dev *kd, struct sk_buff *skb);

/* receive.c: the encap hook; keyhole_receive opens one message (at the UDP header) under
 * rcu_read_lock_bh and consumes it.
 */
int keyhole_udp_recv(struct sock *sk, struct sk_buff *skb);
void keyhole_receive(struct keyhole_dev *kd, struct sk_buff *skb);

/* queue.c */
int keyhole_queue_init(void);
void keyhole_queue_uninit(void);
void keyhole_queue_dev_init(struct keyhole_dev *kd);
void keyhole_queue_dev_uninit(struct keyhole_dev *kd);
void keyhole_queue_tx(struct keyhole_dev *kd, struct sk_buff *skb);
void keyhole_queue_rx(struct keyhole_dev *kd, struct sk_buff *skb);

/* netlink.c */
void keyhole_owner_gone(struct work_struct *work);
int keyhole_genl_init(void);
void keyhole_genl_uninit(void);
void keyhole_notify_ctrl(struct keyhole_dev *kd, const u8 *payload, unsigned int len);

/* selftest.c */
bool keyhole_selftest(void);
void keyhole_bench(void);

#endif
