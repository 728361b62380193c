// SPDX-License-Identifier: GPL-2.0
/* netlink.c - the keyhole generic netlink family (Documentation/netlink/specs/keyhole.yaml). */
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/netdevice.h>
#include <linux/netlink.h>
#include <linux/workqueue.h>
#include <net/genetlink.h>
#include <net/sock.h>

#include "keyhole.h"

static const struct nla_policy keyhole_keypair_policy[KEYHOLE_KEYPAIR_A_MAX + 1] = {
	[KEYHOLE_KEYPAIR_A_LOCAL_INDEX] = { .type = NLA_U32 },
	[KEYHOLE_KEYPAIR_A_REMOTE_INDEX] = { .type = NLA_U32 },
	[KEYHOLE_KEYPAIR_A_SEND_KEY] = NLA_POLICY_EXACT_LEN(KEYHOLE_KEY_LEN),
	[KEYHOLE_KEYPAIR_A_RECV_KEY] = NLA_POLICY_EXACT_LEN(KEYHOLE_KEY_LEN),
};

/* Only what the kernel takes: the daemon's configuration attributes are refused here. */
static const struct nla_policy keyhole_policy[KEYHOLE_A_MAX + 1] = {
	[KEYHOLE_A_IFINDEX] = { .type = NLA_U32 },
	[KEYHOLE_A_IFNAME] = { .type = NLA_NUL_STRING, .len = IFNAMSIZ - 1 },
	[KEYHOLE_A_ADDR4] = NLA_POLICY_EXACT_LEN(4),
	[KEYHOLE_A_PREFIX4_LEN] = NLA_POLICY_MAX(NLA_U8, 32),
	[KEYHOLE_A_ADDR6] = NLA_POLICY_EXACT_LEN(16),
	[KEYHOLE_A_PREFIX6_LEN] = NLA_POLICY_MAX(NLA_U8, 128),
	[KEYHOLE_A_SOCKET_FD] = { .type = NLA_U32 },
	[KEYHOLE_A_RELAY_SOCKADDR] = { .type = NLA_BINARY, .len = sizeof(struct sockaddr_in6) },
	[KEYHOLE_A_KEYPAIR] = NLA_POLICY_NESTED(keyhole_keypair_policy),
	[KEYHOLE_A_PAYLOAD] = { .type = NLA_BINARY, .len = KEYHOLE_CTRL_MAX },
};

static struct genl_family keyhole_genl_family;

enum { KEYHOLE_MCGRP_CTRL_ID };

static const struct genl_multicast_group keyhole_mcgrps[] = {
	[KEYHOLE_MCGRP_CTRL_ID] = { .name = KEYHOLE_MCGRP_CTRL, .flags = GENL_MCAST_CAP_NET_ADMIN },
};

/* The keyhole device the request names by KEYHOLE_A_IFINDEX, with a reference held. */
static struct net_device *lookup_device(struct genl_info *info)
{
	struct net_device *dev;

	if (GENL_REQ_ATTR_CHECK(info, KEYHOLE_A_IFINDEX))
		return ERR_PTR(-EINVAL);
	dev = dev_get_by_index(genl_info_net(info), nla_get_u32(info->attrs[KEYHOLE_A_IFINDEX]));
	if (!dev) {
		NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[KEYHOLE_A_IFINDEX], "no such device");
		return ERR_PTR(-ENODEV);
	}
	if (!keyhole_is_device(dev)) {
		NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[KEYHOLE_A_IFINDEX],
				    "not a keyhole device");
		dev_put(dev);
		return ERR_PTR(-EOPNOTSUPP);
	}
	return dev;
}

static u8 key_slots(struct keyhole_dev *kd)
{
	return (rcu_access_pointer(kd->primary) ? 1 : 0) | (rcu_access_pointer(kd->next) ? 2 : 0) |
	       (rcu_access_pointer(kd->previous) ? 4 : 0);
}

