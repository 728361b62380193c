/* control.c - keyholed's control socket: the keyhole genl family over a root-only SOCK_SEQPACKET socket. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <sodium.h>

#include "../common/log.h"
#include "../lib/key.h"
#include "daemon.h"

#define CTL_MSG_MAX 8192
#define PEERS_TIMEOUT_NS (3ULL * 1000000000ULL)
/* Epoll tags: clients are 100 + slot. */
#define TAG_CLIENT_BASE 100

int daemon_control_listen(struct daemon *d, char *err, size_t err_len)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 5 };
	mode_t old;
	int fd, i;

	for (i = 0; i < KH_MAX_CLIENTS; i++)
		d->clients[i].fd = -1;
	if (mkdir(d->run_dir, 0700) && errno != EEXIST) {
		snprintf(err, err_len, "cannot create %s: %s", d->run_dir, strerror(errno));
		return -errno;
	}
	chmod(d->run_dir, 0700);
	if ((size_t)snprintf(d->sock_path, sizeof(d->sock_path), "%s/%s.sock", d->run_dir,
			     d->ifname) >= sizeof(sun.sun_path)) {
		snprintf(err, err_len, "control socket path too long");
		return -ENAMETOOLONG;
	}
	memcpy(sun.sun_path, d->sock_path, strlen(d->sock_path) + 1);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, err_len, "cannot create the control socket: %s", strerror(errno));
		return -errno;
	}
	/* A socket left by a daemon that was killed: nobody answers on it. */
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
		snprintf(err, err_len, "a keyholed already serves %s (%s)", d->ifname, d->sock_path);
		close(fd);
		return -EEXIST;
	}
	close(fd);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	unlink(d->sock_path);
	old = umask(077);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) || listen(fd, 8)) {
		umask(old);
		snprintf(err, err_len, "cannot listen on %s: %s", d->sock_path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	umask(old);
	d->ctl_fd = fd;
	return epoll_ctl(d->epoll_fd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

void daemon_control_close(struct daemon *d)
{
	int i;

	for (i = 0; i < KH_MAX_CLIENTS; i++)
		if (d->clients[i].fd >= 0)
			close(d->clients[i].fd);
	if (d->ctl_fd >= 0) {
		close(d->ctl_fd);
		unlink(d->sock_path);
	}
	d->ctl_fd = -1;
}

static void drop_client(struct daemon *d, struct daemon_client *c)
{
	epoll_ctl(d->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	c->waiting_peers = false;
}

void daemon_control_accept(struct daemon *d)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int fd, i;

	fd = accept4(d->ctl_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	/* Root only: the socket is 0600 in a 0700 directory, and we check anyway. */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) || cred.uid != 0) {
		close(fd);
		return;
	}
	for (i = 0; i < KH_MAX_CLIENTS && d->clients[i].fd >= 0; i++)
		;
	if (i == KH_MAX_CLIENTS) {
		close(fd);
		return;
	}
	memset(&d->clients[i], 0, sizeof(d->clients[i]));
	d->clients[i].fd = fd;
	ev.data.u64 = TAG_CLIENT_BASE + (uint64_t)i;
	if (epoll_ctl(d->epoll_fd, EPOLL_CTL_ADD, fd, &ev))
		drop_client(d, &d->clients[i]);
}

static void send_msg(struct daemon_client *c, const struct nlmsghdr *nlh)
{
	if (send(c->fd, nlh, nlh->nlmsg_len, MSG_NOSIGNAL) < 0)
		kh_debug("control: reply not sent: %s", strerror(errno));
}

static void reply_error(struct daemon_client *c, const struct nlmsghdr *req, int error,
			const char *msg)
{
	char buf[1024];

	send_msg(c, kh_genl_put_error(buf, sizeof(buf), req, error, msg));
}

static void fill_device(struct daemon *d, struct kh_device *dev, bool with_private)
{
	memset(dev, 0, sizeof(*dev));
	dev->ifindex = (uint32_t)d->ifindex;
	snprintf(dev->ifname, sizeof(dev->ifname), "%s", d->ifname);
	if (d->cfg.has_key) {
		dev->has_public_key = true;
		memcpy(dev->public_key, d->cfg.key.pub, 32);
		if (with_private) {
			dev->has_private_key = true;
			memcpy(dev->private_key, d->cfg.key.priv, 32);
		}
	}
	dev->has_relay_endpoint = d->cfg.has_relay;
	snprintf(dev->relay_endpoint, sizeof(dev->relay_endpoint), "%s", d->cfg.relay_endpoint);
	dev->has_relay_public_key = d->cfg.has_relay_pub;
	memcpy(dev->relay_public_key, d->cfg.relay_pub, 32);
	dev->has_keepalive = true;
	dev->keepalive = d->cfg.keepalive;
	dev->has_node_name = d->cfg.name[0] != '\0';
	snprintf(dev->node_name, sizeof(dev->node_name), "%s", d->cfg.name);
	dev->has_state = true;
	dev->session_state = (uint8_t)d->state;
	dev->last_handshake = (uint64_t)d->last_handshake;
	daemon_dataplane_counters(d, dev);
	dev->psk_set = d->cfg.has_psk;
	dev->token_set = d->cfg.has_token;
	if (d->relay_resolved) {
		char host[64];

		if (d->relay_addr.ss_family == AF_INET)
			inet_ntop(AF_INET, &((const struct sockaddr_in *)&d->relay_addr)->sin_addr, host,
				  sizeof(host));
		else
			inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)&d->relay_addr)->sin6_addr,
				  host, sizeof(host));
		snprintf(dev->relay_address, sizeof(dev->relay_address),
			 d->relay_addr.ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u", host,
			 ntohs(((const struct sockaddr_in *)&d->relay_addr)->sin_port));
	}
	if (d->has_assigned) {
		dev->has_addr4 = dev->has_addr6 = true;
		memcpy(dev->addr4, d->assigned.ipv4, 4);
		dev->plen4 = d->assigned.ipv4_plen;
		memcpy(dev->addr6, d->assigned.ipv6, 16);
		dev->plen6 = d->assigned.ipv6_plen;
	}
	dev->has_mtu = true;
	dev->mtu = d->has_assigned ? d->assigned.mtu : KH_DEFAULT_MTU;
}

