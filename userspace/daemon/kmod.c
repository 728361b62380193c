/* kmod.c - keyhole.ko's generic netlink family as keyholed speaks it: probe, link, requests, notifications. */
#include "kmod.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <linux/netlink.h>
#include <sodium.h>

#include "../common/log.h"

/* A request is at most a header, an ifindex, a relay address and a largest payload. */
#define KMOD_MSG_MAX (KEYHOLE_CTRL_MAX + 512)
/* Room for bursts of RECV_CTRL (a peers reply comes in several) while the loop is busy. */
#define KMOD_EVENTS_RCVBUF (1024 * 1024)

struct family_ctx {
	uint16_t id;
	uint32_t group;
	const char *why;
};

static int family_cb(const struct nlmsghdr *nlh, void *data)
{
	struct family_ctx *fc = data;

	if (kh_genl_parse_family(nlh, KEYHOLE_MCGRP_CTRL, &fc->id, &fc->group, &fc->why))
		return MNL_CB_ERROR;
	return MNL_CB_OK;
}

int daemon_kmod_probe(struct daemon_kmod *k, char *err, size_t err_len)
{
	_Alignas(struct nlmsghdr) char buf[256];
	struct family_ctx fc = { 0, 0, NULL };
	struct nlmsghdr *nlh;
	int ret, size = KMOD_EVENTS_RCVBUF;

	memset(k, 0, sizeof(*k));
	ret = kh_netlink_open(&k->req, NETLINK_GENERIC, 0);
	if (ret) {
		snprintf(err, err_len, "cannot open a generic netlink socket: %s", strerror(-ret));
		return ret;
	}
	k->open = true;
	nlh = kh_genl_ctrl_getfamily(buf, sizeof(buf), KEYHOLE_GENL_NAME);
	ret = nlh ? kh_netlink_transact(&k->req, nlh, family_cb, &fc, err, err_len) : -EMSGSIZE;
	if (ret == -ENOENT) {
		snprintf(err, err_len, "the keyhole kernel module is not loaded (no generic netlink "
			 "family '%s'; try modprobe keyhole)", KEYHOLE_GENL_NAME);
		return ret;
	}
	if (ret || !fc.id) {
		snprintf(err, err_len, "cannot look up the generic netlink family '%s': %s",
			 KEYHOLE_GENL_NAME, ret ? strerror(-ret) : fc.why ? fc.why : "no answer");
		return ret ? ret : -EPROTO;
	}
	if (!fc.group) {
		snprintf(err, err_len, "the keyhole family has no multicast group '%s' (a module "
			 "older than this keyholed?)", KEYHOLE_MCGRP_CTRL);
		return -EPROTO;
	}
	k->family = fc.id;
	k->group = fc.group;
	ret = kh_netlink_open(&k->events, NETLINK_GENERIC, 0);
	if (ret) {
		snprintf(err, err_len, "cannot open a generic netlink socket: %s", strerror(-ret));
		return ret;
	}
	if (setsockopt(kh_rtnl_fd(&k->events), SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)))
		setsockopt(kh_rtnl_fd(&k->events), SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	/* Dynamic group ids may exceed 32: membership by setsockopt, not by bind. */
	if (mnl_socket_setsockopt(k->events.nl, NETLINK_ADD_MEMBERSHIP, &k->group,
				  sizeof(k->group))) {
		ret = -errno;
		snprintf(err, err_len, "cannot join the keyhole family's '%s' group: %s%s",
			 KEYHOLE_MCGRP_CTRL, strerror(errno),
			 errno == EPERM ? " (it needs CAP_NET_ADMIN)" : "");
		return ret;
	}
	return 0;
}

int daemon_kmod_link(struct daemon_kmod *k, struct kh_rtnl *rtnl, const char *ifname,
		     int *ifindex, char *err, size_t err_len)
{
	struct kh_link_info info;
	int ret;

	ret = kh_rtnl_link_add(rtnl, ifname, KEYHOLE_GENL_NAME, err, err_len);
	if (ret && ret != -EEXIST) {
		if (!err[0])
			snprintf(err, err_len, "cannot create link %s of kind keyhole: %s", ifname,
				 strerror(-ret));
		return ret;
	}
	k->created = ret == 0;
	ret = kh_rtnl_link_get(rtnl, ifname, &info, err, err_len);
	if (ret) {
		if (!err[0])
			snprintf(err, err_len, "cannot find %s: %s", ifname, strerror(-ret));
		return ret;
	}
	/* A link of that name that is no keyhole device is someone else's. */
	if (strcmp(info.kind, KEYHOLE_GENL_NAME)) {
		snprintf(err, err_len, "%s exists and is not a keyhole link (kind '%s')", ifname,
			 info.kind[0] ? info.kind : "none");
		return -EEXIST;
	}
	*ifindex = info.ifindex;
	return 0;
}

