/* registry-nodes.c - nodes and tombstones: enroll, delete, look up, list; tags and addresses. */
#include "registry-internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "../lib/key.h"

/* Generated names get "-2", "-3"... while taken; this many collisions means something is wrong. */
#define MAX_NAME_SUFFIX 1000

/* BLAKE2b-256("keyhole ipv6 iid" || pubkey): its first bytes name and address a node. */
static void key_hash(uint8_t hash[32], const uint8_t pubkey[32])
{
	static const char label[] = "keyhole ipv6 iid";
	uint8_t in[sizeof(label) - 1 + 32];

	memcpy(in, label, sizeof(label) - 1);
	memcpy(in + sizeof(label) - 1, pubkey, 32);
	crypto_generichash(hash, 32, in, sizeof(in), NULL, 0);
}

int reg_check_name(const char *name, char *err, size_t err_len)
{
	if (kh_valid_name(name))
		return 0;
	reg_say(err, err_len,
		"node name '%s' is not a DNS label (1-63 of a-z, 0-9, '-', "
		"not starting or ending with '-')", name ? name : "");
	return -EINVAL;
}

/* Validated tags joined by spaces, the form the database keeps. */
int reg_join_tags(const char *const *tags, size_t ntags, char out[TAGS_TEXT_LEN], char *err,
		  size_t err_len)
{
	size_t i, j, len = 0;

	out[0] = '\0';
	if (ntags > KH_MAX_TAGS) {
		reg_say(err, err_len, "%zu tags given; at most %d are allowed", ntags, KH_MAX_TAGS);
		return -EINVAL;
	}
	for (i = 0; i < ntags; i++) {
		if (!kh_valid_tag(tags[i])) {
			reg_say(err, err_len, "tag '%s' is not valid (1-32 of a-z, 0-9, '-')",
				tags[i] ? tags[i] : "");
			return -EINVAL;
		}
		for (j = 0; j < i; j++) {
			if (!strcmp(tags[i], tags[j])) {
				reg_say(err, err_len, "tag '%s' is given twice", tags[i]);
				return -EINVAL;
			}
		}
		len += (size_t)snprintf(out + len, TAGS_TEXT_LEN - len, "%s%s", i ? " " : "",
					tags[i]);
	}
	return 0;
}

/* The database is ours, but a hand edit must not overflow a record. */
int reg_split_tags(const char *text, char tags[KH_MAX_TAGS][KH_TAG_LEN], uint8_t *ntags)
{
	size_t len;

	*ntags = 0;
	while (text && *text) {
		len = strcspn(text, " ");
		if (len) {
			if (*ntags == KH_MAX_TAGS || len >= KH_TAG_LEN)
				return -EIO;
			memcpy(tags[*ntags], text, len);
			tags[(*ntags)++][len] = '\0';
		}
		text += len + (text[len] == ' ');
	}
	return 0;
}

static int read_node(sqlite3_stmt *st, struct kh_node_record *n)
{
	const char *name = (const char *)sqlite3_column_text(st, 1);
	const void *key = sqlite3_column_blob(st, 2);
	int key_len = sqlite3_column_bytes(st, 2);
	sqlite3_int64 ipv4 = sqlite3_column_int64(st, 3);
	const void *ipv6 = sqlite3_column_blob(st, 4);
	int ipv6_len = sqlite3_column_bytes(st, 4);

	memset(n, 0, sizeof(*n));
	if (!name || strlen(name) >= sizeof(n->name) || key_len != 32 || ipv6_len != 16 ||
	    ipv4 < 0 || ipv4 > UINT32_MAX)
		return -EIO;
	n->id = sqlite3_column_int64(st, 0);
	strcpy(n->name, name);
	memcpy(n->pubkey, key, 32);
	store32(n->ipv4, (uint32_t)ipv4);
	memcpy(n->ipv6, ipv6, 16);
	n->created_at = sqlite3_column_int64(st, 6);
	n->deleted_at = sqlite3_column_int64(st, 7); /* NULL reads as 0: enrolled */
	return reg_split_tags((const char *)sqlite3_column_text(st, 5), n->tags, &n->ntags);
}

/* Step a node query whose parameters are bound: 0 and *out, -ENOENT, or an error. */
static int node_query(struct kh_registry *reg, enum stmt_id id, struct kh_node_record *out,
		      char *err, size_t err_len)
{
	sqlite3_stmt *st = reg->stmt[id];
	int rc = sqlite3_step(st), ret;

	if (rc == SQLITE_ROW) {
		ret = read_node(st, out);
		if (ret)
			reg_say(err, err_len, "relay.db: malformed row in table nodes");
	} else if (rc == SQLITE_DONE) {
		ret = -ENOENT;
	} else {
		ret = reg_db_fail(reg, "cannot read nodes", err, err_len);
	}
	sqlite3_reset(st);
	return ret;
}

