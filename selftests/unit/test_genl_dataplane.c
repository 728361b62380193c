/* test_genl_dataplane.c - the kernel data plane's messages: NEW_KEYS, SET_PEER, SEND_CTRL built, RECV_CTRL and the controller parsed. */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "../../userspace/lib/genl-dataplane.h"
#include "suites.h"

/* The kernel family's id is dynamic: any value the controller gave. */
#define FAMILY 0x1f
#define MSG_BUF(name, size) _Alignas(struct nlmsghdr) uint8_t name[size]

/* The attribute of type in nlh's top level, or NULL. */
static const struct nlattr *find(const struct nlmsghdr *nlh, uint16_t type)
{
	const struct nlattr *a;

	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr))
		if (mnl_attr_get_type(a) == type)
			return a;
	return NULL;
}

static void sample_keypair(struct kh_dp_keypair *kp)
{
	size_t i;

	kp->local_index = 0x11223344;
	kp->remote_index = 0xa1b2c3d4;
	for (i = 0; i < KEYHOLE_KEY_LEN; i++) {
		kp->send_key[i] = (uint8_t)(0x20 + i);
		kp->recv_key[i] = (uint8_t)(0x90 + i);
	}
}

/* NEW_KEYS carries IFINDEX and one nested KEYPAIR of exactly four attributes. */
static void test_new_keys(void)
{
	MSG_BUF(buf, 512);
	struct kh_dp_msg m = { 0 }, back;
	const struct nlattr *nest, *a;
	struct nlmsghdr *nlh;
	const char *why;
	unsigned inner = 0;

	m.has_ifindex = true;
	m.ifindex = 7;
	m.has_keypair = true;
	sample_keypair(&m.keypair);
	nlh = kh_genl_msg_start(buf, FAMILY, KEYHOLE_CMD_NEW_KEYS, NLM_F_REQUEST | NLM_F_ACK, 3);
	CHECK(kh_genl_put_dataplane(nlh, sizeof(buf), &m));
	CHECK_EQ(kh_genl_cmd(nlh, nlh->nlmsg_len, FAMILY), KEYHOLE_CMD_NEW_KEYS);
	/* header 16 + genl 4 + ifindex 8 + nest 4 + 2 indices 16 + 2 keys 72 */
	CHECK_EQ(nlh->nlmsg_len, 16 + 4 + 8 + 4 + 16 + 72);
	a = find(nlh, KEYHOLE_A_IFINDEX);
	CHECK(a && mnl_attr_get_u32(a) == 7);
	nest = find(nlh, KEYHOLE_A_KEYPAIR);
	CHECK(nest != NULL);
	mnl_attr_for_each_nested(a, nest) {
		inner++;
		if (mnl_attr_get_type(a) == KEYHOLE_KEYPAIR_A_LOCAL_INDEX)
			CHECK_EQ(mnl_attr_get_u32(a), 0x11223344);
		if (mnl_attr_get_type(a) == KEYHOLE_KEYPAIR_A_SEND_KEY)
			CHECK_MEM(mnl_attr_get_payload(a), m.keypair.send_key, KEYHOLE_KEY_LEN);
	}
	CHECK_EQ(inner, 4);
	CHECK_EQ(kh_genl_parse_dataplane(nlh, &back, &why), 0);
	CHECK(back.has_keypair && back.has_ifindex && !back.has_payload && !back.has_relay);
	CHECK_MEM(&back.keypair, &m.keypair, sizeof(m.keypair));
}

