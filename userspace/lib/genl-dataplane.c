/* genl-dataplane.c - build and parse the kernel data plane's keyhole messages and the genl controller's answer. */
#include "genl-dataplane.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <linux/netlink.h>

/* Attributes start behind the genl header; walk to nlmsg_len exactly (see genl.c). */
#define for_each_attr(a, nlh)                                                                \
	for ((a) = mnl_nlmsg_get_payload_offset((nlh), sizeof(struct genlmsghdr));           \
	     mnl_attr_ok((a), (int)((const char *)(nlh) + (nlh)->nlmsg_len - (const char *)(a))); \
	     (a) = mnl_attr_next(a))

static bool put_keypair(struct nlmsghdr *nlh, size_t len, const struct kh_dp_keypair *kp)
{
	struct nlattr *nest = mnl_attr_nest_start_check(nlh, len, KEYHOLE_A_KEYPAIR);
	bool ok = nest != NULL;

	ok = ok && mnl_attr_put_check(nlh, len, KEYHOLE_KEYPAIR_A_LOCAL_INDEX, 4, &kp->local_index);
	ok = ok && mnl_attr_put_check(nlh, len, KEYHOLE_KEYPAIR_A_REMOTE_INDEX, 4,
				      &kp->remote_index);
	ok = ok && mnl_attr_put_check(nlh, len, KEYHOLE_KEYPAIR_A_SEND_KEY, KEYHOLE_KEY_LEN,
				      kp->send_key);
	ok = ok && mnl_attr_put_check(nlh, len, KEYHOLE_KEYPAIR_A_RECV_KEY, KEYHOLE_KEY_LEN,
				      kp->recv_key);
	if (ok)
		mnl_attr_nest_end(nlh, nest);
	return ok;
}

static size_t relay_len(const struct kh_dp_msg *m)
{
	return m->relay.sa.sa_family == AF_INET6 ? sizeof(m->relay.sin6) : sizeof(m->relay.sin);
}

bool kh_genl_put_dataplane(struct nlmsghdr *nlh, size_t len, const struct kh_dp_msg *m)
{
	bool ok = !m->has_payload || m->payload_len <= KEYHOLE_CTRL_MAX;

#define PUT(cond, type, n, data) \
	if (ok && (cond))        \
	ok = mnl_attr_put_check(nlh, len, type, n, data)
	PUT(m->has_ifindex, KEYHOLE_A_IFINDEX, 4, &m->ifindex);
	PUT(m->ifname[0], KEYHOLE_A_IFNAME, strlen(m->ifname) + 1, m->ifname);
	PUT(m->has_socket_fd, KEYHOLE_A_SOCKET_FD, 4, &m->socket_fd);
	PUT(m->has_relay, KEYHOLE_A_RELAY_SOCKADDR, relay_len(m), &m->relay);
	PUT(m->has_addr4, KEYHOLE_A_ADDR4, 4, m->addr4);
	PUT(m->has_addr4, KEYHOLE_A_PREFIX4_LEN, 1, &m->plen4);
	PUT(m->has_addr6, KEYHOLE_A_ADDR6, 16, m->addr6);
	PUT(m->has_addr6, KEYHOLE_A_PREFIX6_LEN, 1, &m->plen6);
	PUT(m->has_payload, KEYHOLE_A_PAYLOAD, m->payload_len, m->payload);
	PUT(m->has_mtu, KEYHOLE_A_MTU, 4, &m->mtu);
	PUT(m->has_dataplane, KEYHOLE_A_DATAPLANE, 1, &m->dataplane);
	PUT(m->has_counters, KEYHOLE_A_RX_BYTES, 8, &m->rx_bytes);
	PUT(m->has_counters, KEYHOLE_A_TX_BYTES, 8, &m->tx_bytes);
	PUT(m->has_counters, KEYHOLE_A_RX_PACKETS, 8, &m->rx_packets);
	PUT(m->has_counters, KEYHOLE_A_TX_PACKETS, 8, &m->tx_packets);
	PUT(m->has_counters, KEYHOLE_A_RX_DROPPED, 8, &m->rx_dropped);
	PUT(m->has_key_slots, KEYHOLE_A_KEY_SLOTS, 1, &m->key_slots);
#undef PUT
	if (ok && m->has_keypair)
		ok = put_keypair(nlh, len, &m->keypair);
	return ok;
}

