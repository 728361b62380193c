/* test_control.c - control messages: each one built and read back, and what the parsers refuse. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../userspace/lib/control.h"
#include "suites.h"

static const struct kh_ctrl_config sample_config = {
	.ipv4 = { 100, 64, 0, 7 },
	.ipv4_plen = 10,
	.ipv6 = { 0xfd, 0x12, 0x34, 0x56, 0x78, 0x9a, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8 },
	.ipv6_plen = 48,
	.mtu = 1420,
	.keepalive_s = 5,
	.dead_peer_s = 15,
	.name = "camera-1",
};

/* A peer that makes a big attribute: a 63-byte name and, for some, all tags at 32 bytes. */
static void sample_peer(struct kh_ctrl_peer *p, unsigned i)
{
	uint8_t t;

	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "node-%03u-%s", i % 1000,
		 "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqr");
	memset(p->pubkey, (int)i, sizeof(p->pubkey));
	p->ipv4[0] = 100;
	p->ipv4[1] = 64;
	p->ipv4[2] = (uint8_t)(i >> 8);
	p->ipv4[3] = (uint8_t)i;
	p->ipv6[0] = 0xfd;
	p->ipv6[15] = (uint8_t)i;
	p->online = i % 2;
	p->ntags = (uint8_t)(i % (KH_MAX_TAGS + 1));
	for (t = 0; t < p->ntags; t++) {
		memcpy(p->tags[t], "tag0-abcdefghijklmnopqrstuvwxyz0", KH_TAG_LEN);
		p->tags[t][3] = (char)('0' + t);
	}
}

static bool same_peer(const struct kh_ctrl_peer *a, const struct kh_ctrl_peer *b)
{
	uint8_t t;

	if (strcmp(a->name, b->name) || memcmp(a->pubkey, b->pubkey, 32) ||
	    memcmp(a->ipv4, b->ipv4, 4) || memcmp(a->ipv6, b->ipv6, 16) ||
	    a->online != b->online || a->ntags != b->ntags)
		return false;
	for (t = 0; t < a->ntags; t++)
		if (strcmp(a->tags[t], b->tags[t]))
			return false;
	return true;
}

/* Collects what kh_ctrl_parse_peers hands to its callback. */
struct collected {
	struct kh_ctrl_peer peers[64];
	unsigned n;
};

static int collect(const struct kh_ctrl_peer *peer, void *ctx)
{
	struct collected *c = ctx;

	if (c->n == sizeof(c->peers) / sizeof(c->peers[0]))
		return -1;
	c->peers[c->n++] = *peer;
	return 0;
}

static int count_only(const struct kh_ctrl_peer *peer, void *ctx)
{
	(void)peer;
	++*(unsigned *)ctx;
	return 0;
}

/* A control message assembled attribute by attribute, for the cases the builders never make. */
static void raw_begin(struct kh_attr_writer *w, uint8_t *buf, size_t max, enum kh_ctrl_type type)
{
	memset(buf, 0, KH_CTRL_HEADER_LEN);
	buf[0] = (uint8_t)type;
	kh_attr_writer_init(w, buf + KH_CTRL_HEADER_LEN, max - KH_CTRL_HEADER_LEN);
}

static size_t raw_len(const struct kh_attr_writer *w)
{
	return KH_CTRL_HEADER_LEN + w->len;
}

static void put_addr(struct kh_attr_writer *w, uint16_t type, const uint8_t *addr, size_t len,
		     uint8_t plen)
{
	uint8_t buf[17];

	memcpy(buf, addr, len);
	buf[len] = plen;
	kh_attr_put(w, type, buf, len + 1);
}

/* A config message with the attributes of `mask` (bit = attribute type) and the given values. */
static size_t raw_config(uint8_t *buf, size_t max, unsigned mask, uint8_t v4_plen,
			 uint8_t v6_plen, uint16_t mtu, uint16_t keepalive, uint16_t dead_peer)
{
	struct kh_attr_writer w;

	raw_begin(&w, buf, max, KH_CTRL_CONFIG);
	if (mask & 1u << KH_CA_IPV4)
		put_addr(&w, KH_CA_IPV4, sample_config.ipv4, 4, v4_plen);
	if (mask & 1u << KH_CA_IPV6)
		put_addr(&w, KH_CA_IPV6, sample_config.ipv6, 16, v6_plen);
	if (mask & 1u << KH_CA_MTU)
		kh_attr_put_u16(&w, KH_CA_MTU, mtu);
	if (mask & 1u << KH_CA_KEEPALIVE)
		kh_attr_put_u16(&w, KH_CA_KEEPALIVE, keepalive);
	if (mask & 1u << KH_CA_DEAD_PEER)
		kh_attr_put_u16(&w, KH_CA_DEAD_PEER, dead_peer);
	if (mask & 1u << KH_CA_NAME)
		kh_attr_put_str(&w, KH_CA_NAME, "n");
	return raw_len(&w);
}