static void get_device(struct daemon *d, struct daemon_client *c, const struct nlmsghdr *req,
		       const struct kh_device *in, bool root)
{
	char buf[CTL_MSG_MAX];
	struct kh_device dev;
	struct nlmsghdr *nlh;
	bool with_private = (in->flags & KEYHOLE_F_SHOW_PRIVATE_KEY) != 0;

	if (with_private && !root) {
		reply_error(c, req, -EPERM, "only root may read the private key");
		return;
	}
	fill_device(d, &dev, with_private);
	nlh = kh_genl_msg_start(buf, KEYHOLE_DAEMON_FAMILY_ID, KEYHOLE_CMD_GET_DEVICE, 0,
				req->nlmsg_seq);
	if (!kh_genl_put_device(nlh, sizeof(buf), &dev)) {
		reply_error(c, req, -EMSGSIZE, "reply too large");
		sodium_memzero(buf, sizeof(buf));
		return;
	}
	send_msg(c, nlh);
	sodium_memzero(buf, sizeof(buf));
	sodium_memzero(&dev, sizeof(dev));
	if (req->nlmsg_flags & NLM_F_ACK)
		reply_error(c, req, 0, NULL);
}

static void set_device(struct daemon *d, struct daemon_client *c, const struct nlmsghdr *req,
		       struct kh_device *in)
{
	char host[KH_ENDPOINT_MAX];
	const char *why;
	uint16_t port;
	bool reconnect = false;

