/* transport.c - pick the transport for a device and run netlink request/reply exchanges over it. */
#include "transport.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/netlink.h>

#include "../include/uapi/linux/keyhole.h"

#define REPLY_MAX 16384

const char *transport_run_dir(void)
{
	const char *dir = getenv("KEYHOLE_RUN_DIR");

	return dir && *dir ? dir : "/run/keyhole";
}

int transport_open(struct kh_transport *t, const char *ifname, char *err, size_t err_len)
{
	/* The kernel module's family comes first once it exists; today every
	 * keyhole device is served by its daemon. */
	return transport_daemon_open(t, ifname, err, err_len);
}

void transport_close(struct kh_transport *t)
{
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
}

static void error_message(const struct nlmsghdr *nlh, char *err, size_t err_len)
{
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *a;
	size_t off = sizeof(*e);

	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return;
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		off += e->msg.nlmsg_len - sizeof(e->msg);
	if (mnl_nlmsg_size(off) > nlh->nlmsg_len)
		return;
	mnl_attr_for_each(a, nlh, off)
		if (mnl_attr_get_type(a) == NLMSGERR_ATTR_MSG &&
		    !mnl_attr_validate(a, MNL_TYPE_NUL_STRING))
			snprintf(err, err_len, "%s", mnl_attr_get_str(a));
}

int transport_request(struct kh_transport *t, struct nlmsghdr *req,
		      int (*cb)(const struct nlmsghdr *nlh, void *ctx), void *ctx, char *err,
		      size_t err_len)
{
	uint8_t buf[REPLY_MAX];
	ssize_t n;
	int ret;

	if (err_len)
		err[0] = '\0';
	req->nlmsg_seq = ++t->seq;
	req->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	if (send(t->fd, req, req->nlmsg_len, MSG_NOSIGNAL) < 0)
		return -errno;
	for (;;) {
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf;

		n = recv(t->fd, buf, sizeof(buf), 0);
		if (n < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		if (n == 0)
			return -ECONNRESET;
		/* SOCK_SEQPACKET: one message per datagram, checked whole. */
		/* mnl_nlmsg_ok takes the length as an int: check it against n ourselves too. */
		if (!mnl_nlmsg_ok(nlh, (int)n) || nlh->nlmsg_len > (size_t)n ||
		    nlh->nlmsg_seq != t->seq)
			return -EBADMSG;
		if (nlh->nlmsg_type == NLMSG_DONE)
			return 0;
		if (nlh->nlmsg_type == NLMSG_ERROR) {
			const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

			if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*e)))
				return -EBADMSG;
			if (e->error)
				error_message(nlh, err, err_len);
			return e->error;
		}
		if (nlh->nlmsg_type != t->family)
			return -EBADMSG;
		if (cb) {
			ret = cb(nlh, ctx);
			if (ret < 0)
				return ret;
		}
	}
}
