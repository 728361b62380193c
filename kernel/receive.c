// SPDX-License-Identifier: GPL-2.0
/* receive.c - the socket's encap hook: open transport messages, hand IP packets to the stack. */
#include <crypto/chacha20poly1305.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/skbuff.h>
#include <linux/udp.h>
#include <linux/inetdevice.h>
#include <asm/unaligned.h>
#include <net/ipv6.h>
#include <net/sock.h>

#include "keyhole.h"

/* The keypair whose local index the message names, among the three slots. */
static struct keyhole_keypair *find_keypair(struct keyhole_dev *kd, u32 index)
{
	struct keyhole_keypair *kp;

	kp = rcu_dereference(kd->primary);
	if (kp && kp->local_index == index)
		return kp;
	kp = rcu_dereference(kd->next);
	if (kp && kp->local_index == index)
		return kp;
	kp = rcu_dereference(kd->previous);
	if (kp && kp->local_index == index)
		return kp;
	return NULL;
}

static bool in_prefix4(__be32 addr, __be32 net, u8 plen)
{
	return plen == 0 || !((addr ^ net) & inet_make_mask(plen));
}

/* The relay forwards only what its overlay sends; anything else did not come through it. */
static bool inner_source_ok(const struct keyhole_peer *peer, struct sk_buff *skb)
{
	if (skb->protocol == htons(ETH_P_IP))
		return peer->has_overlay4 &&
		       in_prefix4(ip_hdr(skb)->saddr, peer->overlay4, peer->plen4);
	return peer->has_overlay6 &&
	       ipv6_prefix_equal(&ipv6_hdr(skb)->saddr, &peer->overlay6, peer->plen6);
}

/* Set the protocol and trim the padding the IP header says is not the packet's. */
static bool parse_ip(struct sk_buff *skb)
{
	unsigned int len;

	skb_reset_network_header(skb);
	if (skb->len >= sizeof(struct iphdr) && ip_hdr(skb)->version == 4) {
		const struct iphdr *iph = ip_hdr(skb);

		len = ntohs(iph->tot_len);
		if (iph->ihl < 5 || len < iph->ihl * 4U || len > skb->len)
			return false;
		skb->protocol = htons(ETH_P_IP);
	} else if (skb->len >= sizeof(struct ipv6hdr) && ipv6_hdr(skb)->version == 6) {
		len = sizeof(struct ipv6hdr) + ntohs(ipv6_hdr(skb)->payload_len);
		if (len > skb->len)
			return false;
		skb->protocol = htons(ETH_P_IPV6);
	} else {
		return false;
	}
	return pskb_trim(skb, len) == 0;
}

static void deliver(struct keyhole_dev *kd, struct sk_buff *skb)
{
	struct net_device *dev = kd->dev;
	struct keyhole_peer *peer = rcu_dereference(kd->peer);

	if (!peer || !parse_ip(skb) || !inner_source_ok(peer, skb))
		goto drop;
	skb_scrub_packet(skb, true);
	skb->dev = dev;
	skb->pkt_type = PACKET_HOST;
	skb->ip_summed = CHECKSUM_NONE;
	skb_reset_mac_header(skb);
	skb_reset_transport_header(skb);
	dev_sw_netstats_rx_add(dev, skb->len);
	gro_cells_receive(&kd->gro_cells, skb);
	return;
drop:
	atomic64_inc(&kd->rx_dropped);
	kfree_skb(skb);
}

/* A payload that is no IP packet (a keepalive or a control message) is the daemon's. */
static bool is_ip_payload(const struct sk_buff *skb)
{
	return skb->len > 0 && ((skb->data[0] >> 4) == 4 || (skb->data[0] >> 4) == 6);
}

/* skb->data is at the transport header; consumes skb. */
static void receive_data(struct keyhole_dev *kd, struct keyhole_keypair *kp, struct sk_buff *skb)
{
	unsigned int off = sizeof(struct udphdr) + KH_HEADER_LEN;
	u64 counter = get_unaligned_le64(skb->data + sizeof(struct udphdr) + KH_COUNTER_OFF);
	bool fresh;

	if (keyhole_keypair_expired(kp) || counter >= KH_REJECT_AFTER_MESSAGES)
		goto drop;
	/* Decrypt in place: the bytes must be ours and in one piece. */
	if (skb_ensure_writable(skb, skb->len))
		goto drop;
	__skb_pull(skb, off);
	if (!chacha20poly1305_decrypt(skb->data, skb->data, skb->len, NULL, 0, counter,
				      kp->recv_key))
		goto drop;
	/* The outer checksum state says nothing about the plaintext. */
	skb->ip_summed = CHECKSUM_NONE;
	if (pskb_trim(skb, skb->len - KH_TAG_LEN))
		goto drop;
	/* The window moves only for authenticated counters. */
	spin_lock_bh(&kp->replay_lock);
	fresh = keyhole_replay_check(&kp->replay, counter, KH_REJECT_AFTER_MESSAGES);
	spin_unlock_bh(&kp->replay_lock);
	if (!fresh)
		goto drop;
	if (!netif_running(kd->dev))
		goto drop;
	if (!is_ip_payload(skb)) {
		if (skb->len <= KEYHOLE_CTRL_MAX)
			keyhole_notify_ctrl(kd, skb->data, skb->len);
		else
			atomic64_inc(&kd->rx_dropped);
		consume_skb(skb);
		return;
	}
	deliver(kd, skb);
	return;
drop:
	atomic64_inc(&kd->rx_dropped);
	kfree_skb(skb);
}

/*
 * The UDP encap hook, in softirq under rcu_read_lock, skb->data at the UDP header. A
 * transport message for one of our keypairs is ours (return 0, skb consumed); anything else
 * goes on to the daemon's socket untouched (return 1): handshake responses, cookie replies,
 * transport messages under keys the daemon has not handed over.
 */
int keyhole_udp_recv(struct sock *sk, struct sk_buff *skb)
{
	struct keyhole_dev *kd = rcu_dereference_sk_user_data(sk);
	const u8 *hdr;

	if (!kd || skb->len < sizeof(struct udphdr) + KH_OVERHEAD ||
	    !pskb_may_pull(skb, sizeof(struct udphdr) + KH_HEADER_LEN))
		return 1;
	hdr = skb->data + sizeof(struct udphdr);
	if (hdr[0] != KH_MSG_TRANSPORT || hdr[1] != KH_PROTOCOL_VERSION || hdr[2] || hdr[3])
		return 1;
	if (!find_keypair(kd, get_unaligned_le32(hdr + KH_RECEIVER_OFF)))
		return 1;
	keyhole_queue_rx(kd, skb);
	return 0;
}

/* A transport message for one of our indices, skb->data at the UDP header; consumes skb.
 * The keys may have changed since the hook looked: find them again.
 */
void keyhole_receive(struct keyhole_dev *kd, struct sk_buff *skb)
{
	struct keyhole_keypair *kp;

	kp = find_keypair(kd, get_unaligned_le32(skb->data + sizeof(struct udphdr) +
						 KH_RECEIVER_OFF));
	if (!kp) {
		atomic64_inc(&kd->rx_dropped);
		kfree_skb(skb);
		return;
	}
	receive_data(kd, kp, skb);
}
