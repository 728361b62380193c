/* nodes.c - the relay's in-memory view of the registry: nodes by key and address, policy masks. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "../common/log.h"
#include "relay.h"

uint64_t relay_hash(const struct relay *r, const void *data, size_t len)
{
	uint8_t out[crypto_shorthash_BYTES];

	/* SipHash with a secret key: no one can aim collisions at the maps. */
	crypto_shorthash(out, data, len, r->hash_key);
	return kh_get_le64(out);
}

bool relay_node_by_key(const struct relay *r, const uint8_t key[32], uint32_t *idx)
{
	return kh_map_get(&r->by_key, relay_hash(r, key, 32), idx) &&
	       !sodium_memcmp(r->nodes[*idx].rec.pubkey, key, 32);
}

bool relay_node_by_addr(const struct relay *r, const struct kh_ipaddr *addr, uint32_t *idx)
{
	if (addr->family == 4)
		return kh_map_get(&r->by_ipv4, relay_hash(r, addr->bytes, 4), idx) &&
		       !memcmp(r->nodes[*idx].rec.ipv4, addr->bytes, 4);
	return kh_map_get(&r->by_ipv6, relay_hash(r, addr->bytes, 16), idx) &&
	       !memcmp(r->nodes[*idx].rec.ipv6, addr->bytes, 16);
}

static bool node_has_tag(const struct relay *r, const struct relay_node *n, const char *tag)
{
	uint8_t i;

	if (!strcmp(tag, "*"))
		return true;
	for (i = 0; i < n->rec.ntags; i++)
		if (!strcmp(r->tags[n->rec.tags[i]], tag))
			return true;
	return false;
}

/* Rules are symmetric: a rule lets its two sides reach each other both ways,
 * so replies of an allowed connection are allowed too. */
bool relay_policy_allows(const struct relay *r, const struct relay_node *a,
			 const struct relay_node *b)
{
	(void)r;
	return ((a->policy_from & b->policy_to) | (b->policy_from & a->policy_to)) != 0;
}

static void compute_masks(struct relay *r, struct relay_node *n)
{
	uint32_t i;

	n->policy_from = 0;
	n->policy_to = 0;
	for (i = 0; i < r->nrules; i++) {
		if (node_has_tag(r, n, r->rules[i].from_tag))
			n->policy_from |= 1ULL << i;
		if (node_has_tag(r, n, r->rules[i].to_tag))
			n->policy_to |= 1ULL << i;
	}
}

void relay_node_to_peer(const struct relay *r, const struct relay_node *n, bool online,
			struct kh_ctrl_peer *peer)
{
	uint8_t i;

	memset(peer, 0, sizeof(*peer));
	memcpy(peer->name, n->rec.name, sizeof(peer->name));
	memcpy(peer->pubkey, n->rec.pubkey, 32);
	memcpy(peer->ipv4, n->rec.ipv4, 4);
	memcpy(peer->ipv6, n->rec.ipv6, 16);
	peer->online = online;
	peer->ntags = n->rec.ntags;
	for (i = 0; i < n->rec.ntags; i++)
		memcpy(peer->tags[i], r->tags[n->rec.tags[i]], KH_TAG_LEN);
}

/* The index of tag in relay.tags, adding it if new; -ENOMEM, or -EEXIST for two
 * tags with one SipHash (not to be seen in practice, but never to be mixed up). */
