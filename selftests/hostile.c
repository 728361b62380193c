/* hostile.c - an impostor's traffic against a real relay: random junk, replayed and mangled initiations from a capture, a flood of fresh initiations. */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "../userspace/lib/handshake.h"
#include "../userspace/lib/key.h"

#define NS_PER_MS 1000000ULL
#define NS_PER_S 1000000000ULL

/* Random datagrams go up to a typical Ethernet MTU's worth of payload. */
#define RANDOM_MAX_LEN 1500
/* Bounds on the counts so a typo cannot turn a test into a multi-hour run. */
#define MAX_COUNT 10000000UL
#define MAX_SECONDS 3600.0
#define DEFAULT_SECONDS 5.0
/* Each part waits this long for the relay's late answers, so they are counted
 * with the part that caused them: loopback and a veth pair answer within a few
 * ms; 300 ms leaves room for a busy (or sanitized) relay. */
#define DRAIN_MS 300
/* Room for a flood's cookie replies between two of our polls. */
#define SOCKET_BUFFER (1024 * 1024)
/* Truncated copies of a replayed initiation: every 7th length, so each region of
 * the message (header, e, s, payload, macs) is cut at least once or twice. */
#define TRUNC_STEP 7
/* Captures are read whole: tcpdump's MAXIMUM_SNAPLEN per record, a file size
 * far above what a test's capture holds, and a cap on initiations replayed. */
#define PCAP_MAX_RECORD 262144U
#define PCAP_MAX_FILE (64U * 1024 * 1024)
#define MAX_REPLAYED 4096

/* Classic libpcap magics as read little endian: micro- and nanosecond stamps. */
#define PCAP_MAGIC_US 0xa1b2c3d4U
#define PCAP_MAGIC_NS 0xa1b23c4dU
#define PCAP_GLOBAL_LEN 24
#define PCAP_RECORD_LEN 16

/* tcpdump's link types (www.tcpdump.org/linktypes.html). */
#define LINKTYPE_ETHERNET 1
#define LINKTYPE_RAW 101
#define LINKTYPE_LINUX_SLL 113
#define LINKTYPE_IPV4 228
#define LINKTYPE_IPV6 229
#define LINKTYPE_LINUX_SLL2 276

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

static uint16_t get_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get_u32(const uint8_t *p, bool be)
{
	return be ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]
		  : kh_get_le32(p);
}

/* ---- the capture parser: pure, takes a buffer, never trusts a length ---- */

struct pcap_stats {
	unsigned long records; /* whole records read */
	unsigned long udp;     /* UDP datagrams handed to the callback */
	unsigned long skipped; /* records that were not whole, unfragmented UDP over IP */
	bool truncated;        /* the file ends inside a record, or a record lies about its size */
};

typedef void (*pcap_udp_fn)(const uint8_t *payload, size_t len, uint16_t dst_port, void *ctx);

/* Where the IP header starts in a frame; its version (4 or 6), or 0 to skip it. */
static int link_to_ip(uint32_t linktype, const uint8_t *p, size_t len, size_t *off)
{
	uint16_t proto;
	int tags = 0;

	switch (linktype) {
	case LINKTYPE_ETHERNET:
		if (len < 14)
			return 0;
		proto = get_be16(p + 12);
		*off = 14;
		/* 802.1Q and 802.1ad tags, at most two as QinQ stacks them. */
		while ((proto == 0x8100 || proto == 0x88a8) && tags++ < 2) {
			if (len - *off < 4)
				return 0;
			proto = get_be16(p + *off + 2);
			*off += 4;
		}
		break;
	case LINKTYPE_LINUX_SLL:
		if (len < 16)
			return 0;
		proto = get_be16(p + 14);
		*off = 16;
		break;
	case LINKTYPE_LINUX_SLL2:
		if (len < 20)
			return 0;
		proto = get_be16(p);
		*off = 20;
		break;
	default: /* raw IP: the version nibble says which */
		*off = 0;
		if (len < 1 || (linktype == LINKTYPE_IPV4 && p[0] >> 4 != 4) ||
		    (linktype == LINKTYPE_IPV6 && p[0] >> 4 != 6))
			return 0;
		return p[0] >> 4 == 4 || p[0] >> 4 == 6 ? p[0] >> 4 : 0;
	}
	return proto == 0x0800 ? 4 : proto == 0x86dd ? 6 : 0;
}