#define CONFIG_ALL                                                                     \
	(1u << KH_CA_IPV4 | 1u << KH_CA_IPV6 | 1u << KH_CA_MTU | 1u << KH_CA_KEEPALIVE | \
	 1u << KH_CA_DEAD_PEER | 1u << KH_CA_NAME)

static void test_type(void)
{
	uint8_t msg[8] = { KH_CTRL_GOODBYE, 0, 0, 0 };

	CHECK_EQ(kh_ctrl_type(msg, 4), KH_CTRL_GOODBYE);
	CHECK_EQ(kh_ctrl_type(msg, 3), -EINVAL);
	CHECK_EQ(kh_ctrl_type(msg, 0), -EINVAL);
	msg[0] = 0x3f;
	CHECK_EQ(kh_ctrl_type(msg, 4), 0x3f);
	/* 0x40 and up are IP packets; 0 is nothing. */
	msg[0] = 0x40;
	CHECK_EQ(kh_ctrl_type(msg, 4), -EINVAL);
	msg[0] = 0;
	CHECK_EQ(kh_ctrl_type(msg, 4), -EINVAL);
	msg[0] = KH_CTRL_CONFIG;
	msg[2] = 1;
	CHECK_EQ(kh_ctrl_type(msg, 4), -EINVAL);
}

static void test_goodbye(void)
{
	enum kh_goodbye_reason reason, r;
	struct kh_attr_writer w;
	uint8_t msg[64];
	int len;

	for (r = KH_GOODBYE_SHUTDOWN; r <= KH_GOODBYE_REPLACED; r++) {
		len = kh_ctrl_build_goodbye(msg, sizeof(msg), r);
		CHECK_EQ(len, 12);
		CHECK_EQ(kh_ctrl_type(msg, (size_t)len), KH_CTRL_GOODBYE);
		CHECK_EQ(kh_ctrl_parse_goodbye(msg, (size_t)len, &reason), 0);
		CHECK_EQ(reason, r);
	}
	/* Too small a buffer is said so, not overrun. */
	CHECK_EQ(kh_ctrl_build_goodbye(msg, 11, KH_GOODBYE_SHUTDOWN), -EMSGSIZE);
	CHECK_EQ(kh_ctrl_build_goodbye(msg, 2, KH_GOODBYE_SHUTDOWN), -EMSGSIZE);
	/* No reason means shutdown; an unknown reason is refused. */
	raw_begin(&w, msg, sizeof(msg), KH_CTRL_GOODBYE);
	CHECK_EQ(kh_ctrl_parse_goodbye(msg, raw_len(&w), &reason), 0);
	CHECK_EQ(reason, KH_GOODBYE_SHUTDOWN);
	kh_attr_put_u8(&w, KH_CA_REASON, KH_GOODBYE_REPLACED + 1);
	CHECK_EQ(kh_ctrl_parse_goodbye(msg, raw_len(&w), &reason), -EINVAL);
	raw_begin(&w, msg, sizeof(msg), KH_CTRL_GOODBYE);
	kh_attr_put_u16(&w, KH_CA_REASON, 1);
	CHECK_EQ(kh_ctrl_parse_goodbye(msg, raw_len(&w), &reason), -EINVAL);
	/* Another message type is not a goodbye. */
	len = kh_ctrl_build_peers_request(msg, sizeof(msg), 1, false);
	CHECK(len > 0);
	CHECK_EQ(kh_ctrl_parse_goodbye(msg, (size_t)len, &reason), -EINVAL);
}

static void test_config(void)
{
	struct kh_ctrl_config got;
	uint8_t msg[KH_CTRL_MAX];
	int len;

	len = kh_ctrl_build_config(msg, sizeof(msg), &sample_config);
	CHECK(len > 0);
	CHECK_EQ(kh_ctrl_type(msg, (size_t)len), KH_CTRL_CONFIG);
	CHECK_EQ(kh_ctrl_parse_config(msg, (size_t)len, &got), 0);
	CHECK_MEM(got.ipv4, sample_config.ipv4, 4);
	CHECK_EQ(got.ipv4_plen, 10);
	CHECK_MEM(got.ipv6, sample_config.ipv6, 16);
	CHECK_EQ(got.ipv6_plen, 48);
	CHECK_EQ(got.mtu, 1420);
	CHECK_EQ(got.keepalive_s, 5);
	CHECK_EQ(got.dead_peer_s, 15);
	CHECK(!strcmp(got.name, "camera-1"));
	CHECK_EQ(kh_ctrl_build_config(msg, (size_t)len - 1, &sample_config), -EMSGSIZE);
}

