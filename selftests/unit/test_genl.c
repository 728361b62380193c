/* test_genl.c - the keyhole genl codec: devices and peers read back, and what the parser refuses. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../../userspace/lib/genl.h"
#include "suites.h"

#define FAMILY KEYHOLE_DAEMON_FAMILY_ID
#define CANARY 0xa5
#define CANARY_LEN 64

/* Messages are built in place; nlmsghdr alignment is what libmnl expects of a buffer. */
#define MSG_BUF(name, size) _Alignas(struct nlmsghdr) uint8_t name[size]

/* A string of len characters of c, NUL-terminated, in out. */
static void fill_str(char *out, size_t len, char c)
{
	memset(out, c, len);
	out[len] = '\0';
}

/* Every field set, every flag on, every string as long as its attribute allows. */
static void full_device(struct kh_device *d)
{
	size_t i;

	memset(d, 0, sizeof(*d));
	d->ifindex = 0x01020304;
	fill_str(d->ifname, IFNAMSIZ - 1, 'k');
	d->flags = KEYHOLE_F_SHOW_PRIVATE_KEY | KEYHOLE_F_CLEAR_PRESHARED_KEY |
		   KEYHOLE_F_CLEAR_AUTH_TOKEN;
	d->has_private_key = d->has_public_key = d->has_relay_endpoint = true;
	d->has_relay_public_key = d->has_psk = d->has_keepalive = d->has_token = true;
	d->has_node_name = d->has_state = d->has_addr4 = d->has_addr6 = d->has_mtu = true;
	for (i = 0; i < KEYHOLE_KEY_LEN; i++) {
		d->private_key[i] = (uint8_t)(0x10 + i);
		d->public_key[i] = (uint8_t)(0x40 + i);
		d->relay_public_key[i] = (uint8_t)(0x80 + i);
		d->psk[i] = (uint8_t)(0xc0 + i);
	}
	fill_str(d->relay_endpoint, KH_ENDPOINT_MAX - 1, 'e');
	memcpy(d->relay_endpoint + KH_ENDPOINT_MAX - 6, ":4242", 5);
	d->keepalive = 3600;
	for (i = 0; i < KEYHOLE_TOKEN_LEN; i++)
		d->token[i] = (uint8_t)(0xf0 - i);
	fill_str(d->node_name, KH_NAME_LEN - 1, 'n');
	d->session_state = KEYHOLE_SESSION_UP;
	d->last_handshake = 1700000000;
	d->rx_bytes = 0x0102030405060708ULL;
	d->tx_bytes = 0xfffffffffffffffeULL;
	d->rx_packets = 123456789;
	d->tx_packets = 987654321;
	memcpy(d->addr4, "\x64\x40\x00\x07", 4);
	d->plen4 = 10;
	memcpy(d->addr6, "\xfd\x12\x34\x56\x78\x9a\0\0\0\0\0\0\0\0\0\x07", 16);
	d->plen6 = 48;
	d->mtu = 1420;
	d->dataplane = KEYHOLE_DATAPLANE_KERNEL;
	fill_str(d->relay_address, sizeof(d->relay_address) - 1, 'a');
	d->psk_set = d->token_set = true;
}

