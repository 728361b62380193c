/* rtnl.c - rtnetlink (and any netlink bus) over libmnl: request, wait for the ACK, return the kernel's own error message. */
#include "rtnl.h"

#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>

/* Requests are small; dumps come in messages of at most a page or two. */
#define RTNL_BUF_SIZE 32768

int kh_rtnl_open(struct kh_rtnl *r, unsigned groups)
{
	return kh_netlink_open(r, NETLINK_ROUTE, groups);
}

int kh_netlink_open(struct kh_rtnl *r, int bus, unsigned groups)
{
	int one = 1;

	r->nl = mnl_socket_open2(bus, SOCK_CLOEXEC);
	if (!r->nl)
		return -errno;
	/* Ask for extended ACKs: the kernel then says what it did not like. */
	mnl_socket_setsockopt(r->nl, NETLINK_EXT_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(r->nl, NETLINK_CAP_ACK, &one, sizeof(one));
	/* A request socket never waits forever for the kernel. */
	if (!groups) {
		struct timeval tv = { .tv_sec = 5 };

		setsockopt(mnl_socket_get_fd(r->nl), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	}
	if (mnl_socket_bind(r->nl, groups, MNL_SOCKET_AUTOPID) < 0) {
		int e = errno;

		mnl_socket_close(r->nl);
		r->nl = NULL;
		return -e;
	}
	r->portid = mnl_socket_get_portid(r->nl);
	r->seq = (uint32_t)time(NULL);
	return 0;
}

void kh_rtnl_close(struct kh_rtnl *r)
{
	if (r->nl)
		mnl_socket_close(r->nl);
	r->nl = NULL;
}

int kh_rtnl_fd(const struct kh_rtnl *r)
{
	return mnl_socket_get_fd(r->nl);
}

struct reply_ctx {
	int (*data_cb)(const struct nlmsghdr *nlh, void *ctx);
	void *ctx;
	char *err;
	size_t err_len;
};

static int extack_msg(const struct nlattr *attr, void *data)
{
	struct reply_ctx *rc = data;

	if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG &&
	    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
		snprintf(rc->err, rc->err_len, "%s", mnl_attr_get_str(attr));
	return MNL_CB_OK;
}

static int error_cb(const struct nlmsghdr *nlh, void *data)
{
	struct reply_ctx *rc = data;
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
	size_t off;

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*e))) {
		errno = EBADMSG;
		return MNL_CB_ERROR;
	}
	if (e->error == 0)
		return MNL_CB_STOP;
	if (rc->err && (nlh->nlmsg_flags & NLM_F_ACK_TLVS)) {
		off = sizeof(*e);
		if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
			off += e->msg.nlmsg_len - sizeof(e->msg);
		if (mnl_nlmsg_size(off) <= nlh->nlmsg_len)
			mnl_attr_parse(nlh, (unsigned)off, extack_msg, rc);
	}
	errno = -e->error;
	return MNL_CB_ERROR;
}

static int done_cb(const struct nlmsghdr *nlh, void *data)
{
	(void)nlh;
	(void)data;
	return MNL_CB_STOP;
}

static int noop_cb(const struct nlmsghdr *nlh, void *data)
{
	(void)nlh;
	(void)data;
	return MNL_CB_OK;
}

static int data_cb(const struct nlmsghdr *nlh, void *data)
{
	struct reply_ctx *rc = data;

	return rc->data_cb ? rc->data_cb(nlh, rc->ctx) : MNL_CB_OK;
}

