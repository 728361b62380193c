/* tun.c - the TUN data plane: packets from the kernel go to the relay, or bounce as ICMP while offline. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <linux/if_tun.h>

#include "../common/log.h"
#include "../lib/gro.h"
#include "../lib/gso.h"
#include "../lib/ippacket.h"
#include "daemon.h"

/* Local ICMP errors while there is no session: enough for every connect() to fail fast. */
#define DAEMON_ICMP_RATE 100
#define DAEMON_ICMP_BURST 200

/*
 * What the kernel may hand over: unchecksummed packets and TCP super-segments of up
 * to 64 KiB, which tun_send splits into MTU-sized segments before sealing (TSO done
 * here, as wireguard-go does since 2023). UDP segmentation (TUN_F_USO*) is not asked
 * for: Debian 12's kernel 6.1 does not have it.
 */
#define TUN_OFFLOADS (TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6)
/* Room for a segment's payload in a seal buffer, header in front and tag behind. */
#define TUN_SEG_MAX (KH_PKT_BUF - KH_DATA_OVERHEAD)
/* Per wake-up, at most this many reads and this many sealed packets (4 batches),
 * so the socket and timers get their turn. */
#define TUN_READS_PER_WAKE (4 * KH_BATCH)
#define TUN_SEALED_PER_WAKE (4 * KH_BATCH)

/* Without offloads each read is still a virtio_net_hdr and one plain packet. */
static void tun_offloads(int fd, const char *ifname)
{
	if (ioctl(fd, TUNSETOFFLOAD, (unsigned long)TUN_OFFLOADS) < 0)
		kh_info("tun: %s: the kernel refused TSO and checksum offloads (%s): "
			"one packet per read", ifname, strerror(errno));
}

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
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI | IFF_VNET_HDR;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", d->ifname);
	/* TUNSETIFF is the only way to make a TUN device; netlink takes over from here. */
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		int e = errno;

		snprintf(err, err_len, "cannot create TUN device %s: %s%s", d->ifname, strerror(e),
			 e == EBUSY ? " (the name is taken)" : "");
		close(fd);
		return -e;
	}
	tun_offloads(fd, d->ifname);
	d->tun_fd = fd;
	return 0;
}

/* One packet as it is: the kernel asks nothing of it, its checksums get verified. */
static void write_plain(struct daemon *d, const uint8_t *pkt, size_t len)
{
	static const struct virtio_net_hdr plain;
	struct iovec iov[2] = {
		{ .iov_base = (void *)&plain, .iov_len = KH_VNET_HDR_LEN },
		{ .iov_base = (void *)pkt, .iov_len = len },
	};

	if (writev(d->tun_fd, iov, 2) < 0 && errno != EAGAIN)
		kh_debug("tun: write failed: %s", strerror(errno));
}

/*
 * Received TCP segments of one flow wait here until the receive batch ends, then go
 * to the kernel as one super-segment (GRO done here, as wireguard-go does): one write
 * and one pass through the stack instead of one per segment. gro.c verifies each
 * segment's checksum before it joins, since the kernel takes the run as checked.
 */
static struct kh_gro tun_gro;
static bool tun_gro_open;

void daemon_tun_flush(struct daemon *d)
{
	struct iovec iov[KH_GRO_MAX_SEGS + 2];
	struct virtio_net_hdr vnet;
	unsigned n, i;

	if (!tun_gro_open)
		return;
	tun_gro_open = false;
	n = kh_gro_finish(&tun_gro, &vnet);
	if (n < 2) {
		write_plain(d, tun_gro.first, tun_gro.first_len);
		return;
	}
	iov[0].iov_base = &vnet;
	iov[0].iov_len = KH_VNET_HDR_LEN;
	iov[1].iov_base = tun_gro.first;
	iov[1].iov_len = tun_gro.hdr_len;
	for (i = 0; i < n; i++) {
		iov[2 + i].iov_base = (void *)tun_gro.payload[i];
		iov[2 + i].iov_len = tun_gro.payload_len[i];
	}
	if (writev(d->tun_fd, iov, (int)n + 2) < 0 && errno != EAGAIN)
		kh_debug("tun: write of %u coalesced segments failed: %s", n, strerror(errno));
}