/* The name is optional: a node without one still gets a config its parser takes. */
static void test_config_empty_name(void)
{
	struct kh_ctrl_config cfg = sample_config, got;
	uint8_t msg[KH_CTRL_MAX];
	int len;

	cfg.name[0] = '\0';
	len = kh_ctrl_build_config(msg, sizeof(msg), &cfg);
	CHECK(len > 0);
	CHECK_EQ(kh_ctrl_parse_config(msg, (size_t)len, &got), 0);
	CHECK_EQ(got.name[0], '\0');
	CHECK_EQ(got.mtu, 1420);
}

static void test_config_refused(void)
{
	struct kh_ctrl_config got;
	uint8_t msg[256];
	size_t len;
	unsigned t;

	len = raw_config(msg, sizeof(msg), CONFIG_ALL, 10, 48, 1420, 5, 15);
	CHECK_EQ(kh_ctrl_parse_config(msg, len, &got), 0);
	/* The name alone may be left out. */
	len = raw_config(msg, sizeof(msg), CONFIG_ALL & ~(1u << KH_CA_NAME), 10, 48, 1420, 5, 15);
	CHECK_EQ(kh_ctrl_parse_config(msg, len, &got), 0);
	CHECK_EQ(got.name[0], '\0');
	/* Every other attribute is mandatory. */
	for (t = KH_CA_IPV4; t <= KH_CA_DEAD_PEER; t++) {
		len = raw_config(msg, sizeof(msg), CONFIG_ALL & ~(1u << t), 10, 48, 1420, 5, 15);
		if (kh_ctrl_parse_config(msg, len, &got) != -EINVAL) {
			printf("    config without attribute %u was accepted\n", t);
			CHECK(!"a mandatory attribute may be missing");
		}
	}
	/* Values a node could not use. */
	len = raw_config(msg, sizeof(msg), CONFIG_ALL, 10, 48, 575, 5, 15);
	CHECK_EQ(kh_ctrl_parse_config(msg, len, &got), -EINVAL);
	len = raw_config(msg, sizeof(msg), CONFIG_ALL, 10, 48, 576, 5, 15);
	CHECK_EQ(kh_ctrl_parse_config(msg, len, &got), 0);
	len = raw_config(msg, sizeof(msg), CONFIG_ALL, 10, 48, 1420, 0, 15);
	CHECK_EQ(kh_ctrl_parse_config(msg, len, &got), -EINVAL);
	len = raw_config(msg, sizeof(msg), CONFIG_ALL, 10, 48, 1420, 5, 5);
	CHECK_EQ(kh_ctrl_parse_config(msg, len, &got), -EINVAL);
	len = raw_config(msg, sizeof(msg), CONFIG_ALL, 10, 48, 1420, 5, 4);
	CHECK_EQ(kh_ctrl_parse_config(msg, len, &got), -EINVAL);
	len = raw_config(msg, sizeof(msg), CONFIG_ALL, 10, 48, 1420, 5, 6);
	CHECK_EQ(kh_ctrl_parse_config(msg, len, &got), 0);
	/* Prefix lengths beyond the address. */
	len = raw_config(msg, sizeof(msg), CONFIG_ALL, 33, 48, 1420, 5, 15);
	CHECK_EQ(kh_ctrl_parse_config(msg, len, &got), -EINVAL);
	len = raw_config(msg, sizeof(msg), CONFIG_ALL, 32, 128, 1420, 5, 15);
	CHECK_EQ(kh_ctrl_parse_config(msg, len, &got), 0);
	len = raw_config(msg, sizeof(msg), CONFIG_ALL, 10, 129, 1420, 5, 15);
	CHECK_EQ(kh_ctrl_parse_config(msg, len, &got), -EINVAL);
	len = raw_config(msg, sizeof(msg), CONFIG_ALL, 255, 255, 1420, 5, 15);
	CHECK_EQ(kh_ctrl_parse_config(msg, len, &got), -EINVAL);
}

