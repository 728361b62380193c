/* fuzz_genl.c - libFuzzer target: the genl codec on any bytes; what parses must build and parse again. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../userspace/lib/genl-dataplane.h"
#include "../../userspace/lib/genl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FAMILY KEYHOLE_DAEMON_FAMILY_ID
/* Far more than any device or peer takes (about 800 and 600 bytes). */
#define BUILD_MAX 4096

/* A string the parser handed out must end inside its array. */
static void check_string(const char *s, size_t max)
{
	if (strnlen(s, max) == max)
		abort();
}

/* Exactly n bytes of heap, so ASan sees any access past them. */
static uint8_t *exact_copy(const void *p, size_t n)
{
	uint8_t *copy = malloc(n ? n : 1);

	if (!copy)
		abort();
	memcpy(copy, p, n);
	return copy;
}

/*
 * Fields the parser keeps without a presence flag, which the builder writes
 * only under one (has_state, has_addr4, has_addr6): not carried by a rebuild.
 */
static void drop_unflagged(struct kh_device *d)
{
	if (!d->has_state) {
		d->last_handshake = d->rx_bytes = d->tx_bytes = 0;
		d->rx_packets = d->tx_packets = 0;
		d->dataplane = 0;
		d->psk_set = d->token_set = false;
		memset(d->relay_address, 0, sizeof(d->relay_address));
	}
	if (!d->has_addr4)
		d->plen4 = 0;
	if (!d->has_addr6)
		d->plen6 = 0;
}

/* Strings compare as strings: a repeated attribute leaves the longer one's tail behind its NUL. */
static bool same_device(const struct kh_device *a, const struct kh_device *b)
{
	return a->ifindex == b->ifindex && !strcmp(a->ifname, b->ifname) && a->flags == b->flags &&
	       a->has_private_key == b->has_private_key && a->has_public_key == b->has_public_key &&
	       a->has_relay_endpoint == b->has_relay_endpoint &&
	       a->has_relay_public_key == b->has_relay_public_key && a->has_psk == b->has_psk &&
	       a->has_keepalive == b->has_keepalive && a->has_token == b->has_token &&
	       a->has_node_name == b->has_node_name && a->has_state == b->has_state &&
	       a->has_addr4 == b->has_addr4 && a->has_addr6 == b->has_addr6 &&
	       a->has_mtu == b->has_mtu &&
	       !memcmp(a->private_key, b->private_key, sizeof(a->private_key)) &&
	       !memcmp(a->public_key, b->public_key, sizeof(a->public_key)) &&
	       !strcmp(a->relay_endpoint, b->relay_endpoint) &&
	       !memcmp(a->relay_public_key, b->relay_public_key, sizeof(a->relay_public_key)) &&
	       !memcmp(a->psk, b->psk, sizeof(a->psk)) && a->keepalive == b->keepalive &&
	       !memcmp(a->token, b->token, sizeof(a->token)) &&
	       !strcmp(a->node_name, b->node_name) && a->session_state == b->session_state &&
	       a->last_handshake == b->last_handshake && a->rx_bytes == b->rx_bytes &&
	       a->tx_bytes == b->tx_bytes && a->rx_packets == b->rx_packets &&
	       a->tx_packets == b->tx_packets && !memcmp(a->addr4, b->addr4, 4) &&
	       a->plen4 == b->plen4 && !memcmp(a->addr6, b->addr6, 16) && a->plen6 == b->plen6 &&
	       a->mtu == b->mtu && a->dataplane == b->dataplane &&
	       !strcmp(a->relay_address, b->relay_address) && a->psk_set == b->psk_set &&
	       a->token_set == b->token_set;
}

