/* udp.c - keyholed's one UDP socket towards the relay: unbound, so a new local address just works. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
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

/*
 * UDP GSO (UDP_SEGMENT, Linux 4.18): a run of equal datagrams, the last maybe
 * shorter, goes down the stack as one; the kernel splits it before the wire (or
 * the relay's socket does, past veth), so the relay still sees plain datagrams.
 * Bounds: the kernel's UDP_MAX_SEGMENTS (64 in 6.1) and a UDP length under 64 KiB.
 */
#define UDP_GSO_MAX_SEGS 64
#define UDP_GSO_MAX_BYTES 65000

/* How many datagrams from lens[i] on can go as one GSO send. */
static unsigned gso_run(const size_t *lens, unsigned i, unsigned count)
{
	size_t total = lens[i];
	unsigned j = i + 1;

	while (j < count && j - i < UDP_GSO_MAX_SEGS && lens[j] <= lens[i] &&
	       total + lens[j] <= UDP_GSO_MAX_BYTES) {
		total += lens[j];
		if (lens[j++] < lens[i])
			break; /* only the last may be shorter */
	}
	return j - i;
}

union gso_cmsg {
	char buf[CMSG_SPACE(sizeof(uint16_t))];
	struct cmsghdr align;
};

/* Messages for datagrams first..count, runs grouped under UDP_SEGMENT when gso. Returns
 * the number of messages; starts[m] is message m's first datagram. */
static unsigned build_msgs(struct daemon *d, struct mmsghdr *msgs, struct iovec *iov,
			   union gso_cmsg *ctl, unsigned *starts, const size_t *lens,
			   unsigned first, unsigned count, bool gso)
{
	struct cmsghdr *cm;
	unsigned i, m = 0, run;
	uint16_t seg;

	for (i = first; i < count; i += run, m++) {
		run = gso ? gso_run(lens, i, count) : 1;
		memset(&msgs[m], 0, sizeof(msgs[m]));
		msgs[m].msg_hdr.msg_iov = &iov[i];
		msgs[m].msg_hdr.msg_iovlen = run;
		msgs[m].msg_hdr.msg_name = &d->relay_addr;
		msgs[m].msg_hdr.msg_namelen = d->relay_addr_len;
		starts[m] = i;
		if (run < 2)
			continue;
		msgs[m].msg_hdr.msg_control = ctl[m].buf;
		msgs[m].msg_hdr.msg_controllen = sizeof(ctl[m].buf);
		cm = CMSG_FIRSTHDR(&msgs[m].msg_hdr);
		cm->cmsg_level = SOL_UDP;
		cm->cmsg_type = UDP_SEGMENT;
		cm->cmsg_len = CMSG_LEN(sizeof(seg));
		seg = (uint16_t)lens[i];
		memcpy(CMSG_DATA(cm), &seg, sizeof(seg));
	}
	return m;
}

void daemon_udp_send_batch(struct daemon *d, uint8_t (*bufs)[KH_PKT_BUF], const size_t *lens,
			   unsigned count)
{
	struct mmsghdr msgs[KH_BATCH];
	struct iovec iov[KH_BATCH];
	union gso_cmsg ctl[KH_BATCH];
	unsigned i, starts[KH_BATCH], nmsgs, done = 0;
	int sent;

	if (d->udp_fd < 0 || !d->relay_resolved || count > KH_BATCH)
		return;
	for (i = 0; i < count; i++) {
		iov[i].iov_base = bufs[i];
		iov[i].iov_len = lens[i];
	}
	nmsgs = build_msgs(d, msgs, iov, ctl, starts, lens, 0, count, !d->udp_gso_off);
	/* One system call for the whole batch; a message the kernel refuses is skipped. */
	while (done < nmsgs) {
		sent = sendmmsg(d->udp_fd, msgs + done, nmsgs - done, MSG_DONTWAIT);
		if (sent < 0 && errno == EINTR)
			continue;
		if (sent < 0 && (errno == EIO || errno == EINVAL) &&
		    msgs[done].msg_hdr.msg_controllen) {
			/* No checksum offload on the route's device (EIO), or a path MTU
			 * below the datagrams (EINVAL, which the kernel would fragment). */
			kh_info("udp: the kernel refused UDP GSO (%s): one datagram per send",
				strerror(errno));
			d->udp_gso_off = true;
			nmsgs = build_msgs(d, msgs, iov, ctl, starts, lens, starts[done], count,
					   false);
			done = 0;
			continue;
		}
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
		/* What was coalesced points into bufs: out before the next recvmmsg. */
		daemon_tun_flush(d);
		if (n < KH_BATCH)
			return;
	}
}