	if (in->has_relay_endpoint &&
	    daemon_parse_endpoint(in->relay_endpoint, host, sizeof(host), &port, &why)) {
		reply_error(c, req, -EINVAL, why);
		return;
	}
	if (in->has_node_name && in->node_name[0] && strspn(in->node_name,
		"abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(in->node_name)) {
		reply_error(c, req, -EINVAL, "node name must be a DNS label (a-z, 0-9, '-')");
		return;
	}
	if (in->has_private_key) {
		if (kh_key_public(d->cfg.key.pub, in->private_key)) {
			reply_error(c, req, -EINVAL, "private key is not usable");
			return;
		}
		reconnect |= !d->cfg.has_key || sodium_memcmp(d->cfg.key.priv, in->private_key, 32);
		memcpy(d->cfg.key.priv, in->private_key, 32);
		d->cfg.has_key = true;
	}
	if (in->has_relay_endpoint) {
		reconnect |= strcmp(d->cfg.relay_endpoint, in->relay_endpoint) != 0;
		snprintf(d->cfg.relay_endpoint, sizeof(d->cfg.relay_endpoint), "%s",
			 in->relay_endpoint);
		d->cfg.has_relay = true;
		d->relay_resolved = false;
	}
	if (in->has_relay_public_key) {
		reconnect |= memcmp(d->cfg.relay_pub, in->relay_public_key, 32) != 0;
		memcpy(d->cfg.relay_pub, in->relay_public_key, 32);
		d->cfg.has_relay_pub = true;
		kh_cookie_maker_init(&d->cookies, d->cfg.relay_pub);
	}
	if (in->has_psk) {
		reconnect = true;
		memcpy(d->cfg.psk, in->psk, 32);
		d->cfg.has_psk = true;
	}
	if (in->flags & KEYHOLE_F_CLEAR_PRESHARED_KEY) {
		sodium_memzero(d->cfg.psk, sizeof(d->cfg.psk));
		d->cfg.has_psk = false;
	}
	if (in->has_token) {
		memcpy(d->cfg.token, in->token, KEYHOLE_TOKEN_LEN);
		d->cfg.has_token = true;
	}
	if (in->flags & KEYHOLE_F_CLEAR_AUTH_TOKEN)
		d->cfg.has_token = false;
	if (in->has_keepalive)
		d->cfg.keepalive = in->keepalive;
	if (in->has_node_name)
		snprintf(d->cfg.name, sizeof(d->cfg.name), "%s", in->node_name);
	sodium_memzero(in, sizeof(*in));
	/* A new identity or relay: the old session is not the one we want. */
	if (reconnect && d->state != KEYHOLE_SESSION_DOWN) {
		daemon_session_disconnect(d, true);
		d->state = KEYHOLE_SESSION_DOWN;
	}
	daemon_session_reconsider(d);
	reply_error(c, req, 0, NULL);
}

static void get_peers(struct daemon *d, struct daemon_client *c, const struct nlmsghdr *req)
{
	int i, ret;

	for (i = 0; i < KH_MAX_CLIENTS; i++)
		if (d->clients[i].fd >= 0 && d->clients[i].waiting_peers) {
			reply_error(c, req, -EBUSY, "another peer listing is in progress");
			return;
		}
	if (!d->peers) {
		d->peers = calloc(KH_MAX_PEERS, sizeof(*d->peers));
		if (!d->peers) {
			reply_error(c, req, -ENOMEM, NULL);
			return;
		}
	}
	d->npeers = 0;
	ret = daemon_request_peers(d, &d->peers_request_id);
	if (ret) {
		d->peers_request_id = 0;
		reply_error(c, req, ret, ret == -ENOTCONN ? "no session with the relay" : NULL);
		return;
	}
	c->waiting_peers = true;
	c->request = *req;
	c->deadline_ns = daemon_now_ns() + PEERS_TIMEOUT_NS;
}

void daemon_control_peers_done(struct daemon *d, bool complete)
{
	char buf[CTL_MSG_MAX];
	struct nlmsghdr *nlh;
	uint32_t p;
	int i;

	for (i = 0; i < KH_MAX_CLIENTS; i++) {
		struct daemon_client *c = &d->clients[i];

		if (c->fd < 0 || !c->waiting_peers)
			continue;
		c->waiting_peers = false;
		if (!complete) {
			reply_error(c, &c->request, -ECONNRESET, "the session with the relay ended");
			continue;
		}
		for (p = 0; p < d->npeers; p++) {
			nlh = kh_genl_msg_start(buf, KEYHOLE_DAEMON_FAMILY_ID, KEYHOLE_CMD_GET_PEERS,
						NLM_F_MULTI, c->request.nlmsg_seq);
			if (kh_genl_put_peer(nlh, sizeof(buf), &d->peers[p]))
				send_msg(c, nlh);
		}
		nlh = mnl_nlmsg_put_header(buf);
		nlh->nlmsg_type = NLMSG_DONE;
		nlh->nlmsg_flags = NLM_F_MULTI;
		nlh->nlmsg_seq = c->request.nlmsg_seq;
		mnl_nlmsg_put_extra_header(nlh, sizeof(int));
		send_msg(c, nlh);
	}
	d->npeers = 0;
	d->peers_request_id = 0;
}

void daemon_control_tick(struct daemon *d, uint64_t now)
{
	int i;

	for (i = 0; i < KH_MAX_CLIENTS; i++) {
		struct daemon_client *c = &d->clients[i];

		if (c->fd >= 0 && c->waiting_peers && now > c->deadline_ns) {
			c->waiting_peers = false;
			d->peers_request_id = 0;
			reply_error(c, &c->request, -ETIMEDOUT, "the relay did not answer");
		}
	}
}

void daemon_control_client(struct daemon *d, struct daemon_client *c)
{
	uint8_t buf[CTL_MSG_MAX];
	const struct nlmsghdr *req = (const struct nlmsghdr *)buf;
	struct kh_device in;
	struct ucred cred;
	socklen_t cred_len = sizeof(cred);
	const char *why;
	ssize_t n;
	int cmd;

	n = recv(c->fd, buf, sizeof(buf), 0);
	if (n <= 0) {
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			drop_client(d, c);
		return;
	}
	cmd = kh_genl_cmd(req, (size_t)n, KEYHOLE_DAEMON_FAMILY_ID);
	if (cmd < 0) {
		/* Not even a header to answer to. */
		if ((size_t)n >= sizeof(*req))
			reply_error(c, req, -EINVAL, "malformed keyhole netlink message");
		return;
	}
	if (kh_genl_parse_device(req, &in, &why)) {
		reply_error(c, req, -EINVAL, why);
		return;
	}
	getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &cred, &cred_len);
	switch (cmd) {
	case KEYHOLE_CMD_GET_DEVICE:
		get_device(d, c, req, &in, cred.uid == 0);
		break;
	case KEYHOLE_CMD_SET_DEVICE:
		set_device(d, c, req, &in);
		break;
	case KEYHOLE_CMD_GET_PEERS:
		if (!(req->nlmsg_flags & NLM_F_DUMP)) {
			reply_error(c, req, -EOPNOTSUPP, "peers is a dump request");
			break;
		}
		get_peers(d, c, req);
		break;
	case KEYHOLE_CMD_DEL_DEVICE:
		reply_error(c, req, 0, NULL);
		d->stopping = true;
		break;
	default:
		reply_error(c, req, -EOPNOTSUPP, "unknown command");
		break;
	}
	sodium_memzero(&in, sizeof(in));
	sodium_memzero(buf, sizeof(buf));
}