void daemon_tun_write(struct daemon *d, uint8_t *pkt, size_t len)
{
	if (tun_gro_open && kh_gro_append(&tun_gro, pkt, len))
		return;
	daemon_tun_flush(d);
	if (kh_gro_start(&tun_gro, pkt, len)) {
		tun_gro_open = true;
		return;
	}
	write_plain(d, pkt, len);
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
		write_plain(d, icmp, (size_t)n);
}

/* Sealed datagrams waiting for one sendmmsg. */
struct tun_batch {
	uint8_t (*bufs)[KH_PKT_BUF];
	size_t lens[KH_BATCH];
	unsigned n, sealed;
};

static void batch_flush(struct daemon *d, struct tun_batch *b)
{
	if (b->n > 0)
		daemon_udp_send_batch(d, b->bufs, b->lens, b->n);
	b->n = 0;
}

/* Seal payload into the next slot (it may sit there already, at KH_DATA_HEADER_LEN). */
static void batch_seal(struct daemon *d, struct tun_batch *b, const uint8_t *payload, size_t len,
		       uint64_t now)
{
	int ret = kh_transport_seal(&d->current, payload, len, b->bufs[b->n], now);

	if (ret < 0)
		return;
	b->lens[b->n++] = (size_t)ret;
	b->sealed++;
	d->tx_packets++;
	d->tx_bytes += (uint64_t)len;
	if (b->n == KH_BATCH)
		batch_flush(d, b);
}

/* One read's packet: sealed from where it was read, or split straight into the slots. */
static void tun_send(struct daemon *d, struct tun_batch *b, const struct virtio_net_hdr *vnet,
		     uint8_t *pkt, size_t len, uint64_t now)
{
	struct kh_gso g;
	uint8_t *slot;
	int ret = kh_gso_prepare(&g, vnet, pkt, len, TUN_SEG_MAX);

	if (ret == 0) {
		batch_seal(d, b, pkt, len, now);
		return;
	}
	if (ret < 0) {
		kh_debug("tun: dropped a packet of %zu bytes (gso type %u, size %u): %s", len,
			 vnet->gso_type, vnet->gso_size, strerror(-ret));
		return;
	}
	for (;;) {
		slot = b->bufs[b->n] + KH_DATA_HEADER_LEN;
		ret = kh_gso_next(&g, slot, TUN_SEG_MAX);
		if (ret <= 0)
			break;
		batch_seal(d, b, slot, (size_t)ret, now);
	}
}

void daemon_tun_receive(struct daemon *d)
{
	static uint8_t bufs[KH_BATCH][KH_PKT_BUF];
	/* The largest packet TSO may hand over, behind its virtio_net_hdr. */
	static uint8_t in[KH_VNET_HDR_LEN + KH_GSO_MAX_PACKET];
	struct tun_batch b = { .bufs = bufs };
	struct virtio_net_hdr vnet;
	uint64_t now = daemon_now_ns();
	uint8_t *pkt = in + KH_VNET_HDR_LEN;
	size_t len;
	ssize_t got;
	int reads;

	for (reads = 0; reads < TUN_READS_PER_WAKE && b.sealed < TUN_SEALED_PER_WAKE; reads++) {
		got = read(d->tun_fd, in, sizeof(in));
		if (got < 0) {
			if (errno != EAGAIN && errno != EINTR)
				kh_warn("tun: read failed: %s", strerror(errno));
			break;
		}
		if ((size_t)got <= KH_VNET_HDR_LEN)
			continue;
		memcpy(&vnet, in, KH_VNET_HDR_LEN);
		len = (size_t)got - KH_VNET_HDR_LEN;
		if (d->state != KEYHOLE_SESSION_UP || !d->current.valid) {
			bounce(d, pkt, len);
			continue;
		}
		tun_send(d, &b, &vnet, pkt, len, now);
	}
	batch_flush(d, &b);
}
