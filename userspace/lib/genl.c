/* genl.c - build and parse keyhole family messages with libmnl, checking every attribute against a policy. */
#include "genl.h"

#include <errno.h>
#include <string.h>

#include <linux/netlink.h>

struct nlmsghdr *kh_genl_msg_start(void *buf, uint16_t family, uint8_t cmd, uint16_t flags,
				   uint32_t seq)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct genlmsghdr *genl;

	nlh->nlmsg_type = family;
	nlh->nlmsg_flags = flags;
	nlh->nlmsg_seq = seq;
	genl = mnl_nlmsg_put_extra_header(nlh, sizeof(*genl));
	genl->cmd = cmd;
	genl->version = KEYHOLE_GENL_VERSION;
	return nlh;
}

bool kh_genl_put_device(struct nlmsghdr *nlh, size_t len, const struct kh_device *d)
{
	bool ok = true;

#define PUT(cond, type, n, data) \
	if (ok && (cond))        \
	ok = mnl_attr_put_check(nlh, len, type, n, data)
	PUT(d->ifindex, KEYHOLE_A_IFINDEX, 4, &d->ifindex);
	PUT(d->ifname[0], KEYHOLE_A_IFNAME, strlen(d->ifname) + 1, d->ifname);
	PUT(d->flags, KEYHOLE_A_FLAGS, 4, &d->flags);
	PUT(d->has_private_key, KEYHOLE_A_PRIVATE_KEY, KEYHOLE_KEY_LEN, d->private_key);
	PUT(d->has_public_key, KEYHOLE_A_PUBLIC_KEY, KEYHOLE_KEY_LEN, d->public_key);
	PUT(d->has_relay_endpoint, KEYHOLE_A_RELAY_ENDPOINT, strlen(d->relay_endpoint) + 1,
	    d->relay_endpoint);
	PUT(d->has_relay_public_key, KEYHOLE_A_RELAY_PUBLIC_KEY, KEYHOLE_KEY_LEN,
	    d->relay_public_key);
	PUT(d->has_psk, KEYHOLE_A_PRESHARED_KEY, KEYHOLE_KEY_LEN, d->psk);
	PUT(d->has_keepalive, KEYHOLE_A_KEEPALIVE, 2, &d->keepalive);
	PUT(d->has_token, KEYHOLE_A_AUTH_TOKEN, KEYHOLE_TOKEN_LEN, d->token);
	PUT(d->has_node_name, KEYHOLE_A_NODE_NAME, strlen(d->node_name) + 1, d->node_name);
	PUT(d->has_state, KEYHOLE_A_SESSION_STATE, 1, &d->session_state);
	PUT(d->has_state, KEYHOLE_A_LAST_HANDSHAKE, 8, &d->last_handshake);
	PUT(d->has_state, KEYHOLE_A_RX_BYTES, 8, &d->rx_bytes);
	PUT(d->has_state, KEYHOLE_A_TX_BYTES, 8, &d->tx_bytes);
	PUT(d->has_state, KEYHOLE_A_RX_PACKETS, 8, &d->rx_packets);
	PUT(d->has_state, KEYHOLE_A_TX_PACKETS, 8, &d->tx_packets);
	PUT(d->has_state, KEYHOLE_A_DATAPLANE, 1, &d->dataplane);
	PUT(d->has_state, KEYHOLE_A_HAS_PRESHARED_KEY, 1, &d->psk_set);
	PUT(d->has_state, KEYHOLE_A_HAS_AUTH_TOKEN, 1, &d->token_set);
	PUT(d->has_state && d->relay_address[0], KEYHOLE_A_RELAY_ADDRESS,
	    strlen(d->relay_address) + 1, d->relay_address);
	PUT(d->has_addr4, KEYHOLE_A_ADDR4, 4, d->addr4);
	PUT(d->has_addr4, KEYHOLE_A_PREFIX4_LEN, 1, &d->plen4);
	PUT(d->has_addr6, KEYHOLE_A_ADDR6, 16, d->addr6);
	PUT(d->has_addr6, KEYHOLE_A_PREFIX6_LEN, 1, &d->plen6);
	PUT(d->has_mtu, KEYHOLE_A_MTU, 4, &d->mtu);
#undef PUT
	return ok;
}