static int node_by_id(struct kh_registry *reg, int64_t id, struct kh_node_record *out,
		      char *err, size_t err_len)
{
	sqlite3_bind_int64(reg->stmt[ST_NODE_BY_ID], 1, id);
	return node_query(reg, ST_NODE_BY_ID, out, err, err_len);
}

static int node_by_key(struct kh_registry *reg, const uint8_t pubkey[32],
		       struct kh_node_record *out, char *err, size_t err_len)
{
	sqlite3_bind_blob(reg->stmt[ST_NODE_BY_KEY], 1, pubkey, 32, SQLITE_STATIC);
	return node_query(reg, ST_NODE_BY_KEY, out, err, err_len);
}

static int node_by_name(struct kh_registry *reg, const char *name, struct kh_node_record *out,
			char *err, size_t err_len)
{
	sqlite3_bind_text(reg->stmt[ST_NODE_BY_NAME], 1, name, -1, SQLITE_STATIC);
	return node_query(reg, ST_NODE_BY_NAME, out, err, err_len);
}

/* One past the highest address ever given, from the prefix's .2 up (.1 is the relay's). */
static int next_ipv4(struct kh_registry *reg, const struct kh_network *net, uint32_t *addr,
		     char *err, size_t err_len)
{
	sqlite3_stmt *st = reg->stmt[ST_NODE_MAX_IPV4];
	uint32_t prefix = load32(net->ipv4_prefix);
	int64_t next = (int64_t)prefix + 2, broadcast = prefix | ~ipv4_mask(net->ipv4_plen);
	char text[PREFIX_TEXT_LEN];

	if (sqlite3_step(st) != SQLITE_ROW) {
		int ret = reg_db_fail(reg, "cannot read nodes", err, err_len);

		sqlite3_reset(st);
		return ret;
	}
	if (sqlite3_column_type(st, 0) != SQLITE_NULL && sqlite3_column_int64(st, 0) >= next)
		next = sqlite3_column_int64(st, 0) + 1;
	sqlite3_reset(st);
	if (next >= broadcast) {
		reg_format_prefix(text, AF_INET, net->ipv4_prefix, net->ipv4_plen);
		reg_say(err, err_len, "no address left in %s (deleted nodes keep theirs forever)",
			text);
		return -ENOSPC;
	}
	*addr = (uint32_t)next;
	return 0;
}

static int node_insert(struct kh_registry *reg, const struct kh_network *net, const char *name,
		       const uint8_t pubkey[32], const char *tags, int64_t now, int64_t *id,
		       char *err, size_t err_len)
{
	sqlite3_stmt *st = reg->stmt[ST_NODE_INSERT];
	uint8_t ipv6[16], hash[32];
	uint32_t ipv4 = 0; /* next_ipv4 sets it whenever it returns 0, which GCC cannot tell */
	int ret;

	ret = next_ipv4(reg, net, &ipv4, err, err_len);
	if (ret)
		return ret;
	/* The /48, subnet 0, and the key's interface identifier. */
	key_hash(hash, pubkey);
	memcpy(ipv6, net->ipv6_prefix, 6);
	memset(ipv6 + 6, 0, 2);
	memcpy(ipv6 + 8, hash, 8);
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, pubkey, 32, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, ipv4);
	sqlite3_bind_blob(st, 4, ipv6, 16, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, tags, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, now);
	ret = reg_run(reg, ST_NODE_INSERT, "cannot enroll node", err, err_len);
	*id = sqlite3_last_insert_rowid(reg->db);
	return ret;
}

/* Inside a write transaction: a new row, or a returning key's tombstone brought back. */
int reg_enroll(struct kh_registry *reg, const char *name, const uint8_t pubkey[32],
	       const char *tags, int64_t now, struct kh_node_record *out, char *err,
	       size_t err_len)
{
	sqlite3_stmt *st = reg->stmt[ST_NODE_RESTORE];
	struct kh_network net;
	struct kh_node_record old;
	bool returning;
	int64_t id;
	int ret;

	ret = reg_network_load(reg, &net, err, err_len);
	if (ret)
		return ret;
	ret = node_by_key(reg, pubkey, &old, err, err_len);
	if (!ret && !old.deleted_at) {
		reg_say(err, err_len, "key already enrolled as '%s'", old.name);
		return -EEXIST;
	}
	if (ret && ret != -ENOENT)
		return ret;
	returning = !ret;
	ret = node_by_name(reg, name, out, err, err_len);
	if (!ret) {
		reg_say(err, err_len, "node '%s' already exists", name);
		return -EEXIST;
	}
	if (ret != -ENOENT)
		return ret;
	if (returning) {
		id = old.id;
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, tags, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, now);
		ret = reg_run(reg, ST_NODE_RESTORE, "cannot re-enroll node", err, err_len);
	} else {
		ret = node_insert(reg, &net, name, pubkey, tags, now, &id, err, err_len);
	}
	return ret ? ret : node_by_id(reg, id, out, err, err_len);
}

