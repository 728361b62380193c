/*
 * kmodcheck.c - keyhole.ko's netlink family and data path, driven without keyholed.
 *
 * Usage: kmodcheck IFNAME   (root, in a namespace of its own where IFNAME is a keyhole link
 * that is up with 100.64.0.2/10 and fd00:6b68::2/48; selftests/kmod.sh sets that up)
 *
 * This program plays both keyholed and the relay on loopback: it hands the module a UDP
 * socket, installs keys, and checks what the module sends and takes against the userspace
 * transport code of the TUN data plane (libkeyhole), so the two data planes are shown to
 * speak the same wire format. Every check prints PASS or FAIL; the last line is
 * "N passed, N failed".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/errqueue.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>

#include "../include/uapi/linux/keyhole.h"
#include "../userspace/lib/csum.h"
#include "../userspace/lib/messages.h"
#include "../userspace/lib/transport.h"

#define KMC_BUF 4096

static int passed, failed;

static void check(bool ok, const char *fmt, ...)
{
	va_list ap;

	printf("%s ", ok ? "PASS" : "FAIL");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	if (ok)
		passed++;
	else
		failed++;
}

/* --- generic netlink ------------------------------------------------------------------------ */

struct genl {
	struct mnl_socket *nl;
	uint16_t family;
	uint32_t ctrl_group;
	uint32_t seq;
	char extack[256];
	/* What the last GET_DEVICE said. */
	uint8_t dataplane, key_slots;
	uint32_t mtu, ifindex;
	uint64_t rx_dropped, rx_packets;
	char ifname[IFNAMSIZ];
	/* The last RECV_CTRL. */
	uint32_t ctrl_ifindex;
	uint8_t ctrl_payload[KEYHOLE_CTRL_MAX];
	int ctrl_len;
};

static int family_group_cb(const struct nlattr *attr, void *data)
{
	struct genl *g = data;
	struct nlattr *a;
	const char *name = NULL;
	uint32_t id = 0;

	mnl_attr_for_each_nested(a, attr) {
		if (mnl_attr_get_type(a) == CTRL_ATTR_MCAST_GRP_NAME)
			name = mnl_attr_get_str(a);
		else if (mnl_attr_get_type(a) == CTRL_ATTR_MCAST_GRP_ID)
			id = mnl_attr_get_u32(a);
	}
	if (name && strcmp(name, KEYHOLE_MCGRP_CTRL) == 0)
		g->ctrl_group = id;
	return MNL_CB_OK;
}

static int family_cb(const struct nlmsghdr *nlh, void *data)
{
	struct genl *g = data;
	struct nlattr *a, *grp;

	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr)) {
		if (mnl_attr_get_type(a) == CTRL_ATTR_FAMILY_ID)
			g->family = mnl_attr_get_u16(a);
		else if (mnl_attr_get_type(a) == CTRL_ATTR_MCAST_GROUPS)
			mnl_attr_for_each_nested(grp, a)
				family_group_cb(grp, g);
	}
	return MNL_CB_OK;
}

static int device_cb(const struct nlmsghdr *nlh, void *data)
{
	struct genl *g = data;
	struct nlattr *a;

	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr)) {
		switch (mnl_attr_get_type(a)) {
		case KEYHOLE_A_DATAPLANE: g->dataplane = mnl_attr_get_u8(a); break;
		case KEYHOLE_A_KEY_SLOTS: g->key_slots = mnl_attr_get_u8(a); break;
		case KEYHOLE_A_MTU: g->mtu = mnl_attr_get_u32(a); break;
		case KEYHOLE_A_IFINDEX: g->ifindex = mnl_attr_get_u32(a); break;
		case KEYHOLE_A_RX_DROPPED: g->rx_dropped = mnl_attr_get_u64(a); break;
		case KEYHOLE_A_RX_PACKETS: g->rx_packets = mnl_attr_get_u64(a); break;
		case KEYHOLE_A_IFNAME:
			snprintf(g->ifname, sizeof(g->ifname), "%s", mnl_attr_get_str(a));
			break;
		}
	}
	return MNL_CB_OK;
}

/* The extended ACK's message, when the error carries one. */
static void read_extack(struct genl *g, const struct nlmsghdr *nlh)
{
	const struct nlmsgerr *err = mnl_nlmsg_get_payload(nlh);
	struct nlattr *a;
	size_t off = sizeof(*err);

	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return;
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		off += err->msg.nlmsg_len - sizeof(struct nlmsghdr);
	mnl_attr_for_each(a, nlh, off) {
		if (mnl_attr_get_type(a) == NLMSGERR_ATTR_MSG)
			snprintf(g->extack, sizeof(g->extack), "%s", mnl_attr_get_str(a));
	}
}

