/* control.c - build and parse the control messages that travel inside transport messages. */
#include "control.h"

#include <errno.h>
#include <string.h>

int kh_ctrl_type(const uint8_t *msg, size_t len)
{
	if (len < KH_CTRL_HEADER_LEN || msg[0] == 0 || msg[0] >= 0x40 || msg[1] || msg[2] ||
	    msg[3])
		return -EINVAL;
	return msg[0];
}

static void begin(struct kh_attr_writer *w, uint8_t *out, size_t max, enum kh_ctrl_type type)
{
	if (max < KH_CTRL_HEADER_LEN) {
		kh_attr_writer_init(w, out, 0);
		w->overflow = true;
		return;
	}
	out[0] = (uint8_t)type;
	out[1] = out[2] = out[3] = 0;
	kh_attr_writer_init(w, out + KH_CTRL_HEADER_LEN, max - KH_CTRL_HEADER_LEN);
}

static int finish(const struct kh_attr_writer *w)
{
	return w->overflow ? -EMSGSIZE : (int)(KH_CTRL_HEADER_LEN + w->len);
}

int kh_ctrl_build_goodbye(uint8_t *out, size_t max, enum kh_goodbye_reason reason)
{
	struct kh_attr_writer w;

	begin(&w, out, max, KH_CTRL_GOODBYE);
	kh_attr_put_u8(&w, KH_CA_REASON, (uint8_t)reason);
	return finish(&w);
}

static void put_addr(struct kh_attr_writer *w, uint16_t type, const uint8_t *addr, size_t len,
		     uint8_t plen)
{
	uint8_t buf[17];

	memcpy(buf, addr, len);
	buf[len] = plen;
	kh_attr_put(w, type, buf, len + 1);
}

int kh_ctrl_build_config(uint8_t *out, size_t max, const struct kh_ctrl_config *cfg)
{
	struct kh_attr_writer w;

	begin(&w, out, max, KH_CTRL_CONFIG);
	put_addr(&w, KH_CA_IPV4, cfg->ipv4, 4, cfg->ipv4_plen);
	put_addr(&w, KH_CA_IPV6, cfg->ipv6, 16, cfg->ipv6_plen);
	kh_attr_put_u16(&w, KH_CA_MTU, cfg->mtu);
	kh_attr_put_u16(&w, KH_CA_KEEPALIVE, cfg->keepalive_s);
	kh_attr_put_u16(&w, KH_CA_DEAD_PEER, cfg->dead_peer_s);
	/* The name is optional and an empty string is no valid attribute: leave it out. */
	if (cfg->name[0])
		kh_attr_put_str(&w, KH_CA_NAME, cfg->name);
	return finish(&w);
}

int kh_ctrl_build_peers_request(uint8_t *out, size_t max, uint32_t request_id, bool follow)
{
	struct kh_attr_writer w;

	begin(&w, out, max, KH_CTRL_PEERS_REQUEST);
	kh_attr_put_u32(&w, KH_CA_REQUEST_ID, request_id);
	kh_attr_put_u8(&w, KH_CA_FOLLOW, follow);
	return finish(&w);
}

void kh_ctrl_peers_begin(struct kh_ctrl_peers_writer *pw, uint8_t *out, size_t max,
			 enum kh_ctrl_type type, uint32_t request_id)
{
	begin(&pw->w, out, max, type);
	kh_attr_put_u32(&pw->w, KH_CA_REQUEST_ID, request_id);
	pw->count = 0;
}

/* The closing KH_CA_LAST attribute: a u8, so a header and one padded byte. */
#define PEERS_LAST_ROOM KH_ATTR_ALIGN(KH_ATTR_HDRLEN + 1)