/* Send nlh and read replies until the ACK, DONE or an error. */
int kh_netlink_transact(struct kh_rtnl *r, struct nlmsghdr *nlh,
			int (*cb)(const struct nlmsghdr *nlh, void *ctx), void *ctx, char *err,
			size_t err_len)
{
	/* With a control array, libmnl ignores any type left NULL: DONE must end the read. */
	static mnl_cb_t ctl_cbs[NLMSG_MIN_TYPE] = {
		[NLMSG_NOOP] = noop_cb,
		[NLMSG_ERROR] = error_cb,
		[NLMSG_DONE] = done_cb,
		[NLMSG_OVERRUN] = noop_cb,
	};
	struct reply_ctx rc = { cb, ctx, err, err_len };
	char buf[RTNL_BUF_SIZE];
	uint32_t seq = ++r->seq;
	ssize_t n;
	int ret;

	if (err && err_len)
		err[0] = '\0';
	nlh->nlmsg_seq = seq;
	if (mnl_socket_sendto(r->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		n = mnl_socket_recvfrom(r->nl, buf, sizeof(buf));
		if (n < 0)
			return -errno;
		ret = mnl_cb_run2(buf, (size_t)n, seq, r->portid, data_cb, &rc, ctl_cbs,
				  NLMSG_MIN_TYPE);
		if (ret == MNL_CB_ERROR)
			return errno ? -errno : -EIO;
		if (ret == MNL_CB_STOP)
			return 0;
	}
}

struct link_get_ctx {
	struct kh_link_info *info;
	bool found;
};

/* IFLA_LINKINFO { IFLA_INFO_KIND "tun" | "keyhole" | ... }: what made the link. */
static void fill_kind(const struct nlattr *linkinfo, struct kh_link_info *info)
{
	const struct nlattr *a;

	if (mnl_attr_validate(linkinfo, MNL_TYPE_NESTED))
		return;
	mnl_attr_for_each_nested(a, linkinfo)
		if (mnl_attr_get_type(a) == IFLA_INFO_KIND &&
		    !mnl_attr_validate(a, MNL_TYPE_NUL_STRING))
			snprintf(info->kind, sizeof(info->kind), "%s", mnl_attr_get_str(a));
}

static void fill_link(const struct nlmsghdr *nlh, struct kh_link_info *info)
{
	const struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *a;

	info->ifindex = ifm->ifi_index;
	info->up = ifm->ifi_flags & IFF_UP;
	info->running = ifm->ifi_flags & IFF_RUNNING;
	mnl_attr_for_each(a, nlh, sizeof(*ifm)) {
		if (mnl_attr_get_type(a) == IFLA_MTU && !mnl_attr_validate(a, MNL_TYPE_U32))
			info->mtu = mnl_attr_get_u32(a);
		else if (mnl_attr_get_type(a) == IFLA_IFNAME &&
			 !mnl_attr_validate(a, MNL_TYPE_NUL_STRING))
			snprintf(info->ifname, sizeof(info->ifname), "%s", mnl_attr_get_str(a));
		else if (mnl_attr_get_type(a) == IFLA_LINKINFO)
			fill_kind(a, info);
	}
}

static int link_get_cb(const struct nlmsghdr *nlh, void *data)
{
	struct link_get_ctx *ctx = data;

	if (nlh->nlmsg_type != RTM_NEWLINK || nlh->nlmsg_len < mnl_nlmsg_size(sizeof(struct ifinfomsg)))
		return MNL_CB_OK;
	fill_link(nlh, ctx->info);
	ctx->found = true;
	return MNL_CB_OK;
}

int kh_rtnl_link_get(struct kh_rtnl *r, const char *ifname, struct kh_link_info *info,
		     char *err, size_t err_len)
{
	char buf[RTNL_BUF_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct link_get_ctx ctx = { info, false };
	struct ifinfomsg *ifm;
	int ret;

	memset(info, 0, sizeof(*info));
	nlh->nlmsg_type = RTM_GETLINK;
	/* With ACK the kernel follows the answer with an ACK, which ends the read. */
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	ifm->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, ifname);
	ret = kh_netlink_transact(r, nlh, link_get_cb, &ctx, err, err_len);
	if (ret)
		return ret;
	return ctx.found ? 0 : -ENODEV;
}

int kh_rtnl_link_add(struct kh_rtnl *r, const char *ifname, const char *kind, char *err,
		     size_t err_len)
{
	char buf[RTNL_BUF_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifinfomsg *ifm;
	struct nlattr *linkinfo;

	nlh->nlmsg_type = RTM_NEWLINK;
	/* `ip link add`: create, and never take over a link that exists. */
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
	ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	ifm->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, ifname);
	linkinfo = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, kind);
	mnl_attr_nest_end(nlh, linkinfo);
	return kh_netlink_transact(r, nlh, NULL, NULL, err, err_len);
}