/* Send nlh (built in buf) and read until its ACK; 0 or -errno. */
static int genl_talk(struct genl *g, struct nlmsghdr *nlh, mnl_cb_t cb)
{
	char buf[8192];
	int ret;

	g->extack[0] = 0;
	nlh->nlmsg_flags |= NLM_F_ACK;
	nlh->nlmsg_seq = ++g->seq;
	if (mnl_socket_sendto(g->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		struct nlmsghdr *m;
		ssize_t n = mnl_socket_recvfrom(g->nl, buf, sizeof(buf));

		if (n < 0)
			return -errno;
		for (m = (struct nlmsghdr *)buf; mnl_nlmsg_ok(m, (int)n); m = mnl_nlmsg_next(m, (int *)&n)) {
			if (m->nlmsg_seq != g->seq)
				continue;
			if (m->nlmsg_type == NLMSG_ERROR) {
				ret = ((struct nlmsgerr *)mnl_nlmsg_get_payload(m))->error;
				read_extack(g, m);
				return ret;
			}
			if (cb)
				cb(m, g);
		}
	}
}

static struct nlmsghdr *genl_start(struct genl *g, char *buf, uint16_t type, uint8_t cmd)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct genlmsghdr *gh;

	nlh->nlmsg_type = type ? type : g->family;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	gh = mnl_nlmsg_put_extra_header(nlh, sizeof(*gh));
	gh->cmd = cmd;
	gh->version = 1;
	return nlh;
}

static bool genl_open(struct genl *g)
{
	char buf[KMC_BUF];
	struct nlmsghdr *nlh;
	int one = 1;

	memset(g, 0, sizeof(*g));
	g->nl = mnl_socket_open(NETLINK_GENERIC);
	if (!g->nl || mnl_socket_bind(g->nl, 0, MNL_SOCKET_AUTOPID) < 0)
		return false;
	mnl_socket_setsockopt(g->nl, NETLINK_EXT_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(g->nl, NETLINK_CAP_ACK, &one, sizeof(one));
	nlh = genl_start(g, buf, GENL_ID_CTRL, CTRL_CMD_GETFAMILY);
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, KEYHOLE_GENL_NAME);
	return genl_talk(g, nlh, family_cb) == 0 && g->family;
}

static int get_device(struct genl *g, uint32_t ifindex)
{
	char buf[KMC_BUF];
	struct nlmsghdr *nlh = genl_start(g, buf, 0, KEYHOLE_CMD_GET_DEVICE);

	mnl_attr_put_u32(nlh, KEYHOLE_A_IFINDEX, ifindex);
	return genl_talk(g, nlh, device_cb);
}

static int new_keys(struct genl *g, uint32_t ifindex, uint32_t local, uint32_t remote,
		    const uint8_t *send, const uint8_t *recv, size_t key_len)
{
	char buf[KMC_BUF];
	struct nlmsghdr *nlh = genl_start(g, buf, 0, KEYHOLE_CMD_NEW_KEYS);
	struct nlattr *nest;

	mnl_attr_put_u32(nlh, KEYHOLE_A_IFINDEX, ifindex);
	nest = mnl_attr_nest_start(nlh, KEYHOLE_A_KEYPAIR);
	mnl_attr_put_u32(nlh, KEYHOLE_KEYPAIR_A_LOCAL_INDEX, local);
	mnl_attr_put_u32(nlh, KEYHOLE_KEYPAIR_A_REMOTE_INDEX, remote);
	mnl_attr_put(nlh, KEYHOLE_KEYPAIR_A_SEND_KEY, key_len, send);
	mnl_attr_put(nlh, KEYHOLE_KEYPAIR_A_RECV_KEY, KEYHOLE_KEY_LEN, recv);
	mnl_attr_nest_end(nlh, nest);
	return genl_talk(g, nlh, NULL);
}

static int simple_cmd(struct genl *g, uint32_t ifindex, uint8_t cmd)
{
	char buf[KMC_BUF];
	struct nlmsghdr *nlh = genl_start(g, buf, 0, cmd);

	mnl_attr_put_u32(nlh, KEYHOLE_A_IFINDEX, ifindex);
	return genl_talk(g, nlh, NULL);
}

static int send_ctrl(struct genl *g, uint32_t ifindex, const void *payload, size_t len)
{
	char buf[KMC_BUF];
	struct nlmsghdr *nlh = genl_start(g, buf, 0, KEYHOLE_CMD_SEND_CTRL);

	mnl_attr_put_u32(nlh, KEYHOLE_A_IFINDEX, ifindex);
	mnl_attr_put(nlh, KEYHOLE_A_PAYLOAD, len, payload);
	return genl_talk(g, nlh, NULL);
}

static int set_peer(struct genl *g, uint32_t ifindex, int fd, const void *sa, size_t sa_len)
{
	char buf[KMC_BUF];
	struct nlmsghdr *nlh = genl_start(g, buf, 0, KEYHOLE_CMD_SET_PEER);
	uint8_t v4[4] = { 100, 64, 0, 2 }, v6[16] = { 0xfd, 0, 0x6b, 0x68, [15] = 2 };

	mnl_attr_put_u32(nlh, KEYHOLE_A_IFINDEX, ifindex);
	if (fd >= 0)
		mnl_attr_put_u32(nlh, KEYHOLE_A_SOCKET_FD, (uint32_t)fd);
	if (sa)
		mnl_attr_put(nlh, KEYHOLE_A_RELAY_SOCKADDR, sa_len, sa);
	mnl_attr_put(nlh, KEYHOLE_A_ADDR4, 4, v4);
	mnl_attr_put_u8(nlh, KEYHOLE_A_PREFIX4_LEN, 10);
	mnl_attr_put(nlh, KEYHOLE_A_ADDR6, 16, v6);
	mnl_attr_put_u8(nlh, KEYHOLE_A_PREFIX6_LEN, 48);
	return genl_talk(g, nlh, NULL);
}