static int parse_keypair(const struct nlattr *nest, struct kh_dp_keypair *kp, const char **why)
{
	const struct nlattr *a;
	unsigned seen = 0;

	mnl_attr_for_each_nested(a, nest) {
		uint16_t type = mnl_attr_get_type(a), plen = mnl_attr_get_payload_len(a);
		const void *p = mnl_attr_get_payload(a);

		switch (type) {
		case KEYHOLE_KEYPAIR_A_LOCAL_INDEX:
		case KEYHOLE_KEYPAIR_A_REMOTE_INDEX:
			if (plen != 4)
				goto bad;
			memcpy(type == KEYHOLE_KEYPAIR_A_LOCAL_INDEX ? &kp->local_index
								      : &kp->remote_index, p, 4);
			break;
		case KEYHOLE_KEYPAIR_A_SEND_KEY:
		case KEYHOLE_KEYPAIR_A_RECV_KEY:
			if (plen != KEYHOLE_KEY_LEN)
				goto bad;
			memcpy(type == KEYHOLE_KEYPAIR_A_SEND_KEY ? kp->send_key : kp->recv_key, p,
			       KEYHOLE_KEY_LEN);
			break;
		default:
			*why = "unknown keypair attribute";
			return -EINVAL;
		}
		seen |= 1u << type;
	}
	/* mnl_attr_for_each_nested stops at a truncated attribute: refuse it. */
	if ((const char *)a != (const char *)mnl_attr_get_payload(nest) +
					mnl_attr_get_payload_len(nest) &&
	    (const char *)a < (const char *)mnl_attr_get_payload(nest) +
				      mnl_attr_get_payload_len(nest)) {
		*why = "truncated keypair attribute";
		return -EINVAL;
	}
	if (seen != (1u << KEYHOLE_KEYPAIR_A_LOCAL_INDEX | 1u << KEYHOLE_KEYPAIR_A_REMOTE_INDEX |
		     1u << KEYHOLE_KEYPAIR_A_SEND_KEY | 1u << KEYHOLE_KEYPAIR_A_RECV_KEY)) {
		*why = "a keypair needs both indices and both keys";
		return -EINVAL;
	}
	return 0;
bad:
	*why = "keypair attribute has the wrong size";
	return -EINVAL;
}

static int parse_relay(const struct nlattr *a, struct kh_dp_msg *m)
{
	uint16_t plen = mnl_attr_get_payload_len(a);
	sa_family_t family;

	if (plen < sizeof(family))
		return -EINVAL;
	memcpy(&family, mnl_attr_get_payload(a), sizeof(family));
	if (!(family == AF_INET && plen == sizeof(m->relay.sin)) &&
	    !(family == AF_INET6 && plen == sizeof(m->relay.sin6)))
		return -EINVAL;
	memset(&m->relay, 0, sizeof(m->relay));
	memcpy(&m->relay, mnl_attr_get_payload(a), plen);
	m->has_relay = true;
	return 0;
}

/* Size each known attribute must have; 0 for those checked on their own. */
static const uint8_t fixed_len[KEYHOLE_A_MAX + 1] = {
	[KEYHOLE_A_IFINDEX] = 4,     [KEYHOLE_A_SOCKET_FD] = 4,  [KEYHOLE_A_ADDR4] = 4,
	[KEYHOLE_A_PREFIX4_LEN] = 1, [KEYHOLE_A_ADDR6] = 16,     [KEYHOLE_A_PREFIX6_LEN] = 1,
	[KEYHOLE_A_MTU] = 4,         [KEYHOLE_A_DATAPLANE] = 1,  [KEYHOLE_A_RX_BYTES] = 8,
	[KEYHOLE_A_TX_BYTES] = 8,    [KEYHOLE_A_RX_PACKETS] = 8, [KEYHOLE_A_TX_PACKETS] = 8,
	[KEYHOLE_A_RX_DROPPED] = 8,  [KEYHOLE_A_KEY_SLOTS] = 1,
};