static void test_device_round_trip(void)
{
	MSG_BUF(buf, 4096);
	struct kh_device dev, back;
	struct nlmsghdr *nlh;
	const char *why = "unset";

	full_device(&dev);
	nlh = kh_genl_msg_start(buf, FAMILY, KEYHOLE_CMD_GET_DEVICE, NLM_F_REQUEST, 77);
	CHECK(kh_genl_put_device(nlh, sizeof(buf), &dev));
	CHECK_EQ(kh_genl_cmd(nlh, nlh->nlmsg_len, FAMILY), KEYHOLE_CMD_GET_DEVICE);
	CHECK_EQ(nlh->nlmsg_seq, 77);
	CHECK_EQ(kh_genl_parse_device(nlh, &back, &why), 0);
	CHECK(why == NULL);
	CHECK_EQ(back.ifindex, dev.ifindex);
	CHECK_EQ(back.flags, dev.flags);
	CHECK(!strcmp(back.ifname, dev.ifname) && strlen(back.ifname) == IFNAMSIZ - 1);
	CHECK(!strcmp(back.relay_endpoint, dev.relay_endpoint));
	CHECK_EQ(strlen(back.relay_endpoint), KH_ENDPOINT_MAX - 1);
	CHECK(!strcmp(back.node_name, dev.node_name) && strlen(back.node_name) == KH_NAME_LEN - 1);
	CHECK(!strcmp(back.relay_address, dev.relay_address));
	CHECK_MEM(back.private_key, dev.private_key, KEYHOLE_KEY_LEN);
	CHECK_MEM(back.psk, dev.psk, KEYHOLE_KEY_LEN);
	CHECK_MEM(back.token, dev.token, KEYHOLE_TOKEN_LEN);
	CHECK_EQ(back.keepalive, 3600);
	CHECK(back.tx_bytes == dev.tx_bytes && back.rx_bytes == dev.rx_bytes);
	CHECK_EQ(back.dataplane, KEYHOLE_DATAPLANE_KERNEL);
	CHECK(back.psk_set && back.token_set);
	/* Both were zeroed before being filled, padding included: the rest, all at once. */
	CHECK_MEM(&back, &dev, sizeof(dev));
}

/* A request carries only what it sets: absent fields stay absent. */
static void test_sparse_device_round_trip(void)
{
	MSG_BUF(buf, 512);
	struct kh_device dev, back;
	struct nlmsghdr *nlh;
	const char *why;

	memset(&dev, 0, sizeof(dev));
	snprintf(dev.ifname, sizeof(dev.ifname), "kh0");
	dev.has_keepalive = true; /* keepalive 0 is a value, not an absence */
	dev.flags = KEYHOLE_F_CLEAR_AUTH_TOKEN;
	nlh = kh_genl_msg_start(buf, FAMILY, KEYHOLE_CMD_SET_DEVICE, 0, 1);
	CHECK(kh_genl_put_device(nlh, sizeof(buf), &dev));
	/* header + genl header + "kh0\0" + flags + keepalive */
	CHECK_EQ(nlh->nlmsg_len, 16 + 4 + 8 + 8 + 8);
	CHECK_EQ(kh_genl_parse_device(nlh, &back, &why), 0);
	CHECK(back.has_keepalive && back.keepalive == 0);
	CHECK(!back.has_private_key && !back.has_relay_endpoint && !back.has_state);
	CHECK_MEM(&back, &dev, sizeof(dev));
}

static void full_peer(struct kh_ctrl_peer *p)
{
	uint8_t t;

	memset(p, 0, sizeof(*p));
	fill_str(p->name, KH_NAME_LEN - 1, 'p');
	memset(p->pubkey, 0x5a, sizeof(p->pubkey));
	memcpy(p->ipv4, "\x64\x40\x00\x09", 4);
	memcpy(p->ipv6, "\xfd\x12\x34\x56\x78\x9a\0\0\0\0\0\0\0\0\0\x09", 16);
	p->online = true;
	p->ntags = KH_MAX_TAGS;
	for (t = 0; t < KH_MAX_TAGS; t++) {
		fill_str(p->tags[t], KH_TAG_LEN - 1, 't');
		p->tags[t][0] = (char)('0' + t);
	}
}

static void test_peer_round_trip(void)
{
	MSG_BUF(buf, 2048);
	struct kh_ctrl_peer peer, back;
	struct kh_device dev;
	struct nlmsghdr *nlh;
	const char *why;
	uint8_t t;

	full_peer(&peer);
	nlh = kh_genl_msg_start(buf, FAMILY, KEYHOLE_CMD_GET_PEERS, NLM_F_MULTI, 9);
	CHECK(kh_genl_put_peer(nlh, sizeof(buf), &peer));
	CHECK_EQ(kh_genl_cmd(nlh, nlh->nlmsg_len, FAMILY), KEYHOLE_CMD_GET_PEERS);
	CHECK_EQ(kh_genl_parse_peer(nlh, &back, &why), 0);
	CHECK(!strcmp(back.name, peer.name));
	CHECK_MEM(back.pubkey, peer.pubkey, 32);
	CHECK_MEM(back.ipv4, peer.ipv4, 4);
	CHECK_MEM(back.ipv6, peer.ipv6, 16);
	CHECK(back.online);
	CHECK_EQ(back.ntags, KH_MAX_TAGS);
	for (t = 0; t < KH_MAX_TAGS; t++)
		CHECK(!strcmp(back.tags[t], peer.tags[t]));
	/* A peers message is also a device message holding one nested attribute. */
	CHECK_EQ(kh_genl_parse_device(nlh, &dev, &why), 0);
}