/* The UDP payload in an IP packet of len captured bytes; false to skip the packet. */
static bool ip_to_udp(const uint8_t *p, size_t len, int version, const uint8_t **payload,
		      size_t *payload_len, uint16_t *dst_port)
{
	size_t off, end, udp_len;
	uint8_t next;
	int ext;

	if (version == 4) {
		if (len < 20 || p[0] >> 4 != 4)
			return false;
		off = (size_t)(p[0] & 0x0f) * 4;
		end = get_be16(p + 2);
		/* A total length beyond the capture is a cut or lying packet; fragments
		 * (MF set or an offset) cannot be read without reassembly. */
		if (off < 20 || end < off || end > len || (get_be16(p + 6) & 0x3fff) || p[9] != 17)
			return false;
	} else {
		if (len < 40 || p[0] >> 4 != 6)
			return false;
		end = 40 + (size_t)get_be16(p + 4);
		if (end > len)
			return false;
		next = p[6];
		off = 40;
		/* Hop-by-hop, routing and destination options may precede UDP; a
		 * fragment header or anything else ends the walk. */
		for (ext = 0; next != 17; ext++) {
			if (ext == 8 || (next != 0 && next != 43 && next != 60) || end - off < 8)
				return false;
			next = p[off];
			off += ((size_t)p[off + 1] + 1) * 8;
			if (off > end)
				return false;
		}
	}
	if (end - off < 8)
		return false;
	udp_len = get_be16(p + off + 4);
	if (udp_len < 8 || udp_len > end - off)
		return false;
	*dst_port = get_be16(p + off + 2);
	*payload = p + off + 8;
	*payload_len = udp_len - 8;
	return true;
}

/*
 * Walk a classic libpcap capture held in buf and hand every whole UDP datagram
 * over IPv4 or IPv6 to fn. Returns 0, or -EINVAL if buf is not a classic pcap
 * and -EPROTONOSUPPORT for a link type it cannot read. A record that runs past
 * the end of buf or claims more than PCAP_MAX_RECORD ends the walk: with no
 * framing to resynchronise on, nothing after it can be trusted.
 */
static int pcap_parse(const uint8_t *buf, size_t len, pcap_udp_fn fn, void *ctx,
		      struct pcap_stats *st)
{
	uint32_t magic, linktype, incl;
	const uint8_t *rec, *payload;
	size_t off, ip_off, payload_len;
	uint16_t port;
	bool be;
	int version;

	memset(st, 0, sizeof(*st));
	if (len < PCAP_GLOBAL_LEN)
		return -EINVAL;
	magic = kh_get_le32(buf);
	if (magic == PCAP_MAGIC_US || magic == PCAP_MAGIC_NS)
		be = false;
	else if (__builtin_bswap32(magic) == PCAP_MAGIC_US ||
		 __builtin_bswap32(magic) == PCAP_MAGIC_NS)
		be = true;
	else
		return -EINVAL;
	/* The upper bits may carry FCS flags; the type itself is the low 16. */
	linktype = get_u32(buf + 20, be) & 0xffff;
	if (linktype != LINKTYPE_ETHERNET && linktype != LINKTYPE_LINUX_SLL &&
	    linktype != LINKTYPE_LINUX_SLL2 && linktype != LINKTYPE_RAW &&
	    linktype != LINKTYPE_IPV4 && linktype != LINKTYPE_IPV6)
		return -EPROTONOSUPPORT;
	for (off = PCAP_GLOBAL_LEN; off < len;) {
		if (len - off < PCAP_RECORD_LEN) {
			st->truncated = true;
			break;
		}
		incl = get_u32(buf + off + 8, be);
		if (incl > PCAP_MAX_RECORD || incl > len - off - PCAP_RECORD_LEN) {
			st->truncated = true;
			break;
		}
		rec = buf + off + PCAP_RECORD_LEN;
		off += PCAP_RECORD_LEN + incl;
		st->records++;
		version = link_to_ip(linktype, rec, incl, &ip_off);
		if (!version ||
		    !ip_to_udp(rec + ip_off, incl - ip_off, version, &payload, &payload_len, &port)) {
			st->skipped++;
			continue;
		}
		st->udp++;
		fn(payload, payload_len, port, ctx);
	}
	return 0;
}

/* The initiations sent to one port: what the replay part sends again. */
struct initiations {
	uint16_t port;
	size_t n;
	const uint8_t *msg[MAX_REPLAYED];
	size_t len[MAX_REPLAYED];
	unsigned long beyond; /* found but over MAX_REPLAYED */
};

