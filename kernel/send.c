// SPDX-License-Identifier: GPL-2.0
/* send.c - transmit: seal in place under the primary keys, send to the relay over UDP. */
#include <crypto/chacha20poly1305.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/skbuff.h>
#include <linux/udp.h>
#include <net/ip_tunnels.h>
#include <net/ipv6_stubs.h>
#include <net/route.h>
#include <net/udp_tunnel.h>

#include "keyhole.h"

static int send4(struct sock *sk, struct sk_buff *skb, __be32 daddr, __be16 dport,
		 struct net_device *dev)
{
	struct flowi4 fl4 = {
		.daddr = daddr,
		.saddr = sk->sk_family == AF_INET ? inet_sk(sk)->inet_saddr : 0,
		.flowi4_proto = IPPROTO_UDP,
		.flowi4_oif = sk->sk_bound_dev_if,
		.flowi4_mark = sk->sk_mark,
		.fl4_dport = dport,
		.fl4_sport = inet_sk(sk)->inet_sport,
	};
	struct rtable *rt;

	rt = ip_route_output_flow(sock_net(sk), &fl4, sk);
	if (IS_ERR(rt))
		return PTR_ERR(rt);
	if (rt->dst.dev == dev) { /* the relay routed through the overlay itself */
		ip_rt_put(rt);
		return -ELOOP;
	}
	udp_tunnel_xmit_skb(rt, sk, skb, fl4.saddr, fl4.daddr, 0, ip4_dst_hoplimit(&rt->dst), 0,
			    fl4.fl4_sport, fl4.fl4_dport, false, false);
	return 0;
}

#if IS_ENABLED(CONFIG_IPV6)
static int send6(struct sock *sk, struct sk_buff *skb, const struct sockaddr_in6 *to,
		 struct net_device *dev)
{
	struct flowi6 fl6 = {
		.daddr = to->sin6_addr,
		.flowi6_proto = IPPROTO_UDP,
		.flowi6_oif = to->sin6_scope_id ? to->sin6_scope_id : sk->sk_bound_dev_if,
		.flowi6_mark = sk->sk_mark,
		.fl6_dport = to->sin6_port,
		.fl6_sport = inet_sk(sk)->inet_sport,
	};
	struct dst_entry *dst;

	if (sk->sk_family != AF_INET6)
		return -EAFNOSUPPORT;
	fl6.saddr = sk->sk_v6_rcv_saddr;
	dst = ipv6_stub->ipv6_dst_lookup_flow(sock_net(sk), sk, &fl6, NULL);
	if (IS_ERR(dst))
		return PTR_ERR(dst);
	if (dst->dev == dev) {
		dst_release(dst);
		return -ELOOP;
	}
	udp_tunnel6_xmit_skb(dst, sk, skb, dev, &fl6.saddr, &fl6.daddr, 0,
			     ip6_dst_hoplimit(dst), 0, fl6.fl6_sport, fl6.fl6_dport, false);
	return 0;
}
#endif

static int send_to_relay(struct sock *sk, struct sk_buff *skb, const struct keyhole_peer *peer,
			 struct net_device *dev)
{
	const struct sockaddr_in6 *to6 = &peer->relay.v6;

	if (peer->relay.v4.sin_family == AF_INET)
		return send4(sk, skb, peer->relay.v4.sin_addr.s_addr, peer->relay.v4.sin_port, dev);
	/* A dual-stack socket may name an IPv4 relay as ::ffff:a.b.c.d. */
	if (ipv6_addr_v4mapped(&to6->sin6_addr))
		return send4(sk, skb, to6->sin6_addr.s6_addr32[3], to6->sin6_port, dev);
#if IS_ENABLED(CONFIG_IPV6)
	return send6(sk, skb, to6, dev);
#else
	return -EAFNOSUPPORT;
#endif
}