bool kh_genl_put_peer(struct nlmsghdr *nlh, size_t len, const struct kh_ctrl_peer *p)
{
	struct nlattr *nest = mnl_attr_nest_start_check(nlh, len, KEYHOLE_A_PEER);
	bool ok = nest != NULL;
	uint8_t online = p->online, i;

	ok = ok && mnl_attr_put_check(nlh, len, KEYHOLE_PEER_A_NAME, strlen(p->name) + 1, p->name);
	ok = ok && mnl_attr_put_check(nlh, len, KEYHOLE_PEER_A_PUBLIC_KEY, 32, p->pubkey);
	ok = ok && mnl_attr_put_check(nlh, len, KEYHOLE_PEER_A_ADDR4, 4, p->ipv4);
	ok = ok && mnl_attr_put_check(nlh, len, KEYHOLE_PEER_A_ADDR6, 16, p->ipv6);
	ok = ok && mnl_attr_put_check(nlh, len, KEYHOLE_PEER_A_ONLINE, 1, &online);
	for (i = 0; ok && i < p->ntags && i < KH_MAX_TAGS; i++)
		ok = mnl_attr_put_check(nlh, len, KEYHOLE_PEER_A_TAG, strlen(p->tags[i]) + 1,
					p->tags[i]);
	if (ok)
		mnl_attr_nest_end(nlh, nest);
	return ok;
}

/* The family's policy: each attribute's kind and size. */
enum kind { K_NONE, K_U8, K_U16, K_U32, K_U64, K_STR, K_BIN, K_NESTED };

static const struct {
	enum kind kind;
	uint16_t len; /* exact length for K_BIN, maximum (with NUL) for K_STR */
} policy[KEYHOLE_A_MAX + 1] = {
	[KEYHOLE_A_IFINDEX] = { K_U32, 0 },
	[KEYHOLE_A_IFNAME] = { K_STR, IFNAMSIZ },
	[KEYHOLE_A_FLAGS] = { K_U32, 0 },
	[KEYHOLE_A_PRIVATE_KEY] = { K_BIN, KEYHOLE_KEY_LEN },
	[KEYHOLE_A_PUBLIC_KEY] = { K_BIN, KEYHOLE_KEY_LEN },
	[KEYHOLE_A_RELAY_ENDPOINT] = { K_STR, KH_ENDPOINT_MAX },
	[KEYHOLE_A_RELAY_PUBLIC_KEY] = { K_BIN, KEYHOLE_KEY_LEN },
	[KEYHOLE_A_PRESHARED_KEY] = { K_BIN, KEYHOLE_KEY_LEN },
	[KEYHOLE_A_KEEPALIVE] = { K_U16, 0 },
	[KEYHOLE_A_AUTH_TOKEN] = { K_BIN, KEYHOLE_TOKEN_LEN },
	[KEYHOLE_A_NODE_NAME] = { K_STR, KH_NAME_LEN },
	[KEYHOLE_A_SESSION_STATE] = { K_U8, 0 },
	[KEYHOLE_A_LAST_HANDSHAKE] = { K_U64, 0 },
	[KEYHOLE_A_RX_BYTES] = { K_U64, 0 },
	[KEYHOLE_A_TX_BYTES] = { K_U64, 0 },
	[KEYHOLE_A_RX_PACKETS] = { K_U64, 0 },
	[KEYHOLE_A_TX_PACKETS] = { K_U64, 0 },
	[KEYHOLE_A_ADDR4] = { K_BIN, 4 },
	[KEYHOLE_A_PREFIX4_LEN] = { K_U8, 0 },
	[KEYHOLE_A_ADDR6] = { K_BIN, 16 },
	[KEYHOLE_A_PREFIX6_LEN] = { K_U8, 0 },
	[KEYHOLE_A_MTU] = { K_U32, 0 },
	[KEYHOLE_A_DATAPLANE] = { K_U8, 0 },
	[KEYHOLE_A_RELAY_ADDRESS] = { K_STR, 64 },
	[KEYHOLE_A_PEER] = { K_NESTED, 0 },
	[KEYHOLE_A_HAS_PRESHARED_KEY] = { K_U8, 0 },
	[KEYHOLE_A_HAS_AUTH_TOKEN] = { K_U8, 0 },
};

static const struct {
	enum kind kind;
	uint16_t len;
} peer_policy[KEYHOLE_PEER_A_MAX + 1] = {
	[KEYHOLE_PEER_A_NAME] = { K_STR, KH_NAME_LEN },
	[KEYHOLE_PEER_A_PUBLIC_KEY] = { K_BIN, 32 },
	[KEYHOLE_PEER_A_ADDR4] = { K_BIN, 4 },
	[KEYHOLE_PEER_A_ADDR6] = { K_BIN, 16 },
	[KEYHOLE_PEER_A_ONLINE] = { K_U8, 0 },
	[KEYHOLE_PEER_A_TAG] = { K_STR, KH_TAG_LEN },
};