static void test_config_wrong_sizes(void)
{
	struct kh_ctrl_config got;
	struct kh_attr_writer w;
	uint8_t msg[256];

	/* An IPv4 attribute without its prefix length. */
	raw_begin(&w, msg, sizeof(msg), KH_CTRL_CONFIG);
	kh_attr_put(&w, KH_CA_IPV4, sample_config.ipv4, 4);
	put_addr(&w, KH_CA_IPV6, sample_config.ipv6, 16, 48);
	kh_attr_put_u16(&w, KH_CA_MTU, 1420);
	kh_attr_put_u16(&w, KH_CA_KEEPALIVE, 5);
	kh_attr_put_u16(&w, KH_CA_DEAD_PEER, 15);
	CHECK_EQ(kh_ctrl_parse_config(msg, raw_len(&w), &got), -EINVAL);
	/* An MTU as a u32. */
	raw_begin(&w, msg, sizeof(msg), KH_CTRL_CONFIG);
	put_addr(&w, KH_CA_IPV4, sample_config.ipv4, 4, 10);
	put_addr(&w, KH_CA_IPV6, sample_config.ipv6, 16, 48);
	kh_attr_put_u32(&w, KH_CA_MTU, 1420);
	kh_attr_put_u16(&w, KH_CA_KEEPALIVE, 5);
	kh_attr_put_u16(&w, KH_CA_DEAD_PEER, 15);
	CHECK_EQ(kh_ctrl_parse_config(msg, raw_len(&w), &got), -EINVAL);
	/* A name without its NUL. */
	raw_begin(&w, msg, sizeof(msg), KH_CTRL_CONFIG);
	put_addr(&w, KH_CA_IPV4, sample_config.ipv4, 4, 10);
	put_addr(&w, KH_CA_IPV6, sample_config.ipv6, 16, 48);
	kh_attr_put_u16(&w, KH_CA_MTU, 1420);
	kh_attr_put_u16(&w, KH_CA_KEEPALIVE, 5);
	kh_attr_put_u16(&w, KH_CA_DEAD_PEER, 15);
	kh_attr_put(&w, KH_CA_NAME, "abc", 3);
	CHECK_EQ(kh_ctrl_parse_config(msg, raw_len(&w), &got), -EINVAL);
}

static void test_unknown_attributes_skipped(void)
{
	struct kh_ctrl_config got;
	struct collected c = { .n = 0 };
	struct kh_attr_writer w;
	struct kh_ctrl_peer peer;
	uint8_t msg[512], junk[40];
	uint32_t id;
	size_t nest;
	bool follow, last;

	memset(junk, 0xa5, sizeof(junk));
	raw_begin(&w, msg, sizeof(msg), KH_CTRL_CONFIG);
	kh_attr_put(&w, 200, junk, 7);
	put_addr(&w, KH_CA_IPV4, sample_config.ipv4, 4, 10);
	put_addr(&w, KH_CA_IPV6, sample_config.ipv6, 16, 48);
	kh_attr_put(&w, KH_CA_MAX + 1, junk, sizeof(junk));
	kh_attr_put_u16(&w, KH_CA_MTU, 1420);
	kh_attr_put_u16(&w, KH_CA_KEEPALIVE, 5);
	kh_attr_put_u16(&w, KH_CA_DEAD_PEER, 15);
	nest = kh_attr_nest_start(&w, 0x7fff);
	kh_attr_put(&w, 1, junk, 3);
	kh_attr_nest_end(&w, nest);
	/* A type some other message uses is not this one's business either. */
	kh_attr_put_u32(&w, KH_CA_REQUEST_ID, 9);
	CHECK(!w.overflow);
	CHECK_EQ(kh_ctrl_parse_config(msg, raw_len(&w), &got), 0);
	CHECK_EQ(got.mtu, 1420);

	raw_begin(&w, msg, sizeof(msg), KH_CTRL_PEERS_REQUEST);
	kh_attr_put(&w, 99, junk, 1);
	kh_attr_put_u32(&w, KH_CA_REQUEST_ID, 77);
	kh_attr_put(&w, 0, NULL, 0);
	CHECK_EQ(kh_ctrl_parse_peers_request(msg, raw_len(&w), &id, &follow), 0);
	CHECK_EQ(id, 77);
	CHECK(!follow);

	sample_peer(&peer, 3);
	raw_begin(&w, msg, sizeof(msg), KH_CTRL_PEERS_REPLY);
	kh_attr_put(&w, 1234, junk, 5);
	nest = kh_attr_nest_start(&w, KH_CA_PEER);
	kh_attr_put(&w, 555, junk, 9);
	kh_attr_put_str(&w, KH_CA_NAME, peer.name);
	kh_attr_put(&w, KH_CA_IPV4, peer.ipv4, 4);
	kh_attr_put(&w, KH_CA_IPV6, peer.ipv6, 16);
	kh_attr_nest_end(&w, nest);
	CHECK(!w.overflow);
	CHECK_EQ(kh_ctrl_parse_peers(msg, raw_len(&w), &id, &last, collect, &c), 0);
	CHECK_EQ(c.n, 1);
	CHECK(!strcmp(c.peers[0].name, peer.name));
	CHECK(!last);
}