static int ctrl_cb(const struct nlmsghdr *nlh, void *data)
{
	struct genl *g = data;
	const struct genlmsghdr *gh = mnl_nlmsg_get_payload(nlh);
	struct nlattr *a;

	if (nlh->nlmsg_type != g->family || gh->cmd != KEYHOLE_CMD_RECV_CTRL)
		return MNL_CB_OK;
	mnl_attr_for_each(a, nlh, sizeof(*gh)) {
		if (mnl_attr_get_type(a) == KEYHOLE_A_IFINDEX)
			g->ctrl_ifindex = mnl_attr_get_u32(a);
		else if (mnl_attr_get_type(a) == KEYHOLE_A_PAYLOAD &&
			 mnl_attr_get_payload_len(a) <= sizeof(g->ctrl_payload)) {
			g->ctrl_len = (int)mnl_attr_get_payload_len(a);
			memcpy(g->ctrl_payload, mnl_attr_get_payload(a), (size_t)g->ctrl_len);
		}
	}
	return MNL_CB_OK;
}

/* Wait up to a second for one RECV_CTRL notification on the listening socket. */
static bool wait_ctrl(struct genl *g)
{
	char buf[8192];
	struct pollfd p = { .fd = mnl_socket_get_fd(g->nl), .events = POLLIN };
	ssize_t n;

	g->ctrl_len = -1;
	if (poll(&p, 1, 1000) != 1)
		return false;
	n = mnl_socket_recvfrom(g->nl, buf, sizeof(buf));
	if (n <= 0)
		return false;
	mnl_cb_run(buf, (size_t)n, 0, 0, ctrl_cb, g);
	return g->ctrl_len >= 0;
}

/* --- sockets and packets ----------------------------------------------------------------------- */

static int udp_socket(int family, const char *addr, uint16_t port, struct sockaddr_storage *ss)
{
	socklen_t len = family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	memset(ss, 0, sizeof(*ss));
	ss->ss_family = (sa_family_t)family;
	if (family == AF_INET) {
		inet_pton(AF_INET, addr, &((struct sockaddr_in *)ss)->sin_addr);
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	} else {
		inet_pton(AF_INET6, addr, &((struct sockaddr_in6 *)ss)->sin6_addr);
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
	}
	if (fd < 0 || bind(fd, (struct sockaddr *)ss, len) < 0 ||
	    getsockname(fd, (struct sockaddr *)ss, &len) < 0) {
		fprintf(stderr, "kmodcheck: socket on %s: %s\n", addr, strerror(errno));
		exit(2);
	}
	return fd;
}

/* One datagram within timeout_ms, or -1. */
static ssize_t recv_within(int fd, void *buf, size_t len, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	if (poll(&p, 1, timeout_ms) != 1)
		return -1;
	return recv(fd, buf, len, 0);
}

/* An IPv4 UDP packet src:7 -> 100.64.0.2:dport carrying text. */
static size_t build_udp4(uint8_t *pkt, const char *src, uint16_t dport, const char *text)
{
	size_t tlen = strlen(text), len = 28 + tlen;
	uint8_t dst[4] = { 100, 64, 0, 2 };

	memset(pkt, 0, 28);
	pkt[0] = 0x45;
	pkt[2] = (uint8_t)(len >> 8);
	pkt[3] = (uint8_t)len;
	pkt[8] = 64;
	pkt[9] = 17;
	inet_pton(AF_INET, src, pkt + 12);
	memcpy(pkt + 16, dst, 4);
	kh_csum_store(pkt + 10, kh_csum_add(0, pkt, 20));
	pkt[21] = 7;
	pkt[22] = (uint8_t)(dport >> 8);
	pkt[23] = (uint8_t)dport;
	pkt[24] = (uint8_t)((8 + tlen) >> 8);
	pkt[25] = (uint8_t)(8 + tlen);
	memcpy(pkt + 28, text, tlen); /* UDP checksum 0: none, allowed over IPv4 */
	return len;
}

/* An IPv6 UDP packet fd00:6b68::9 -> fd00:6b68::2:dport carrying text, with its checksum. */
static size_t build_udp6(uint8_t *pkt, uint16_t dport, const char *text)
{
	size_t tlen = strlen(text), ulen = 8 + tlen;

	memset(pkt, 0, 48);
	pkt[0] = 0x60;
	pkt[4] = (uint8_t)(ulen >> 8);
	pkt[5] = (uint8_t)ulen;
	pkt[6] = 17;
	pkt[7] = 64;
	inet_pton(AF_INET6, "fd00:6b68::9", pkt + 8);
	inet_pton(AF_INET6, "fd00:6b68::2", pkt + 24);
	pkt[41] = 7;
	pkt[42] = (uint8_t)(dport >> 8);
	pkt[43] = (uint8_t)dport;
	pkt[44] = (uint8_t)(ulen >> 8);
	pkt[45] = (uint8_t)ulen;
	memcpy(pkt + 48, text, tlen);
	kh_csum_store(pkt + 46, kh_csum_add(kh_csum_pseudo(pkt, 17, ulen), pkt + 40, ulen));
	return 40 + ulen;
}