struct reply_ctx {
	uint16_t family;
	struct kh_dp_msg *reply;
};

static int reply_cb(const struct nlmsghdr *nlh, void *data)
{
	struct reply_ctx *rc = data;
	const char *why;

	if (!rc->reply || kh_genl_cmd(nlh, nlh->nlmsg_len, rc->family) < 0)
		return MNL_CB_OK;
	if (kh_genl_parse_dataplane(nlh, rc->reply, &why)) {
		kh_warn("kernel: malformed reply: %s", why);
		errno = EPROTO;
		return MNL_CB_ERROR;
	}
	return MNL_CB_OK;
}

int daemon_kmod_request(struct daemon_kmod *k, uint8_t cmd, const struct kh_dp_msg *m,
			struct kh_dp_msg *reply, char *err, size_t err_len)
{
	_Alignas(struct nlmsghdr) uint8_t buf[KMOD_MSG_MAX];
	struct reply_ctx rc = { k->family, reply };
	struct nlmsghdr *nlh;
	int ret;

	if (err_len)
		err[0] = '\0';
	if (!k->family)
		return -ENOTCONN;
	nlh = kh_genl_msg_start(buf, k->family, cmd, NLM_F_REQUEST | NLM_F_ACK, 0);
	if (!kh_genl_put_dataplane(nlh, sizeof(buf), m)) {
		sodium_memzero(buf, sizeof(buf));
		return -EMSGSIZE;
	}
	if (reply)
		memset(reply, 0, sizeof(*reply));
	ret = kh_netlink_transact(&k->req, nlh, reply_cb, &rc, err, err_len);
	sodium_memzero(buf, sizeof(buf));
	return ret;
}

int daemon_kmod_events_fd(const struct daemon_kmod *k)
{
	return kh_rtnl_fd(&k->events);
}

void daemon_kmod_read_events(struct daemon_kmod *k, uint32_t ifindex,
			     void (*cb)(void *ctx, const uint8_t *payload, size_t len), void *ctx)
{
	_Alignas(struct nlmsghdr) uint8_t buf[16384];
	struct sockaddr_nl from;
	socklen_t from_len;
	struct kh_dp_msg m;
	const char *why;
	ssize_t n;

	for (;;) {
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf;
		int remaining;

		from_len = sizeof(from);
		n = recvfrom(daemon_kmod_events_fd(k), buf, sizeof(buf), MSG_DONTWAIT,
			     (struct sockaddr *)&from, &from_len);
		if (n < 0 && errno == ENOBUFS) {
			/* The relay answers the next keepalive; what was lost is not retried. */
			kh_warn("kernel: control notifications lost (socket buffer full)");
			continue;
		}
		if (n <= 0)
			return;
		/* Only the kernel (port 0) speaks for the module. */
		if (from_len != sizeof(from) || from.nl_pid != 0)
			continue;
		remaining = (int)n;
		for (; mnl_nlmsg_ok(nlh, remaining); nlh = mnl_nlmsg_next(nlh, &remaining)) {
			if (kh_genl_cmd(nlh, nlh->nlmsg_len, k->family) != KEYHOLE_CMD_RECV_CTRL)
				continue;
			if (kh_genl_parse_dataplane(nlh, &m, &why)) {
				kh_debug("kernel: malformed RECV_CTRL: %s", why);
				continue;
			}
			if (m.has_ifindex && m.ifindex == ifindex && m.has_payload)
				cb(ctx, m.payload, m.payload_len);
		}
	}
}

void daemon_kmod_close(struct daemon_kmod *k)
{
	if (!k->open)
		return;
	kh_rtnl_close(&k->req);
	kh_rtnl_close(&k->events);
	k->open = false;
	k->family = 0;
}