/* A keypair missing a key is refused, as the kernel will refuse it. */
static void test_keypair_incomplete(void)
{
	MSG_BUF(buf, 512);
	struct kh_dp_msg back;
	struct nlmsghdr *nlh;
	struct nlattr *nest;
	const char *why = NULL;
	uint8_t key[KEYHOLE_KEY_LEN] = { 0 };

	nlh = kh_genl_msg_start(buf, FAMILY, KEYHOLE_CMD_NEW_KEYS, 0, 1);
	nest = mnl_attr_nest_start(nlh, KEYHOLE_A_KEYPAIR);
	mnl_attr_put_u32(nlh, KEYHOLE_KEYPAIR_A_LOCAL_INDEX, 1);
	mnl_attr_put_u32(nlh, KEYHOLE_KEYPAIR_A_REMOTE_INDEX, 2);
	mnl_attr_put(nlh, KEYHOLE_KEYPAIR_A_SEND_KEY, sizeof(key), key);
	mnl_attr_nest_end(nlh, nest);
	CHECK_EQ(kh_genl_parse_dataplane(nlh, &back, &why), -EINVAL);
	CHECK(why && strstr(why, "both keys"));
	/* A key one byte short. */
	nlh = kh_genl_msg_start(buf, FAMILY, KEYHOLE_CMD_NEW_KEYS, 0, 1);
	nest = mnl_attr_nest_start(nlh, KEYHOLE_A_KEYPAIR);
	mnl_attr_put(nlh, KEYHOLE_KEYPAIR_A_RECV_KEY, sizeof(key) - 1, key);
	mnl_attr_nest_end(nlh, nest);
	why = NULL;
	CHECK_EQ(kh_genl_parse_dataplane(nlh, &back, &why), -EINVAL);
	CHECK(why != NULL);
}

/* SET_PEER: socket, relay address and overlay prefixes, each optional. */
static void test_set_peer(void)
{
	MSG_BUF(buf, 512);
	struct kh_dp_msg m = { 0 }, back;
	struct nlmsghdr *nlh;
	const struct nlattr *a;
	const char *why;

	m.has_ifindex = m.has_socket_fd = m.has_relay = m.has_addr4 = m.has_addr6 = true;
	m.ifindex = 9;
	m.socket_fd = 5;
	m.relay.sin6.sin6_family = AF_INET6;
	m.relay.sin6.sin6_port = htons(51830);
	inet_pton(AF_INET6, "2001:db8::1", &m.relay.sin6.sin6_addr);
	memcpy(m.addr4, "\x64\x40\x00\x02", 4);
	m.plen4 = 10;
	inet_pton(AF_INET6, "fd00:1:2::7", m.addr6);
	m.plen6 = 48;
	nlh = kh_genl_msg_start(buf, FAMILY, KEYHOLE_CMD_SET_PEER, 0, 1);
	CHECK(kh_genl_put_dataplane(nlh, sizeof(buf), &m));
	a = find(nlh, KEYHOLE_A_RELAY_SOCKADDR);
	CHECK(a && mnl_attr_get_payload_len(a) == sizeof(struct sockaddr_in6));
	CHECK_EQ(kh_genl_parse_dataplane(nlh, &back, &why), 0);
	CHECK(back.has_socket_fd && back.socket_fd == 5 && back.has_relay);
	CHECK_MEM(&back.relay.sin6, &m.relay.sin6, sizeof(m.relay.sin6));
	CHECK(back.has_addr4 && back.plen4 == 10 && back.has_addr6 && back.plen6 == 48);
	CHECK_MEM(back.addr6, m.addr6, 16);
	/* IPv4: a sockaddr_in, 16 bytes. */
	memset(&m, 0, sizeof(m));
	m.has_relay = true;
	m.relay.sin.sin_family = AF_INET;
	m.relay.sin.sin_port = htons(1);
	nlh = kh_genl_msg_start(buf, FAMILY, KEYHOLE_CMD_SET_PEER, 0, 1);
	CHECK(kh_genl_put_dataplane(nlh, sizeof(buf), &m));
	a = find(nlh, KEYHOLE_A_RELAY_SOCKADDR);
	CHECK(a && mnl_attr_get_payload_len(a) == sizeof(struct sockaddr_in));
	CHECK_EQ(kh_genl_parse_dataplane(nlh, &back, &why), 0);
	CHECK(back.has_relay && !back.has_socket_fd && !back.has_addr4);
	/* A sockaddr_in6 that says AF_INET is no relay address. */
	nlh = kh_genl_msg_start(buf, FAMILY, KEYHOLE_CMD_SET_PEER, 0, 1);
	m.relay.sin6.sin6_family = AF_INET;
	mnl_attr_put(nlh, KEYHOLE_A_RELAY_SOCKADDR, sizeof(m.relay.sin6), &m.relay.sin6);
	CHECK_EQ(kh_genl_parse_dataplane(nlh, &back, &why), -EINVAL);
}