static void test_peer_refused(void)
{
	MSG_BUF(buf, 2048);
	struct kh_ctrl_peer peer, back;
	struct nlmsghdr *nlh;
	struct nlattr *nest;
	const char *why = NULL;
	uint8_t t;

	/* No peer at all. */
	nlh = kh_genl_msg_start(buf, FAMILY, KEYHOLE_CMD_GET_PEERS, NLM_F_MULTI, 9);
	CHECK_EQ(kh_genl_parse_peer(nlh, &back, &why), -EINVAL);
	CHECK(why != NULL);
	/* Nine tags: one more than a peer can hold. */
	full_peer(&peer);
	nlh = kh_genl_msg_start(buf, FAMILY, KEYHOLE_CMD_GET_PEERS, NLM_F_MULTI, 9);
	nest = mnl_attr_nest_start(nlh, KEYHOLE_A_PEER);
	mnl_attr_put_strz(nlh, KEYHOLE_PEER_A_NAME, peer.name);
	for (t = 0; t <= KH_MAX_TAGS; t++)
		mnl_attr_put_strz(nlh, KEYHOLE_PEER_A_TAG, "tag");
	mnl_attr_nest_end(nlh, nest);
	why = NULL;
	CHECK_EQ(kh_genl_parse_peer(nlh, &back, &why), -EINVAL);
	CHECK(why != NULL);
	/* A public key one byte short, an unknown type, a tag too long, type 0. */
	{
		static const struct {
			uint16_t type, len;
		} bad[] = {
			{ KEYHOLE_PEER_A_PUBLIC_KEY, 31 }, { KEYHOLE_PEER_A_ADDR4, 5 },
			{ KEYHOLE_PEER_A_ONLINE, 2 },      { KEYHOLE_PEER_A_MAX + 1, 4 },
			{ KEYHOLE_PEER_A_UNSPEC, 4 },      { KEYHOLE_PEER_A_TAG, KH_TAG_LEN + 1 },
		};
		char payload[64];
		size_t i;

		memset(payload, 'x', sizeof(payload));
		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			payload[bad[i].len - 1] = '\0';
			nlh = kh_genl_msg_start(buf, FAMILY, KEYHOLE_CMD_GET_PEERS, NLM_F_MULTI, 9);
			nest = mnl_attr_nest_start(nlh, KEYHOLE_A_PEER);
			mnl_attr_put(nlh, bad[i].type, bad[i].len, payload);
			mnl_attr_nest_end(nlh, nest);
			payload[bad[i].len - 1] = 'x';
			CHECK_EQ(kh_genl_parse_peer(nlh, &back, &why), -EINVAL);
		}
	}
}