bool kh_ctrl_peers_add(struct kh_ctrl_peers_writer *pw, const struct kh_ctrl_peer *peer)
{
	struct kh_attr_writer *w = &pw->w;
	size_t before = w->len, nest;
	uint8_t i;

	/* A writer that already overflowed stays so; with no room for the closing
	 * attribute, shrinking max below len would make every bound check wrap. */
	if (w->overflow || w->max - w->len < PEERS_LAST_ROOM)
		return false;
	w->max -= PEERS_LAST_ROOM;
	nest = kh_attr_nest_start(w, KH_CA_PEER);
	kh_attr_put_str(w, KH_CA_NAME, peer->name);
	kh_attr_put(w, KH_CA_PUBKEY, peer->pubkey, 32);
	kh_attr_put(w, KH_CA_IPV4, peer->ipv4, 4);
	kh_attr_put(w, KH_CA_IPV6, peer->ipv6, 16);
	kh_attr_put_u8(w, KH_CA_ONLINE, peer->online);
	for (i = 0; i < peer->ntags && i < KH_MAX_TAGS; i++)
		kh_attr_put_str(w, KH_CA_TAG, peer->tags[i]);
	kh_attr_nest_end(w, nest);
	w->max += PEERS_LAST_ROOM;
	if (w->overflow) {
		/* It was clear on entry: drop the partial peer, keep the message. */
		w->len = before;
		w->overflow = false;
		return false;
	}
	pw->count++;
	return true;
}

int kh_ctrl_peers_finish(struct kh_ctrl_peers_writer *pw, bool last)
{
	kh_attr_put_u8(&pw->w, KH_CA_LAST, last);
	return finish(&pw->w);
}

/* Iterate the attributes of a control message of the given type. */
static int open_msg(const uint8_t *msg, size_t len, enum kh_ctrl_type type,
		    struct kh_attr_iter *it)
{
	if (kh_ctrl_type(msg, len) != (int)type || len > KH_CTRL_MAX)
		return -EINVAL;
	kh_attr_iter_init(it, msg + KH_CTRL_HEADER_LEN, len - KH_CTRL_HEADER_LEN);
	return 0;
}

int kh_ctrl_parse_goodbye(const uint8_t *msg, size_t len, enum kh_goodbye_reason *reason)
{
	struct kh_attr_iter it;
	struct kh_attr a;
	uint8_t r = KH_GOODBYE_SHUTDOWN;

	if (open_msg(msg, len, KH_CTRL_GOODBYE, &it))
		return -EINVAL;
	while (kh_attr_next(&it, &a))
		if (a.type == KH_CA_REASON && kh_attr_get_u8(&a, &r))
			return -EINVAL;
	if (it.malformed || r > KH_GOODBYE_REPLACED)
		return -EINVAL;
	*reason = (enum kh_goodbye_reason)r;
	return 0;
}

static int get_addr(const struct kh_attr *a, uint8_t *addr, size_t len, uint8_t *plen)
{
	if (a->len != len + 1 || a->data[len] > len * 8)
		return -EINVAL;
	memcpy(addr, a->data, len);
	*plen = a->data[len];
	return 0;
}

int kh_ctrl_parse_config(const uint8_t *msg, size_t len, struct kh_ctrl_config *cfg)
{
	struct kh_attr_iter it;
	struct kh_attr a;
	unsigned seen = 0;
	int ret = 0;

	if (open_msg(msg, len, KH_CTRL_CONFIG, &it))
		return -EINVAL;
	memset(cfg, 0, sizeof(*cfg));
	while (!ret && kh_attr_next(&it, &a)) {
		switch (a.type) {
		case KH_CA_IPV4:
			ret = get_addr(&a, cfg->ipv4, 4, &cfg->ipv4_plen);
			break;
		case KH_CA_IPV6:
			ret = get_addr(&a, cfg->ipv6, 16, &cfg->ipv6_plen);
			break;
		case KH_CA_MTU:
			ret = kh_attr_get_u16(&a, &cfg->mtu);
			break;
		case KH_CA_KEEPALIVE:
			ret = kh_attr_get_u16(&a, &cfg->keepalive_s);
			break;
		case KH_CA_DEAD_PEER:
			ret = kh_attr_get_u16(&a, &cfg->dead_peer_s);
			break;
		case KH_CA_NAME:
			ret = kh_attr_get_str(&a, cfg->name, sizeof(cfg->name));
			break;
		default:
			continue; /* newer relays may say more */
		}
		seen |= 1u << a.type;
	}
	if (ret || it.malformed)
		return -EINVAL;
	/* Everything but the name is required, and values must be usable. */
	if ((seen & ((1u << KH_CA_IPV4) | (1u << KH_CA_IPV6) | (1u << KH_CA_MTU) |
		     (1u << KH_CA_KEEPALIVE) | (1u << KH_CA_DEAD_PEER))) !=
	    ((1u << KH_CA_IPV4) | (1u << KH_CA_IPV6) | (1u << KH_CA_MTU) |
	     (1u << KH_CA_KEEPALIVE) | (1u << KH_CA_DEAD_PEER)))
		return -EINVAL;
	if (cfg->mtu < 576 || cfg->keepalive_s == 0 || cfg->dead_peer_s <= cfg->keepalive_s)
		return -EINVAL;
	return 0;
}