/* SEND_CTRL: the payload as given, empty for a keepalive; longer than KEYHOLE_CTRL_MAX refused. */
static void test_send_ctrl(void)
{
	MSG_BUF(buf, 2048);
	static uint8_t payload[KEYHOLE_CTRL_MAX + 1];
	struct kh_dp_msg m = { 0 }, back;
	struct nlmsghdr *nlh;
	const char *why;

	memset(payload, 0x42, sizeof(payload));
	m.has_ifindex = m.has_payload = true;
	m.ifindex = 3;
	m.payload = payload;
	m.payload_len = 0;
	nlh = kh_genl_msg_start(buf, FAMILY, KEYHOLE_CMD_SEND_CTRL, 0, 1);
	CHECK(kh_genl_put_dataplane(nlh, sizeof(buf), &m));
	CHECK_EQ(kh_genl_parse_dataplane(nlh, &back, &why), 0);
	CHECK(back.has_payload && back.payload_len == 0);
	m.payload_len = KEYHOLE_CTRL_MAX;
	nlh = kh_genl_msg_start(buf, FAMILY, KEYHOLE_CMD_SEND_CTRL, 0, 1);
	CHECK(kh_genl_put_dataplane(nlh, sizeof(buf), &m));
	CHECK_EQ(kh_genl_parse_dataplane(nlh, &back, &why), 0);
	CHECK_EQ(back.payload_len, KEYHOLE_CTRL_MAX);
	CHECK_MEM(back.payload, payload, KEYHOLE_CTRL_MAX);
	m.payload_len = KEYHOLE_CTRL_MAX + 1;
	nlh = kh_genl_msg_start(buf, FAMILY, KEYHOLE_CMD_SEND_CTRL, 0, 1);
	CHECK(!kh_genl_put_dataplane(nlh, sizeof(buf), &m));
	/* Too small a buffer: refused. */
	m.payload_len = 100;
	nlh = kh_genl_msg_start(buf, FAMILY, KEYHOLE_CMD_SEND_CTRL, 0, 1);
	CHECK(!kh_genl_put_dataplane(nlh, 64, &m));
}