static void round_trip_device(const struct kh_device *dev)
{
	struct kh_device again, expected = *dev;
	struct nlmsghdr *nlh;
	const char *why;
	uint8_t *buf = malloc(BUILD_MAX), *small;
	size_t need;

	if (!buf)
		abort();
	nlh = kh_genl_msg_start(buf, FAMILY, KEYHOLE_CMD_SET_DEVICE, 0, 1);
	if (!kh_genl_put_device(nlh, BUILD_MAX, dev) ||
	    kh_genl_cmd(nlh, nlh->nlmsg_len, FAMILY) != KEYHOLE_CMD_SET_DEVICE ||
	    kh_genl_parse_device(nlh, &again, &why))
		abort();
	drop_unflagged(&expected);
	if (!same_device(&expected, &again))
		abort();
	/* One byte less room than the attributes need: refused, and nothing written past it. */
	need = nlh->nlmsg_len;
	free(buf);
	if (need <= MNL_NLMSG_HDRLEN + sizeof(struct genlmsghdr))
		return;
	small = malloc(need - 1);
	if (!small)
		abort();
	nlh = kh_genl_msg_start(small, FAMILY, KEYHOLE_CMD_SET_DEVICE, 0, 1);
	if (kh_genl_put_device(nlh, need - 1, dev))
		abort();
	free(small);
}

static bool same_peer(const struct kh_ctrl_peer *a, const struct kh_ctrl_peer *b)
{
	uint8_t i;

	if (strcmp(a->name, b->name) || memcmp(a->pubkey, b->pubkey, 32) ||
	    memcmp(a->ipv4, b->ipv4, 4) || memcmp(a->ipv6, b->ipv6, 16) ||
	    a->online != b->online || a->ntags != b->ntags)
		return false;
	for (i = 0; i < a->ntags; i++)
		if (strcmp(a->tags[i], b->tags[i]))
			return false;
	return true;
}

static void round_trip_peer(const struct kh_ctrl_peer *peer)
{
	struct kh_ctrl_peer again;
	struct nlmsghdr *nlh;
	const char *why;
	uint8_t *buf = malloc(BUILD_MAX);

	if (!buf)
		abort();
	nlh = kh_genl_msg_start(buf, FAMILY, KEYHOLE_CMD_GET_PEERS, NLM_F_MULTI, 1);
	if (!kh_genl_put_peer(nlh, BUILD_MAX, peer) ||
	    kh_genl_cmd(nlh, nlh->nlmsg_len, FAMILY) != KEYHOLE_CMD_GET_PEERS ||
	    kh_genl_parse_peer(nlh, &again, &why) || !same_peer(peer, &again))
		abort();
	free(buf);
}

/* A data-plane message that parsed builds again and parses to the same fields. */
static void round_trip_dataplane(const struct nlmsghdr *nlh, const struct kh_dp_msg *m)
{
	struct kh_dp_msg again;
	struct nlmsghdr *out;
	const char *why;
	uint8_t *buf = malloc(BUILD_MAX);

	if (!buf)
		abort();
	if (m->has_payload && ((const uint8_t *)m->payload < (const uint8_t *)nlh ||
			       (const uint8_t *)m->payload + m->payload_len >
				       (const uint8_t *)nlh + nlh->nlmsg_len ||
			       m->payload_len > KEYHOLE_CTRL_MAX))
		abort();
	check_string(m->ifname, sizeof(m->ifname));
	out = kh_genl_msg_start(buf, FAMILY, KEYHOLE_CMD_RECV_CTRL, 0, 1);
	if (!kh_genl_put_dataplane(out, BUILD_MAX, m) || kh_genl_parse_dataplane(out, &again, &why))
		abort();
	if (again.has_payload != m->has_payload || again.payload_len != m->payload_len ||
	    (m->payload_len && memcmp(again.payload, m->payload, m->payload_len)) ||
	    again.has_keypair != m->has_keypair ||
	    memcmp(&again.keypair, &m->keypair, sizeof(m->keypair)) ||
	    again.has_relay != m->has_relay || memcmp(&again.relay, &m->relay, sizeof(m->relay)) ||
	    again.ifindex != m->ifindex || again.rx_bytes != m->rx_bytes ||
	    again.key_slots != m->key_slots || strcmp(again.ifname, m->ifname))
		abort();
	free(buf);
}