int kh_rtnl_link_del(struct kh_rtnl *r, int ifindex, char *err, size_t err_len)
{
	char buf[RTNL_BUF_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifinfomsg *ifm;

	nlh->nlmsg_type = RTM_DELLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	ifm->ifi_family = AF_UNSPEC;
	ifm->ifi_index = ifindex;
	return kh_netlink_transact(r, nlh, NULL, NULL, err, err_len);
}

static int link_change(struct kh_rtnl *r, int ifindex, unsigned flags, unsigned change,
		       uint32_t mtu, char *err, size_t err_len)
{
	char buf[RTNL_BUF_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifinfomsg *ifm;

	nlh->nlmsg_type = RTM_NEWLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	ifm->ifi_family = AF_UNSPEC;
	ifm->ifi_index = ifindex;
	ifm->ifi_flags = flags;
	ifm->ifi_change = change;
	if (mtu)
		mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	return kh_netlink_transact(r, nlh, NULL, NULL, err, err_len);
}

int kh_rtnl_link_set_up(struct kh_rtnl *r, int ifindex, bool up, char *err, size_t err_len)
{
	return link_change(r, ifindex, up ? IFF_UP : 0, IFF_UP, 0, err, err_len);
}

int kh_rtnl_link_set_mtu(struct kh_rtnl *r, int ifindex, uint32_t mtu, char *err,
			 size_t err_len)
{
	return link_change(r, ifindex, 0, 0, mtu, err, err_len);
}

static int addr_change(struct kh_rtnl *r, uint16_t type, uint16_t flags, int ifindex,
		       int family, const uint8_t *addr, uint8_t plen, char *err, size_t err_len)
{
	char buf[RTNL_BUF_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifaddrmsg *ifa;
	size_t alen = family == 4 ? 4 : 16;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = family == 4 ? AF_INET : AF_INET6;
	ifa->ifa_prefixlen = plen;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = (unsigned)ifindex;
	/* The overlay address is ours by the relay's word: no DAD, usable at once. */
	ifa->ifa_flags = family == 6 ? IFA_F_NODAD : 0;
	mnl_attr_put(nlh, IFA_LOCAL, alen, addr);
	mnl_attr_put(nlh, IFA_ADDRESS, alen, addr);
	return kh_netlink_transact(r, nlh, NULL, NULL, err, err_len);
}

int kh_rtnl_addr_set(struct kh_rtnl *r, int ifindex, int family, const uint8_t *addr,
		     uint8_t plen, char *err, size_t err_len)
{
	return addr_change(r, RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, ifindex, family, addr,
			   plen, err, err_len);
}

int kh_rtnl_addr_del(struct kh_rtnl *r, int ifindex, int family, const uint8_t *addr,
		     uint8_t plen, char *err, size_t err_len)
{
	return addr_change(r, RTM_DELADDR, 0, ifindex, family, addr, plen, err, err_len);
}

struct addr_list_ctx {
	int ifindex;
	void (*cb)(int family, const uint8_t *addr, uint8_t plen, void *ctx);
	void *ctx;
};

static int addr_cb(const struct nlmsghdr *nlh, void *data)
{
	struct addr_list_ctx *ac = data;
	const struct ifaddrmsg *ifa;
	const struct nlattr *a;
	const uint8_t *addr = NULL;

	if (nlh->nlmsg_type != RTM_NEWADDR || nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*ifa)))
		return MNL_CB_OK;
	ifa = mnl_nlmsg_get_payload(nlh);
	if ((int)ifa->ifa_index != ac->ifindex)
		return MNL_CB_OK;
	mnl_attr_for_each(a, nlh, sizeof(*ifa)) {
		size_t want = ifa->ifa_family == AF_INET ? 4 : 16;

		if ((mnl_attr_get_type(a) == IFA_ADDRESS || mnl_attr_get_type(a) == IFA_LOCAL) &&
		    mnl_attr_get_payload_len(a) == want)
			addr = mnl_attr_get_payload(a);
	}
	if (addr && (ifa->ifa_family == AF_INET || ifa->ifa_family == AF_INET6) &&
	    ifa->ifa_scope == RT_SCOPE_UNIVERSE)
		ac->cb(ifa->ifa_family == AF_INET ? 4 : 6, addr, ifa->ifa_prefixlen, ac->ctx);
	return MNL_CB_OK;
}

int kh_rtnl_addr_list(struct kh_rtnl *r, int ifindex,
		      void (*cb)(int family, const uint8_t *addr, uint8_t plen, void *ctx),
		      void *ctx, char *err, size_t err_len)
{
	char buf[RTNL_BUF_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct addr_list_ctx ac = { ifindex, cb, ctx };
	struct ifaddrmsg *ifa;

	nlh->nlmsg_type = RTM_GETADDR;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = AF_UNSPEC;
	return kh_netlink_transact(r, nlh, addr_cb, &ac, err, err_len);
}

void kh_rtnl_parse_link_events(const void *buf, size_t len, int ifindex,
			       void (*cb)(const struct kh_link_info *info, bool deleted, void *ctx),
			       void *ctx)
{
	const struct nlmsghdr *nlh = buf;
	int remaining = (int)len;

	while (mnl_nlmsg_ok(nlh, remaining)) {
		if ((nlh->nlmsg_type == RTM_NEWLINK || nlh->nlmsg_type == RTM_DELLINK) &&
		    nlh->nlmsg_len >= mnl_nlmsg_size(sizeof(struct ifinfomsg))) {
			const struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);
			struct kh_link_info info;

			if (ifm->ifi_index == ifindex) {
				memset(&info, 0, sizeof(info));
				fill_link(nlh, &info);
				cb(&info, nlh->nlmsg_type == RTM_DELLINK, ctx);
			}
		}
		nlh = mnl_nlmsg_next(nlh, &remaining);
	}
}