/* RECV_CTRL as the kernel multicasts it: ifindex and payload read back; oversize and truncation refused. */
static void test_recv_ctrl(void)
{
	MSG_BUF(buf, 2048);
	static const uint8_t ctrl[] = { 0x01, 0x00, 0x04, 0x00, 0xde, 0xad };
	static uint8_t big[KEYHOLE_CTRL_MAX + 1];
	struct kh_dp_msg back;
	struct nlmsghdr *nlh;
	const char *why;

	nlh = kh_genl_msg_start(buf, FAMILY, KEYHOLE_CMD_RECV_CTRL, 0, 0);
	mnl_attr_put_u32(nlh, KEYHOLE_A_IFINDEX, 12);
	mnl_attr_put(nlh, KEYHOLE_A_PAYLOAD, sizeof(ctrl), ctrl);
	/* An attribute this side does not know is skipped, not refused. */
	mnl_attr_put_u32(nlh, KEYHOLE_A_MAX + 5, 0);
	CHECK_EQ(kh_genl_cmd(nlh, nlh->nlmsg_len, FAMILY), KEYHOLE_CMD_RECV_CTRL);
	CHECK_EQ(kh_genl_parse_dataplane(nlh, &back, &why), 0);
	CHECK(back.has_ifindex && back.ifindex == 12);
	CHECK(back.has_payload && back.payload_len == sizeof(ctrl));
	CHECK_MEM(back.payload, ctrl, sizeof(ctrl));
	/* A keepalive from the relay: an empty payload. */
	nlh = kh_genl_msg_start(buf, FAMILY, KEYHOLE_CMD_RECV_CTRL, 0, 0);
	mnl_attr_put_u32(nlh, KEYHOLE_A_IFINDEX, 12);
	mnl_attr_put(nlh, KEYHOLE_A_PAYLOAD, 0, NULL);
	CHECK_EQ(kh_genl_parse_dataplane(nlh, &back, &why), 0);
	CHECK(back.has_payload && back.payload_len == 0);
	/* Longer than any control message. */
	nlh = kh_genl_msg_start(buf, FAMILY, KEYHOLE_CMD_RECV_CTRL, 0, 0);
	mnl_attr_put(nlh, KEYHOLE_A_PAYLOAD, sizeof(big), big);
	CHECK_EQ(kh_genl_parse_dataplane(nlh, &back, &why), -EINVAL);
	/* An ifindex of 2 bytes. */
	nlh = kh_genl_msg_start(buf, FAMILY, KEYHOLE_CMD_RECV_CTRL, 0, 0);
	mnl_attr_put_u16(nlh, KEYHOLE_A_IFINDEX, 12);
	CHECK_EQ(kh_genl_parse_dataplane(nlh, &back, &why), -EINVAL);
	/* The payload cut short inside its attribute. */
	nlh = kh_genl_msg_start(buf, FAMILY, KEYHOLE_CMD_RECV_CTRL, 0, 0);
	mnl_attr_put(nlh, KEYHOLE_A_PAYLOAD, sizeof(ctrl), ctrl);
	nlh->nlmsg_len -= 4;
	CHECK_EQ(kh_genl_parse_dataplane(nlh, &back, &why), -EINVAL);
	CHECK(why && strstr(why, "truncated"));
}

/* The kernel's GET_DEVICE reply: counters and key slots. */
static void test_kernel_device(void)
{
	MSG_BUF(buf, 512);
	struct kh_dp_msg m = { 0 }, back;
	struct nlmsghdr *nlh;
	const char *why;

	m.has_ifindex = m.has_counters = m.has_mtu = m.has_dataplane = m.has_key_slots = true;
	m.ifindex = 4;
	snprintf(m.ifname, sizeof(m.ifname), "kh0");
	m.rx_bytes = 1ULL << 40;
	m.tx_bytes = 77;
	m.rx_packets = 5;
	m.tx_packets = 6;
	m.rx_dropped = 2;
	m.mtu = 1420;
	m.dataplane = KEYHOLE_DATAPLANE_KERNEL;
	m.key_slots = 3;
	nlh = kh_genl_msg_start(buf, FAMILY, KEYHOLE_CMD_GET_DEVICE, 0, 1);
	CHECK(kh_genl_put_dataplane(nlh, sizeof(buf), &m));
	CHECK_EQ(kh_genl_parse_dataplane(nlh, &back, &why), 0);
	CHECK(!strcmp(back.ifname, "kh0"));
	CHECK(back.rx_bytes == m.rx_bytes && back.tx_bytes == 77 && back.rx_dropped == 2);
	CHECK(back.rx_packets == 5 && back.tx_packets == 6 && back.mtu == 1420);
	CHECK(back.dataplane == KEYHOLE_DATAPLANE_KERNEL && back.key_slots == 3);
}