static int take(const struct nlattr *a, struct kh_dp_msg *m, const char **why)
{
	uint16_t type = mnl_attr_get_type(a), plen = mnl_attr_get_payload_len(a);
	const uint8_t *p = mnl_attr_get_payload(a);

	if (type <= KEYHOLE_A_MAX && fixed_len[type] && plen != fixed_len[type]) {
		*why = "attribute has the wrong size";
		return -EINVAL;
	}
	switch (type) {
	case KEYHOLE_A_IFINDEX: m->ifindex = mnl_attr_get_u32(a); m->has_ifindex = true; break;
	case KEYHOLE_A_IFNAME:
		if (plen < 1 || plen > IFNAMSIZ || p[plen - 1] || strlen((const char *)p) != plen - 1u) {
			*why = "interface name is not a terminated string of at most 15 characters";
			return -EINVAL;
		}
		memcpy(m->ifname, p, plen);
		break;
	case KEYHOLE_A_SOCKET_FD: m->socket_fd = mnl_attr_get_u32(a); m->has_socket_fd = true; break;
	case KEYHOLE_A_RELAY_SOCKADDR:
		if (parse_relay(a, m)) {
			*why = "relay address is no sockaddr_in or sockaddr_in6";
			return -EINVAL;
		}
		break;
	case KEYHOLE_A_ADDR4: memcpy(m->addr4, p, 4); m->has_addr4 = true; break;
	case KEYHOLE_A_PREFIX4_LEN: m->plen4 = *p; break;
	case KEYHOLE_A_ADDR6: memcpy(m->addr6, p, 16); m->has_addr6 = true; break;
	case KEYHOLE_A_PREFIX6_LEN: m->plen6 = *p; break;
	case KEYHOLE_A_KEYPAIR:
		if (parse_keypair(a, &m->keypair, why))
			return -EINVAL;
		m->has_keypair = true;
		break;
	case KEYHOLE_A_PAYLOAD:
		if (plen > KEYHOLE_CTRL_MAX) {
			*why = "payload longer than KEYHOLE_CTRL_MAX";
			return -EINVAL;
		}
		m->payload = p;
		m->payload_len = plen;
		m->has_payload = true;
		break;
	case KEYHOLE_A_MTU: m->mtu = mnl_attr_get_u32(a); m->has_mtu = true; break;
	case KEYHOLE_A_DATAPLANE: m->dataplane = *p; m->has_dataplane = true; break;
	case KEYHOLE_A_RX_BYTES: m->rx_bytes = mnl_attr_get_u64(a); m->has_counters = true; break;
	case KEYHOLE_A_TX_BYTES: m->tx_bytes = mnl_attr_get_u64(a); m->has_counters = true; break;
	case KEYHOLE_A_RX_PACKETS: m->rx_packets = mnl_attr_get_u64(a); m->has_counters = true; break;
	case KEYHOLE_A_TX_PACKETS: m->tx_packets = mnl_attr_get_u64(a); m->has_counters = true; break;
	case KEYHOLE_A_RX_DROPPED: m->rx_dropped = mnl_attr_get_u64(a); m->has_counters = true; break;
	case KEYHOLE_A_KEY_SLOTS: m->key_slots = *p; m->has_key_slots = true; break;
	default: break; /* not ours to read: skipped */
	}
	return 0;
}

static bool whole_genl(const struct nlmsghdr *nlh)
{
	return nlh->nlmsg_len >= MNL_NLMSG_HDRLEN + sizeof(struct genlmsghdr);
}