/* --- the checks ------------------------------------------------------------------------------ */

struct rig {
	struct genl g;       /* requests */
	struct genl listen;  /* RECV_CTRL notifications */
	uint32_t ifindex;
	int node_fd;         /* the daemon's socket, handed to the module */
	int relay_fd;        /* the relay */
	int app4_fd, app6_fd; /* listeners on the overlay addresses */
	struct sockaddr_storage node_addr, relay_addr, app4_addr, app6_addr;
	struct kh_keypair relay_kp; /* the relay's side of the keys */
};

static void check_netlink_refusals(struct rig *r)
{
	char buf[KMC_BUF];
	uint8_t key[KEYHOLE_KEY_LEN] = { 1 };
	struct nlmsghdr *nlh;
	int ret, fd;

	ret = get_device(&r->g, r->ifindex);
	check(ret == 0 && r->g.dataplane == KEYHOLE_DATAPLANE_KERNEL && r->g.mtu == 1420 &&
	      r->g.key_slots == 0, "GET_DEVICE: kernel data plane, MTU %u, no keys (ret %d)",
	      r->g.mtu, ret);
	nlh = genl_start(&r->g, buf, 0, KEYHOLE_CMD_GET_DEVICE);
	ret = genl_talk(&r->g, nlh, NULL);
	check(ret == -EINVAL, "GET_DEVICE without IFINDEX refused: %s", strerror(-ret));
	ret = get_device(&r->g, if_nametoindex("lo"));
	check(ret == -EOPNOTSUPP && strstr(r->g.extack, "not a keyhole device"),
	      "GET_DEVICE on lo refused: %s (extack \"%s\")", strerror(-ret), r->g.extack);
	ret = get_device(&r->g, 999999);
	check(ret == -ENODEV, "GET_DEVICE on no device: %s", strerror(-ret));
	ret = new_keys(&r->g, r->ifindex, 1, 2, key, key, KEYHOLE_KEY_LEN - 1);
	check(ret == -ERANGE && r->g.extack[0], "NEW_KEYS with a 31-byte key refused: %s (\"%s\")",
	      strerror(-ret), r->g.extack);
	nlh = genl_start(&r->g, buf, 0, KEYHOLE_CMD_SET_PEER);
	mnl_attr_put_u32(nlh, KEYHOLE_A_IFINDEX, r->ifindex);
	mnl_attr_put(nlh, KEYHOLE_A_PRIVATE_KEY, sizeof(key), key);
	ret = genl_talk(&r->g, nlh, NULL);
	check(ret == -EINVAL, "SET_PEER with a private key refused (not the kernel's): %s (\"%s\")",
	      strerror(-ret), r->g.extack);
	nlh = genl_start(&r->g, buf, 0, KEYHOLE_CMD_SET_PEER);
	mnl_attr_put_u32(nlh, KEYHOLE_A_IFINDEX, r->ifindex);
	mnl_attr_put(nlh, KEYHOLE_A_RELAY_SOCKADDR, 3, "abc");
	ret = genl_talk(&r->g, nlh, NULL);
	check(ret == -EINVAL && r->g.extack[0], "SET_PEER with a 3-byte sockaddr refused: \"%s\"",
	      r->g.extack);
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ret = set_peer(&r->g, r->ifindex, fd, NULL, 0);
	close(fd);
	check(ret == -ENOTSOCK && r->g.extack[0], "SET_PEER with /dev/null refused: %s (\"%s\")",
	      strerror(-ret), r->g.extack);
	ret = simple_cmd(&r->g, r->ifindex, KEYHOLE_CMD_SWAP_KEYS);
	check(ret == -ENOKEY, "SWAP_KEYS with an empty next slot refused: %s", strerror(-ret));
	ret = send_ctrl(&r->g, r->ifindex, "", 0);
	check(ret == -ENOKEY, "SEND_CTRL without keys refused: %s", strerror(-ret));
	ret = send_ctrl(&r->g, r->ifindex, "\x45", 1);
	check(ret == -EINVAL, "SEND_CTRL of an IP packet refused: %s (\"%s\")", strerror(-ret),
	      r->g.extack);
}