static void collect_initiation(const uint8_t *payload, size_t len, uint16_t dst_port, void *ctx)
{
	struct initiations *in = ctx;

	if (dst_port != in->port || kh_msg_type(payload, len) != KH_MSG_INITIATION)
		return;
	if (in->n == MAX_REPLAYED) {
		in->beyond++;
		return;
	}
	in->msg[in->n] = payload;
	in->len[in->n++] = len;
}

/* ---- sending ---- */

struct hostile {
	int fd;
	uint64_t deadline_ns;
	unsigned long sent, send_errors, refused, replies, cookie_replies, responses;
	int first_errno;
};

/* Count what the relay sends back, without waiting. */
static void drain(struct hostile *h)
{
	uint8_t buf[2048];
	ssize_t n;

	while ((n = recv(h->fd, buf, sizeof(buf), MSG_DONTWAIT)) >= 0 || errno == ECONNREFUSED) {
		/* An ICMP port unreachable surfaces here once: nobody listens there. */
		if (n < 0) {
			h->refused++;
			continue;
		}
		h->replies++;
		if (kh_msg_type(buf, (size_t)n) == KH_MSG_COOKIE_REPLY && n == KH_COOKIE_REPLY_LEN)
			h->cookie_replies++;
		else if (kh_msg_type(buf, (size_t)n) == KH_MSG_RESPONSE && n == KH_RESP_LEN)
			h->responses++;
	}
}

/* One datagram; a failed send is counted, not fatal: the relay may be gone and the
 * suite, not we, says whether that is a failure. */
static void send_one(struct hostile *h, const uint8_t *p, size_t len)
{
	if (send(h->fd, p, len, 0) == (ssize_t)len) {
		h->sent++;
	} else {
		if (!h->send_errors++)
			h->first_errno = errno;
	}
	drain(h);
}

/* Count late answers for DRAIN_MS. --seconds bounds the sending: the wait is
 * added to the deadline, so a short run still reaches every part. */
static void drain_late(struct hostile *h)
{
	struct pollfd pfd = { .fd = h->fd, .events = POLLIN };
	uint64_t start = now_ns(), end = start + DRAIN_MS * NS_PER_MS;
	int left;

	while ((left = (int)((int64_t)(end - now_ns()) / (int64_t)NS_PER_MS)) > 0) {
		if (poll(&pfd, 1, left) > 0)
			drain(h);
	}
	h->deadline_ns += now_ns() - start;
}

static bool out_of_time(const struct hostile *h)
{
	return now_ns() >= h->deadline_ns;
}

/* The tail every summary line shares: errors, unexpected answers, time. */
static void print_tail(const struct hostile *h, uint64_t start, bool cut)
{
	if (h->send_errors)
		printf(", %lu send errors (first: %s)", h->send_errors, strerror(h->first_errno));
	if (h->refused)
		printf(", %lu port unreachable", h->refused);
	printf(" in %.3f s%s\n", (double)(now_ns() - start) / 1e9,
	       cut ? ", stopped at the time limit" : "");
	fflush(stdout);
}

static void reset_counts(struct hostile *h)
{
	h->sent = h->send_errors = h->refused = h->replies = h->cookie_replies = h->responses = 0;
}

static void part_random(struct hostile *h, unsigned long count)
{
	uint8_t buf[RANDOM_MAX_LEN];
	uint64_t start = now_ns();
	unsigned long i;
	size_t len;

	reset_counts(h);
	for (i = 0; i < count && !out_of_time(h); i++) {
		len = 1 + randombytes_uniform(RANDOM_MAX_LEN);
		randombytes_buf(buf, len);
		/* A third get past the relay's first check and reach a type's handler. */
		if (i % 3 == 0) {
			len = KH_HEADER_LEN + randombytes_uniform(RANDOM_MAX_LEN - KH_HEADER_LEN + 1);
			kh_put_header(buf, (enum kh_msg_type)(1 + randombytes_uniform(4)));
		}
		send_one(h, buf, len);
	}
	drain_late(h);
	printf("random: %lu sent", h->sent);
	if (h->replies)
		printf(", %lu replies", h->replies);
	print_tail(h, start, i < count);
}

/* Positions to flip in a replayed initiation: the header, the index, e, enc(s),
 * enc(payload), both ends of mac1 and of mac2. */
static const int flip_at[] = { 0, 1, 2, 4, 8, 40, 88, -32, -17, -16, -1 };