/* Bytes left behind the last whole attribute (a truncated one). */
static bool trailing(const struct nlmsghdr *nlh, const struct nlattr *a)
{
	const char *end = (const char *)nlh + nlh->nlmsg_len;

	return (const char *)a < end;
}

int kh_genl_parse_dataplane(const struct nlmsghdr *nlh, struct kh_dp_msg *m, const char **why)
{
	const struct nlattr *a;

	memset(m, 0, sizeof(*m));
	*why = NULL;
	if (!whole_genl(nlh)) {
		*why = "no generic netlink header";
		return -EINVAL;
	}
	for_each_attr(a, nlh)
		if (take(a, m, why))
			return -EINVAL;
	if (trailing(nlh, a)) {
		*why = "truncated attribute";
		return -EINVAL;
	}
	return 0;
}

struct nlmsghdr *kh_genl_ctrl_getfamily(void *buf, size_t len, const char *name)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct genlmsghdr *genl;

	nlh->nlmsg_type = GENL_ID_CTRL;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	genl = mnl_nlmsg_put_extra_header(nlh, sizeof(*genl));
	genl->cmd = CTRL_CMD_GETFAMILY;
	genl->version = 1;
	if (!mnl_attr_put_strz_check(nlh, len, CTRL_ATTR_FAMILY_NAME, name))
		return NULL;
	return nlh;
}

/* One entry of CTRL_ATTR_MCAST_GROUPS: its id if its name is group. */
static int group_entry(const struct nlattr *entry, const char *group, uint32_t *group_id)
{
	const struct nlattr *a;
	const char *name = NULL;
	uint32_t id = 0;
	bool has_id = false;

	if (mnl_attr_validate(entry, MNL_TYPE_NESTED))
		return -EINVAL;
	mnl_attr_for_each_nested(a, entry) {
		if (mnl_attr_get_type(a) == CTRL_ATTR_MCAST_GRP_NAME) {
			if (mnl_attr_validate(a, MNL_TYPE_NUL_STRING))
				return -EINVAL;
			name = mnl_attr_get_str(a);
		} else if (mnl_attr_get_type(a) == CTRL_ATTR_MCAST_GRP_ID) {
			if (mnl_attr_validate(a, MNL_TYPE_U32))
				return -EINVAL;
			id = mnl_attr_get_u32(a);
			has_id = true;
		}
	}
	if (name && has_id && !strcmp(name, group))
		*group_id = id;
	return 0;
}

int kh_genl_parse_family(const struct nlmsghdr *nlh, const char *group, uint16_t *id,
			 uint32_t *group_id, const char **why)
{
	const struct nlattr *a, *entry;
	bool has_id = false;

	*why = NULL;
	*id = 0;
	*group_id = 0;
	if (nlh->nlmsg_type != GENL_ID_CTRL || !whole_genl(nlh)) {
		*why = "not a genl controller message";
		return -EINVAL;
	}
	for_each_attr(a, nlh) {
		switch (mnl_attr_get_type(a)) {
		case CTRL_ATTR_FAMILY_ID:
			if (mnl_attr_validate(a, MNL_TYPE_U16))
				goto bad;
			*id = mnl_attr_get_u16(a);
			has_id = *id != 0;
			break;
		case CTRL_ATTR_MCAST_GROUPS:
			if (mnl_attr_validate(a, MNL_TYPE_NESTED))
				goto bad;
			mnl_attr_for_each_nested(entry, a)
				if (group_entry(entry, group, group_id))
					goto bad;
			break;
		default:
			break;
		}
	}
	if (trailing(nlh, a))
		goto bad;
	if (!has_id) {
		*why = "the controller named no family id";
		return -EINVAL;
	}
	return 0;
bad:
	*why = "malformed genl controller answer";
	*id = 0;
	*group_id = 0;
	return -EINVAL;
}