int kh_ctrl_parse_peers_request(const uint8_t *msg, size_t len, uint32_t *request_id,
				bool *follow)
{
	struct kh_attr_iter it;
	struct kh_attr a;
	uint8_t f = 0;
	bool have_id = false;

	if (open_msg(msg, len, KH_CTRL_PEERS_REQUEST, &it))
		return -EINVAL;
	while (kh_attr_next(&it, &a)) {
		if (a.type == KH_CA_REQUEST_ID) {
			if (kh_attr_get_u32(&a, request_id))
				return -EINVAL;
			have_id = true;
		} else if (a.type == KH_CA_FOLLOW && kh_attr_get_u8(&a, &f)) {
			return -EINVAL;
		}
	}
	if (it.malformed || !have_id || f > 1)
		return -EINVAL;
	*follow = f;
	return 0;
}

static int parse_peer(const struct kh_attr *nest, struct kh_ctrl_peer *peer)
{
	struct kh_attr_iter it;
	struct kh_attr a;
	uint8_t online = 0;
	unsigned seen = 0;
	int ret = 0;

	memset(peer, 0, sizeof(*peer));
	kh_attr_iter_init(&it, nest->data, nest->len);
	while (!ret && kh_attr_next(&it, &a)) {
		switch (a.type) {
		case KH_CA_NAME:
			ret = kh_attr_get_str(&a, peer->name, sizeof(peer->name));
			break;
		case KH_CA_PUBKEY:
			ret = kh_attr_get_bin(&a, peer->pubkey, 32);
			break;
		case KH_CA_IPV4:
			ret = kh_attr_get_bin(&a, peer->ipv4, 4);
			break;
		case KH_CA_IPV6:
			ret = kh_attr_get_bin(&a, peer->ipv6, 16);
			break;
		case KH_CA_ONLINE:
			ret = kh_attr_get_u8(&a, &online);
			break;
		case KH_CA_TAG:
			if (peer->ntags >= KH_MAX_TAGS)
				return -EINVAL;
			ret = kh_attr_get_str(&a, peer->tags[peer->ntags], KH_TAG_LEN);
			peer->ntags++;
			break;
		default:
			continue;
		}
		seen |= 1u << a.type;
	}
	if (ret || it.malformed || online > 1)
		return -EINVAL;
	if (!(seen & (1u << KH_CA_NAME)) || !(seen & (1u << KH_CA_IPV4)) ||
	    !(seen & (1u << KH_CA_IPV6)))
		return -EINVAL;
	peer->online = online;
	return 0;
}

int kh_ctrl_parse_peers(const uint8_t *msg, size_t len, uint32_t *request_id, bool *last,
			int (*cb)(const struct kh_ctrl_peer *peer, void *ctx), void *ctx)
{
	struct kh_ctrl_peer peer;
	struct kh_attr_iter it;
	struct kh_attr a;
	uint8_t l = 0;
	int type = kh_ctrl_type(msg, len);

	if ((type != KH_CTRL_PEERS_REPLY && type != KH_CTRL_PRESENCE) || len > KH_CTRL_MAX)
		return -EINVAL;
	*request_id = 0;
	kh_attr_iter_init(&it, msg + KH_CTRL_HEADER_LEN, len - KH_CTRL_HEADER_LEN);
	while (kh_attr_next(&it, &a)) {
		if (a.type == KH_CA_REQUEST_ID) {
			if (kh_attr_get_u32(&a, request_id))
				return -EINVAL;
		} else if (a.type == KH_CA_LAST) {
			if (kh_attr_get_u8(&a, &l) || l > 1)
				return -EINVAL;
		} else if (a.type == KH_CA_PEER) {
			if (parse_peer(&a, &peer))
				return -EINVAL;
			if (cb(&peer, ctx))
				break;
		}
	}
	if (it.malformed)
		return -EINVAL;
	*last = l;
	return 0;
}