static void part_replay(struct hostile *h, const struct initiations *in)
{
	static uint8_t copy[65536]; /* any UDP payload */
	uint64_t start = now_ns();
	size_t i, k, len, pos;
	bool cut = false;

	reset_counts(h);
	for (i = 0; i < in->n && !(cut = out_of_time(h)); i++) {
		len = in->len[i] < sizeof(copy) ? in->len[i] : sizeof(copy);
		memcpy(copy, in->msg[i], len);
		send_one(h, copy, len);
		for (k = 1; k < len && !(cut = out_of_time(h)); k += TRUNC_STEP)
			send_one(h, copy, k);
		for (k = 0; k < sizeof(flip_at) / sizeof(flip_at[0]) && !cut &&
			    !(cut = out_of_time(h)); k++) {
			if (flip_at[k] < 0 ? (size_t)-flip_at[k] > len : (size_t)flip_at[k] >= len)
				continue;
			pos = flip_at[k] < 0 ? len - (size_t)-flip_at[k] : (size_t)flip_at[k];
			copy[pos] ^= 0xff;
			send_one(h, copy, len);
			copy[pos] ^= 0xff;
		}
	}
	drain_late(h);
	printf("replay: %zu initiations from the capture, %lu datagrams sent", in->n, h->sent);
	/* Answers to replays: none while the relay remembers the node's newest
	 * timestamp; after a restart it has forgotten it (relay.md). */
	if (h->replies)
		printf(", %lu replies (%lu responses)", h->replies, h->responses);
	print_tail(h, start, cut);
}

static void part_flood(struct hostile *h, unsigned long count, const uint8_t relay_pub[32])
{
	static const uint8_t psk[NOISE_PSK_LEN];
	uint8_t msg[KH_INIT_MAX_LEN], ts[KH_TAI64N_LEN];
	struct noise_static node;
	struct noise_handshake hs;
	struct kh_cookie_maker cm;
	struct timespec wall;
	uint64_t start = now_ns();
	unsigned long i, built = 0;
	int len;

	reset_counts(h);
	/* Never given a cookie: mac2 stays zero, as from a source that cannot
	 * receive the relay's replies. */
	kh_cookie_maker_init(&cm, relay_pub);
	for (i = 0; i < count && !out_of_time(h); i++) {
		kh_key_generate(node.priv);
		clock_gettime(CLOCK_REALTIME, &wall);
		kh_tai64n(ts, wall.tv_sec, (uint32_t)wall.tv_nsec);
		len = kh_key_public(node.pub, node.priv) ? -EINVAL
			: kh_handshake_initiate(&hs, &cm, &node, relay_pub, psk,
						randombytes_random(), ts, NULL, NULL, msg, now_ns());
		noise_handshake_wipe(&hs);
		sodium_memzero(&node, sizeof(node));
		if (len < 0)
			continue;
		built++;
		send_one(h, msg, (size_t)len);
	}
	drain_late(h);
	kh_cookie_maker_wipe(&cm);
	printf("flood: %lu initiations sent, %lu cookie replies, %lu responses", h->sent,
	       h->cookie_replies, h->responses);
	if (built < i)
		printf(", %lu not built", i - built);
	print_tail(h, start, i < count);
}

/* ---- arguments ---- */

/* HOST:PORT with an IPv4 literal, or [IPv6]:PORT. */
static bool parse_addr(const char *s, struct sockaddr_storage *ss, socklen_t *ss_len)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	char host[INET6_ADDRSTRLEN + 1];
	const char *colon, *port;
	bool v6 = s[0] == '[';
	unsigned long p;
	char *end;
	size_t n;

	memset(ss, 0, sizeof(*ss));
	if (v6) {
		colon = strstr(s, "]:");
		if (!colon)
			return false;
		n = (size_t)(colon - s - 1);
		port = colon + 2;
		s++;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return false;
		n = (size_t)(colon - s);
		port = colon + 1;
	}
	if (n == 0 || n >= sizeof(host) || *port < '0' || *port > '9')
		return false;
	memcpy(host, s, n);
	host[n] = '\0';
	errno = 0;
	p = strtoul(port, &end, 10);
	if (errno || *end || p == 0 || p > 65535)
		return false;
	if (!v6 && inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)p);
		*ss_len = sizeof(*sin);
		return true;
	}
	if (v6 && inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)p);
		*ss_len = sizeof(*sin6);
		return true;
	}
	return false;
}

static bool parse_count(const char *s, unsigned long *out)
{
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	*out = strtoul(s, &end, 10);
	return !errno && !*end && *out <= MAX_COUNT;
}

