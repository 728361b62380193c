/* udp.c - sockets of the relay: recvmmsg into fixed buffers, replies and forwards batched into sendmmsg. */
#include "udp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/log.h"
#include "relay.h"

/* Bound the work per wake-up so timers and the control socket get their turn. */
#define RELAY_MAX_BATCHES_PER_WAKE 16
#define RELAY_SOCKET_BUFFER (4 * 1024 * 1024)

struct tx_queue {
	struct mmsghdr msgs[RELAY_BATCH * 2];
	struct iovec iov[RELAY_BATCH * 2];
	struct sockaddr_storage addr[RELAY_BATCH * 2];
	unsigned n;
};

struct relay_udp {
	int fds[KH_RELAY_MAX_LISTEN];
	int nfds;
	uint8_t rx[RELAY_BATCH][RELAY_BUF_SIZE];
	struct mmsghdr rx_msgs[RELAY_BATCH];
	struct iovec rx_iov[RELAY_BATCH];
	struct sockaddr_storage rx_addr[RELAY_BATCH];
	uint8_t txpool[RELAY_TXPOOL][RELAY_BUF_SIZE];
	unsigned txpool_used;
	struct tx_queue q[KH_RELAY_MAX_LISTEN];
};

static int open_one(const char *addr, uint16_t port, char *err, size_t err_len)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, off = 0, size = RELAY_SOCKET_BUFFER;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, addr, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		ss.ss_family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_port = htons(port);
		len = sizeof(struct sockaddr_in);
	} else if (inet_pton(AF_INET6, addr, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		ss.ss_family = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(port);
		len = sizeof(struct sockaddr_in6);
	} else {
		snprintf(err, err_len, "listen address '%s' is neither IPv4 nor IPv6", addr);
		return -EINVAL;
	}
	fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, err_len, "cannot create a UDP socket: %s", strerror(errno));
		return -errno;
	}
	/* "::" serves IPv4 too, as v4-mapped addresses. */
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
	/* Room for bursts; FORCE works as root and is harmless otherwise. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)))
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	/* No SO_REUSEPORT: with it a second relay of the same user (another state
	 * directory) would bind this port too and silently take half the traffic.
	 * Workers sharing the port will set it together, once there are workers. */
	if (bind(fd, (struct sockaddr *)&ss, len)) {
		int e = errno;

		snprintf(err, err_len, "cannot listen on %s%s%s port %u: %s",
			 ss.ss_family == AF_INET6 ? "[" : "", addr,
			 ss.ss_family == AF_INET6 ? "]" : "", port, strerror(e));
		close(fd);
		return -e;
	}
	return fd;
}

int relay_udp_open(struct relay *r, char *err, size_t err_len)
{
	struct relay_udp *u = calloc(1, sizeof(*u));
	int i, fd;

	if (!u) {
		snprintf(err, err_len, "out of memory for socket buffers");
		return -ENOMEM;
	}
	r->udp = u;
	for (i = 0; i < (r->cfg.nlisten ? r->cfg.nlisten : 1); i++) {
		fd = open_one(r->cfg.nlisten ? r->cfg.listen[i] : "::", r->cfg.port, err, err_len);
		if (fd < 0)
			return fd;
		u->fds[u->nfds++] = fd;
	}
	for (i = 0; i < RELAY_BATCH; i++) {
		u->rx_iov[i].iov_base = u->rx[i];
		u->rx_iov[i].iov_len = RELAY_BUF_SIZE;
	}
	return 0;
}

void relay_udp_close(struct relay *r)
{
	int i;

	if (!r->udp)
		return;
	for (i = 0; i < r->udp->nfds; i++)
		close(r->udp->fds[i]);
	free(r->udp);
	r->udp = NULL;
}

int relay_udp_fd(const struct relay *r, int sock)
{
	return r->udp->fds[sock];
}

int relay_udp_count(const struct relay *r)
{
	return r->udp->nfds;
}

static void send_queues(struct relay *r);

/* Callers queue each buffer before asking for the next, so a full pool is all queued. */
uint8_t *relay_udp_txbuf(struct relay *r)
{
	if (r->udp->txpool_used == RELAY_TXPOOL)
		relay_udp_flush(r);
	return r->udp->txpool[r->udp->txpool_used++];
}