/* Room for the outer headers in front and the tag behind, in data we may write. */
static int make_writable(struct sk_buff *skb, struct net_device *dev)
{
	int tail;

	if (skb_linearize(skb))
		return -ENOMEM;
	if (skb_cow_head(skb, dev->needed_headroom) ||
	    (skb_cloned(skb) && pskb_expand_head(skb, 0, 0, GFP_ATOMIC)))
		return -ENOMEM;
	tail = KH_TAG_LEN - (int)skb_tailroom(skb);
	if (tail > 0 && pskb_expand_head(skb, 0, tail, GFP_ATOMIC))
		return -ENOMEM;
	return 0;
}

/* Seal skb's data (an IP packet or a control payload) and send it; rcu_read_lock_bh held.
 * Consumes skb whatever happens.
 */
int keyhole_send(struct keyhole_dev *kd, struct sk_buff *skb)
{
	struct keyhole_keypair *kp = rcu_dereference_bh(kd->primary);
	struct keyhole_peer *peer = rcu_dereference_bh(kd->peer);
	struct socket *sock = rcu_dereference_bh(kd->sock);
	unsigned int len = skb->len;
	u64 counter;
	u8 *hdr;
	int err;

	if (!kp || keyhole_keypair_expired(kp)) {
		err = -ENOKEY;
		goto drop;
	}
	if (!sock || !peer || !peer->has_relay) {
		err = -ENOTCONN;
		goto drop;
	}
	err = make_writable(skb, kd->dev);
	if (err)
		goto drop;
	counter = (u64)atomic64_inc_return(&kp->send_counter) - 1;
	if (counter >= KH_REJECT_AFTER_MESSAGES) {
		err = -ENOKEY;
		goto drop;
	}
	skb_scrub_packet(skb, true);
	chacha20poly1305_encrypt(skb->data, skb->data, len, NULL, 0, counter, kp->send_key);
	__skb_put(skb, KH_TAG_LEN);
	skb_reset_inner_network_header(skb);
	hdr = __skb_push(skb, KH_HEADER_LEN);
	hdr[0] = KH_MSG_TRANSPORT;
	hdr[1] = KH_PROTOCOL_VERSION;
	hdr[2] = 0;
	hdr[3] = 0;
	put_unaligned_le32(kp->remote_index, hdr + KH_RECEIVER_OFF);
	put_unaligned_le64(counter, hdr + KH_COUNTER_OFF);
	skb->ip_summed = CHECKSUM_NONE;
	skb->dev = kd->dev;
	err = send_to_relay(sock->sk, skb, peer, kd->dev);
	if (err)
		goto drop;
	return 0;
drop:
	atomic64_inc(&kd->tx_dropped);
	kfree_skb(skb);
	return err;
}

static bool is_ip(struct sk_buff *skb)
{
	if (skb->protocol == htons(ETH_P_IP))
		return pskb_network_may_pull(skb, sizeof(struct iphdr)) &&
		       ip_hdr(skb)->version == 4;
	if (skb->protocol == htons(ETH_P_IPV6))
		return pskb_network_may_pull(skb, sizeof(struct ipv6hdr)) &&
		       ipv6_hdr(skb)->version == 6;
	return false;
}

/* Keys, a socket and the relay's address: rcu_read_lock_bh held. */
static bool can_send(struct keyhole_dev *kd)
{
	struct keyhole_keypair *kp = rcu_dereference_bh(kd->primary);
	struct keyhole_peer *peer = rcu_dereference_bh(kd->peer);

	return kp && !keyhole_keypair_expired(kp) && rcu_access_pointer(kd->sock) && peer &&
	       peer->has_relay;
}

netdev_tx_t keyhole_xmit(struct sk_buff *skb, struct net_device *dev)
{
	struct keyhole_dev *kd = netdev_priv(dev);

	if (!is_ip(skb))
		goto drop;
	rcu_read_lock_bh();
	if (!can_send(kd)) {
		rcu_read_unlock_bh();
		keyhole_icmp_unreachable(kd, skb);
		goto drop;
	}
	keyhole_queue_tx(kd, skb);
	rcu_read_unlock_bh();
	return NETDEV_TX_OK;
drop:
	atomic64_inc(&kd->tx_dropped);
	kfree_skb(skb);
	return NETDEV_TX_OK;
}