/* A process without CAP_NET_ADMIN may neither read nor change a device nor listen. */
static void check_unprivileged(struct rig *r)
{
	pid_t pid = fork();
	int status;

	if (pid == 0) {
		struct genl g;
		unsigned int group;
		int code = 0;

		if (!genl_open(&g))
			_exit(10);
		group = g.ctrl_group;
		if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
			_exit(11);
		if (get_device(&g, r->ifindex) != -EPERM)
			code |= 1;
		if (simple_cmd(&g, r->ifindex, KEYHOLE_CMD_DEL_KEYS) != -EPERM)
			code |= 2;
		if (mnl_socket_setsockopt(g.nl, NETLINK_ADD_MEMBERSHIP, &group, sizeof(group)) == 0)
			code |= 4;
		_exit(code);
	}
	waitpid(pid, &status, 0);
	check(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "unprivileged GET_DEVICE, DEL_KEYS and joining \"ctrl\" refused (status %d)",
	      WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

/* The relay's side: open what the module sent (the TUN data plane's own code). */
static int relay_open(struct rig *r, uint8_t *msg, size_t len, uint8_t *out, uint32_t *receiver,
		      uint64_t *counter)
{
	*receiver = kh_get_le32(msg + KH_DATA_RECEIVER_OFF);
	*counter = kh_get_le64(msg + KH_DATA_COUNTER_OFF);
	return kh_transport_open(&r->relay_kp, msg, len, out, 0);
}

/* The relay sends payload to the node under receiver index `to`. */
static void relay_send(struct rig *r, struct kh_keypair *kp, const uint8_t *payload, size_t len,
		       uint8_t *msg, size_t *msg_len)
{
	int n = kh_transport_seal(kp, payload, len, msg, 0);

	*msg_len = (size_t)n;
	sendto(r->relay_fd, msg, (size_t)n, 0, (struct sockaddr *)&r->node_addr,
	       sizeof(struct sockaddr_in));
}

/* A UDP socket connected to 100.64.0.9:9, through the keyhole device. */
static int far_socket(void)
{
	struct sockaddr_in far = { .sin_family = AF_INET, .sin_port = htons(9) };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), one = 1;

	inet_pton(AF_INET, "100.64.0.9", &far.sin_addr);
	/* Host unreachable is a soft error: UDP reports it only to sockets that ask. */
	if (fd < 0 || setsockopt(fd, SOL_IP, IP_RECVERR, &one, sizeof(one)) < 0 ||
	    connect(fd, (struct sockaddr *)&far, sizeof(far)) < 0) {
		fprintf(stderr, "kmodcheck: connect to 100.64.0.9: %s\n", strerror(errno));
		exit(2);
	}
	return fd;
}

/* Who sent the ICMP error queued on fd, as text. */
static void error_offender(int fd, char *text, size_t len)
{
	char control[256], data[64];
	struct iovec iov = { .iov_base = data, .iov_len = sizeof(data) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
			     .msg_controllen = sizeof(control) };
	struct cmsghdr *c;

	snprintf(text, len, "none");
	if (recvmsg(fd, &mh, MSG_ERRQUEUE | MSG_DONTWAIT) < 0)
		return;
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		struct sock_extended_err *ee = (struct sock_extended_err *)CMSG_DATA(c);
		struct sockaddr_in *from = (struct sockaddr_in *)SO_EE_OFFENDER(ee);

		if (c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR &&
		    ee->ee_origin == SO_EE_ORIGIN_ICMP)
			inet_ntop(AF_INET, &from->sin_addr, text, (socklen_t)len);
	}
}

/* No keys: the stack hears "unreachable" at once, from the relay's overlay address, and
 * nothing leaves. */
static void check_no_keys(struct rig *r, const char *when)
{
	uint8_t buf[2048];
	char offender[INET6_ADDRSTRLEN];
	int fd = far_socket();
	ssize_t n;

	send(fd, "x", 1, 0);
	n = recv_within(fd, buf, sizeof(buf), 1000);
	check(n < 0 && errno == EHOSTUNREACH, "%s: a send is answered with host unreachable (%s)",
	      when, n < 0 ? strerror(errno) : "a reply");
	error_offender(fd, offender, sizeof(offender));
	check(strcmp(offender, "100.64.0.1") == 0, "%s: the error comes from 100.64.0.1 (%s)", when,
	      offender);
	close(fd);
	n = recv_within(r->relay_fd, buf, sizeof(buf), 200);
	check(n < 0, "%s: nothing reached the relay", when);
}

static void check_transmit(struct rig *r)
{
	uint8_t msg[2048], out[2048];
	uint32_t receiver = 0;
	uint64_t counter = 99;
	ssize_t n;
	int ret, fd = far_socket();

	ret = send_ctrl(&r->g, r->ifindex, "", 0);
	check(ret == 0, "SEND_CTRL keepalive: %s", strerror(-ret));
	n = recv_within(r->relay_fd, msg, sizeof(msg), 1000);
	ret = n > 0 ? relay_open(r, msg, (size_t)n, out, &receiver, &counter) : -1;
	check(n == KH_DATA_OVERHEAD && ret == 0 && receiver == 0x22 && counter == 0,
	      "the keepalive reached the relay: %zd bytes, receiver %#x, counter %llu, opens: %d", n,
	      receiver, (unsigned long long)counter, ret);

	send(fd, "ping", 4, 0);
	n = recv_within(r->relay_fd, msg, sizeof(msg), 1000);
	ret = n > 0 ? relay_open(r, msg, (size_t)n, out, &receiver, &counter) : -1;
	check(ret == 32 && out[0] == 0x45 && out[9] == 17 && !memcmp(out + 16, "\x64\x40\x00\x09", 4) &&
	      !memcmp(out + 28, "ping", 4) && counter == 1,
	      "a UDP packet to 100.64.0.9 reached the relay sealed, counter 1 (inner %d bytes)", ret);
	close(fd);
}