/* The whole file, bounded; NULL with errno set. */
static uint8_t *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;

	if (!f)
		return NULL;
	buf = malloc(PCAP_MAX_FILE + 1);
	if (!buf) {
		fclose(f);
		errno = ENOMEM;
		return NULL;
	}
	*len = fread(buf, 1, PCAP_MAX_FILE + 1, f);
	if (ferror(f) || *len > PCAP_MAX_FILE) {
		errno = ferror(f) ? EIO : EFBIG;
		fclose(f);
		free(buf);
		return NULL;
	}
	fclose(f);
	return buf;
}

static int usage_error(const char *what, const char *arg)
{
	fprintf(stderr, "hostile: %s%s%s (usage: hostile --relay HOST:PORT --relay-key BASE64 "
			"[--pcap FILE] [--random N] [--flood N] [--seconds S] | hostile --self-test)\n",
		what, arg ? " " : "", arg ? arg : "");
	return 2;
}

static int self_test(void);

int main(int argc, char *argv[])
{
	static struct initiations in;
	struct sockaddr_storage relay = { .ss_family = AF_UNSPEC };
	socklen_t relay_len = 0;
	uint8_t relay_pub[32], *pcap = NULL;
	const char *relay_arg = NULL, *key_arg = NULL, *pcap_arg = NULL, *why, *opt, *val;
	unsigned long n_random = 0, n_flood = 0;
	double seconds = DEFAULT_SECONDS;
	struct hostile h = { .fd = -1 };
	struct pcap_stats st;
	size_t pcap_len = 0;
	int i, ret, size = SOCKET_BUFFER;
	char *end;

	if (sodium_init() < 0) {
		fprintf(stderr, "hostile: cannot initialise libsodium\n");
		return 1;
	}
	if (argc == 2 && !strcmp(argv[1], "--self-test"))
		return self_test();
	for (i = 1; i < argc; i += 2) {
		opt = argv[i];
		val = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(opt, "--self-test"))
			return usage_error("--self-test takes no other arguments", NULL);
		if (strcmp(opt, "--relay") && strcmp(opt, "--relay-key") && strcmp(opt, "--pcap") &&
		    strcmp(opt, "--random") && strcmp(opt, "--flood") && strcmp(opt, "--seconds"))
			return usage_error("unknown argument", opt);
		if (!val)
			return usage_error("missing value after", opt);
		if (!strcmp(opt, "--relay")) {
			relay_arg = val;
			if (!parse_addr(val, &relay, &relay_len))
				return usage_error("--relay wants IPv4:PORT or [IPv6]:PORT, not", val);
		} else if (!strcmp(opt, "--relay-key")) {
			key_arg = val;
			if (kh_key_from_base64(relay_pub, val, strlen(val), &why))
				return usage_error("--relay-key is not a key:", why);
		} else if (!strcmp(opt, "--pcap")) {
			pcap_arg = val;
		} else if (!strcmp(opt, "--random") || !strcmp(opt, "--flood")) {
			if (!parse_count(val, opt[2] == 'r' ? &n_random : &n_flood))
				return usage_error("counts are whole numbers up to 10000000, not", val);
		} else {
			errno = 0;
			seconds = strtod(val, &end);
			if (errno || *end || end == val || !isfinite(seconds) || seconds <= 0 ||
			    seconds > MAX_SECONDS)
				return usage_error("--seconds wants a number of seconds in (0, 3600], not",
						   val);
		}
	}
	if (!relay_arg || !key_arg)
		return usage_error("--relay and --relay-key are required", NULL);
	if (pcap_arg) {
		pcap = read_file(pcap_arg, &pcap_len);
		if (!pcap) {
			fprintf(stderr, "hostile: cannot read %s: %s\n", pcap_arg, strerror(errno));
			return 2;
		}
		in.port = ntohs(relay.ss_family == AF_INET
					? ((struct sockaddr_in *)&relay)->sin_port
					: ((struct sockaddr_in6 *)&relay)->sin6_port);
		ret = pcap_parse(pcap, pcap_len, collect_initiation, &in, &st);
		if (ret) {
			fprintf(stderr, "hostile: %s: %s\n", pcap_arg,
				ret == -EINVAL ? "not a classic libpcap file (pcapng? use tcpdump -w)"
					       : "link type not Ethernet, Linux cooked or raw IP");
			free(pcap);
			return 2;
		}
		if (st.truncated)
			fprintf(stderr, "hostile: warning: %s ends in a cut or lying record\n",
				pcap_arg);
		if (in.beyond)
			fprintf(stderr, "hostile: warning: replaying the first %d initiations, %lu more left out\n",
				MAX_REPLAYED, in.beyond);
	}

	h.fd = socket(relay.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (h.fd < 0 || connect(h.fd, (struct sockaddr *)&relay, relay_len)) {
		fprintf(stderr, "hostile: cannot open a UDP socket to %s: %s\n", relay_arg,
			strerror(errno));
		free(pcap);
		return 1;
	}
	/* FORCE passes rmem_max as root (the suite runs as root); harmless otherwise. */
	if (setsockopt(h.fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)))
		setsockopt(h.fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	h.deadline_ns = now_ns() + (uint64_t)(seconds * 1e9);
	if (n_random)
		part_random(&h, n_random);
	if (pcap_arg)
		part_replay(&h, &in);
	if (n_flood)
		part_flood(&h, n_flood, relay_pub);
	close(h.fd);
	free(pcap);
	return 0;
}