static void test_peers_request(void)
{
	struct kh_attr_writer w;
	uint8_t msg[64];
	uint32_t id;
	bool follow;
	int len;

	len = kh_ctrl_build_peers_request(msg, sizeof(msg), 0xfeedf00d, true);
	CHECK(len > 0);
	CHECK_EQ(kh_ctrl_parse_peers_request(msg, (size_t)len, &id, &follow), 0);
	CHECK(id == 0xfeedf00d && follow);
	len = kh_ctrl_build_peers_request(msg, sizeof(msg), 1, false);
	CHECK_EQ(kh_ctrl_parse_peers_request(msg, (size_t)len, &id, &follow), 0);
	CHECK(id == 1 && !follow);
	/* The request id is mandatory; follow is 0 or 1. */
	raw_begin(&w, msg, sizeof(msg), KH_CTRL_PEERS_REQUEST);
	kh_attr_put_u8(&w, KH_CA_FOLLOW, 1);
	CHECK_EQ(kh_ctrl_parse_peers_request(msg, raw_len(&w), &id, &follow), -EINVAL);
	raw_begin(&w, msg, sizeof(msg), KH_CTRL_PEERS_REQUEST);
	kh_attr_put_u32(&w, KH_CA_REQUEST_ID, 1);
	kh_attr_put_u8(&w, KH_CA_FOLLOW, 2);
	CHECK_EQ(kh_ctrl_parse_peers_request(msg, raw_len(&w), &id, &follow), -EINVAL);
}

static void test_peers_round_trip(void)
{
	struct kh_ctrl_peers_writer pw;
	struct kh_ctrl_peer peers[3];
	struct collected c = { .n = 0 };
	uint8_t msg[KH_CTRL_MAX];
	uint32_t id;
	unsigned i;
	bool last;
	int len;

	kh_ctrl_peers_begin(&pw, msg, sizeof(msg), KH_CTRL_PEERS_REPLY, 4242);
	for (i = 0; i < 3; i++) {
		sample_peer(&peers[i], i + 7); /* 7, 8, 9: tags 7, 8, 0 */
		CHECK(kh_ctrl_peers_add(&pw, &peers[i]));
	}
	CHECK_EQ(pw.count, 3);
	len = kh_ctrl_peers_finish(&pw, true);
	CHECK(len > 0 && len <= KH_CTRL_MAX);
	CHECK_EQ(kh_ctrl_parse_peers(msg, (size_t)len, &id, &last, collect, &c), 0);
	CHECK_EQ(id, 4242);
	CHECK(last);
	CHECK_EQ(c.n, 3);
	for (i = 0; i < 3; i++)
		CHECK(same_peer(&c.peers[i], &peers[i]));

	/* Presence uses the same layout; an empty list is a valid reply. */
	kh_ctrl_peers_begin(&pw, msg, sizeof(msg), KH_CTRL_PRESENCE, 0);
	CHECK(kh_ctrl_peers_add(&pw, &peers[1]));
	len = kh_ctrl_peers_finish(&pw, true);
	c.n = 0;
	CHECK_EQ(kh_ctrl_parse_peers(msg, (size_t)len, &id, &last, collect, &c), 0);
	CHECK(c.n == 1 && same_peer(&c.peers[0], &peers[1]));
	kh_ctrl_peers_begin(&pw, msg, sizeof(msg), KH_CTRL_PEERS_REPLY, 5);
	len = kh_ctrl_peers_finish(&pw, false);
	c.n = 0;
	CHECK_EQ(kh_ctrl_parse_peers(msg, (size_t)len, &id, &last, collect, &c), 0);
	CHECK(c.n == 0 && id == 5 && !last);
	/* A callback's non-zero answer stops the walk without an error. */
	kh_ctrl_peers_begin(&pw, msg, sizeof(msg), KH_CTRL_PEERS_REPLY, 5);
	for (i = 0; i < 3; i++)
		kh_ctrl_peers_add(&pw, &peers[i]);
	len = kh_ctrl_peers_finish(&pw, true);
	c.n = sizeof(c.peers) / sizeof(c.peers[0]);
	CHECK_EQ(kh_ctrl_parse_peers(msg, (size_t)len, &id, &last, collect, &c), 0);
	/* Neither a goodbye nor a config is a peer list. */
	len = kh_ctrl_build_goodbye(msg, sizeof(msg), KH_GOODBYE_SHUTDOWN);
	CHECK_EQ(kh_ctrl_parse_peers(msg, (size_t)len, &id, &last, collect, &c), -EINVAL);
}