static void check_receive(struct rig *r)
{
	uint8_t pkt[256], msg[512], in[256], saved[512];
	size_t len, msg_len, saved_len;
	uint64_t dropped;
	ssize_t n;

	len = build_udp4(pkt, "100.64.0.9", ntohs(((struct sockaddr_in *)&r->app4_addr)->sin_port),
			 "pong");
	relay_send(r, &r->relay_kp, pkt, len, msg, &msg_len);
	memcpy(saved, msg, msg_len);
	saved_len = msg_len;
	n = recv_within(r->app4_fd, in, sizeof(in), 1000);
	check(n == 4 && !memcmp(in, "pong", 4), "an IPv4 packet from the relay reached the app");

	get_device(&r->g, r->ifindex);
	dropped = r->g.rx_dropped;
	sendto(r->relay_fd, saved, saved_len, 0, (struct sockaddr *)&r->node_addr,
	       sizeof(struct sockaddr_in));
	n = recv_within(r->app4_fd, in, sizeof(in), 300);
	get_device(&r->g, r->ifindex);
	check(n < 0 && r->g.rx_dropped == dropped + 1, "a replayed message is dropped (dropped %llu)",
	      (unsigned long long)r->g.rx_dropped);

	len = build_udp4(pkt, "10.1.2.3", ntohs(((struct sockaddr_in *)&r->app4_addr)->sin_port),
			 "spoof");
	relay_send(r, &r->relay_kp, pkt, len, msg, &msg_len);
	n = recv_within(r->app4_fd, in, sizeof(in), 300);
	get_device(&r->g, r->ifindex);
	check(n < 0 && r->g.rx_dropped == dropped + 2,
	      "an inner source outside the overlay is dropped (dropped %llu)",
	      (unsigned long long)r->g.rx_dropped);

	len = build_udp4(pkt, "100.64.0.9", ntohs(((struct sockaddr_in *)&r->app4_addr)->sin_port),
			 "tamper");
	kh_transport_seal(&r->relay_kp, pkt, len, msg, 0);
	msg_len = len + KH_DATA_OVERHEAD;
	msg[KH_DATA_HEADER_LEN + 5] ^= 0x20;
	sendto(r->relay_fd, msg, msg_len, 0, (struct sockaddr *)&r->node_addr,
	       sizeof(struct sockaddr_in));
	n = recv_within(r->app4_fd, in, sizeof(in), 300);
	get_device(&r->g, r->ifindex);
	check(n < 0 && r->g.rx_dropped == dropped + 3, "a tampered message is dropped (dropped %llu)",
	      (unsigned long long)r->g.rx_dropped);

	len = build_udp6(pkt, ntohs(((struct sockaddr_in6 *)&r->app6_addr)->sin6_port), "pong6");
	relay_send(r, &r->relay_kp, pkt, len, msg, &msg_len);
	n = recv_within(r->app6_fd, in, sizeof(in), 1000);
	check(n == 5 && !memcmp(in, "pong6", 5), "an IPv6 packet from the relay reached the app");
}

static void check_control(struct rig *r)
{
	static const uint8_t goodbye[4] = { 0x01, 0, 0, 0 };
	uint8_t msg[512], in[512];
	size_t msg_len;
	ssize_t n;

	relay_send(r, &r->relay_kp, goodbye, sizeof(goodbye), msg, &msg_len);
	check(wait_ctrl(&r->listen) && r->listen.ctrl_ifindex == r->ifindex &&
	      r->listen.ctrl_len == 4 && !memcmp(r->listen.ctrl_payload, goodbye, 4),
	      "a control message from the relay went up as RECV_CTRL (%d bytes)", r->listen.ctrl_len);
	relay_send(r, &r->relay_kp, NULL, 0, msg, &msg_len);
	check(wait_ctrl(&r->listen) && r->listen.ctrl_len == 0,
	      "a keepalive from the relay went up as an empty RECV_CTRL");

	/* Not transport, or not under a key the module holds: the daemon's socket gets it. */
	memset(msg, 0, sizeof(msg));
	kh_put_header(msg, KH_MSG_INITIATION);
	sendto(r->relay_fd, msg, 148, 0, (struct sockaddr *)&r->node_addr, sizeof(struct sockaddr_in));
	n = recv_within(r->node_fd, in, sizeof(in), 1000);
	check(n == 148 && in[0] == KH_MSG_INITIATION, "a handshake message went to the daemon's socket");
	kh_put_header(msg, KH_MSG_TRANSPORT);
	kh_put_le32(msg + KH_DATA_RECEIVER_OFF, 0x99);
	sendto(r->relay_fd, msg, 64, 0, (struct sockaddr *)&r->node_addr, sizeof(struct sockaddr_in));
	n = recv_within(r->node_fd, in, sizeof(in), 1000);
	check(n == 64 && kh_get_le32(in + KH_DATA_RECEIVER_OFF) == 0x99,
	      "a transport message under an unknown index went to the daemon's socket");
}