static bool valid(const struct nlattr *a, enum kind kind, uint16_t len)
{
	uint16_t plen = mnl_attr_get_payload_len(a);
	const char *s;

	switch (kind) {
	case K_U8:
		return plen == 1;
	case K_U16:
		return plen == 2;
	case K_U32:
		return plen == 4;
	case K_U64:
		return plen == 8;
	case K_BIN:
		return plen == len;
	case K_STR:
		s = mnl_attr_get_payload(a);
		return plen >= 1 && plen <= len && s[plen - 1] == '\0' && strlen(s) == plen - 1u;
	case K_NESTED:
		return true;
	default:
		return false;
	}
}

static void get_str(const struct nlattr *a, char *out, size_t max)
{
	snprintf(out, max, "%s", mnl_attr_get_str(a));
}

static void take_attr(const struct nlattr *a, struct kh_device *d)
{
	const void *p = mnl_attr_get_payload(a);

	switch (mnl_attr_get_type(a)) {
	case KEYHOLE_A_IFINDEX: d->ifindex = mnl_attr_get_u32(a); break;
	case KEYHOLE_A_IFNAME: get_str(a, d->ifname, sizeof(d->ifname)); break;
	case KEYHOLE_A_FLAGS: d->flags = mnl_attr_get_u32(a); break;
	case KEYHOLE_A_PRIVATE_KEY: memcpy(d->private_key, p, 32); d->has_private_key = true; break;
	case KEYHOLE_A_PUBLIC_KEY: memcpy(d->public_key, p, 32); d->has_public_key = true; break;
	case KEYHOLE_A_RELAY_ENDPOINT:
		get_str(a, d->relay_endpoint, sizeof(d->relay_endpoint));
		d->has_relay_endpoint = true;
		break;
	case KEYHOLE_A_RELAY_PUBLIC_KEY:
		memcpy(d->relay_public_key, p, 32);
		d->has_relay_public_key = true;
		break;
	case KEYHOLE_A_PRESHARED_KEY: memcpy(d->psk, p, 32); d->has_psk = true; break;
	case KEYHOLE_A_KEEPALIVE: d->keepalive = mnl_attr_get_u16(a); d->has_keepalive = true; break;
	case KEYHOLE_A_AUTH_TOKEN: memcpy(d->token, p, 16); d->has_token = true; break;
	case KEYHOLE_A_NODE_NAME:
		get_str(a, d->node_name, sizeof(d->node_name));
		d->has_node_name = true;
		break;
	case KEYHOLE_A_SESSION_STATE: d->session_state = mnl_attr_get_u8(a); d->has_state = true; break;
	case KEYHOLE_A_LAST_HANDSHAKE: d->last_handshake = mnl_attr_get_u64(a); break;
	case KEYHOLE_A_RX_BYTES: d->rx_bytes = mnl_attr_get_u64(a); break;
	case KEYHOLE_A_TX_BYTES: d->tx_bytes = mnl_attr_get_u64(a); break;
	case KEYHOLE_A_RX_PACKETS: d->rx_packets = mnl_attr_get_u64(a); break;
	case KEYHOLE_A_TX_PACKETS: d->tx_packets = mnl_attr_get_u64(a); break;
	case KEYHOLE_A_ADDR4: memcpy(d->addr4, p, 4); d->has_addr4 = true; break;
	case KEYHOLE_A_PREFIX4_LEN: d->plen4 = mnl_attr_get_u8(a); break;
	case KEYHOLE_A_ADDR6: memcpy(d->addr6, p, 16); d->has_addr6 = true; break;
	case KEYHOLE_A_PREFIX6_LEN: d->plen6 = mnl_attr_get_u8(a); break;
	case KEYHOLE_A_MTU: d->mtu = mnl_attr_get_u32(a); d->has_mtu = true; break;
	case KEYHOLE_A_DATAPLANE: d->dataplane = mnl_attr_get_u8(a); break;
	case KEYHOLE_A_RELAY_ADDRESS: get_str(a, d->relay_address, sizeof(d->relay_address)); break;
	case KEYHOLE_A_HAS_PRESHARED_KEY: d->psk_set = mnl_attr_get_u8(a); break;
	case KEYHOLE_A_HAS_AUTH_TOKEN: d->token_set = mnl_attr_get_u8(a); break;
	default: break;
	}
}

/*
 * libmnl's mnl_attr_for_each walks to nlmsg_len rounded up to 4, so in a
 * message whose length is not a multiple of 4 the last attribute could run up
 * to 3 bytes past nlmsg_len, and past the buffer: walk to nlmsg_len exactly.
 */
#define for_each_attr(a, nlh)                                                                \
	for ((a) = mnl_nlmsg_get_payload_offset((nlh), sizeof(struct genlmsghdr));           \
	     mnl_attr_ok((a), (int)((const char *)(nlh) + (nlh)->nlmsg_len - (const char *)(a))); \
	     (a) = mnl_attr_next(a))

