/* udp.c - keyholed's one UDP socket towards the relay: unbound, so a new local address just works. */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../common/log.h"
#include "../lib/messages.h"
#include "daemon.h"

#define DAEMON_SOCKET_BUFFER (2 * 1024 * 1024)

int daemon_udp_prepare(struct daemon *d, int family)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 0 };
	int fd, size = DAEMON_SOCKET_BUFFER;
	struct sockaddr_storage local;
	socklen_t len = sizeof(local);

	if (d->udp_fd >= 0 && getsockname(d->udp_fd, (struct sockaddr *)&local, &len) == 0 &&
	    local.ss_family == family)
		return 0;
	fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)))
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	if (d->udp_fd >= 0) {
		epoll_ctl(d->epoll_fd, EPOLL_CTL_DEL, d->udp_fd, NULL);
		close(d->udp_fd);
	}
	d->udp_fd = fd;
	d->udp_gen++;
	ev.data.u64 = 1; /* the loop's tag for the UDP socket */
	if (epoll_ctl(d->epoll_fd, EPOLL_CTL_ADD, fd, &ev))
		return -errno;
	return 0;
}

int daemon_udp_send(struct daemon *d, const uint8_t *buf, size_t len)
{
	if (d->udp_fd < 0 || !d->relay_resolved)
		return -ENOTCONN;
	if (sendto(d->udp_fd, buf, len, MSG_DONTWAIT, (const struct sockaddr *)&d->relay_addr,
		   d->relay_addr_len) < 0)
		return -errno;
	d->last_tx_ns = daemon_now_ns();
	return 0;
}

void daemon_udp_send_batch(struct daemon *d, uint8_t (*bufs)[KH_PKT_BUF], const size_t *lens,
			   unsigned count)
{
	struct mmsghdr msgs[KH_BATCH];
	struct iovec iov[KH_BATCH];
	unsigned i, done = 0;
	int sent;

	if (d->udp_fd < 0 || !d->relay_resolved || count > KH_BATCH)
		return;
	for (i = 0; i < count; i++) {
		iov[i].iov_base = bufs[i];
		iov[i].iov_len = lens[i];
		memset(&msgs[i], 0, sizeof(msgs[i]));
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
		msgs[i].msg_hdr.msg_name = &d->relay_addr;
		msgs[i].msg_hdr.msg_namelen = d->relay_addr_len;
	}
	/* One system call for the whole batch; a datagram the kernel refuses is skipped. */
	while (done < count) {
		sent = sendmmsg(d->udp_fd, msgs + done, count - done, MSG_DONTWAIT);
		if (sent < 0 && errno == EINTR)
			continue;
		if (sent <= 0) {
			done++;
			continue;
		}
		done += (unsigned)sent;
	}
	d->last_tx_ns = daemon_now_ns();
}

void daemon_udp_receive(struct daemon *d)
{
	static uint8_t bufs[KH_BATCH][KH_PKT_BUF];
	struct mmsghdr msgs[KH_BATCH];
	struct iovec iov[KH_BATCH];
	int n, i, rounds;

	for (rounds = 0; rounds < 4; rounds++) {
		for (i = 0; i < KH_BATCH; i++) {
			iov[i].iov_base = bufs[i];
			iov[i].iov_len = sizeof(bufs[i]);
			memset(&msgs[i], 0, sizeof(msgs[i]));
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
		}
		n = recvmmsg(d->udp_fd, msgs, KH_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return;
		for (i = 0; i < n; i++) {
			size_t len = msgs[i].msg_len;

			if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC)
				continue;
			switch (kh_msg_type(bufs[i], len)) {
			case KH_MSG_RESPONSE:
				daemon_handle_response(d, bufs[i], len);
				break;
			case KH_MSG_COOKIE_REPLY:
				daemon_handle_cookie(d, bufs[i], len);
				break;
			case KH_MSG_TRANSPORT:
				daemon_handle_transport(d, bufs[i], len);
				break;
			default:
				break;
			}
		}
		if (n < KH_BATCH)
			return;
	}
}
