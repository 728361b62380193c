// SPDX-License-Identifier: GPL-2.0
/* device.c - the keyhole link kind: `ip link add kh0 type keyhole`, a point-to-point L3 device. */
#include <linux/if_arp.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <net/ip.h>
#include <net/rtnetlink.h>

#include "keyhole.h"

#define KH_DEFAULT_MTU 1420
/* The daemon refuses a smaller MTU from the relay; IPv4 needs 576 end to end. */
#define KH_MIN_MTU 576
/* The outer headers the largest inner packet must still fit under 64 KiB with. */
#define KH_MAX_MTU (IP_MAX_MTU - KH_OVERHEAD - sizeof(struct udphdr) - sizeof(struct ipv6hdr))

static struct rtnl_link_ops keyhole_link_ops;

bool keyhole_is_device(const struct net_device *dev)
{
	return dev->rtnl_link_ops == &keyhole_link_ops;
}

static int keyhole_open(struct net_device *dev)
{
	netif_start_queue(dev);
	return 0;
}

static int keyhole_stop(struct net_device *dev)
{
	netif_stop_queue(dev);
	return 0;
}

static void keyhole_get_stats64(struct net_device *dev, struct rtnl_link_stats64 *stats)
{
	struct keyhole_dev *kd = netdev_priv(dev);

	dev_get_tstats64(dev, stats);
	stats->rx_dropped += atomic64_read(&kd->rx_dropped);
	stats->tx_dropped += atomic64_read(&kd->tx_dropped);
}

static int keyhole_dev_init(struct net_device *dev)
{
	struct keyhole_dev *kd = netdev_priv(dev);
	int ret;

	dev->tstats = netdev_alloc_pcpu_stats(struct pcpu_sw_netstats);
	if (!dev->tstats)
		return -ENOMEM;
	ret = gro_cells_init(&kd->gro_cells, dev);
	if (ret) {
		free_percpu(dev->tstats);
		dev->tstats = NULL;
	}
	return ret;
}

/* Wipe every key slot; the data path sees NULL at once and frees after a grace period. */
void keyhole_dev_release_keys(struct keyhole_dev *kd)
{
	struct keyhole_keypair __rcu **slots[] = { &kd->primary, &kd->next, &kd->previous };
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(slots); i++)
		keyhole_keypair_free(rcu_replace_pointer(*slots[i], NULL,
							 lockdep_is_held(&kd->conf_lock)));
}

/* Called under RTNL as the device unregisters: let go of the socket, the keys, the relay. */
static void keyhole_dev_uninit(struct net_device *dev)
{
	struct keyhole_dev *kd = netdev_priv(dev);
	struct keyhole_peer *peer;

	/* A pending owner-gone work holds the device; one running is waited for. */
	if (cancel_work_sync(&kd->owner_gone))
		dev_put(dev);
	mutex_lock(&kd->conf_lock);
	keyhole_socket_detach(kd);
	keyhole_dev_release_keys(kd);
	/* The socket is unhooked and the device closed: nothing queues any more. */
	keyhole_queue_dev_uninit(kd);
	peer = rcu_replace_pointer(kd->peer, NULL, lockdep_is_held(&kd->conf_lock));
	mutex_unlock(&kd->conf_lock);
	if (peer)
		kfree_rcu(peer, rcu);
	gro_cells_destroy(&kd->gro_cells);
	free_percpu(dev->tstats);
	dev->tstats = NULL;
}

static const struct net_device_ops keyhole_netdev_ops = {
	.ndo_init = keyhole_dev_init,
	.ndo_uninit = keyhole_dev_uninit,
	.ndo_open = keyhole_open,
	.ndo_stop = keyhole_stop,
	.ndo_start_xmit = keyhole_xmit,
	.ndo_get_stats64 = keyhole_get_stats64,
};

static void keyhole_setup(struct net_device *dev)
{
	struct keyhole_dev *kd = netdev_priv(dev);

	dev->netdev_ops = &keyhole_netdev_ops;
	dev->type = ARPHRD_NONE;
	dev->flags = IFF_POINTOPOINT | IFF_NOARP;
	dev->priv_flags |= IFF_NO_QUEUE;
	/* The data path takes no device lock; the socket and keys are per device, so the
	 * device stays in the namespace it was made in.
	 */
	dev->features |= NETIF_F_LLTX | NETIF_F_NETNS_LOCAL;
	dev->hard_header_len = 0;
	dev->addr_len = 0;
	dev->needed_headroom = LL_MAX_HEADER + sizeof(struct ipv6hdr) + sizeof(struct udphdr) +
			       KH_HEADER_LEN;
	dev->needed_tailroom = KH_TAG_LEN;
	dev->mtu = KH_DEFAULT_MTU;
	dev->min_mtu = KH_MIN_MTU;
	dev->max_mtu = KH_MAX_MTU;
	dev->needs_free_netdev = true;

	memset(kd, 0, sizeof(*kd));
	kd->dev = dev;
	mutex_init(&kd->conf_lock);
	INIT_WORK(&kd->owner_gone, keyhole_owner_gone);
	keyhole_queue_dev_init(kd);
}

static int keyhole_newlink(struct net *src_net, struct net_device *dev, struct nlattr *tb[],
			   struct nlattr *data[], struct netlink_ext_ack *extack)
{
	return register_netdevice(dev);
}

static struct rtnl_link_ops keyhole_link_ops __read_mostly = {
	.kind = "keyhole",
	.priv_size = sizeof(struct keyhole_dev),
	.setup = keyhole_setup,
	.newlink = keyhole_newlink,
};

int keyhole_device_init(void)
{
	return rtnl_link_register(&keyhole_link_ops);
}

/* Deletes every keyhole device in every namespace. */
void keyhole_device_uninit(void)
{
	rtnl_link_unregister(&keyhole_link_ops);
}