static void test_peer_refused(void)
{
	struct kh_attr_writer w;
	struct collected c = { .n = 0 };
	struct kh_ctrl_peer peer;
	uint8_t msg[1024];
	size_t nest;
	uint32_t id;
	unsigned t;
	bool last;

	sample_peer(&peer, 1);
	/* Without a name, an IPv4 or an IPv6 address, a peer is refused. */
	for (t = 0; t < 3; t++) {
		raw_begin(&w, msg, sizeof(msg), KH_CTRL_PEERS_REPLY);
		nest = kh_attr_nest_start(&w, KH_CA_PEER);
		if (t != 0)
			kh_attr_put_str(&w, KH_CA_NAME, peer.name);
		if (t != 1)
			kh_attr_put(&w, KH_CA_IPV4, peer.ipv4, 4);
		if (t != 2)
			kh_attr_put(&w, KH_CA_IPV6, peer.ipv6, 16);
		kh_attr_nest_end(&w, nest);
		CHECK_EQ(kh_ctrl_parse_peers(msg, raw_len(&w), &id, &last, collect, &c), -EINVAL);
	}
	/* More tags than a peer can hold. */
	raw_begin(&w, msg, sizeof(msg), KH_CTRL_PEERS_REPLY);
	nest = kh_attr_nest_start(&w, KH_CA_PEER);
	kh_attr_put_str(&w, KH_CA_NAME, peer.name);
	kh_attr_put(&w, KH_CA_IPV4, peer.ipv4, 4);
	kh_attr_put(&w, KH_CA_IPV6, peer.ipv6, 16);
	for (t = 0; t <= KH_MAX_TAGS; t++)
		kh_attr_put_str(&w, KH_CA_TAG, "t");
	kh_attr_nest_end(&w, nest);
	CHECK_EQ(kh_ctrl_parse_peers(msg, raw_len(&w), &id, &last, collect, &c), -EINVAL);
	/* A tag longer than KH_TAG_LEN - 1, a public key of 31 bytes, online = 2. */
	for (t = 0; t < 3; t++) {
		raw_begin(&w, msg, sizeof(msg), KH_CTRL_PEERS_REPLY);
		nest = kh_attr_nest_start(&w, KH_CA_PEER);
		kh_attr_put_str(&w, KH_CA_NAME, peer.name);
		kh_attr_put(&w, KH_CA_IPV4, peer.ipv4, 4);
		kh_attr_put(&w, KH_CA_IPV6, peer.ipv6, 16);
		if (t == 0)
			kh_attr_put_str(&w, KH_CA_TAG, "0123456789abcdef0123456789abcdefX");
		else if (t == 1)
			kh_attr_put(&w, KH_CA_PUBKEY, peer.pubkey, 31);
		else
			kh_attr_put_u8(&w, KH_CA_ONLINE, 2);
		kh_attr_nest_end(&w, nest);
		CHECK_EQ(kh_ctrl_parse_peers(msg, raw_len(&w), &id, &last, collect, &c), -EINVAL);
	}
	CHECK_EQ(c.n, 0);
}

