/* dataplane.c - where transport messages are sealed: keyholed itself over TUN, or keyhole.ko. The one place that chooses. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "../common/log.h"
#include "daemon.h"

const char *daemon_dataplane_name(const struct daemon *d)
{
	return d->dataplane == KEYHOLE_DATAPLANE_KERNEL ? "kernel" : "TUN";
}

static bool kernel(const struct daemon *d)
{
	return d->dataplane == KEYHOLE_DATAPLANE_KERNEL;
}

/* Log a failed kernel request with its extended-ACK message when there is one. */
static int kmod_do(struct daemon *d, uint8_t cmd, const char *what, const struct kh_dp_msg *m,
		   struct kh_dp_msg *reply)
{
	char err[256];
	int ret = daemon_kmod_request(&d->kmod, cmd, m, reply, err, sizeof(err));

	if (ret)
		kh_warn("kernel: %s: %s", what, err[0] ? err : strerror(-ret));
	return ret;
}

static void kmod_msg(const struct daemon *d, struct kh_dp_msg *m)
{
	memset(m, 0, sizeof(*m));
	m->has_ifindex = true;
	m->ifindex = (uint32_t)d->ifindex;
}

/* Undo open_kernel: a link this daemon made goes, one it adopted stays. */
static void abandon_kernel(struct daemon *d)
{
	char err[256];

	if (d->kmod.created && d->ifindex > 0)
		kh_rtnl_link_del(&d->rtnl, d->ifindex, err, sizeof(err));
	daemon_kmod_close(&d->kmod);
	d->dataplane = KEYHOLE_DATAPLANE_TUN;
	d->ifindex = 0;
}

static int open_kernel(struct daemon *d, char *err, size_t err_len)
{
	struct kh_dp_msg m;
	int ret;

	ret = daemon_kmod_probe(&d->kmod, err, err_len);
	if (!ret)
		ret = daemon_kmod_link(&d->kmod, &d->rtnl, d->ifname, &d->ifindex, err, err_len);
	if (ret) {
		abandon_kernel(d);
		return ret;
	}
	d->dataplane = KEYHOLE_DATAPLANE_KERNEL;
	/* An adopted link may hold a dead daemon's keys: start from none. */
	kmod_msg(d, &m);
	ret = daemon_kmod_request(&d->kmod, KEYHOLE_CMD_DEL_KEYS, &m, NULL, err, err_len);
	if (ret) {
		char why[256];

		snprintf(why, sizeof(why), "%s", err[0] ? err : strerror(-ret));
		snprintf(err, err_len, "the keyhole module refused DEL_KEYS on %s: %s", d->ifname, why);
		abandon_kernel(d);
		return ret;
	}
	return 0;
}

int daemon_dataplane_open(struct daemon *d, enum daemon_dp_mode mode, char *err, size_t err_len)
{
	int ret;

	d->dataplane = KEYHOLE_DATAPLANE_TUN;
	if (mode != DAEMON_DP_TUN) {
		ret = open_kernel(d, err, err_len);
		if (!ret || mode == DAEMON_DP_KERNEL) {
			if (ret) {
				char why[384];

				snprintf(why, sizeof(why), "%s", err);
				snprintf(err, err_len, "no kernel data plane: %s", why);
			}
			return ret;
		}
		/* Said in the ready line: logged once the log has its place (not the caller's tty). */
		snprintf(d->dataplane_note, sizeof(d->dataplane_note), "%s",
			 ret == -ENOENT ? "no keyhole kernel module" : err);
		err[0] = '\0';
	}
	return daemon_tun_open(d, err, err_len);
}

void daemon_dataplane_abandon(struct daemon *d)
{
	if (kernel(d))
		abandon_kernel(d);
	else
		daemon_dataplane_close(d);
}

void daemon_dataplane_close(struct daemon *d)
{
	char err[256];
	int ret;

	if (!kernel(d)) {
		if (d->tun_fd >= 0)
			close(d->tun_fd); /* a TUN device that is not persistent goes with its fd */
		d->tun_fd = -1;
		return;
	}
	/* The link is this daemon's to remove, created or adopted: as closing a TUN fd does. */
	if (d->ifindex > 0) {
		ret = kh_rtnl_link_del(&d->rtnl, d->ifindex, err, sizeof(err));
		if (ret && ret != -ENODEV)
			kh_warn("cannot delete %s: %s", d->ifname, err[0] ? err : strerror(-ret));
	}
	daemon_kmod_close(&d->kmod);
}

int daemon_dataplane_fd(const struct daemon *d)
{
	return kernel(d) ? daemon_kmod_events_fd(&d->kmod) : d->tun_fd;
}

static void on_recv_ctrl(void *ctx, const uint8_t *payload, size_t len)
{
	daemon_session_received(ctx, payload, len);
}

void daemon_dataplane_receive(struct daemon *d)
{
	if (kernel(d))
		daemon_kmod_read_events(&d->kmod, (uint32_t)d->ifindex, on_recv_ctrl, d);
	else
		daemon_tun_receive(d);
}

/* What the session code still needs of keys the kernel holds: never the keys. */
static void keep_metadata(struct kh_keypair *dst, const struct kh_keypair *src)
{
	sodium_memzero(dst, sizeof(*dst));
	dst->local_index = src->local_index;
	dst->remote_index = src->remote_index;
	dst->birth_ns = src->birth_ns;
	dst->initiator = src->initiator;
	dst->valid = src->valid;
}