static void test_cmd(void)
{
	MSG_BUF(buf, 256);
	struct nlmsghdr *nlh;
	struct genlmsghdr *genl;
	uint8_t cmd;

	for (cmd = 1; cmd <= KEYHOLE_CMD_MAX; cmd++) {
		nlh = kh_genl_msg_start(buf, FAMILY, cmd, NLM_F_REQUEST, 1);
		CHECK_EQ(kh_genl_cmd(nlh, nlh->nlmsg_len, FAMILY), cmd);
		/* Room after the message is no harm. */
		CHECK_EQ(kh_genl_cmd(nlh, sizeof(buf), FAMILY), cmd);
	}
	nlh = kh_genl_msg_start(buf, FAMILY, KEYHOLE_CMD_SET_DEVICE, NLM_F_REQUEST, 1);
	mnl_attr_put_u32(nlh, KEYHOLE_A_MTU, 1420);
	CHECK_EQ(kh_genl_cmd(nlh, nlh->nlmsg_len, FAMILY), KEYHOLE_CMD_SET_DEVICE);
	/* Shorter than a netlink header, whatever nlmsg_len claims. */
	CHECK_EQ(kh_genl_cmd(nlh, 0, FAMILY), -EINVAL);
	CHECK_EQ(kh_genl_cmd(nlh, sizeof(*nlh) - 1, FAMILY), -EINVAL);
	/* Another family: the kernel's dynamic id, or a reply type. */
	CHECK_EQ(kh_genl_cmd(nlh, nlh->nlmsg_len, FAMILY + 1), -EINVAL);
	CHECK_EQ(kh_genl_cmd(nlh, nlh->nlmsg_len, NLMSG_ERROR), -EINVAL);
	/* nlmsg_len claims more than was received. */
	CHECK_EQ(kh_genl_cmd(nlh, nlh->nlmsg_len - 1, FAMILY), -EINVAL);
	nlh->nlmsg_len = sizeof(buf) + 4;
	CHECK_EQ(kh_genl_cmd(nlh, sizeof(buf), FAMILY), -EINVAL);
	/* 2 GiB and more: negative as an int, which mnl_nlmsg_ok compares. */
	nlh->nlmsg_len = 0x80000000u;
	CHECK_EQ(kh_genl_cmd(nlh, sizeof(buf), FAMILY), -EINVAL);
	nlh->nlmsg_len = 0xffffffffu;
	CHECK_EQ(kh_genl_cmd(nlh, sizeof(buf), FAMILY), -EINVAL);
	/* nlmsg_len too small to hold the genl header, or even the netlink header. */
	nlh->nlmsg_len = MNL_NLMSG_HDRLEN + sizeof(*genl) - 1;
	CHECK_EQ(kh_genl_cmd(nlh, sizeof(buf), FAMILY), -EINVAL);
	nlh->nlmsg_len = MNL_NLMSG_HDRLEN;
	CHECK_EQ(kh_genl_cmd(nlh, sizeof(buf), FAMILY), -EINVAL);
	nlh->nlmsg_len = sizeof(*nlh) - 1;
	CHECK_EQ(kh_genl_cmd(nlh, sizeof(buf), FAMILY), -EINVAL);
	nlh->nlmsg_len = 0;
	CHECK_EQ(kh_genl_cmd(nlh, sizeof(buf), FAMILY), -EINVAL);
	/* Commands outside the family's. */
	nlh = kh_genl_msg_start(buf, FAMILY, KEYHOLE_CMD_UNSPEC, NLM_F_REQUEST, 1);
	CHECK_EQ(kh_genl_cmd(nlh, nlh->nlmsg_len, FAMILY), -EINVAL);
	nlh = kh_genl_msg_start(buf, FAMILY, KEYHOLE_CMD_MAX + 1, NLM_F_REQUEST, 1);
	CHECK_EQ(kh_genl_cmd(nlh, nlh->nlmsg_len, FAMILY), -EINVAL);
	nlh = kh_genl_msg_start(buf, FAMILY, 0xff, NLM_F_REQUEST, 1);
	CHECK_EQ(kh_genl_cmd(nlh, nlh->nlmsg_len, FAMILY), -EINVAL);
}

/*
 * Parse a SET_DEVICE message holding a good IFNAME, then one attribute of
 * type with len bytes of payload; why is where the parser's reason lands.
 */
static int parse_one(uint16_t type, const void *payload, uint16_t len, const char **why)
{
	MSG_BUF(buf, 1024);
	struct nlmsghdr *nlh = kh_genl_msg_start(buf, FAMILY, KEYHOLE_CMD_SET_DEVICE, 0, 1);
	struct kh_device dev;
	int ret;

	mnl_attr_put_strz(nlh, KEYHOLE_A_IFNAME, "kh0");
	mnl_attr_put(nlh, type, len, payload);
	*why = "unset";
	ret = kh_genl_parse_device(nlh, &dev, why);
	/* A refusal always says why; an acceptance leaves no stale reason. */
	if ((ret && !*why) || (!ret && *why))
		return -1000;
	return ret;
}