static void keypair(struct kh_keypair *kp, uint8_t send_byte, uint8_t recv_byte, uint32_t local,
		    uint32_t remote)
{
	struct noise_split s;

	memset(s.send, send_byte, sizeof(s.send));
	memset(s.recv, recv_byte, sizeof(s.recv));
	kh_keypair_init(kp, &s, local, remote, false, 0);
}

static void check_rotation(struct rig *r)
{
	uint8_t ka[32], kb[32], msg[512], in[512], pkt[256];
	struct kh_keypair old_relay = r->relay_kp, new_relay;
	uint32_t receiver;
	uint64_t counter;
	size_t len, msg_len;
	ssize_t n;
	int ret;

	memset(ka, 0xc1, sizeof(ka));
	memset(kb, 0xd2, sizeof(kb));
	ret = new_keys(&r->g, r->ifindex, 0x33, 0x44, ka, kb, sizeof(ka));
	get_device(&r->g, r->ifindex);
	check(ret == 0 && r->g.key_slots == 3, "NEW_KEYS fills the next slot (slots %#x)",
	      r->g.key_slots);
	keypair(&new_relay, 0xd2, 0xc1, 0x44, 0x33);
	len = build_udp4(pkt, "100.64.0.9", ntohs(((struct sockaddr_in *)&r->app4_addr)->sin_port),
			 "next");
	relay_send(r, &new_relay, pkt, len, msg, &msg_len);
	n = recv_within(r->app4_fd, in, sizeof(in), 1000);
	check(n == 4, "a message under the next keys is taken before the swap");
	ret = simple_cmd(&r->g, r->ifindex, KEYHOLE_CMD_SWAP_KEYS);
	get_device(&r->g, r->ifindex);
	check(ret == 0 && r->g.key_slots == 5, "SWAP_KEYS: next is primary, primary previous (slots %#x)",
	      r->g.key_slots);
	send_ctrl(&r->g, r->ifindex, "", 0);
	n = recv_within(r->relay_fd, msg, sizeof(msg), 1000);
	receiver = n > 0 ? kh_get_le32(msg + KH_DATA_RECEIVER_OFF) : 0;
	counter = n > 0 ? kh_get_le64(msg + KH_DATA_COUNTER_OFF) : 99;
	ret = n > 0 ? kh_transport_open(&new_relay, msg, (size_t)n, in, 0) : -1;
	check(receiver == 0x44 && counter == 0 && ret == 0,
	      "after the swap the module sends under the new keys from counter 0");
	len = build_udp4(pkt, "100.64.0.9", ntohs(((struct sockaddr_in *)&r->app4_addr)->sin_port),
			 "late");
	relay_send(r, &old_relay, pkt, len, msg, &msg_len);
	n = recv_within(r->app4_fd, in, sizeof(in), 1000);
	check(n == 4 && !memcmp(in, "late", 4), "a late message under the previous keys is still taken");
	r->relay_kp = new_relay;
	kh_keypair_wipe(&old_relay);

	ret = simple_cmd(&r->g, r->ifindex, KEYHOLE_CMD_DEL_KEYS);
	get_device(&r->g, r->ifindex);
	check(ret == 0 && r->g.key_slots == 0, "DEL_KEYS empties every slot");
	relay_send(r, &r->relay_kp, pkt, len, msg, &msg_len);
	n = recv_within(r->node_fd, in, sizeof(in), 1000);
	check(n == (ssize_t)msg_len, "after DEL_KEYS the relay's messages go to the daemon's socket");
}

/* keyholed's netlink socket closing (exit, SIGKILL) takes the keys and the socket with it. */
static void check_owner_gone(struct rig *r)
{
	uint8_t ka[32], kb[32];
	struct genl owner;
	int ret, i;

	memset(ka, 0xe3, sizeof(ka));
	memset(kb, 0xf4, sizeof(kb));
	if (!genl_open(&owner)) {
		check(false, "a genl socket for the owner test");
		return;
	}
	ret = set_peer(&owner, r->ifindex, r->node_fd, NULL, 0);
	if (!ret)
		ret = new_keys(&owner, r->ifindex, 0x55, 0x66, ka, kb, sizeof(ka));
	if (!ret)
		ret = simple_cmd(&owner, r->ifindex, KEYHOLE_CMD_SWAP_KEYS);
	get_device(&r->g, r->ifindex);
	check(ret == 0 && r->g.key_slots == 1, "another socket hands over the UDP socket and keys");
	mnl_socket_close(owner.nl);
	for (i = 0; i < 100; i++) {
		get_device(&r->g, r->ifindex);
		if (r->g.key_slots == 0)
			break;
		usleep(10000);
	}
	check(r->g.key_slots == 0, "when that socket closes the keys go at once (%d ms)", i * 10);
	ret = send_ctrl(&r->g, r->ifindex, "", 0);
	check(ret == -ENOKEY, "and nothing is sent any more: %s", strerror(-ret));
}