int daemon_dataplane_keys_install(struct daemon *d, struct kh_keypair *kp)
{
	struct kh_dp_msg m;
	int ret;

	if (!kernel(d)) {
		/* New keys send at once; the old ones still open what is in flight. */
		kh_keypair_wipe(&d->previous);
		d->previous = d->current;
		d->current = *kp;
		kh_keypair_wipe(kp);
		return 0;
	}
	kmod_msg(d, &m);
	m.has_keypair = true;
	m.keypair.local_index = kp->local_index;
	m.keypair.remote_index = kp->remote_index;
	memcpy(m.keypair.send_key, kp->send_key, KEYHOLE_KEY_LEN);
	memcpy(m.keypair.recv_key, kp->recv_key, KEYHOLE_KEY_LEN);
	ret = kmod_do(d, KEYHOLE_CMD_NEW_KEYS, "cannot install keys", &m, NULL);
	sodium_memzero(&m, sizeof(m));
	if (!ret) {
		kmod_msg(d, &m);
		ret = kmod_do(d, KEYHOLE_CMD_SWAP_KEYS, "cannot swap keys", &m, NULL);
		if (ret)
			kmod_do(d, KEYHOLE_CMD_DEL_KEYS, "cannot delete keys", &m, NULL);
	}
	if (!ret) {
		/* The kernel alone seals under these keys from now on: no copy stays here. */
		sodium_memzero(&d->previous, sizeof(d->previous));
		d->previous = d->current;
		keep_metadata(&d->current, kp);
	}
	kh_keypair_wipe(kp);
	return ret;
}

void daemon_dataplane_keys_drop(struct daemon *d)
{
	bool had = d->current.valid || d->previous.valid;
	struct kh_dp_msg m;

	kh_keypair_wipe(&d->current);
	kh_keypair_wipe(&d->previous);
	if (kernel(d) && had) {
		kmod_msg(d, &m);
		kmod_do(d, KEYHOLE_CMD_DEL_KEYS, "cannot delete keys", &m, NULL);
	}
}

int daemon_dataplane_send(struct daemon *d, uint8_t *buf, size_t len)
{
	struct kh_dp_msg m;
	char err[256];
	int n;

	if (!kernel(d)) {
		n = kh_transport_seal(&d->current, buf + KH_DATA_HEADER_LEN, len, buf,
				      daemon_now_ns());
		if (n < 0)
			return n;
		return daemon_udp_send(d, buf, (size_t)n);
	}
	kmod_msg(d, &m);
	m.has_payload = true;
	m.payload = buf + KH_DATA_HEADER_LEN;
	m.payload_len = len;
	n = daemon_kmod_request(&d->kmod, KEYHOLE_CMD_SEND_CTRL, &m, NULL, err, sizeof(err));
	if (n) {
		kh_debug("kernel: control payload not sent: %s", err[0] ? err : strerror(-n));
		return n;
	}
	d->last_tx_ns = daemon_now_ns();
	return 0;
}

void daemon_dataplane_sync_peer(struct daemon *d)
{
	struct kh_dp_msg m;

	if (!kernel(d) || d->udp_fd < 0 || !d->relay_resolved)
		return;
	/* SET_PEER again only when the socket or the relay's address changed. */
	if (d->kmod_peer_sent && d->kmod_udp_gen == d->udp_gen &&
	    d->kmod_relay_len == d->relay_addr_len &&
	    !memcmp(&d->kmod_relay, &d->relay_addr, d->relay_addr_len))
		return;
	kmod_msg(d, &m);
	m.has_socket_fd = true;
	m.socket_fd = (uint32_t)d->udp_fd;
	m.has_relay = true;
	memcpy(&m.relay, &d->relay_addr,
	       d->relay_addr_len < sizeof(m.relay) ? d->relay_addr_len : sizeof(m.relay));
	if (kmod_do(d, KEYHOLE_CMD_SET_PEER, "cannot hand over the socket and relay address", &m,
		    NULL))
		return;
	d->kmod_peer_sent = true;
	d->kmod_udp_gen = d->udp_gen;
	d->kmod_relay = d->relay_addr;
	d->kmod_relay_len = d->relay_addr_len;
}

void daemon_dataplane_overlay(struct daemon *d)
{
	struct kh_dp_msg m;

	if (!kernel(d) || !d->has_assigned)
		return;
	/* The kernel accepts inner sources only from the overlay's prefixes. */
	kmod_msg(d, &m);
	m.has_addr4 = m.has_addr6 = true;
	memcpy(m.addr4, d->assigned.ipv4, 4);
	m.plen4 = d->assigned.ipv4_plen;
	memcpy(m.addr6, d->assigned.ipv6, 16);
	m.plen6 = d->assigned.ipv6_plen;
	kmod_do(d, KEYHOLE_CMD_SET_PEER, "cannot set the overlay addresses", &m, NULL);
}

void daemon_dataplane_counters(struct daemon *d, struct kh_device *dev)
{
	struct kh_dp_msg m, reply;

	dev->dataplane = (uint8_t)d->dataplane;
	if (!kernel(d)) {
		dev->rx_bytes = d->rx_bytes;
		dev->tx_bytes = d->tx_bytes;
		dev->rx_packets = d->rx_packets;
		dev->tx_packets = d->tx_packets;
		return;
	}
	kmod_msg(d, &m);
	if (kmod_do(d, KEYHOLE_CMD_GET_DEVICE, "cannot read the counters", &m, &reply))
		return;
	dev->rx_bytes = reply.rx_bytes;
	dev->tx_bytes = reply.tx_bytes;
	dev->rx_packets = reply.rx_packets;
	dev->tx_packets = reply.tx_packets;
}