void relay_udp_queue(struct relay *r, int sock, uint8_t *buf, size_t len,
		     const struct sockaddr *dst, socklen_t dst_len)
{
	struct tx_queue *q = &r->udp->q[sock];
	unsigned i;

	/* Send what is queued, but keep the pool: buf may be one of its buffers. */
	if (q->n == RELAY_BATCH * 2)
		send_queues(r);
	i = q->n++;
	q->iov[i].iov_base = buf;
	q->iov[i].iov_len = len;
	memcpy(&q->addr[i], dst, dst_len);
	memset(&q->msgs[i], 0, sizeof(q->msgs[i]));
	q->msgs[i].msg_hdr.msg_iov = &q->iov[i];
	q->msgs[i].msg_hdr.msg_iovlen = 1;
	q->msgs[i].msg_hdr.msg_name = &q->addr[i];
	q->msgs[i].msg_hdr.msg_namelen = dst_len;
}

static void send_queues(struct relay *r)
{
	struct relay_udp *u = r->udp;
	int s, sent;
	unsigned done;

	for (s = 0; s < u->nfds; s++) {
		struct tx_queue *q = &u->q[s];

		for (done = 0; done < q->n;) {
			sent = sendmmsg(u->fds[s], q->msgs + done, q->n - done, MSG_DONTWAIT);
			if (sent < 0 && errno == EINTR)
				continue;
			if (sent <= 0) {
				/* Skip the datagram that failed (full buffer, unreachable
				 * endpoint) and go on with the rest. */
				r->counters[RC_DROP_SEND]++;
				done++;
				continue;
			}
			done += (unsigned)sent;
		}
		q->n = 0;
	}
}

void relay_udp_flush(struct relay *r)
{
	send_queues(r);
	r->udp->txpool_used = 0;
}

static void dispatch(struct relay *r, int sock, uint8_t *buf, size_t len,
		     const struct sockaddr_storage *src, socklen_t src_len)
{
	r->counters[RC_RX_DATAGRAMS]++;
	/* Sessions keep the source in a union relay_endpoint; an IPv4 or IPv6
	 * socket never reports a longer one, but a source that does not fit is dropped. */
	if (src_len > sizeof(union relay_endpoint)) {
		r->counters[RC_DROP_MALFORMED]++;
		return;
	}
	switch (kh_msg_type(buf, len)) {
	case KH_MSG_INITIATION:
		relay_handle_initiation(r, sock, src, src_len, buf, len);
		break;
	case KH_MSG_TRANSPORT:
		relay_handle_transport(r, sock, src, src_len, buf, len);
		break;
	default:
		/* Responses and cookie replies only ever go to nodes. */
		r->counters[RC_DROP_MALFORMED]++;
		break;
	}
}

void relay_udp_receive(struct relay *r, int sock)
{
	struct relay_udp *u = r->udp;
	int batch, n, i;

	for (batch = 0; batch < RELAY_MAX_BATCHES_PER_WAKE; batch++) {
		for (i = 0; i < RELAY_BATCH; i++) {
			memset(&u->rx_msgs[i], 0, sizeof(u->rx_msgs[i]));
			u->rx_msgs[i].msg_hdr.msg_iov = &u->rx_iov[i];
			u->rx_msgs[i].msg_hdr.msg_iovlen = 1;
			u->rx_msgs[i].msg_hdr.msg_name = &u->rx_addr[i];
			u->rx_msgs[i].msg_hdr.msg_namelen = sizeof(u->rx_addr[i]);
		}
		n = recvmmsg(u->fds[sock], u->rx_msgs, RELAY_BATCH, MSG_DONTWAIT, NULL);
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				kh_warn("udp: receive failed: %s", strerror(errno));
			break;
		}
		for (i = 0; i < n; i++) {
			if (u->rx_msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
				r->counters[RC_DROP_MALFORMED]++;
				continue;
			}
			dispatch(r, sock, u->rx[i], u->rx_msgs[i].msg_len, &u->rx_addr[i],
				 u->rx_msgs[i].msg_hdr.msg_namelen);
		}
		/* Forwards point into the receive buffers: send before reusing them. */
		relay_udp_flush(r);
		if (n < RELAY_BATCH)
			break;
	}
}

void relay_endpoint_str(const struct sockaddr *sa, char *out, size_t len)
{
	char addr[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &sin->sin_addr, addr, sizeof(addr));
		snprintf(out, len, "%s:%u", addr, ntohs(sin->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;

		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			inet_ntop(AF_INET, &sin6->sin6_addr.s6_addr[12], addr, sizeof(addr));
			snprintf(out, len, "%s:%u", addr, ntohs(sin6->sin6_port));
		} else {
			inet_ntop(AF_INET6, &sin6->sin6_addr, addr, sizeof(addr));
			snprintf(out, len, "[%s]:%u", addr, ntohs(sin6->sin6_port));
		}
	} else {
		snprintf(out, len, "(none)");
	}
}
