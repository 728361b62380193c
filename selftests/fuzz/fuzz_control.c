/* fuzz_control.c - libFuzzer target: every control message parser and the attribute iterator, on any bytes. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../userspace/lib/control.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Nests inside nests: deep enough for any real message, shallow enough to stay fast. */
#define MAX_DEPTH 4

/* A string the parser handed out must end inside its buffer and have no inner NUL. */
static void check_string(const char *s, size_t max, size_t min_len)
{
	size_t len = strnlen(s, max);

	if (len == max || len < min_len)
		abort();
}

static void check_peer(const struct kh_ctrl_peer *peer)
{
	uint8_t i;

	check_string(peer->name, sizeof(peer->name), 1);
	if (peer->ntags > KH_MAX_TAGS)
		abort();
	for (i = 0; i < peer->ntags; i++)
		check_string(peer->tags[i], KH_TAG_LEN, 1);
}

/* Collects peers so a parsed list can be built again and compared. */
struct peer_list {
	struct kh_ctrl_peer peers[KH_CTRL_MAX / 16];
	size_t n;
};

static int collect_peer(const struct kh_ctrl_peer *peer, void *ctx)
{
	struct peer_list *list = ctx;

	check_peer(peer);
	if (list->n == sizeof(list->peers) / sizeof(list->peers[0]))
		abort(); /* each peer takes at least 36 bytes of the message */
	list->peers[list->n++] = *peer;
	return 0;
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

/* Every typed getter on one attribute, each into a buffer of exactly its size. */
static void read_attr(const struct kh_attr *a)
{
	const size_t maxes[] = { 1, 2, a->len > 1 ? a->len - 1u : 1, a->len ? a->len : 1,
				 a->len + 1u, KH_NAME_LEN };
	uint8_t u8, *bin;
	uint16_t u16;
	uint32_t u32;
	uint64_t u64;
	size_t i;
	char *s;

	if (!kh_attr_get_u8(a, &u8) && a->len != 1)
		abort();
	if (!kh_attr_get_u16(a, &u16) && a->len != 2)
		abort();
	if (!kh_attr_get_u32(a, &u32) && a->len != 4)
		abort();
	if (!kh_attr_get_u64(a, &u64) && a->len != 8)
		abort();
	bin = malloc(a->len ? a->len : 1);
	if (!bin || kh_attr_get_bin(a, bin, a->len) || memcmp(bin, a->data, a->len))
		abort();
	free(bin);
	for (i = 0; i < sizeof(maxes) / sizeof(maxes[0]); i++) {
		s = malloc(maxes[i]);
		if (!s)
			abort();
		if (!kh_attr_get_str(a, s, maxes[i]))
			check_string(s, maxes[i], 1);
		free(s);
	}
}

/* Walk attributes, reading each one every way and descending into all of them as if nested. */
static void walk(const uint8_t *buf, size_t len, int depth)
{
	struct kh_attr_iter it;
	struct kh_attr a;
	const uint8_t *end = buf + len;

	kh_attr_iter_init(&it, buf, len);
	while (kh_attr_next(&it, &a)) {
		if (a.data < buf || a.data + a.len > end || a.type & KH_ATTR_F_NESTED)
			abort();
		read_attr(&a);
		if (depth < MAX_DEPTH)
			walk(a.data, a.len, depth + 1);
	}
	if (it.malformed && it.left == 0)
		abort();
}

/* What parses must survive being built again: the builders and parsers agree. */
static void round_trip_config(const struct kh_ctrl_config *cfg)
{
	struct kh_ctrl_config again;
	uint8_t msg[KH_CTRL_MAX];
	int len;

	check_string(cfg->name, sizeof(cfg->name), 0);
	/* An empty name is written as an empty string, which no parser accepts. */
	if (!cfg->name[0])
		return;
	len = kh_ctrl_build_config(msg, sizeof(msg), cfg);
	if (len < 0 || kh_ctrl_parse_config(msg, (size_t)len, &again) ||
	    memcmp(cfg, &again, sizeof(again)))
		abort();
}

static void round_trip_peers(int type, uint32_t request_id, bool last,
			     const struct peer_list *list)
{
	struct kh_ctrl_peers_writer pw;
	struct peer_list again = { .n = 0 };
	uint8_t msg[KH_CTRL_MAX];
	uint32_t id2;
	bool last2;
	size_t i;
	int len;

	kh_ctrl_peers_begin(&pw, msg, sizeof(msg), (enum kh_ctrl_type)type, request_id);
	for (i = 0; i < list->n; i++)
		if (!kh_ctrl_peers_add(&pw, &list->peers[i]))
			return; /* the input may pack peers tighter than the writer does */
	len = kh_ctrl_peers_finish(&pw, last);
	if (len < 0 || len > KH_CTRL_MAX)
		abort();
	if (kh_ctrl_parse_peers(msg, (size_t)len, &id2, &last2, collect_peer, &again) ||
	    id2 != request_id || last2 != last || again.n != list->n)
		abort();
	for (i = 0; i < list->n; i++)
		if (!same_peer(&list->peers[i], &again.peers[i]))
			abort();
}

static void parse_all(const uint8_t *msg, size_t size)
{
	enum kh_goodbye_reason reason, reason2;
	struct kh_ctrl_config cfg;
	struct peer_list list = { .n = 0 };
	uint8_t again[KH_CTRL_MAX];
	uint32_t request_id;
	bool follow, last;
	int type = kh_ctrl_type(msg, size), ret, len;

	if (type != -EINVAL && (type < 1 || type >= 0x40))
		abort();
	ret = kh_ctrl_parse_goodbye(msg, size, &reason);
	if (ret == 0) {
		if (reason > KH_GOODBYE_REPLACED)
			abort();
		len = kh_ctrl_build_goodbye(again, sizeof(again), reason);
		if (len < 0 || kh_ctrl_parse_goodbye(again, (size_t)len, &reason2) ||
		    reason2 != reason)
			abort();
	} else if (ret != -EINVAL) {
		abort();
	}
	ret = kh_ctrl_parse_config(msg, size, &cfg);
	if (ret == 0) {
		if (cfg.mtu < 576 || !cfg.keepalive_s || cfg.dead_peer_s <= cfg.keepalive_s ||
		    cfg.ipv4_plen > 32 || cfg.ipv6_plen > 128)
			abort();
		round_trip_config(&cfg);
	} else if (ret != -EINVAL) {
		abort();
	}
	ret = kh_ctrl_parse_peers_request(msg, size, &request_id, &follow);
	if (ret == 0) {
		uint32_t id2;
		bool follow2;

		len = kh_ctrl_build_peers_request(again, sizeof(again), request_id, follow);
		if (len < 0 || kh_ctrl_parse_peers_request(again, (size_t)len, &id2, &follow2) ||
		    id2 != request_id || follow2 != follow)
			abort();
	} else if (ret != -EINVAL) {
		abort();
	}
	ret = kh_ctrl_parse_peers(msg, size, &request_id, &last, collect_peer, &list);
	if (ret == 0)
		round_trip_peers(type, request_id, last, &list);
	else if (ret != -EINVAL)
		abort();
	/* The attributes of any message, and the raw input as attributes. */
	if (size >= KH_CTRL_HEADER_LEN)
		walk(msg + KH_CTRL_HEADER_LEN, size - KH_CTRL_HEADER_LEN, 0);
	walk(msg, size, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *msg;
	int type;

	parse_all(data, size);
	/* Random bytes rarely carry a valid header: try the input again behind one
	 * of every type it could be, the first byte choosing which. */
	if (size < 1 || size > KH_CTRL_MAX)
		return 0;
	msg = malloc(size + KH_CTRL_HEADER_LEN - 1);
	if (!msg)
		abort();
	type = KH_CTRL_GOODBYE + data[0] % KH_CTRL_PRESENCE;
	msg[0] = (uint8_t)type;
	msg[1] = msg[2] = msg[3] = 0;
	memcpy(msg + KH_CTRL_HEADER_LEN, data + 1, size - 1);
	parse_all(msg, size + KH_CTRL_HEADER_LEN - 1);
	free(msg);
	return 0;
}