int kh_genl_cmd(const struct nlmsghdr *nlh, size_t len, uint16_t family)
{
	const struct genlmsghdr *genl;

	/* mnl_nlmsg_ok compares nlmsg_len as an int: one of 2 GiB or more would pass. */
	if (len < sizeof(*nlh) || !mnl_nlmsg_ok(nlh, (int)len) || nlh->nlmsg_len > len ||
	    nlh->nlmsg_type != family || nlh->nlmsg_len < MNL_NLMSG_HDRLEN + sizeof(*genl))
		return -EINVAL;
	genl = mnl_nlmsg_get_payload(nlh);
	if (genl->cmd == KEYHOLE_CMD_UNSPEC || genl->cmd > KEYHOLE_CMD_MAX)
		return -EINVAL;
	return genl->cmd;
}

int kh_genl_parse_device(const struct nlmsghdr *nlh, struct kh_device *dev, const char **why)
{
	const struct nlattr *a;

	memset(dev, 0, sizeof(*dev));
	*why = NULL;
	for_each_attr(a, nlh) {
		uint16_t type = mnl_attr_get_type(a);

		if (type == 0 || type > KEYHOLE_A_MAX || policy[type].kind == K_NONE) {
			*why = "unknown attribute";
			return -EINVAL;
		}
		if (!valid(a, policy[type].kind, policy[type].len)) {
			*why = "attribute has the wrong size or is not a terminated string";
			return -EINVAL;
		}
		take_attr(a, dev);
	}
	/* A truncated trailing attribute ends the loop early: refuse it. */
	if ((const char *)a != (const char *)nlh + nlh->nlmsg_len &&
	    (const char *)a < (const char *)nlh + nlh->nlmsg_len) {
		*why = "truncated attribute";
		return -EINVAL;
	}
	return 0;
}

int kh_genl_parse_peer(const struct nlmsghdr *nlh, struct kh_ctrl_peer *peer, const char **why)
{
	const struct nlattr *a, *nest = NULL, *inner;

	memset(peer, 0, sizeof(*peer));
	for_each_attr(a, nlh)
		if (mnl_attr_get_type(a) == KEYHOLE_A_PEER)
			nest = a;
	if (!nest) {
		*why = "no peer in message";
		return -EINVAL;
	}
	mnl_attr_for_each_nested(inner, nest) {
		uint16_t type = mnl_attr_get_type(inner);

		if (type == 0 || type > KEYHOLE_PEER_A_MAX ||
		    !valid(inner, peer_policy[type].kind, peer_policy[type].len)) {
			*why = "malformed peer attribute";
			return -EINVAL;
		}
		switch (type) {
		case KEYHOLE_PEER_A_NAME: get_str(inner, peer->name, sizeof(peer->name)); break;
		case KEYHOLE_PEER_A_PUBLIC_KEY: memcpy(peer->pubkey, mnl_attr_get_payload(inner), 32); break;
		case KEYHOLE_PEER_A_ADDR4: memcpy(peer->ipv4, mnl_attr_get_payload(inner), 4); break;
		case KEYHOLE_PEER_A_ADDR6: memcpy(peer->ipv6, mnl_attr_get_payload(inner), 16); break;
		case KEYHOLE_PEER_A_ONLINE: peer->online = mnl_attr_get_u8(inner); break;
		case KEYHOLE_PEER_A_TAG:
			if (peer->ntags == KH_MAX_TAGS) {
				*why = "too many tags";
				return -EINVAL;
			}
			get_str(inner, peer->tags[peer->ntags++], KH_TAG_LEN);
			break;
		}
	}
	return 0;
}

struct nlmsghdr *kh_genl_put_error(void *buf, size_t len, const struct nlmsghdr *request,
				   int error, const char *msg)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nlmsgerr *err;

	nlh->nlmsg_type = NLMSG_ERROR;
	nlh->nlmsg_seq = request->nlmsg_seq;
	nlh->nlmsg_pid = request->nlmsg_pid;
	/* The request's header only, as the kernel does with NLM_F_CAPPED. */
	nlh->nlmsg_flags = NLM_F_CAPPED;
	err = mnl_nlmsg_put_extra_header(nlh, sizeof(*err));
	err->error = error;
	memcpy(&err->msg, request, sizeof(*request));
	if (msg && mnl_attr_put_strz_check(nlh, len, NLMSGERR_ATTR_MSG, msg))
		nlh->nlmsg_flags |= NLM_F_ACK_TLVS;
	return nlh;
}