static int fill_device(struct sk_buff *msg, struct net_device *dev)
{
	struct keyhole_dev *kd = netdev_priv(dev);
	struct rtnl_link_stats64 stats;

	dev_get_tstats64(dev, &stats);
	if (nla_put_u32(msg, KEYHOLE_A_IFINDEX, dev->ifindex) ||
	    nla_put_string(msg, KEYHOLE_A_IFNAME, dev->name) ||
	    nla_put_u8(msg, KEYHOLE_A_DATAPLANE, KEYHOLE_DATAPLANE_KERNEL) ||
	    nla_put_u32(msg, KEYHOLE_A_MTU, dev->mtu) ||
	    nla_put_u8(msg, KEYHOLE_A_KEY_SLOTS, key_slots(kd)) ||
	    nla_put_u64_64bit(msg, KEYHOLE_A_RX_BYTES, stats.rx_bytes, KEYHOLE_A_UNSPEC) ||
	    nla_put_u64_64bit(msg, KEYHOLE_A_TX_BYTES, stats.tx_bytes, KEYHOLE_A_UNSPEC) ||
	    nla_put_u64_64bit(msg, KEYHOLE_A_RX_PACKETS, stats.rx_packets, KEYHOLE_A_UNSPEC) ||
	    nla_put_u64_64bit(msg, KEYHOLE_A_TX_PACKETS, stats.tx_packets, KEYHOLE_A_UNSPEC) ||
	    nla_put_u64_64bit(msg, KEYHOLE_A_RX_DROPPED, atomic64_read(&kd->rx_dropped),
			      KEYHOLE_A_UNSPEC))
		return -EMSGSIZE;
	return 0;
}

static int keyhole_nl_get_device(struct sk_buff *skb, struct genl_info *info)
{
	struct net_device *dev = lookup_device(info);
	struct sk_buff *msg;
	void *hdr;
	int err;

	if (IS_ERR(dev))
		return PTR_ERR(dev);
	err = -ENOMEM;
	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg)
		goto out;
	hdr = genlmsg_put_reply(msg, info, &keyhole_genl_family, 0, KEYHOLE_CMD_GET_DEVICE);
	if (!hdr || fill_device(msg, dev)) {
		nlmsg_free(msg);
		err = -EMSGSIZE;
		goto out;
	}
	genlmsg_end(msg, hdr);
	err = genlmsg_reply(msg, info);
out:
	dev_put(dev);
	return err;
}

static int parse_relay(struct keyhole_peer *peer, const struct nlattr *attr,
		       struct netlink_ext_ack *extack)
{
	const struct sockaddr *sa = nla_data(attr);
	int len = nla_len(attr);

	if (len == sizeof(struct sockaddr_in) && sa->sa_family == AF_INET) {
		memcpy(&peer->relay.v4, sa, sizeof(struct sockaddr_in));
	} else if (len == sizeof(struct sockaddr_in6) && sa->sa_family == AF_INET6) {
		memcpy(&peer->relay.v6, sa, sizeof(struct sockaddr_in6));
	} else {
		NL_SET_ERR_MSG_ATTR(extack, attr, "not a sockaddr_in or sockaddr_in6");
		return -EINVAL;
	}
	if ((sa->sa_family == AF_INET && !peer->relay.v4.sin_port) ||
	    (sa->sa_family == AF_INET6 && !peer->relay.v6.sin6_port)) {
		NL_SET_ERR_MSG_ATTR(extack, attr, "the relay's port is 0");
		return -EINVAL;
	}
	peer->has_relay = true;
	return 0;
}

/* Address and prefix length come together. */
static int parse_overlay(struct keyhole_peer *peer, struct genl_info *info)
{
	struct nlattr **a = info->attrs;

	if (!a[KEYHOLE_A_ADDR4] != !a[KEYHOLE_A_PREFIX4_LEN] ||
	    !a[KEYHOLE_A_ADDR6] != !a[KEYHOLE_A_PREFIX6_LEN]) {
		NL_SET_ERR_MSG_MOD(info->extack, "an overlay address needs its prefix length");
		return -EINVAL;
	}
	if (a[KEYHOLE_A_ADDR4]) {
		peer->overlay4 = nla_get_in_addr(a[KEYHOLE_A_ADDR4]);
		peer->plen4 = nla_get_u8(a[KEYHOLE_A_PREFIX4_LEN]);
		peer->has_overlay4 = true;
	}
	if (a[KEYHOLE_A_ADDR6]) {
		peer->overlay6 = nla_get_in6_addr(a[KEYHOLE_A_ADDR6]);
		peer->plen6 = nla_get_u8(a[KEYHOLE_A_PREFIX6_LEN]);
		peer->has_overlay6 = true;
	}
	return 0;
}