/* ---- --self-test: captures built in memory, parsed back ---- */

/* A capture under construction, in the file's own byte order. */
struct pcap_writer {
	uint8_t buf[4096];
	size_t len;
	bool be;
	size_t record; /* where the open record's header starts */
};

static void w_bytes(struct pcap_writer *w, const void *p, size_t n)
{
	memcpy(w->buf + w->len, p, n);
	w->len += n;
}

static void w_be16(struct pcap_writer *w, uint16_t v)
{
	w->buf[w->len++] = (uint8_t)(v >> 8);
	w->buf[w->len++] = (uint8_t)v;
}

static void w_u32(struct pcap_writer *w, uint32_t v)
{
	if (w->be) {
		w_be16(w, (uint16_t)(v >> 16));
		w_be16(w, (uint16_t)v);
	} else {
		kh_put_le32(w->buf + w->len, v);
		w->len += 4;
	}
}

static void w_begin(struct pcap_writer *w, bool be, uint32_t magic, uint32_t linktype)
{
	w->len = 0;
	w->be = be;
	w_u32(w, magic);
	w_be16(w, w->be ? 2 : 0x0200); /* version 2.4 in file order */
	w_be16(w, w->be ? 4 : 0x0400);
	w_u32(w, 0);
	w_u32(w, 0);
	w_u32(w, 65535);
	w_u32(w, linktype);
}

static void w_record(struct pcap_writer *w)
{
	w->record = w->len;
	w->len += PCAP_RECORD_LEN;
}

/* Close the record; extra_incl makes it claim more bytes than it holds. */
static void w_end(struct pcap_writer *w, uint32_t extra_incl)
{
	size_t at = w->len, n = w->len - w->record - PCAP_RECORD_LEN;

	w->len = w->record;
	w_u32(w, 1700000000);
	w_u32(w, 0);
	w_u32(w, (uint32_t)n + extra_incl);
	w_u32(w, (uint32_t)n + extra_incl);
	w->len = at;
}

enum lie { LIE_NONE, LIE_IP, LIE_UDP };

/* An IPv4 or IPv6 packet carrying UDP to dst_port; a lie claims 100 bytes too many. */
static void w_ip_udp(struct pcap_writer *w, int version, uint16_t dst_port, const uint8_t *payload,
		     size_t len, enum lie lie, bool hop_by_hop)
{
	static const uint8_t v4[8] = { 192, 0, 2, 1, 192, 0, 2, 2 };
	uint8_t v6[32] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1, [16] = 0x20, 0x01, 0x0d, 0xb8, [31] = 2 };
	uint16_t udp_len = (uint16_t)(8 + len), ext = hop_by_hop ? 8 : 0;

	if (version == 4) {
		w_be16(w, 0x4500);
		w_be16(w, (uint16_t)(20 + udp_len + (lie == LIE_IP ? 100 : 0)));
		w_be16(w, 0);
		w_be16(w, 0x4000); /* DF, not a fragment */
		w_be16(w, 0x4011);
		w_be16(w, 0);
		w_bytes(w, v4, sizeof(v4));
	} else {
		w_be16(w, 0x6000);
		w_be16(w, 0);
		w_be16(w, (uint16_t)(ext + udp_len + (lie == LIE_IP ? 100 : 0)));
		w_be16(w, (uint16_t)((hop_by_hop ? 0 : 17) << 8 | 64));
		w_bytes(w, v6, sizeof(v6));
		if (hop_by_hop) {
			w_be16(w, 17 << 8); /* next header UDP, length 8 bytes */
			w_be16(w, 0x0104); /* PadN filling the rest */
			w_u32(w, 0);
		}
	}
	w_be16(w, 40000);
	w_be16(w, dst_port);
	w_be16(w, (uint16_t)(udp_len + (lie == LIE_UDP ? 100 : 0)));
	w_be16(w, 0);
	w_bytes(w, payload, len);
}