/* Many big peers: each message stays within KH_CTRL_MAX and together they carry every peer once. */
static void test_peers_split(void)
{
	enum { NPEERS = 200 };
	struct kh_ctrl_peers_writer pw;
	struct kh_ctrl_peer peer;
	uint8_t msg[KH_CTRL_MAX];
	unsigned i, messages = 0, parsed = 0, in_msg;
	uint32_t id;
	bool last;
	int len;

	kh_ctrl_peers_begin(&pw, msg, sizeof(msg), KH_CTRL_PEERS_REPLY, 7);
	for (i = 0; i < NPEERS; i++) {
		sample_peer(&peer, i);
		if (kh_ctrl_peers_add(&pw, &peer))
			continue;
		/* A full message is left as it was before the peer that did not fit. */
		CHECK(pw.count > 0);
		len = kh_ctrl_peers_finish(&pw, false);
		CHECK(len > 0 && len <= KH_CTRL_MAX);
		in_msg = 0;
		CHECK_EQ(kh_ctrl_parse_peers(msg, (size_t)len, &id, &last, count_only, &in_msg), 0);
		CHECK(!last && id == 7);
		CHECK_EQ(in_msg, pw.count);
		parsed += in_msg;
		messages++;
		kh_ctrl_peers_begin(&pw, msg, sizeof(msg), KH_CTRL_PEERS_REPLY, 7);
		CHECK(kh_ctrl_peers_add(&pw, &peer));
	}
	len = kh_ctrl_peers_finish(&pw, true);
	CHECK(len > 0 && len <= KH_CTRL_MAX);
	in_msg = 0;
	CHECK_EQ(kh_ctrl_parse_peers(msg, (size_t)len, &id, &last, count_only, &in_msg), 0);
	CHECK(last);
	parsed += in_msg;
	messages++;
	CHECK_EQ(parsed, NPEERS);
	/* Big peers (up to ~450 bytes) do split: more than one message is needed. */
	CHECK(messages > 10);
}

/* One peer list in exactly size bytes on the heap (so ASan sees an overrun): NULL or what went wrong. */
static const char *peer_in_buffer(const struct kh_ctrl_peer *peer, size_t size, size_t full)
{
	struct kh_ctrl_peers_writer pw;
	uint8_t *msg = malloc(size ? size : 1);
	const char *why = NULL;
	bool overflowed, added, kept, last;
	unsigned n = 0;
	uint32_t id;
	int len;

	if (!msg)
		return "out of memory";
	kh_ctrl_peers_begin(&pw, msg, size, KH_CTRL_PEERS_REPLY, 9);
	overflowed = pw.w.overflow;
	added = kh_ctrl_peers_add(&pw, peer);
	kept = !overflowed || (!added && pw.w.overflow);
	len = kh_ctrl_peers_finish(&pw, true);
	if (added != (size >= full))
		why = added ? "added a peer that does not fit" : "refused a peer that fits";
	else if (!kept)
		why = "cleared the overflow of a writer that had overflowed already";
	else if (len < 0 && size >= KH_CTRL_HEADER_LEN + 2 * 8)
		why = "no room left for an empty list with its request id";
	else if (len > 0 && (size_t)len > size)
		why = "a message longer than the buffer";
	else if (len > 0 && (kh_ctrl_parse_peers(msg, (size_t)len, &id, &last, count_only, &n) ||
			     n != pw.count || n != (added ? 1u : 0u)))
		why = "a message that does not parse back";
	free(msg);
	return why;
}

/*
 * A peer list in buffers of every size from 0 up: the peer goes in exactly
 * when it and the closing attribute fit, nothing is written past the end,
 * and a writer that overflowed before stays overflowed.
 */
static void test_peers_small_buffers(void)
{
	struct kh_ctrl_peers_writer pw;
	struct kh_ctrl_peer peer;
	uint8_t big[KH_CTRL_MAX];
	const char *why;
	size_t size, full;
	unsigned failures = 0;
	int len;

	sample_peer(&peer, 8);
	kh_ctrl_peers_begin(&pw, big, sizeof(big), KH_CTRL_PEERS_REPLY, 9);
	CHECK(kh_ctrl_peers_add(&pw, &peer));
	len = kh_ctrl_peers_finish(&pw, true);
	CHECK(len > 0);
	full = (size_t)len;
	/* Every size, even after a failure: the sizes that overran are the late ones. */
	for (size = 0; size <= full + 8; size++) {
		why = peer_in_buffer(&peer, size, full);
		if (why) {
			printf("    with %zu bytes (a full message is %zu): %s\n", size, full, why);
			failures++;
		}
	}
	CHECK_EQ(failures, 0);
}

/* A config grown with an unknown attribute to end exactly at len. */
static size_t padded_config(uint8_t *msg, size_t max, size_t len)
{
	static const uint8_t zeros[KH_CTRL_MAX];
	struct kh_attr_writer w;
	size_t start = raw_config(msg, max, CONFIG_ALL, 10, 48, 1420, 5, 15);

	kh_attr_writer_init(&w, msg + start, max - start);
	kh_attr_put(&w, 100, zeros, len - start - KH_ATTR_HDRLEN);
	return w.overflow ? 0 : len;
}