static int set_peer(struct keyhole_dev *kd, struct genl_info *info)
{
	struct keyhole_peer *old, *peer;
	int err;

	old = rcu_dereference_protected(kd->peer, lockdep_is_held(&kd->conf_lock));
	peer = old ? kmemdup(old, sizeof(*old), GFP_KERNEL) : kzalloc(sizeof(*peer), GFP_KERNEL);
	if (!peer)
		return -ENOMEM;
	if (info->attrs[KEYHOLE_A_RELAY_SOCKADDR]) {
		memset(&peer->relay, 0, sizeof(peer->relay));
		peer->has_relay = false;
		err = parse_relay(peer, info->attrs[KEYHOLE_A_RELAY_SOCKADDR], info->extack);
		if (err)
			goto fail;
	}
	err = parse_overlay(peer, info);
	if (err)
		goto fail;
	if (info->attrs[KEYHOLE_A_SOCKET_FD]) {
		err = keyhole_socket_attach(kd, nla_get_u32(info->attrs[KEYHOLE_A_SOCKET_FD]),
					    info->extack);
		if (err)
			goto fail;
		WRITE_ONCE(kd->owner_portid, info->snd_portid);
	}
	rcu_assign_pointer(kd->peer, peer);
	if (old)
		kfree_rcu(old, rcu);
	return 0;
fail:
	kfree(peer);
	return err;
}

static int new_keys(struct keyhole_dev *kd, struct genl_info *info)
{
	struct nlattr *tb[KEYHOLE_KEYPAIR_A_MAX + 1];
	struct keyhole_keypair *kp;
	int err;

	if (GENL_REQ_ATTR_CHECK(info, KEYHOLE_A_KEYPAIR))
		return -EINVAL;
	err = nla_parse_nested(tb, KEYHOLE_KEYPAIR_A_MAX, info->attrs[KEYHOLE_A_KEYPAIR],
			       keyhole_keypair_policy, info->extack);
	if (err)
		return err;
	if (!tb[KEYHOLE_KEYPAIR_A_LOCAL_INDEX] || !tb[KEYHOLE_KEYPAIR_A_REMOTE_INDEX] ||
	    !tb[KEYHOLE_KEYPAIR_A_SEND_KEY] || !tb[KEYHOLE_KEYPAIR_A_RECV_KEY]) {
		NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[KEYHOLE_A_KEYPAIR],
				    "a keypair needs both indices and both keys");
		return -EINVAL;
	}
	kp = keyhole_keypair_new(nla_get_u32(tb[KEYHOLE_KEYPAIR_A_LOCAL_INDEX]),
				 nla_get_u32(tb[KEYHOLE_KEYPAIR_A_REMOTE_INDEX]),
				 nla_data(tb[KEYHOLE_KEYPAIR_A_SEND_KEY]),
				 nla_data(tb[KEYHOLE_KEYPAIR_A_RECV_KEY]));
	if (!kp)
		return -ENOMEM;
	keyhole_keypair_free(rcu_replace_pointer(kd->next, kp, lockdep_is_held(&kd->conf_lock)));
	return 0;
}

static int swap_keys(struct keyhole_dev *kd, struct genl_info *info)
{
	struct keyhole_keypair *next, *primary;

	next = rcu_dereference_protected(kd->next, lockdep_is_held(&kd->conf_lock));
	if (!next) {
		NL_SET_ERR_MSG_MOD(info->extack, "no keypair in the next slot");
		return -ENOKEY;
	}
	primary = rcu_replace_pointer(kd->primary, next, lockdep_is_held(&kd->conf_lock));
	RCU_INIT_POINTER(kd->next, NULL);
	keyhole_keypair_free(rcu_replace_pointer(kd->previous, primary,
						 lockdep_is_held(&kd->conf_lock)));
	return 0;
}