struct seen {
	size_t n;
	const uint8_t *payload[16];
	size_t len[16];
	uint16_t port[16];
};

static void remember(const uint8_t *payload, size_t len, uint16_t dst_port, void *ctx)
{
	struct seen *s = ctx;

	if (s->n == 16)
		return;
	s->payload[s->n] = payload;
	s->len[s->n] = len;
	s->port[s->n++] = dst_port;
}

static bool test_failed;

#define CHECK(cond)                                                                  \
	do {                                                                         \
		if (!(cond)) {                                                       \
			printf("hostile self-test: %s:%d: expected %s\n", __FILE__, \
			       __LINE__, #cond);                                     \
			test_failed = true;                                          \
		}                                                                    \
	} while (0)

static bool seen_is(const struct seen *s, size_t i, const void *payload, size_t len,
		    uint16_t port)
{
	return i < s->n && s->len[i] == len && s->port[i] == port &&
	       !memcmp(s->payload[i], payload, len);
}

/* Every prefix and many one-byte corruptions of a capture, each from a buffer of
 * exactly its size, so the sanitizers see any read past the end. */
static void check_mangled(const struct pcap_writer *w, size_t whole_udp)
{
	struct pcap_stats st;
	struct seen s;
	uint8_t *copy;
	size_t n;
	int i;

	for (n = 0; n <= w->len; n++) {
		copy = malloc(n ? n : 1);
		if (!copy)
			return;
		memcpy(copy, w->buf, n);
		s.n = 0;
		if (pcap_parse(copy, n, remember, &s, &st) == 0)
			CHECK(st.udp <= whole_udp);
		free(copy);
	}
	copy = malloc(w->len);
	if (!copy)
		return;
	for (i = 0; i < 5000; i++) {
		memcpy(copy, w->buf, w->len);
		copy[randombytes_uniform((uint32_t)w->len)] = (uint8_t)randombytes_uniform(256);
		s.n = 0;
		pcap_parse(copy, w->len, remember, &s, &st);
		CHECK(st.udp == s.n || s.n == 16);
	}
	free(copy);
}

static int self_test(void)
{
	static struct pcap_writer w;
	static struct initiations in;
	uint8_t init[KH_INIT_MIN_LEN];
	static const uint8_t dns[] = "not keyhole", vlan[] = "tagged";
	struct pcap_stats st;
	struct seen s = { 0 };
	size_t i;

	for (i = 0; i < sizeof(init); i++)
		init[i] = (uint8_t)(i * 7);
	kh_put_header(init, KH_MSG_INITIATION);

	/* Ethernet, little endian, microseconds: IPv4 records, two of them lying. */
	w_begin(&w, false, PCAP_MAGIC_US, LINKTYPE_ETHERNET);
	w_record(&w);
	w_bytes(&w, "\x02\0\0\0\0\1\x02\0\0\0\0\2\x08\x00", 14);
	w_ip_udp(&w, 4, 45999, init, sizeof(init), LIE_NONE, false);
	w_end(&w, 0);
	w_record(&w);
	w_bytes(&w, "\x02\0\0\0\0\1\x02\0\0\0\0\2\x08\x00", 14);
	w_ip_udp(&w, 4, 53, dns, sizeof(dns), LIE_NONE, false);
	w_end(&w, 0);
	w_record(&w);
	w_bytes(&w, "\x02\0\0\0\0\1\x02\0\0\0\0\2\x08\x00", 14);
	w_ip_udp(&w, 4, 45999, init, sizeof(init), LIE_IP, false);
	w_end(&w, 0);
	w_record(&w);
	w_bytes(&w, "\x02\0\0\0\0\1\x02\0\0\0\0\2\x08\x00", 14);
	w_ip_udp(&w, 4, 45999, init, sizeof(init), LIE_UDP, false);
	w_end(&w, 0);
	w_record(&w);
	w_bytes(&w, "\x02\0\0\0\0\1\x02\0\0\0\0\2\x81\x00\x00\x07\x08\x00", 18);
	w_ip_udp(&w, 4, 45999, vlan, sizeof(vlan), LIE_NONE, false);
	w_end(&w, 0);
	/* The last record says it holds more than the file has left. */
	w_record(&w);
	w_bytes(&w, "\x02\0\0\0\0\1\x02\0\0\0\0\2\x08\x00", 14);
	w_ip_udp(&w, 4, 45999, init, sizeof(init), LIE_NONE, false);
	w_end(&w, 1);
	CHECK(pcap_parse(w.buf, w.len, remember, &s, &st) == 0);
	CHECK(s.n == 3 && st.udp == 3 && st.records == 5 && st.skipped == 2 && st.truncated);
	CHECK(seen_is(&s, 0, init, sizeof(init), 45999));
	CHECK(seen_is(&s, 1, dns, sizeof(dns), 53));
	CHECK(seen_is(&s, 2, vlan, sizeof(vlan), 45999));
	/* The replay takes only the initiation to the relay's port. */
	in.port = 45999;
	CHECK(pcap_parse(w.buf, w.len, collect_initiation, &in, &st) == 0);
	CHECK(in.n == 1 && in.len[0] == sizeof(init) && !memcmp(in.msg[0], init, sizeof(init)));
	check_mangled(&w, 3);

	/* Linux cooked, big endian, nanoseconds: IPv6, one lying, one with an
	 * extension header, then a record larger than any snap length. */
	w_begin(&w, true, PCAP_MAGIC_NS, LINKTYPE_LINUX_SLL);
	w_record(&w);
	w_bytes(&w, "\0\4\0\1\0\6\x02\0\0\0\0\1\0\0\x86\xdd", 16);
	w_ip_udp(&w, 6, 45999, init, sizeof(init), LIE_NONE, false);
	w_end(&w, 0);
	w_record(&w);
	w_bytes(&w, "\0\4\0\1\0\6\x02\0\0\0\0\1\0\0\x86\xdd", 16);
	w_ip_udp(&w, 6, 45999, init, sizeof(init), LIE_IP, false);
	w_end(&w, 0);
	w_record(&w);
	w_bytes(&w, "\0\4\0\1\0\6\x02\0\0\0\0\1\0\0\x86\xdd", 16);
	w_ip_udp(&w, 6, 45999, init, sizeof(init), LIE_NONE, true);
	w_end(&w, 0);
	w_record(&w);
	w_bytes(&w, "\0\4\0\1\0\6\x02\0\0\0\0\1\0\0\x86\xdd", 16);
	w_end(&w, PCAP_MAX_RECORD);
	s.n = 0;
	CHECK(pcap_parse(w.buf, w.len, remember, &s, &st) == 0);
	CHECK(s.n == 2 && st.records == 3 && st.skipped == 1 && st.truncated);
	CHECK(seen_is(&s, 0, init, sizeof(init), 45999));
	CHECK(seen_is(&s, 1, init, sizeof(init), 45999));
	check_mangled(&w, 2);

	/* Raw IP: the version nibble picks the parser; a whole, clean file. */
	w_begin(&w, false, PCAP_MAGIC_NS, LINKTYPE_RAW);
	w_record(&w);
	w_ip_udp(&w, 4, 45999, dns, sizeof(dns), LIE_NONE, false);
	w_end(&w, 0);
	w_record(&w);
	w_ip_udp(&w, 6, 45999, vlan, sizeof(vlan), LIE_NONE, false);
	w_end(&w, 0);
	s.n = 0;
	CHECK(pcap_parse(w.buf, w.len, remember, &s, &st) == 0);
	CHECK(s.n == 2 && st.records == 2 && !st.skipped && !st.truncated);
	CHECK(seen_is(&s, 0, dns, sizeof(dns), 45999));
	CHECK(seen_is(&s, 1, vlan, sizeof(vlan), 45999));
	check_mangled(&w, 2);

	/* Not a capture we read: too short, pcapng, an unknown link type. */
	CHECK(pcap_parse(w.buf, PCAP_GLOBAL_LEN - 1, remember, &s, &st) == -EINVAL);
	memcpy(w.buf, "\x0a\x0d\x0d\x0a", 4);
	CHECK(pcap_parse(w.buf, w.len, remember, &s, &st) == -EINVAL);
	w_begin(&w, false, PCAP_MAGIC_US, 147);
	CHECK(pcap_parse(w.buf, w.len, remember, &s, &st) == -EPROTONOSUPPORT);

	printf(test_failed ? "hostile self-test: FAILED\n" : "hostile self-test: ok\n");
	return test_failed ? 1 : 0;
}