static void test_unknown_attributes(void)
{
	const uint32_t v = 0;
	const char *why;

	CHECK_EQ(parse_one(KEYHOLE_A_UNSPEC, &v, 4, &why), -EINVAL);
	CHECK_EQ(parse_one(KEYHOLE_A_MAX + 1, &v, 4, &why), -EINVAL);
	CHECK_EQ(parse_one(0x3fff, &v, 4, &why), -EINVAL);
	CHECK(strstr(why, "unknown") != NULL);
}

/* The fixed-size attributes and their one right size. */
static const struct {
	uint16_t type, len;
} fixed[] = {
	{ KEYHOLE_A_IFINDEX, 4 },         { KEYHOLE_A_FLAGS, 4 },
	{ KEYHOLE_A_PRIVATE_KEY, 32 },    { KEYHOLE_A_PUBLIC_KEY, 32 },
	{ KEYHOLE_A_RELAY_PUBLIC_KEY, 32 }, { KEYHOLE_A_PRESHARED_KEY, 32 },
	{ KEYHOLE_A_KEEPALIVE, 2 },       { KEYHOLE_A_AUTH_TOKEN, 16 },
	{ KEYHOLE_A_SESSION_STATE, 1 },   { KEYHOLE_A_LAST_HANDSHAKE, 8 },
	{ KEYHOLE_A_RX_BYTES, 8 },        { KEYHOLE_A_TX_BYTES, 8 },
	{ KEYHOLE_A_RX_PACKETS, 8 },      { KEYHOLE_A_TX_PACKETS, 8 },
	{ KEYHOLE_A_ADDR4, 4 },           { KEYHOLE_A_PREFIX4_LEN, 1 },
	{ KEYHOLE_A_ADDR6, 16 },          { KEYHOLE_A_PREFIX6_LEN, 1 },
	{ KEYHOLE_A_MTU, 4 },             { KEYHOLE_A_DATAPLANE, 1 },
	{ KEYHOLE_A_HAS_PRESHARED_KEY, 1 }, { KEYHOLE_A_HAS_AUTH_TOKEN, 1 },
};

static void test_fixed_sizes(void)
{
	uint8_t payload[64] = { 0 };
	const char *why;
	size_t i;

	for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		CHECK_EQ(parse_one(fixed[i].type, payload, fixed[i].len, &why), 0);
		CHECK_EQ(parse_one(fixed[i].type, payload, fixed[i].len - 1, &why), -EINVAL);
		CHECK_EQ(parse_one(fixed[i].type, payload, fixed[i].len + 1, &why), -EINVAL);
		CHECK(strstr(why, "size") != NULL);
	}
}

/* The string attributes and their largest size, NUL included. */
static const struct {
	uint16_t type, max;
} strings[] = {
	{ KEYHOLE_A_IFNAME, IFNAMSIZ },
	{ KEYHOLE_A_RELAY_ENDPOINT, KH_ENDPOINT_MAX },
	{ KEYHOLE_A_NODE_NAME, KH_NAME_LEN },
	{ KEYHOLE_A_RELAY_ADDRESS, 64 },
};

static void test_strings(void)
{
	char s[KH_ENDPOINT_MAX + 2];
	const char *why;
	size_t i;

	for (i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
		uint16_t type = strings[i].type, max = strings[i].max;

		/* The longest string fits; one more character does not. */
		fill_str(s, max - 1u, 's');
		CHECK_EQ(parse_one(type, s, max, &why), 0);
		fill_str(s, max, 's');
		CHECK_EQ(parse_one(type, s, max + 1u, &why), -EINVAL);
		/* Empty, but terminated: a string; no byte at all: not one. */
		CHECK_EQ(parse_one(type, "", 1, &why), 0);
		CHECK_EQ(parse_one(type, "", 0, &why), -EINVAL);
		/* Not terminated. */
		CHECK_EQ(parse_one(type, "abc", 3, &why), -EINVAL);
		fill_str(s, max, 's');
		CHECK_EQ(parse_one(type, s, max - 1u, &why), -EINVAL);
		/* A NUL inside: what follows it would be silently dropped. */
		CHECK_EQ(parse_one(type, "ab\0c", 5, &why), -EINVAL);
		CHECK_EQ(parse_one(type, "\0\0", 2, &why), -EINVAL);
		CHECK(strstr(why, "string") != NULL);
	}
}