static int send_ctrl(struct keyhole_dev *kd, struct genl_info *info)
{
	const struct nlattr *attr = info->attrs[KEYHOLE_A_PAYLOAD];
	struct net_device *dev = kd->dev;
	struct sk_buff *skb;
	int len, err;

	if (GENL_REQ_ATTR_CHECK(info, KEYHOLE_A_PAYLOAD))
		return -EINVAL;
	len = nla_len(attr);
	/* IP packets go through the device, where the stack routes and filters them. */
	if (len > 0 && *(const u8 *)nla_data(attr) >= 0x40) {
		NL_SET_ERR_MSG_ATTR(info->extack, attr, "not a keepalive or a control message");
		return -EINVAL;
	}
	skb = alloc_skb(dev->needed_headroom + len + KH_TAG_LEN, GFP_KERNEL);
	if (!skb)
		return -ENOMEM;
	skb_reserve(skb, dev->needed_headroom);
	skb_put_data(skb, nla_data(attr), len);
	skb->dev = dev;
	rcu_read_lock_bh();
	err = keyhole_send(kd, skb);
	rcu_read_unlock_bh();
	if (err == -ENOKEY)
		NL_SET_ERR_MSG_MOD(info->extack, "no usable primary keypair");
	else if (err == -ENOTCONN)
		NL_SET_ERR_MSG_MOD(info->extack, "no socket or relay address yet");
	return err;
}

/* Every command that names a device: look it up, serialise, dispatch. */
static int keyhole_nl_do(struct sk_buff *skb, struct genl_info *info)
{
	struct net_device *dev = lookup_device(info);
	struct keyhole_dev *kd;
	int err;

	if (IS_ERR(dev))
		return PTR_ERR(dev);
	kd = netdev_priv(dev);
	mutex_lock(&kd->conf_lock);
	switch (info->genlhdr->cmd) {
	case KEYHOLE_CMD_SET_PEER:
		err = set_peer(kd, info);
		break;
	case KEYHOLE_CMD_NEW_KEYS:
		err = new_keys(kd, info);
		break;
	case KEYHOLE_CMD_SWAP_KEYS:
		err = swap_keys(kd, info);
		break;
	case KEYHOLE_CMD_DEL_KEYS:
		keyhole_dev_release_keys(kd);
		err = 0;
		break;
	case KEYHOLE_CMD_SEND_CTRL:
		err = send_ctrl(kd, info);
		break;
	default:
		err = -EOPNOTSUPP;
	}
	mutex_unlock(&kd->conf_lock);
	dev_put(dev);
	return err;
}

/* Every command needs CAP_NET_ADMIN in the device's namespace: the counters are no one
 * else's business and the rest changes the tunnel.
 */
static const struct genl_small_ops keyhole_genl_ops[] = {
	{ .cmd = KEYHOLE_CMD_GET_DEVICE, .doit = keyhole_nl_get_device,
	  .flags = GENL_UNS_ADMIN_PERM },
	{ .cmd = KEYHOLE_CMD_SET_PEER, .doit = keyhole_nl_do, .flags = GENL_UNS_ADMIN_PERM },
	{ .cmd = KEYHOLE_CMD_NEW_KEYS, .doit = keyhole_nl_do, .flags = GENL_UNS_ADMIN_PERM },
	{ .cmd = KEYHOLE_CMD_SWAP_KEYS, .doit = keyhole_nl_do, .flags = GENL_UNS_ADMIN_PERM },
	{ .cmd = KEYHOLE_CMD_DEL_KEYS, .doit = keyhole_nl_do, .flags = GENL_UNS_ADMIN_PERM },
	{ .cmd = KEYHOLE_CMD_SEND_CTRL, .doit = keyhole_nl_do, .flags = GENL_UNS_ADMIN_PERM },
};

