/* tun.c - the TUN data plane: packets from the kernel go to the relay, or bounce as ICMP while offline. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/if_tun.h>

#include "../common/log.h"
#include "../lib/ippacket.h"
#include "daemon.h"

/* Local ICMP errors while there is no session: enough for every connect() to fail fast. */
#define DAEMON_ICMP_RATE 100
#define DAEMON_ICMP_BURST 200

int daemon_tun_open(struct daemon *d, char *err, size_t err_len)
{
	struct ifreq ifr;
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0) {
		snprintf(err, err_len, "cannot open /dev/net/tun: %s%s", strerror(errno),
			 errno == ENOENT ? " (is the tun module loaded?)" : "");
		return -errno;
	}
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", d->ifname);
	/* TUNSETIFF is the only way to make a TUN device; netlink takes over from here. */
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		int e = errno;

		snprintf(err, err_len, "cannot create TUN device %s: %s%s", d->ifname, strerror(e),
			 e == EBUSY ? " (the name is taken)" : "");
		close(fd);
		return -e;
	}
	d->tun_fd = fd;
	return 0;
}

void daemon_tun_write(struct daemon *d, const uint8_t *pkt, size_t len)
{
	if (write(d->tun_fd, pkt, len) < 0 && errno != EAGAIN)
		kh_debug("tun: write failed: %s", strerror(errno));
}

/* The relay's overlay address (first host of each prefix) answers for the overlay. */
static void relay_overlay_addr(const struct daemon *d, int family, struct kh_ipaddr *a)
{
	uint32_t v4, mask;

	memset(a, 0, sizeof(*a));
	a->family = (uint8_t)family;
	if (family == 4) {
		mask = d->assigned.ipv4_plen ? ~0u << (32 - d->assigned.ipv4_plen) : 0;
		v4 = ((uint32_t)d->assigned.ipv4[0] << 24 | (uint32_t)d->assigned.ipv4[1] << 16 |
		      (uint32_t)d->assigned.ipv4[2] << 8 | d->assigned.ipv4[3]) & mask;
		v4 += 1;
		a->bytes[0] = (uint8_t)(v4 >> 24);
		a->bytes[1] = (uint8_t)(v4 >> 16);
		a->bytes[2] = (uint8_t)(v4 >> 8);
		a->bytes[3] = (uint8_t)v4;
	} else {
		memcpy(a->bytes, d->assigned.ipv6, 6);
		a->bytes[15] = 1;
	}
}

/* No session: never a black hole, answer as the relay would for an offline peer. */
static void bounce(struct daemon *d, const uint8_t *pkt, size_t len)
{
	uint8_t icmp[KH_ICMP_ERROR_MAX];
	struct kh_ipaddr from;
	int n;

	if (!d->has_assigned || len < 1 ||
	    !kh_ratelimit_allow(&d->icmp_rl, DAEMON_ICMP_RATE, DAEMON_ICMP_BURST, daemon_now_ns()))
		return;
	relay_overlay_addr(d, pkt[0] >> 4 == 6 ? 6 : 4, &from);
	n = kh_icmp_unreachable(&from, pkt, len, KH_UNREACH_HOST, icmp, sizeof(icmp));
	if (n > 0)
		daemon_tun_write(d, icmp, (size_t)n);
}

void daemon_tun_receive(struct daemon *d)
{
	static uint8_t bufs[KH_BATCH][KH_PKT_BUF];
	size_t lens[KH_BATCH];
	uint64_t now = daemon_now_ns();
	int n, reads, round, ret;
	bool drained = false;
	ssize_t got;

	/* Bounded per wake-up (4 batches) so the socket and timers get their turn. */
	for (round = 0; round < 4 && !drained; round++) {
		n = 0;
		for (reads = 0; reads < KH_BATCH; reads++) {
			uint8_t *b = bufs[n];

			got = read(d->tun_fd, b + KH_DATA_HEADER_LEN, KH_PKT_BUF - KH_DATA_OVERHEAD);
			if (got < 0) {
				if (errno != EAGAIN && errno != EINTR)
					kh_warn("tun: read failed: %s", strerror(errno));
				drained = true;
				break;
			}
			if (got == 0)
				continue;
			if (d->state != KEYHOLE_SESSION_UP || !d->current.valid) {
				bounce(d, b + KH_DATA_HEADER_LEN, (size_t)got);
				continue;
			}
			/* Seal in place: the header goes in front of the packet, the tag after. */
			ret = kh_transport_seal(&d->current, b + KH_DATA_HEADER_LEN, (size_t)got, b, now);
			if (ret < 0)
				continue;
			lens[n++] = (size_t)ret;
			d->tx_packets++;
			d->tx_bytes += (uint64_t)got;
		}
		if (n > 0)
			daemon_udp_send_batch(d, bufs, lens, (unsigned)n);
	}
}