/*
 * A message of IFNAME then MTU whose nla_len is mtu_nla_len, copied into a
 * buffer of exactly msg_len bytes so a sanitizer sees any read past it.
 */
static int parse_cut(uint32_t msg_len, uint16_t mtu_nla_len)
{
	MSG_BUF(buf, 256);
	struct nlmsghdr *nlh = kh_genl_msg_start(buf, FAMILY, KEYHOLE_CMD_SET_DEVICE, 0, 1);
	struct nlattr *mtu;
	struct kh_device dev;
	const char *why;
	uint8_t *exact;
	int ret;

	mnl_attr_put_strz(nlh, KEYHOLE_A_IFNAME, "kh0");
	mtu = (struct nlattr *)((uint8_t *)nlh + nlh->nlmsg_len);
	mnl_attr_put_u32(nlh, KEYHOLE_A_MTU, 1420);
	mtu->nla_len = mtu_nla_len;
	nlh->nlmsg_len = msg_len;
	exact = malloc(msg_len);
	if (!exact)
		return -ENOMEM;
	memcpy(exact, buf, msg_len);
	ret = kh_genl_parse_device((struct nlmsghdr *)exact, &dev, &why);
	if (!ret && !dev.has_mtu)
		ret = 1; /* the message ended before the MTU: parsed, and rightly without it */
	free(exact);
	return ret;
}

static void test_truncated(void)
{
	const uint32_t whole = 16 + 4 + 8 + 8; /* header, genl, IFNAME "kh0", MTU */
	uint32_t cut;
	uint16_t more;

	CHECK_EQ(parse_cut(whole, 8), 0);
	/* Cut anywhere inside the MTU attribute, header or value. */
	for (cut = 1; cut < 8; cut++)
		CHECK_EQ(parse_cut(whole - cut, 8), -EINVAL);
	CHECK_EQ(parse_cut(whole - 8, 8), 1);
	/* The MTU attribute claims more than the message holds. */
	for (more = 1; more <= 8; more++)
		CHECK_EQ(parse_cut(whole, (uint16_t)(8 + more)), -EINVAL);
	/* An attribute length below its own header. */
	CHECK_EQ(parse_cut(whole, 3), -EINVAL);
	CHECK_EQ(parse_cut(whole, 0), -EINVAL);
}

static void test_put_device_small_buffer(void)
{
	MSG_BUF(buf, 4096 + CANARY_LEN);
	struct kh_device dev;
	struct nlmsghdr *nlh;
	size_t need, len, i;
	const char *why;

	full_device(&dev);
	nlh = kh_genl_msg_start(buf, FAMILY, KEYHOLE_CMD_GET_DEVICE, 0, 1);
	CHECK(kh_genl_put_device(nlh, 4096, &dev));
	need = nlh->nlmsg_len;
	CHECK(need < 4096);
	/* Every size from a bare header to one byte short: refused, nothing written past it. */
	for (len = MNL_NLMSG_HDRLEN + sizeof(struct genlmsghdr); len < need; len++) {
		memset(buf, CANARY, sizeof(buf));
		nlh = kh_genl_msg_start(buf, FAMILY, KEYHOLE_CMD_GET_DEVICE, 0, 1);
		CHECK(!kh_genl_put_device(nlh, len, &dev));
		CHECK(nlh->nlmsg_len <= len);
		for (i = len; i < len + CANARY_LEN; i++)
			CHECK_EQ(buf[i], CANARY);
	}
	/* Exactly enough is enough, and parses. */
	memset(buf, CANARY, sizeof(buf));
	nlh = kh_genl_msg_start(buf, FAMILY, KEYHOLE_CMD_GET_DEVICE, 0, 1);
	CHECK(kh_genl_put_device(nlh, need, &dev));
	CHECK_EQ(nlh->nlmsg_len, need);
	for (i = need; i < need + CANARY_LEN; i++)
		CHECK_EQ(buf[i], CANARY);
	CHECK_EQ(kh_genl_parse_device(nlh, &dev, &why), 0);
}