/*
 * --hold: hand the module a socket and keys, say "holding", and wait for a line on stdin
 * (meanwhile kmod.sh unloads the module under it). Then the socket must be an ordinary one
 * again: a transport message sent to it arrives in userspace. Exit 0 when it does.
 */
static int hold(struct rig *r)
{
	uint8_t ka[32], kb[32], msg[64], in[64];
	char line[16];
	ssize_t n;
	int ret;

	memset(ka, 0x17, sizeof(ka));
	memset(kb, 0x28, sizeof(kb));
	r->node_fd = udp_socket(AF_INET, "127.0.0.1", 0, &r->node_addr);
	r->relay_fd = udp_socket(AF_INET, "127.0.0.1", 0, &r->relay_addr);
	ret = set_peer(&r->g, r->ifindex, r->node_fd, &r->relay_addr, sizeof(struct sockaddr_in));
	if (!ret)
		ret = new_keys(&r->g, r->ifindex, 0x77, 0x88, ka, kb, sizeof(ka));
	if (!ret)
		ret = simple_cmd(&r->g, r->ifindex, KEYHOLE_CMD_SWAP_KEYS);
	if (!ret)
		ret = send_ctrl(&r->g, r->ifindex, "", 0);
	if (ret) {
		fprintf(stderr, "kmodcheck: --hold: %s\n", strerror(-ret));
		return 1;
	}
	printf("holding\n");
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		return 1;
	memset(msg, 0, sizeof(msg));
	kh_put_header(msg, KH_MSG_TRANSPORT);
	kh_put_le32(msg + KH_DATA_RECEIVER_OFF, 0x77);
	sendto(r->relay_fd, msg, sizeof(msg), 0, (struct sockaddr *)&r->node_addr,
	       sizeof(struct sockaddr_in));
	n = recv_within(r->node_fd, in, sizeof(in), 2000);
	printf("%s\n", n == (ssize_t)sizeof(msg) ? "released" : "lost");
	return n == (ssize_t)sizeof(msg) ? 0 : 1;
}

int main(int argc, char **argv)
{
	struct rig r;
	uint8_t ka[32], kb[32];
	unsigned int group;
	bool holding = argc == 3 && !strcmp(argv[1], "--hold");
	int ret;

	if (argc != 2 && !holding) {
		fprintf(stderr, "usage: kmodcheck [--hold] IFNAME\n");
		return 2;
	}
	memset(&r, 0, sizeof(r));
	r.ifindex = if_nametoindex(argv[argc - 1]);
	if (!r.ifindex) {
		fprintf(stderr, "kmodcheck: no interface %s\n", argv[argc - 1]);
		return 2;
	}
	if (holding)
		return genl_open(&r.g) ? hold(&r) : 1;
	check(genl_open(&r.g) && r.g.ctrl_group, "the genl controller knows \"keyhole\" and its \"ctrl\" group");
	if (!r.g.family)
		goto out;
	check_netlink_refusals(&r);
	check_unprivileged(&r);

	r.node_fd = udp_socket(AF_INET, "127.0.0.1", 0, &r.node_addr);
	r.relay_fd = udp_socket(AF_INET, "127.0.0.1", 0, &r.relay_addr);
	r.app4_fd = udp_socket(AF_INET, "100.64.0.2", 0, &r.app4_addr);
	r.app6_fd = udp_socket(AF_INET6, "fd00:6b68::2", 0, &r.app6_addr);
	ret = set_peer(&r.g, r.ifindex, r.node_fd, &r.relay_addr, sizeof(struct sockaddr_in));
	check(ret == 0, "SET_PEER with the daemon's socket and the relay's address: %s", strerror(-ret));
	ret = set_peer(&r.g, r.ifindex, r.node_fd, NULL, 0);
	check(ret == 0, "SET_PEER with the same socket again is accepted");

	memset(ka, 0xa1, sizeof(ka));
	memset(kb, 0xb2, sizeof(kb));
	keypair(&r.relay_kp, 0xb2, 0xa1, 0x22, 0x11);
	check_no_keys(&r, "no keys");
	ret = new_keys(&r.g, r.ifindex, 0x11, 0x22, ka, kb, sizeof(ka));
	if (ret == 0)
		ret = simple_cmd(&r.g, r.ifindex, KEYHOLE_CMD_SWAP_KEYS);
	get_device(&r.g, r.ifindex);
	check(ret == 0 && r.g.key_slots == 1, "NEW_KEYS + SWAP_KEYS install a primary keypair");
	check_transmit(&r);

	if (!genl_open(&r.listen))
		check(false, "a second genl socket");
	group = r.listen.ctrl_group;
	check(mnl_socket_setsockopt(r.listen.nl, NETLINK_ADD_MEMBERSHIP, &group, sizeof(group)) == 0,
	      "root joins the \"ctrl\" group");
	check_receive(&r);
	check_control(&r);
	check_rotation(&r);
	check_no_keys(&r, "after DEL_KEYS");
	check_owner_gone(&r);
out:
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