/* What the genl controller answers for "keyhole": the id and the "ctrl" group's id. */
static void test_family(void)
{
	MSG_BUF(buf, 512);
	struct nlmsghdr *nlh;
	struct nlattr *groups, *entry;
	const char *why;
	uint32_t group;
	uint16_t id;

	nlh = kh_genl_ctrl_getfamily(buf, sizeof(buf), KEYHOLE_GENL_NAME);
	CHECK(nlh && nlh->nlmsg_type == GENL_ID_CTRL);
	CHECK(find(nlh, CTRL_ATTR_FAMILY_NAME) != NULL);
	CHECK(!strcmp(mnl_attr_get_str(find(nlh, CTRL_ATTR_FAMILY_NAME)), "keyhole"));
	nlh = kh_genl_msg_start(buf, GENL_ID_CTRL, CTRL_CMD_NEWFAMILY, 0, 1);
	mnl_attr_put_u16(nlh, CTRL_ATTR_FAMILY_ID, 0x22);
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, "keyhole");
	groups = mnl_attr_nest_start(nlh, CTRL_ATTR_MCAST_GROUPS);
	entry = mnl_attr_nest_start(nlh, 1);
	mnl_attr_put_strz(nlh, CTRL_ATTR_MCAST_GRP_NAME, "other");
	mnl_attr_put_u32(nlh, CTRL_ATTR_MCAST_GRP_ID, 8);
	mnl_attr_nest_end(nlh, entry);
	entry = mnl_attr_nest_start(nlh, 2);
	mnl_attr_put_strz(nlh, CTRL_ATTR_MCAST_GRP_NAME, KEYHOLE_MCGRP_CTRL);
	mnl_attr_put_u32(nlh, CTRL_ATTR_MCAST_GRP_ID, 9);
	mnl_attr_nest_end(nlh, entry);
	mnl_attr_nest_end(nlh, groups);
	CHECK_EQ(kh_genl_parse_family(nlh, KEYHOLE_MCGRP_CTRL, &id, &group, &why), 0);
	CHECK_EQ(id, 0x22);
	CHECK_EQ(group, 9);
	CHECK_EQ(kh_genl_parse_family(nlh, "absent", &id, &group, &why), 0);
	CHECK_EQ(group, 0);
	/* No family id: refused. */
	nlh = kh_genl_msg_start(buf, GENL_ID_CTRL, CTRL_CMD_NEWFAMILY, 0, 1);
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, "keyhole");
	CHECK_EQ(kh_genl_parse_family(nlh, KEYHOLE_MCGRP_CTRL, &id, &group, &why), -EINVAL);
	/* A group id of 2 bytes: refused. */
	nlh = kh_genl_msg_start(buf, GENL_ID_CTRL, CTRL_CMD_NEWFAMILY, 0, 1);
	mnl_attr_put_u16(nlh, CTRL_ATTR_FAMILY_ID, 0x22);
	groups = mnl_attr_nest_start(nlh, CTRL_ATTR_MCAST_GROUPS);
	entry = mnl_attr_nest_start(nlh, 1);
	mnl_attr_put_u16(nlh, CTRL_ATTR_MCAST_GRP_ID, 9);
	mnl_attr_nest_end(nlh, entry);
	mnl_attr_nest_end(nlh, groups);
	CHECK_EQ(kh_genl_parse_family(nlh, KEYHOLE_MCGRP_CTRL, &id, &group, &why), -EINVAL);
}

TEST_SUITE(genl_dataplane_tests) = {
	{ "NEW_KEYS: ifindex and a keypair of four attributes", test_new_keys },
	{ "NEW_KEYS: a keypair missing a key or with a short key refused",
	  test_keypair_incomplete },
	{ "SET_PEER: socket, sockaddr_in6 or sockaddr_in, overlay prefixes", test_set_peer },
	{ "SEND_CTRL: empty keepalive, largest payload, one byte more refused", test_send_ctrl },
	{ "RECV_CTRL: ifindex and payload; oversize, short ifindex, truncation refused",
	  test_recv_ctrl },
	{ "the kernel's GET_DEVICE: counters and key slots", test_kernel_device },
	{ "genl controller: family id and the ctrl group's id", test_family },
	TEST_END,
};