int kh_registry_node_add(struct kh_registry *reg, const char *name, const uint8_t pubkey[32],
			 const char *const *tags, size_t ntags, int64_t now,
			 struct kh_node_record *out, char *err, size_t err_len)
{
	char tag_text[TAGS_TEXT_LEN];
	struct kh_node_record scratch;
	int ret;

	ret = reg_check_name(name, err, err_len);
	if (!ret)
		ret = reg_join_tags(tags, ntags, tag_text, err, err_len);
	if (!ret)
		ret = reg_tx_begin(reg, err, err_len);
	if (ret)
		return ret;
	ret = reg_enroll(reg, name, pubkey, tag_text, now, out ? out : &scratch, err, err_len);
	return reg_tx_end(reg, ret, err, err_len);
}

int kh_registry_node_del(struct kh_registry *reg, const char *name, int64_t now,
			 struct kh_node_record *out, char *err, size_t err_len)
{
	struct kh_node_record scratch;
	int ret;

	if (!out)
		out = &scratch;
	ret = reg_tx_begin(reg, err, err_len);
	if (ret)
		return ret;
	ret = node_by_name(reg, name ? name : "", out, err, err_len);
	if (ret == -ENOENT)
		reg_say(err, err_len, "no node named '%s'", name ? name : "");
	if (!ret) {
		sqlite3_bind_int64(reg->stmt[ST_NODE_DELETE], 1, out->id);
		/* deleted_at 0 would read back as enrolled. */
		sqlite3_bind_int64(reg->stmt[ST_NODE_DELETE], 2, now > 0 ? now : 1);
		ret = reg_run(reg, ST_NODE_DELETE, "cannot delete node", err, err_len);
	}
	if (!ret)
		ret = node_by_id(reg, out->id, out, err, err_len);
	return reg_tx_end(reg, ret, err, err_len);
}

int kh_registry_node_by_key(struct kh_registry *reg, const uint8_t pubkey[32],
			    struct kh_node_record *out, char *err, size_t err_len)
{
	char text[KH_KEY_B64_LEN + 1];
	int ret = node_by_key(reg, pubkey, out, err, err_len);

	if (ret == -ENOENT) {
		kh_key_to_base64(text, pubkey);
		reg_say(err, err_len, "no node has key %s", text);
	}
	return ret;
}

int kh_registry_node_by_name(struct kh_registry *reg, const char *name,
			     struct kh_node_record *out, char *err, size_t err_len)
{
	int ret = node_by_name(reg, name ? name : "", out, err, err_len);

	if (ret == -ENOENT)
		reg_say(err, err_len, "no node named '%s'", name ? name : "");
	return ret;
}

int kh_registry_node_foreach(struct kh_registry *reg, bool with_deleted,
			     int (*cb)(const struct kh_node_record *node, void *ctx), void *ctx,
			     char *err, size_t err_len)
{
	static const char *const what = "cannot list nodes";
	struct kh_node_record node;
	sqlite3_stmt *st;
	int rc = SQLITE_DONE, ret;

	ret = reg_walk_prepare(reg, with_deleted ?
			       "SELECT " NODE_COLUMNS " FROM nodes ORDER BY id" :
			       "SELECT " NODE_COLUMNS " FROM nodes WHERE deleted_at IS NULL "
			       "ORDER BY id",
			       &st, what, err, err_len);
	if (ret)
		return ret;
	while (!ret && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (read_node(st, &node)) {
			reg_say(err, err_len, "relay.db: malformed row in table nodes");
			ret = -EIO;
		} else {
			ret = cb(&node, ctx);
		}
	}
	return reg_walk_end(reg, st, rc, ret, what, err, err_len);
}

/* "node-" and the first 8 hex digits of the key hash (which the IPv6 IID starts with too). */
int reg_generate_name(struct kh_registry *reg, const uint8_t pubkey[32],
		      char name[KH_NAME_LEN], char *err, size_t err_len)
{
	struct kh_node_record taken;
	uint8_t hash[32];
	char hex[9];
	int i, ret;

	key_hash(hash, pubkey);
	sodium_bin2hex(hex, sizeof(hex), hash, 4);
	for (i = 1; i <= MAX_NAME_SUFFIX; i++) {
		if (i == 1)
			snprintf(name, KH_NAME_LEN, "node-%s", hex);
		else
			snprintf(name, KH_NAME_LEN, "node-%s-%d", hex, i);
		ret = node_by_name(reg, name, &taken, err, err_len);
		if (ret)
			return ret == -ENOENT ? 0 : ret;
	}
	reg_say(err, err_len, "names node-%s to node-%s-%d are all taken", hex, hex,
		MAX_NAME_SUFFIX);
	return -EEXIST;
}