/* The whole codec on one received buffer of size bytes. */
static void check_message(const uint8_t *data, size_t size)
{
	uint8_t *msg = exact_copy(data, size), err_buf[1024];
	const struct nlmsghdr *nlh = (const struct nlmsghdr *)msg;
	struct kh_ctrl_peer peer;
	struct kh_device dev;
	const char *why;
	uint8_t i;
	int cmd, ret;

	cmd = kh_genl_cmd(nlh, size, FAMILY);
	if (cmd != -EINVAL && (cmd < 1 || cmd > KEYHOLE_CMD_MAX))
		abort();
	/* The parsers take a message known to be whole, as every caller checks
	 * (not with mnl_nlmsg_ok alone: it lets an nlmsg_len of 2 GiB or more by). */
	if (size < sizeof(*nlh) || nlh->nlmsg_len < sizeof(*nlh) || nlh->nlmsg_len > size) {
		free(msg);
		return;
	}
	ret = kh_genl_parse_device(nlh, &dev, &why);
	if (ret == 0) {
		if (why)
			abort();
		check_string(dev.ifname, sizeof(dev.ifname));
		check_string(dev.relay_endpoint, sizeof(dev.relay_endpoint));
		check_string(dev.node_name, sizeof(dev.node_name));
		check_string(dev.relay_address, sizeof(dev.relay_address));
		round_trip_device(&dev);
	} else if (ret != -EINVAL || !why) {
		abort();
	}
	ret = kh_genl_parse_peer(nlh, &peer, &why);
	if (ret == 0) {
		check_string(peer.name, sizeof(peer.name));
		if (peer.ntags > KH_MAX_TAGS)
			abort();
		for (i = 0; i < peer.ntags; i++)
			check_string(peer.tags[i], KH_TAG_LEN);
		round_trip_peer(&peer);
	} else if (ret != -EINVAL || !why) {
		abort();
	}
	{
		struct kh_dp_msg dp;
		uint32_t group;
		uint16_t id;

		ret = kh_genl_parse_dataplane(nlh, &dp, &why);
		if (ret == 0)
			round_trip_dataplane(nlh, &dp);
		else if (ret != -EINVAL || !why)
			abort();
		ret = kh_genl_parse_family(nlh, KEYHOLE_MCGRP_CTRL, &id, &group, &why);
		if ((ret == 0 && id == 0) || (ret != 0 && (ret != -EINVAL || !why)))
			abort();
	}
	/* Whatever came, an error can answer it, with the request's sequence. */
	nlh = kh_genl_put_error(err_buf, sizeof(err_buf), nlh, -EINVAL, "malformed");
	if (nlh->nlmsg_type != NLMSG_ERROR ||
	    nlh->nlmsg_seq != ((struct nlmsghdr *)msg)->nlmsg_seq ||
	    !mnl_nlmsg_ok(nlh, (int)sizeof(err_buf)))
		abort();
	free(msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nlmsghdr *nlh;
	struct genlmsghdr *genl;
	uint8_t *msg;
	size_t len, cut;

	check_message(data, size);
	/*
	 * Random bytes rarely carry a header that fits: try the input again as
	 * the attributes behind a good one, its first byte choosing the command
	 * and how many bytes to cut from the end.
	 */
	if (size < 1 || size > 0xffff - 64)
		return 0;
	len = MNL_NLMSG_HDRLEN + sizeof(*genl) + size - 1;
	msg = calloc(1, len);
	if (!msg)
		abort();
	nlh = (struct nlmsghdr *)msg;
	nlh->nlmsg_len = (uint32_t)len;
	nlh->nlmsg_type = FAMILY;
	nlh->nlmsg_seq = 7;
	genl = (struct genlmsghdr *)(msg + MNL_NLMSG_HDRLEN);
	genl->cmd = (uint8_t)(1 + data[0] % KEYHOLE_CMD_MAX);
	genl->version = KEYHOLE_GENL_VERSION;
	memcpy(msg + MNL_NLMSG_HDRLEN + sizeof(*genl), data + 1, size - 1);
	check_message(msg, len);
	/* The same cut short by 1-7 bytes, inside an attribute as often as not. */
	cut = (size_t)(data[0] >> 4 & 7);
	if (cut && cut < size) {
		nlh->nlmsg_len -= (uint32_t)cut;
		check_message(msg, nlh->nlmsg_len);
	}
	free(msg);
	return 0;
}