static struct genl_family keyhole_genl_family __ro_after_init = {
	.name = KEYHOLE_GENL_NAME,
	.version = KEYHOLE_GENL_VERSION,
	.maxattr = KEYHOLE_A_MAX,
	.policy = keyhole_policy,
	.netnsok = true,
	.module = THIS_MODULE,
	.small_ops = keyhole_genl_ops,
	.n_small_ops = ARRAY_SIZE(keyhole_genl_ops),
	/* Strict validation for every command: unknown attributes and header bytes refused. */
	.resv_start_op = KEYHOLE_CMD_UNSPEC + 1,
	.mcgrps = keyhole_mcgrps,
	.n_mcgrps = ARRAY_SIZE(keyhole_mcgrps),
};

/* A decrypted keepalive or control message, up to the daemon (softirq context). */
void keyhole_notify_ctrl(struct keyhole_dev *kd, const u8 *payload, unsigned int len)
{
	struct sk_buff *msg;
	void *hdr;

	msg = genlmsg_new(nla_total_size(sizeof(u32)) + nla_total_size(len), GFP_ATOMIC);
	if (!msg)
		goto drop;
	hdr = genlmsg_put(msg, 0, 0, &keyhole_genl_family, 0, KEYHOLE_CMD_RECV_CTRL);
	if (!hdr || nla_put_u32(msg, KEYHOLE_A_IFINDEX, kd->dev->ifindex) ||
	    nla_put(msg, KEYHOLE_A_PAYLOAD, len, payload)) {
		nlmsg_free(msg);
		goto drop;
	}
	genlmsg_end(msg, hdr);
	/* ESRCH only says that no daemon listens. */
	genlmsg_multicast_netns(&keyhole_genl_family, dev_net(kd->dev), msg, 0,
				KEYHOLE_MCGRP_CTRL_ID, GFP_ATOMIC);
	return;
drop:
	atomic64_inc(&kd->rx_dropped);
}

/* The owner's netlink socket closed: no daemon drives the device any more, so it must not
 * go on carrying traffic under keys no one will rotate. A new keyholed adopts the link.
 */
void keyhole_owner_gone(struct work_struct *work)
{
	struct keyhole_dev *kd = container_of(work, struct keyhole_dev, owner_gone);

	mutex_lock(&kd->conf_lock);
	/* Unless a new daemon took the device over in the meantime. */
	if (!READ_ONCE(kd->owner_portid)) {
		keyhole_dev_release_keys(kd);
		keyhole_socket_detach(kd);
	}
	mutex_unlock(&kd->conf_lock);
	dev_put(kd->dev);
}

static int keyhole_netlink_notify(struct notifier_block *nb, unsigned long state, void *ptr)
{
	struct netlink_notify *n = ptr;
	struct net_device *dev;

	if (state != NETLINK_URELEASE || n->protocol != NETLINK_GENERIC || !n->portid)
		return NOTIFY_DONE;
	rcu_read_lock();
	for_each_netdev_rcu(n->net, dev) {
		struct keyhole_dev *kd;

		if (!keyhole_is_device(dev))
			continue;
		kd = netdev_priv(dev);
		if (cmpxchg(&kd->owner_portid, n->portid, 0) != n->portid)
			continue;
		/* The work holds the device; unregistering waits for it. */
		dev_hold(dev);
		if (!schedule_work(&kd->owner_gone))
			dev_put(dev);
	}
	rcu_read_unlock();
	return NOTIFY_OK;
}

static struct notifier_block keyhole_netlink_notifier = {
	.notifier_call = keyhole_netlink_notify,
};

int keyhole_genl_init(void)
{
	int err = netlink_register_notifier(&keyhole_netlink_notifier);

	if (err)
		return err;
	err = genl_register_family(&keyhole_genl_family);
	if (err)
		netlink_unregister_notifier(&keyhole_netlink_notifier);
	return err;
}

void keyhole_genl_uninit(void)
{
	genl_unregister_family(&keyhole_genl_family);
	netlink_unregister_notifier(&keyhole_netlink_notifier);
}