static void test_too_long(void)
{
	struct kh_ctrl_config got;
	uint8_t *msg = malloc(KH_CTRL_MAX + 8);
	int at_max, over_max;

	CHECK(msg);
	/* The same content is fine at KH_CTRL_MAX bytes and refused at one more. */
	at_max = padded_config(msg, KH_CTRL_MAX + 8, KH_CTRL_MAX) ?
		 kh_ctrl_parse_config(msg, KH_CTRL_MAX, &got) : 1;
	over_max = padded_config(msg, KH_CTRL_MAX + 8, KH_CTRL_MAX + 1) ?
		   kh_ctrl_parse_config(msg, KH_CTRL_MAX + 1, &got) : 1;
	free(msg);
	CHECK_EQ(at_max, 0);
	CHECK_EQ(over_max, -EINVAL);
}

/* Parse every prefix of msg with every parser: 0 or -EINVAL, and never a read past len. */
static bool survives_truncation(const uint8_t *msg, size_t full)
{
	struct kh_ctrl_config cfg;
	enum kh_goodbye_reason reason;
	uint32_t id;
	unsigned count;
	bool follow, last;
	uint8_t *copy;
	size_t len;
	unsigned i;
	int r[4];

	for (len = 0; len <= full; len++) {
		/* Exactly len bytes on the heap (one for len 0), so ASan sees any overread. */
		copy = malloc(len ? len : 1);
		if (!copy)
			return false;
		memcpy(copy, msg, len);
		count = 0;
		r[0] = kh_ctrl_parse_goodbye(copy, len, &reason);
		r[1] = kh_ctrl_parse_config(copy, len, &cfg);
		r[2] = kh_ctrl_parse_peers_request(copy, len, &id, &follow);
		r[3] = kh_ctrl_parse_peers(copy, len, &id, &last, count_only, &count);
		free(copy);
		for (i = 0; i < 4; i++)
			if (r[i] != 0 && r[i] != -EINVAL)
				return false;
		/* Nothing shorter than the header is any message. */
		if (len < KH_CTRL_HEADER_LEN && (!r[0] || !r[1] || !r[2] || !r[3]))
			return false;
	}
	return true;
}

static void test_truncation(void)
{
	struct kh_ctrl_config cfg;
	struct kh_ctrl_peers_writer pw;
	struct kh_ctrl_peer peer;
	uint8_t msg[KH_CTRL_MAX];
	unsigned i;
	int len;

	len = kh_ctrl_build_goodbye(msg, sizeof(msg), KH_GOODBYE_DELETED);
	CHECK(survives_truncation(msg, (size_t)len));
	len = kh_ctrl_build_config(msg, sizeof(msg), &sample_config);
	CHECK(survives_truncation(msg, (size_t)len));
	len = kh_ctrl_build_peers_request(msg, sizeof(msg), 3, true);
	CHECK(survives_truncation(msg, (size_t)len));
	kh_ctrl_peers_begin(&pw, msg, sizeof(msg), KH_CTRL_PEERS_REPLY, 11);
	for (i = 0; i < 3; i++) {
		sample_peer(&peer, i + 2);
		CHECK(kh_ctrl_peers_add(&pw, &peer));
	}
	len = kh_ctrl_peers_finish(&pw, true);
	CHECK(survives_truncation(msg, (size_t)len));
	/* A cut inside the config's mandatory attributes is refused, not half-read;
	 * a cut in the last attribute's padding is no cut at all. */
	len = kh_ctrl_build_config(msg, sizeof(msg), &sample_config);
	CHECK_EQ(kh_ctrl_parse_config(msg, 20, &cfg), -EINVAL);
	CHECK_EQ(kh_ctrl_parse_config(msg, (size_t)len - 1, &cfg), 0);
}

TEST_SUITE(control_tests) = {
	{ "message type byte", test_type },
	{ "goodbye round trip and reasons", test_goodbye },
	{ "config round trip", test_config },
	{ "config without a name round trip", test_config_empty_name },
	{ "config: missing attributes and unusable values refused", test_config_refused },
	{ "config: attributes of the wrong size refused", test_config_wrong_sizes },
	{ "unknown attributes are skipped", test_unknown_attributes_skipped },
	{ "peers request round trip", test_peers_request },
	{ "peer list and presence round trip", test_peers_round_trip },
	{ "malformed peers refused", test_peer_refused },
	{ "peer lists split across messages within KH_CTRL_MAX", test_peers_split },
	{ "peer lists in small buffers: no overrun, overflow kept", test_peers_small_buffers },
	{ "messages over KH_CTRL_MAX refused", test_too_long },
	{ "every truncation parses or is refused, never overread", test_truncation },
	TEST_END,
};