static int64_t intern_tag(struct relay *r, const char *tag)
{
	size_t len = strnlen(tag, KH_TAG_LEN - 1);
	uint64_t h = relay_hash(r, tag, len);
	uint32_t idx, i;

	if (r->by_tag.keys && kh_map_get(&r->by_tag, h, &idx))
		return strncmp(r->tags[idx], tag, KH_TAG_LEN) ? -EEXIST : (int64_t)idx;
	if (r->ntags == r->tags_cap) {
		uint32_t cap = r->tags_cap ? r->tags_cap * 2 : 64;
		char(*grown)[KH_TAG_LEN] = realloc(r->tags, cap * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		r->tags = grown;
		r->tags_cap = cap;
	}
	if (!r->by_tag.keys || r->by_tag.count >= r->by_tag.limit) {
		struct kh_map m;

		if (kh_map_init(&m, r->ntags + 64))
			return -ENOMEM;
		for (i = 0; i < r->ntags; i++)
			kh_map_insert(&m, relay_hash(r, r->tags[i], strlen(r->tags[i])), i);
		kh_map_free(&r->by_tag);
		r->by_tag = m;
	}
	memset(r->tags[r->ntags], 0, KH_TAG_LEN);
	memcpy(r->tags[r->ntags], tag, len);
	kh_map_insert(&r->by_tag, h, r->ntags);
	return r->ntags++;
}

static int set_rec(struct relay *r, struct relay_node_rec *out, const struct kh_node_record *rec)
{
	struct relay_node_rec n;
	int64_t tag;
	uint8_t i;

	memset(&n, 0, sizeof(n));
	memcpy(n.name, rec->name, sizeof(n.name));
	memcpy(n.pubkey, rec->pubkey, 32);
	memcpy(n.ipv4, rec->ipv4, 4);
	memcpy(n.ipv6, rec->ipv6, 16);
	for (i = 0; i < rec->ntags && i < KH_MAX_TAGS; i++) {
		tag = intern_tag(r, rec->tags[i]);
		if (tag < 0)
			return (int)tag;
		n.tags[n.ntags++] = (uint32_t)tag;
	}
	*out = n;
	return 0;
}

static int rebuild_maps(struct relay *r, uint32_t want)
{
	struct kh_map key, v4, v6;
	uint32_t i;

	if (kh_map_init(&key, want) || kh_map_init(&v4, want) || kh_map_init(&v6, want))
		return -ENOMEM;
	for (i = 0; i < r->nnodes; i++) {
		struct relay_node *n = &r->nodes[i];

		kh_map_insert(&key, relay_hash(r, n->rec.pubkey, 32), i);
		kh_map_insert(&v4, relay_hash(r, n->rec.ipv4, 4), i);
		kh_map_insert(&v6, relay_hash(r, n->rec.ipv6, 16), i);
	}
	kh_map_free(&r->by_key);
	kh_map_free(&r->by_ipv4);
	kh_map_free(&r->by_ipv6);
	r->by_key = key;
	r->by_ipv4 = v4;
	r->by_ipv6 = v6;
	return 0;
}

static int load_node(const struct kh_node_record *rec, void *ctx)
{
	struct relay *r = ctx;
	struct relay_node *n;
	uint32_t idx;
	int ret;

	if (relay_node_by_key(r, rec->pubkey, &idx)) {
		r->nodes[idx].active = rec->deleted_at == 0;
		return set_rec(r, &r->nodes[idx].rec, rec);
	}
	if (r->nnodes == r->nodes_cap) {
		uint32_t cap = r->nodes_cap ? r->nodes_cap * 2 : 256;
		struct relay_node *grown = realloc(r->nodes, cap * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		r->nodes = grown;
		r->nodes_cap = cap;
	}
	/* The maps hold every node ever seen; grow them (admin time, not packet time)
	 * to twice their size, which keeps them a quarter to half full: asking for
	 * room for 2n here made them four times larger and left them 1/8 to 1/4 full,
	 * 10 MB of mostly empty slots with 100 000 nodes. */
	if (r->by_key.count >= r->by_key.limit && rebuild_maps(r, r->nnodes + 1))
		return -ENOMEM;
	n = &r->nodes[r->nnodes];
	memset(n, 0, sizeof(*n));
	ret = set_rec(r, &n->rec, rec);
	if (ret)
		return ret;
	n->active = rec->deleted_at == 0;
	n->session = KH_NO_INDEX;
	idx = r->nnodes++;
	if (kh_map_insert(&r->by_key, relay_hash(r, rec->pubkey, 32), idx) ||
	    kh_map_insert(&r->by_ipv4, relay_hash(r, rec->ipv4, 4), idx) ||
	    kh_map_insert(&r->by_ipv6, relay_hash(r, rec->ipv6, 16), idx)) {
		kh_err("registry: node '%s' repeats a key or address already loaded", rec->name);
		return -EEXIST;
	}
	return 0;
}

static int load_rule(const struct kh_policy_rule *rule, void *ctx)
{
	struct relay *r = ctx;

	if (r->nrules == RELAY_MAX_RULES) {
		kh_warn("policy: more than %d rules; the rest are ignored", RELAY_MAX_RULES);
		return 1;
	}
	memcpy(r->rules[r->nrules].from_tag, rule->from_tag, KH_TAG_LEN);
	memcpy(r->rules[r->nrules].to_tag, rule->to_tag, KH_TAG_LEN);
	r->nrules++;
	return 0;
}

int relay_nodes_load(struct relay *r, char *err, size_t err_len)
{
	uint32_t i;
	int ret;

	if (!r->by_key.keys && rebuild_maps(r, 1024)) {
		snprintf(err, err_len, "out of memory for the node maps");
		return -ENOMEM;
	}
	ret = kh_registry_node_foreach(r->reg, true, load_node, r, err, err_len);
	if (ret < 0) {
		if (ret == -ENOMEM || ret == -EEXIST)
			snprintf(err, err_len, "cannot load nodes: %s", strerror(-ret));
		return ret;
	}
	r->nrules = 0;
	ret = kh_registry_policy_foreach(r->reg, load_rule, r, err, err_len);
	if (ret < 0)
		return ret;
	r->nenrolled = 0;
	for (i = 0; i < r->nnodes; i++) {
		compute_masks(r, &r->nodes[i]);
		r->nenrolled += r->nodes[i].active;
	}
	/* Only now, with every mask new: ending a session tells the followers,
	 * and who may hear of it is the new policy's call. */
	for (i = 0; i < r->nnodes; i++) {
		struct relay_node *n = &r->nodes[i];

		if (!n->active && n->session != KH_NO_INDEX)
			relay_session_end(r, &r->sessions[n->session], "node deleted", true,
					  KH_GOODBYE_DELETED);
	}
	return 0;
}