/* The extended-ACK message of an NLMSG_ERROR, found as a reader (transport.c) finds it. */
static const char *ack_message(const struct nlmsghdr *nlh)
{
	const struct nlattr *a;
	const char *msg = NULL;

	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return NULL;
	mnl_attr_for_each(a, nlh, sizeof(struct nlmsgerr))
		if (mnl_attr_get_type(a) == NLMSGERR_ATTR_MSG &&
		    !mnl_attr_validate(a, MNL_TYPE_NUL_STRING))
			msg = mnl_attr_get_str(a);
	return msg;
}

static void test_put_error(void)
{
	MSG_BUF(req_buf, 512);
	MSG_BUF(buf, 1024);
	struct nlmsghdr *req, *nlh;
	const struct nlmsgerr *err;
	const char *msg;

	req = kh_genl_msg_start(req_buf, FAMILY, KEYHOLE_CMD_SET_DEVICE,
				NLM_F_REQUEST | NLM_F_ACK, 0xdeadbeef);
	req->nlmsg_pid = 4242;
	mnl_attr_put_u32(req, KEYHOLE_A_MTU, 1420);

	nlh = kh_genl_put_error(buf, sizeof(buf), req, -EINVAL, "relay endpoint is malformed");
	CHECK_EQ(nlh->nlmsg_type, NLMSG_ERROR);
	CHECK_EQ(nlh->nlmsg_seq, 0xdeadbeef);
	CHECK_EQ(nlh->nlmsg_pid, 4242);
	CHECK_EQ(nlh->nlmsg_flags, NLM_F_CAPPED | NLM_F_ACK_TLVS);
	CHECK(mnl_nlmsg_ok(nlh, (int)sizeof(buf)));
	err = mnl_nlmsg_get_payload(nlh);
	CHECK_EQ(err->error, -EINVAL);
	/* Capped: the request's header only, not its attributes. */
	CHECK_MEM(&err->msg, req, sizeof(*req));
	msg = ack_message(nlh);
	CHECK(msg && !strcmp(msg, "relay endpoint is malformed"));

	/* An ACK: error 0, no message, no TLVs. */
	nlh = kh_genl_put_error(buf, sizeof(buf), req, 0, NULL);
	CHECK_EQ(nlh->nlmsg_flags, NLM_F_CAPPED);
	CHECK_EQ(nlh->nlmsg_len, MNL_NLMSG_HDRLEN + sizeof(struct nlmsgerr));
	CHECK_EQ(((const struct nlmsgerr *)mnl_nlmsg_get_payload(nlh))->error, 0);
	CHECK(ack_message(nlh) == NULL);

	/* No room for the message: the error still goes, without it. */
	nlh = kh_genl_put_error(buf, MNL_NLMSG_HDRLEN + sizeof(struct nlmsgerr) + 8, req, -EPERM,
				"a message far too long for the room left");
	CHECK_EQ(nlh->nlmsg_flags, NLM_F_CAPPED);
	CHECK_EQ(nlh->nlmsg_len, MNL_NLMSG_HDRLEN + sizeof(struct nlmsgerr));
	CHECK(ack_message(nlh) == NULL);
}

TEST_SUITE(genl_tests) = {
	{ "device round trip: every field, strings at their longest", test_device_round_trip },
	{ "device round trip: absent fields stay absent", test_sparse_device_round_trip },
	{ "peer round trip with 8 tags", test_peer_round_trip },
	{ "peer: no peer, 9 tags, malformed attributes refused", test_peer_refused },
	{ "command of good and malformed messages", test_cmd },
	{ "unknown attribute types and type 0 refused", test_unknown_attributes },
	{ "fixed-size attributes one byte short or long refused", test_fixed_sizes },
	{ "strings unterminated, with inner NUL or too long refused", test_strings },
	{ "truncated and overlong trailing attributes refused, no overread",
	  test_truncated },
	{ "put_device: too small a buffer refused, nothing written past it",
	  test_put_device_small_buffer },
	{ "put_error: NLMSG_ERROR with sequence, flags and extended-ACK message",
	  test_put_error },
	TEST_END,
};
