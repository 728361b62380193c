// SPDX-License-Identifier: GPL-2.0
/*
 * icmp.c - no session: answer at once with "host unreachable" from the relay's overlay address
 * (the first host of the overlay prefix), put into the stack as if the relay had sent it.
 * The TUN data plane and the relay answer the same way, so a connect() fails within
 * milliseconds whichever data plane or side is missing.
 */
#include <linux/icmp.h>
#include <linux/icmpv6.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/inetdevice.h>
#include <linux/ratelimit.h>
#include <net/ip.h>
#include <net/ip6_checksum.h>
#include <net/ipv6.h>

#include "keyhole.h"

/* RFC 1812 and RFC 4443: an error carries as much of the packet as fits these totals. */
#define ICMP4_ERROR_MAX 576
#define ICMP6_ERROR_MAX 1280

/* Enough for every connect() to fail fast, not enough to be a reflector. */
static DEFINE_RATELIMIT_STATE(keyhole_icmp_ratelimit, HZ / 10, 20);

static bool is_icmp4_error(struct sk_buff *skb, const struct iphdr *iph)
{
	u8 type;

	if (iph->protocol != IPPROTO_ICMP)
		return false;
	if (skb_copy_bits(skb, iph->ihl * 4, &type, 1))
		return true;
	return type == ICMP_DEST_UNREACH || type == ICMP_SOURCE_QUENCH || type == ICMP_REDIRECT ||
	       type == ICMP_TIME_EXCEEDED || type == ICMP_PARAMETERPROB;
}

static struct sk_buff *icmp4_error(const struct keyhole_peer *peer, struct sk_buff *skb)
{
	const struct iphdr *in = ip_hdr(skb);
	unsigned int room = ICMP4_ERROR_MAX - sizeof(struct iphdr) - sizeof(struct icmphdr);
	unsigned int quoted = min_t(unsigned int, skb->len, room);
	struct sk_buff *nskb;
	struct icmphdr *icmph;
	struct iphdr *iph;
	__be32 relay;

	if (!peer->has_overlay4 || (in->frag_off & htons(IP_OFFSET)) || is_icmp4_error(skb, in))
		return NULL;
	relay = htonl((ntohl(peer->overlay4) & ntohl(inet_make_mask(peer->plen4))) + 1);
	nskb = alloc_skb(LL_MAX_HEADER + ICMP4_ERROR_MAX, GFP_ATOMIC);
	if (!nskb)
		return NULL;
	skb_reserve(nskb, LL_MAX_HEADER);
	skb_reset_network_header(nskb);
	iph = skb_put_zero(nskb, sizeof(*iph));
	icmph = skb_put_zero(nskb, sizeof(*icmph));
	if (skb_copy_bits(skb, 0, skb_put(nskb, quoted), quoted)) {
		kfree_skb(nskb);
		return NULL;
	}
	icmph->type = ICMP_DEST_UNREACH;
	icmph->code = ICMP_HOST_UNREACH;
	icmph->checksum = ip_compute_csum(icmph, sizeof(*icmph) + quoted);
	iph->version = 4;
	iph->ihl = 5;
	iph->tos = IPTOS_PREC_INTERNETCONTROL;
	iph->tot_len = htons(nskb->len);
	iph->ttl = 64;
	iph->protocol = IPPROTO_ICMP;
	iph->saddr = relay;
	iph->daddr = in->saddr;
	ip_send_check(iph);
	nskb->protocol = htons(ETH_P_IP);
	return nskb;
}

#if IS_ENABLED(CONFIG_IPV6)
static struct sk_buff *icmp6_error(const struct keyhole_peer *peer, struct sk_buff *skb)
{
	const struct ipv6hdr *in = ipv6_hdr(skb);
	unsigned int room = ICMP6_ERROR_MAX - sizeof(struct ipv6hdr) - sizeof(struct icmp6hdr);
	unsigned int quoted = min_t(unsigned int, skb->len, room);
	unsigned int len = sizeof(struct icmp6hdr) + quoted;
	struct icmp6hdr *icmp6;
	struct ipv6hdr *ip6h;
	struct sk_buff *nskb;
	u8 type;

	if (!peer->has_overlay6)
		return NULL;
	/* No error about an error (ICMPv6 errors are types 0 to 127). */
	if (in->nexthdr == IPPROTO_ICMPV6 &&
	    (skb_copy_bits(skb, sizeof(*in), &type, 1) || type < 128))
		return NULL;
	nskb = alloc_skb(LL_MAX_HEADER + ICMP6_ERROR_MAX, GFP_ATOMIC);
	if (!nskb)
		return NULL;
	skb_reserve(nskb, LL_MAX_HEADER);
	skb_reset_network_header(nskb);
	ip6h = skb_put_zero(nskb, sizeof(*ip6h));
	icmp6 = skb_put_zero(nskb, sizeof(*icmp6));
	if (skb_copy_bits(skb, 0, skb_put(nskb, quoted), quoted)) {
		kfree_skb(nskb);
		return NULL;
	}
	ip6h->version = 6;
	ip6h->payload_len = htons(len);
	ip6h->nexthdr = IPPROTO_ICMPV6;
	ip6h->hop_limit = 64;
	ipv6_addr_prefix(&ip6h->saddr, &peer->overlay6, peer->plen6);
	ip6h->saddr.s6_addr[15] |= 1;
	ip6h->daddr = in->saddr;
	icmp6->icmp6_type = ICMPV6_DEST_UNREACH;
	icmp6->icmp6_code = ICMPV6_ADDR_UNREACH;
	icmp6->icmp6_cksum = csum_ipv6_magic(&ip6h->saddr, &ip6h->daddr, len, IPPROTO_ICMPV6,
					     csum_partial(icmp6, len, 0));
	nskb->protocol = htons(ETH_P_IPV6);
	return nskb;
}
#endif

/* skb is an IP packet the stack gave the device (headers checked); it stays the caller's. */
void keyhole_icmp_unreachable(struct keyhole_dev *kd, struct sk_buff *skb)
{
	struct keyhole_peer *peer;
	struct sk_buff *nskb = NULL;

	rcu_read_lock();
	peer = rcu_dereference(kd->peer);
	if (peer && __ratelimit(&keyhole_icmp_ratelimit)) {
		if (skb->protocol == htons(ETH_P_IP))
			nskb = icmp4_error(peer, skb);
#if IS_ENABLED(CONFIG_IPV6)
		else
			nskb = icmp6_error(peer, skb);
#endif
	}
	rcu_read_unlock();
	if (!nskb)
		return;
	nskb->dev = kd->dev;
	nskb->pkt_type = PACKET_HOST;
	nskb->ip_summed = CHECKSUM_NONE;
	skb_reset_mac_header(nskb);
	dev_sw_netstats_rx_add(kd->dev, nskb->len);
	netif_rx(nskb);
}
