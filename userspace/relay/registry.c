/* registry.c - the relay's registry in SQLite: open and schema, network, nodes, tokens, policy. */
#include "registry.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>

#include "../lib/key.h"
#include "schema.h" /* kh_schema_sql, generated from schema.sql by the Makefile */

#define SCHEMA_VERSION "1"
/* Admin commands and the relay queue behind each other's write transactions
 * for this long; a write holds the lock for milliseconds. */
#define BUSY_TIMEOUT_MS 5000
#define WAL_RETRY_MS 10
/* Generated names get "-2", "-3"... while taken; this many collisions means something is wrong. */
#define MAX_NAME_SUFFIX 1000
/* Tags joined by single spaces, with the NUL: KH_MAX_TAGS * (32 + 1). */
#define TAGS_TEXT_LEN (KH_MAX_TAGS * KH_TAG_LEN)
#define TOKEN_LEN 16
#define TOKEN_PREFIX "kh1-"
#define PREFIX_TEXT_LEN (INET6_ADDRSTRLEN + 4)

#define NODE_COLUMNS "id, name, pubkey, ipv4, ipv6, tags, created_at, deleted_at"
#define TOKEN_COLUMNS "id, uses_left, expires_at, created_at, tags"

enum stmt_id {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_META_GET,
	ST_META_PUT,
	ST_NODE_BY_ID,
	ST_NODE_BY_KEY,
	ST_NODE_BY_NAME,
	ST_NODE_MAX_IPV4,
	ST_NODE_INSERT,
	ST_NODE_RESTORE,
	ST_NODE_DELETE,
	ST_TOKEN_INSERT,
	ST_TOKEN_BY_HASH,
	ST_TOKEN_USE,
	ST_TOKEN_DELETE,
	ST_POLICY_FIND,
	ST_POLICY_INSERT,
	ST_POLICY_DELETE,
	ST_COUNT,
};

static const char *const stmt_sql[ST_COUNT] = {
	/* IMMEDIATE takes the write lock up front: a read lock upgraded later
	 * could fail with SQLITE_BUSY_SNAPSHOT, which the busy timeout does not retry. */
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_META_GET] = "SELECT value FROM meta WHERE key = ?1",
	[ST_META_PUT] = "INSERT INTO meta (key, value) VALUES (?1, ?2)",
	[ST_NODE_BY_ID] = "SELECT " NODE_COLUMNS " FROM nodes WHERE id = ?1",
	[ST_NODE_BY_KEY] = "SELECT " NODE_COLUMNS " FROM nodes WHERE pubkey = ?1",
	[ST_NODE_BY_NAME] = "SELECT " NODE_COLUMNS " FROM nodes "
			    "WHERE name = ?1 AND deleted_at IS NULL",
	/* Over tombstones too: an address once given is never given again. */
	[ST_NODE_MAX_IPV4] = "SELECT MAX(ipv4) FROM nodes",
	[ST_NODE_INSERT] = "INSERT INTO nodes (name, pubkey, ipv4, ipv6, tags, created_at) "
			   "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[ST_NODE_RESTORE] = "UPDATE nodes SET name = ?2, tags = ?3, created_at = ?4, "
			    "deleted_at = NULL WHERE id = ?1",
	[ST_NODE_DELETE] = "UPDATE nodes SET deleted_at = ?2 WHERE id = ?1",
	[ST_TOKEN_INSERT] = "INSERT INTO tokens (hash, uses_left, expires_at, created_at, tags) "
			    "VALUES (?1, ?2, ?3, ?4, ?5)",
	[ST_TOKEN_BY_HASH] = "SELECT " TOKEN_COLUMNS " FROM tokens WHERE hash = ?1",
	[ST_TOKEN_USE] = "UPDATE tokens SET uses_left = uses_left - 1 WHERE id = ?1",
	[ST_TOKEN_DELETE] = "DELETE FROM tokens WHERE id = ?1",
	/* Rules are symmetric: "a b" and "b a" are the same rule. */
	[ST_POLICY_FIND] = "SELECT 1 FROM policy WHERE (from_tag = ?1 AND to_tag = ?2) "
			   "OR (from_tag = ?2 AND to_tag = ?1)",
	[ST_POLICY_INSERT] = "INSERT INTO policy (from_tag, to_tag) VALUES (?1, ?2)",
	[ST_POLICY_DELETE] = "DELETE FROM policy WHERE (from_tag = ?1 AND to_tag = ?2) "
			     "OR (from_tag = ?2 AND to_tag = ?1)",
};

struct kh_registry {
	sqlite3 *db;
	sqlite3_stmt *stmt[ST_COUNT];
};

__attribute__((format(printf, 3, 4)))
static void say(char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;

	if (!err || !err_len)
		return;
	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
}

static int sqlite_errno(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_CONSTRAINT:
		return -EEXIST;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_PERM:
	case SQLITE_READONLY:
	case SQLITE_AUTH:
		return -EACCES;
	case SQLITE_NOMEM:
		return -ENOMEM;
	default:
		return -EIO;
	}
}

/* Call right after the failing sqlite3 call: the message belongs to the connection. */
static int db_fail(struct kh_registry *reg, const char *what, char *err, size_t err_len)
{
	say(err, err_len, "relay.db: %s: %s", what, sqlite3_errmsg(reg->db));
	return sqlite_errno(sqlite3_extended_errcode(reg->db));
}

/* Step a statement that returns no row. Every cached statement is reset after
 * use: one left on a row would hold a read snapshot open. */
static int run(struct kh_registry *reg, enum stmt_id id, const char *what, char *err,
	       size_t err_len)
{
	int ret = 0;

	if (sqlite3_step(reg->stmt[id]) != SQLITE_DONE)
		ret = db_fail(reg, what, err, err_len);
	sqlite3_reset(reg->stmt[id]);
	return ret;
}

static int tx_begin(struct kh_registry *reg, char *err, size_t err_len)
{
	return run(reg, ST_BEGIN, "cannot start a write transaction", err, err_len);
}

/* Commit when ret is 0, roll back otherwise; returns ret or the commit's error. */
static int tx_end(struct kh_registry *reg, int ret, char *err, size_t err_len)
{
	if (!ret) {
		ret = run(reg, ST_COMMIT, "cannot commit", err, err_len);
		if (!ret)
			return 0;
	}
	/* Fails harmlessly when SQLite has already rolled back by itself. */
	sqlite3_step(reg->stmt[ST_ROLLBACK]);
	sqlite3_reset(reg->stmt[ST_ROLLBACK]);
	return ret;
}

static uint32_t load32(const uint8_t p[4])
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void store32(uint8_t p[4], uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t ipv4_mask(uint8_t plen)
{
	return plen ? ~(uint32_t)0 << (32 - plen) : 0;
}

static void format_prefix(char out[PREFIX_TEXT_LEN], int af, const uint8_t *addr, uint8_t plen)
{
	char text[INET6_ADDRSTRLEN];

	inet_ntop(af, addr, text, sizeof(text));
	snprintf(out, PREFIX_TEXT_LEN, "%s/%u", text, plen);
}

static int parse_prefix(const char *text, int af, uint8_t *addr, uint8_t *plen)
{
	char host[INET6_ADDRSTRLEN];
	const char *slash = strchr(text, '/');
	unsigned long len;
	char *end;

	if (!slash || (size_t)(slash - text) >= sizeof(host))
		return -EINVAL;
	memcpy(host, text, (size_t)(slash - text));
	host[slash - text] = '\0';
	len = strtoul(slash + 1, &end, 10);
	if (inet_pton(af, host, addr) != 1 || end == slash + 1 || *end ||
	    len > (af == AF_INET ? 32u : 128u))
		return -EINVAL;
	*plen = (uint8_t)len;
	return 0;
}

/* BLAKE2b-256("keyhole ipv6 iid" || pubkey): its first bytes name and address a node. */
static void key_hash(uint8_t hash[32], const uint8_t pubkey[32])
{
	static const char label[] = "keyhole ipv6 iid";
	uint8_t in[sizeof(label) - 1 + 32];

	memcpy(in, label, sizeof(label) - 1);
	memcpy(in + sizeof(label) - 1, pubkey, 32);
	crypto_generichash(hash, 32, in, sizeof(in), NULL, 0);
}

static bool label_chars(const char *s, size_t max)
{
	size_t len = s ? strnlen(s, max + 1) : 0;

	return len >= 1 && len <= max &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == len;
}

bool kh_valid_name(const char *name)
{
	return label_chars(name, KH_NAME_LEN - 1) && name[0] != '-' &&
	       name[strlen(name) - 1] != '-';
}

bool kh_valid_tag(const char *tag)
{
	return label_chars(tag, KH_TAG_LEN - 1);
}

static int check_name(const char *name, char *err, size_t err_len)
{
	if (kh_valid_name(name))
		return 0;
	say(err, err_len, "node name '%s' is not a DNS label (1-63 of a-z, 0-9, '-', "
		"not starting or ending with '-')", name ? name : "");
	return -EINVAL;
}

/* Validated tags joined by spaces, the form the database keeps. */
static int join_tags(const char *const *tags, size_t ntags, char out[TAGS_TEXT_LEN], char *err,
		     size_t err_len)
{
	size_t i, j, len = 0;

	out[0] = '\0';
	if (ntags > KH_MAX_TAGS) {
		say(err, err_len, "%zu tags given; at most %d are allowed", ntags, KH_MAX_TAGS);
		return -EINVAL;
	}
	for (i = 0; i < ntags; i++) {
		if (!kh_valid_tag(tags[i])) {
			say(err, err_len, "tag '%s' is not valid (1-32 of a-z, 0-9, '-')",
			    tags[i] ? tags[i] : "");
			return -EINVAL;
		}
		for (j = 0; j < i; j++) {
			if (!strcmp(tags[i], tags[j])) {
				say(err, err_len, "tag '%s' is given twice", tags[i]);
				return -EINVAL;
			}
		}
		len += (size_t)snprintf(out + len, TAGS_TEXT_LEN - len, "%s%s", i ? " " : "",
					tags[i]);
	}
	return 0;
}

/* The database is ours, but a hand edit must not overflow a record. */
static int split_tags(const char *text, char tags[KH_MAX_TAGS][KH_TAG_LEN], uint8_t *ntags)
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

static int meta_get(struct kh_registry *reg, const char *key, char *out, size_t max, char *err,
		    size_t err_len)
{
	sqlite3_stmt *st = reg->stmt[ST_META_GET];
	const unsigned char *value;
	int rc, ret = 0;

	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		value = sqlite3_column_text(st, 0);
		if (!value || (size_t)snprintf(out, max, "%s", value) >= max) {
			say(err, err_len, "relay.db: meta value '%s' is malformed", key);
			ret = -EIO;
		}
	} else if (rc == SQLITE_DONE) {
		ret = -ENOENT;
	} else {
		ret = db_fail(reg, "cannot read meta", err, err_len);
	}
	sqlite3_reset(st);
	return ret;
}

static int meta_put(struct kh_registry *reg, const char *key, const char *value, char *err,
		    size_t err_len)
{
	sqlite3_bind_text(reg->stmt[ST_META_PUT], 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(reg->stmt[ST_META_PUT], 2, value, -1, SQLITE_STATIC);
	return run(reg, ST_META_PUT, "cannot store the network", err, err_len);
}

static int network_load(struct kh_registry *reg, struct kh_network *net, char *err,
			size_t err_len)
{
	char v4[PREFIX_TEXT_LEN], v6[PREFIX_TEXT_LEN];
	int ret;

	memset(net, 0, sizeof(*net));
	ret = meta_get(reg, "ipv4_prefix", v4, sizeof(v4), err, err_len);
	if (ret == -ENOENT)
		say(err, err_len,
		    "the network is not set up yet (the relay sets it at its first start)");
	if (!ret)
		ret = meta_get(reg, "ipv6_prefix", v6, sizeof(v6), err, err_len);
	if (ret)
		return ret;
	if (parse_prefix(v4, AF_INET, net->ipv4_prefix, &net->ipv4_plen) ||
	    parse_prefix(v6, AF_INET6, net->ipv6_prefix, &net->ipv6_plen)) {
		say(err, err_len, "relay.db: stored network '%s' '%s' is malformed", v4, v6);
		return -EIO;
	}
	return 0;
}

static int network_create(struct kh_registry *reg, const uint8_t ipv4_prefix[4], uint8_t plen,
			  struct kh_network *net, char *err, size_t err_len)
{
	char v4[PREFIX_TEXT_LEN], v6[PREFIX_TEXT_LEN];
	int ret;

	memset(net, 0, sizeof(*net));
	memcpy(net->ipv4_prefix, ipv4_prefix, 4);
	net->ipv4_plen = plen;
	/* RFC 4193 section 3.2: fd00::/8 followed by a 40-bit random global ID. */
	net->ipv6_prefix[0] = 0xfd;
	randombytes_buf(net->ipv6_prefix + 1, 5);
	net->ipv6_plen = 48;
	format_prefix(v4, AF_INET, net->ipv4_prefix, net->ipv4_plen);
	format_prefix(v6, AF_INET6, net->ipv6_prefix, net->ipv6_plen);
	ret = meta_put(reg, "ipv4_prefix", v4, err, err_len);
	if (!ret)
		ret = meta_put(reg, "ipv6_prefix", v6, err, err_len);
	return ret;
}

int kh_registry_network(struct kh_registry *reg, const uint8_t ipv4_prefix[4],
			uint8_t ipv4_plen, struct kh_network *net, char *err, size_t err_len)
{
	char given[PREFIX_TEXT_LEN], stored[PREFIX_TEXT_LEN];
	int ret;

	if (ipv4_prefix && (ipv4_plen < 8 || ipv4_plen > 30 ||
			    (load32(ipv4_prefix) & ~ipv4_mask(ipv4_plen)))) {
		format_prefix(given, AF_INET, ipv4_prefix, ipv4_plen);
		say(err, err_len,
		    "IPv4 prefix %s is not a network (expected /8 to /30, host bits zero)", given);
		return -EINVAL;
	}
	ret = tx_begin(reg, err, err_len);
	if (ret)
		return ret;
	ret = network_load(reg, net, err, err_len);
	/* Without a prefix this only reads what is stored. */
	if (ret == -ENOENT && ipv4_prefix)
		ret = network_create(reg, ipv4_prefix, ipv4_plen, net, err, err_len);
	else if (!ret && ipv4_prefix &&
		 (memcmp(net->ipv4_prefix, ipv4_prefix, 4) || net->ipv4_plen != ipv4_plen)) {
		format_prefix(given, AF_INET, ipv4_prefix, ipv4_plen);
		format_prefix(stored, AF_INET, net->ipv4_prefix, net->ipv4_plen);
		say(err, err_len, "the network is %s and cannot be renumbered to %s", stored,
		    given);
		ret = -EEXIST;
	}
	return tx_end(reg, ret, err, err_len);
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
	return split_tags((const char *)sqlite3_column_text(st, 5), n->tags, &n->ntags);
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
			say(err, err_len, "relay.db: malformed row in table nodes");
	} else if (rc == SQLITE_DONE) {
		ret = -ENOENT;
	} else {
		ret = db_fail(reg, "cannot read nodes", err, err_len);
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
		int ret = db_fail(reg, "cannot read nodes", err, err_len);

		sqlite3_reset(st);
		return ret;
	}
	if (sqlite3_column_type(st, 0) != SQLITE_NULL && sqlite3_column_int64(st, 0) >= next)
		next = sqlite3_column_int64(st, 0) + 1;
	sqlite3_reset(st);
	if (next >= broadcast) {
		format_prefix(text, AF_INET, net->ipv4_prefix, net->ipv4_plen);
		say(err, err_len, "no address left in %s (deleted nodes keep theirs forever)",
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
	uint32_t ipv4;
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
	ret = run(reg, ST_NODE_INSERT, "cannot enroll node", err, err_len);
	*id = sqlite3_last_insert_rowid(reg->db);
	return ret;
}

/* Inside a write transaction: a new row, or a returning key's tombstone brought back. */
static int enroll(struct kh_registry *reg, const char *name, const uint8_t pubkey[32],
		  const char *tags, int64_t now, struct kh_node_record *out, char *err,
		  size_t err_len)
{
	sqlite3_stmt *st = reg->stmt[ST_NODE_RESTORE];
	struct kh_network net;
	struct kh_node_record old;
	bool returning;
	int64_t id;
	int ret;

	ret = network_load(reg, &net, err, err_len);
	if (ret)
		return ret;
	ret = node_by_key(reg, pubkey, &old, err, err_len);
	if (!ret && !old.deleted_at) {
		say(err, err_len, "key already enrolled as '%s'", old.name);
		return -EEXIST;
	}
	if (ret && ret != -ENOENT)
		return ret;
	returning = !ret;
	ret = node_by_name(reg, name, out, err, err_len);
	if (!ret) {
		say(err, err_len, "node '%s' already exists", name);
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
		ret = run(reg, ST_NODE_RESTORE, "cannot re-enroll node", err, err_len);
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

	ret = check_name(name, err, err_len);
	if (!ret)
		ret = join_tags(tags, ntags, tag_text, err, err_len);
	if (!ret)
		ret = tx_begin(reg, err, err_len);
	if (ret)
		return ret;
	ret = enroll(reg, name, pubkey, tag_text, now, out ? out : &scratch, err, err_len);
	return tx_end(reg, ret, err, err_len);
}

int kh_registry_node_del(struct kh_registry *reg, const char *name, int64_t now,
			 struct kh_node_record *out, char *err, size_t err_len)
{
	struct kh_node_record scratch;
	int ret;

	if (!out)
		out = &scratch;
	ret = tx_begin(reg, err, err_len);
	if (ret)
		return ret;
	ret = node_by_name(reg, name ? name : "", out, err, err_len);
	if (ret == -ENOENT)
		say(err, err_len, "no node named '%s'", name ? name : "");
	if (!ret) {
		sqlite3_bind_int64(reg->stmt[ST_NODE_DELETE], 1, out->id);
		/* deleted_at 0 would read back as enrolled. */
		sqlite3_bind_int64(reg->stmt[ST_NODE_DELETE], 2, now > 0 ? now : 1);
		ret = run(reg, ST_NODE_DELETE, "cannot delete node", err, err_len);
	}
	if (!ret)
		ret = node_by_id(reg, out->id, out, err, err_len);
	return tx_end(reg, ret, err, err_len);
}

int kh_registry_node_by_key(struct kh_registry *reg, const uint8_t pubkey[32],
			    struct kh_node_record *out, char *err, size_t err_len)
{
	char text[KH_KEY_B64_LEN + 1];
	int ret = node_by_key(reg, pubkey, out, err, err_len);

	if (ret == -ENOENT) {
		kh_key_to_base64(text, pubkey);
		say(err, err_len, "no node has key %s", text);
	}
	return ret;
}

int kh_registry_node_by_name(struct kh_registry *reg, const char *name,
			     struct kh_node_record *out, char *err, size_t err_len)
{
	int ret = node_by_name(reg, name ? name : "", out, err, err_len);

	if (ret == -ENOENT)
		say(err, err_len, "no node named '%s'", name ? name : "");
	return ret;
}

/* A statement of its own rather than a cached one: cb may use the registry meanwhile. */
static int walk_prepare(struct kh_registry *reg, const char *sql, sqlite3_stmt **st,
			const char *what, char *err, size_t err_len)
{
	if (sqlite3_prepare_v2(reg->db, sql, -1, st, NULL) != SQLITE_OK)
		return db_fail(reg, what, err, err_len);
	return 0;
}

/* After the last step: the callback's value, or the step's error. */
static int walk_end(struct kh_registry *reg, sqlite3_stmt *st, int rc, int ret,
		    const char *what, char *err, size_t err_len)
{
	if (!ret && rc != SQLITE_DONE)
		ret = db_fail(reg, what, err, err_len);
	sqlite3_finalize(st);
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

	ret = walk_prepare(reg, with_deleted ?
			   "SELECT " NODE_COLUMNS " FROM nodes ORDER BY id" :
			   "SELECT " NODE_COLUMNS " FROM nodes WHERE deleted_at IS NULL "
			   "ORDER BY id",
			   &st, what, err, err_len);
	if (ret)
		return ret;
	while (!ret && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (read_node(st, &node)) {
			say(err, err_len, "relay.db: malformed row in table nodes");
			ret = -EIO;
		} else {
			ret = cb(&node, ctx);
		}
	}
	return walk_end(reg, st, rc, ret, what, err, err_len);
}

static int read_token(sqlite3_stmt *st, struct kh_token_record *tok)
{
	memset(tok, 0, sizeof(*tok));
	tok->id = sqlite3_column_int64(st, 0);
	tok->uses_left = sqlite3_column_int64(st, 1);
	tok->expires_at = sqlite3_column_int64(st, 2);
	tok->created_at = sqlite3_column_int64(st, 3);
	return split_tags((const char *)sqlite3_column_text(st, 4), tok->tags, &tok->ntags);
}

static void token_hash(uint8_t hash[32], const uint8_t token[TOKEN_LEN])
{
	crypto_generichash(hash, 32, token, TOKEN_LEN, NULL, 0);
}

int kh_registry_token_add(struct kh_registry *reg, const char *const *tags, size_t ntags,
			  int64_t uses, int64_t expires_at, int64_t now,
			  char text[KH_TOKEN_TEXT_LEN + 1], struct kh_token_record *out,
			  char *err, size_t err_len)
{
	sqlite3_stmt *st = reg->stmt[ST_TOKEN_INSERT];
	uint8_t token[TOKEN_LEN], hash[32];
	char tag_text[TAGS_TEXT_LEN];
	struct kh_token_record scratch;
	int ret;

	ret = join_tags(tags, ntags, tag_text, err, err_len);
	if (ret)
		return ret;
	if (uses < 1) {
		say(err, err_len, "a token needs at least 1 use (got %lld)", (long long)uses);
		return -EINVAL;
	}
	if (expires_at < 0 || (expires_at && expires_at <= now)) {
		say(err, err_len, "token expiry %lld is not in the future (now is %lld; 0 = never)",
		    (long long)expires_at, (long long)now);
		return -EINVAL;
	}
	randombytes_buf(token, sizeof(token));
	token_hash(hash, token);
	ret = tx_begin(reg, err, err_len);
	if (ret)
		goto out;
	sqlite3_bind_blob(st, 1, hash, sizeof(hash), SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, uses);
	sqlite3_bind_int64(st, 3, expires_at);
	sqlite3_bind_int64(st, 4, now);
	sqlite3_bind_text(st, 5, tag_text, -1, SQLITE_STATIC);
	ret = run(reg, ST_TOKEN_INSERT, "cannot store token", err, err_len);
	if (!out)
		out = &scratch;
	memset(out, 0, sizeof(*out));
	out->id = sqlite3_last_insert_rowid(reg->db);
	ret = tx_end(reg, ret, err, err_len);
	if (ret)
		goto out;
	out->uses_left = uses;
	out->expires_at = expires_at;
	out->created_at = now;
	split_tags(tag_text, out->tags, &out->ntags);
	memcpy(text, TOKEN_PREFIX, strlen(TOKEN_PREFIX));
	sodium_bin2hex(text + strlen(TOKEN_PREFIX), 2 * TOKEN_LEN + 1, token, sizeof(token));
out:
	sodium_memzero(token, sizeof(token));
	return ret;
}

int kh_registry_token_foreach(struct kh_registry *reg,
			      int (*cb)(const struct kh_token_record *tok, void *ctx), void *ctx,
			      char *err, size_t err_len)
{
	static const char *const what = "cannot list tokens";
	struct kh_token_record tok;
	sqlite3_stmt *st;
	int rc = SQLITE_DONE, ret;

	ret = walk_prepare(reg, "SELECT " TOKEN_COLUMNS " FROM tokens ORDER BY id", &st, what,
			   err, err_len);
	if (ret)
		return ret;
	while (!ret && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (read_token(st, &tok)) {
			say(err, err_len, "relay.db: malformed row in table tokens");
			ret = -EIO;
		} else {
			ret = cb(&tok, ctx);
		}
	}
	return walk_end(reg, st, rc, ret, what, err, err_len);
}

int kh_registry_token_del(struct kh_registry *reg, int64_t id, char *err, size_t err_len)
{
	int ret = tx_begin(reg, err, err_len);

	if (ret)
		return ret;
	sqlite3_bind_int64(reg->stmt[ST_TOKEN_DELETE], 1, id);
	ret = run(reg, ST_TOKEN_DELETE, "cannot delete token", err, err_len);
	if (!ret && sqlite3_changes(reg->db) == 0) {
		say(err, err_len, "no token with id %lld", (long long)id);
		ret = -ENOENT;
	}
	return tx_end(reg, ret, err, err_len);
}

int kh_token_parse(const char *text, uint8_t token[16])
{
	size_t plen = strlen(TOKEN_PREFIX), i, bin_len = 0;
	bool upper = false;

	if (!text || strnlen(text, KH_TOKEN_TEXT_LEN + 1) != KH_TOKEN_TEXT_LEN ||
	    memcmp(text, TOKEN_PREFIX, plen))
		return -EINVAL;
	/* sodium_hex2bin takes upper case too; the text form is lower case only. */
	for (i = plen; i < KH_TOKEN_TEXT_LEN; i++)
		upper |= text[i] >= 'A' && text[i] <= 'F';
	if (upper || sodium_hex2bin(token, TOKEN_LEN, text + plen, KH_TOKEN_TEXT_LEN - plen, NULL,
				    &bin_len, NULL) || bin_len != TOKEN_LEN) {
		sodium_memzero(token, TOKEN_LEN);
		return -EINVAL;
	}
	return 0;
}

/* The token's row if it may still be used at now, else -EACCES. */
static int token_check(struct kh_registry *reg, const uint8_t token[TOKEN_LEN], int64_t now,
		       struct kh_token_record *tok, char tag_text[TAGS_TEXT_LEN], char *err,
		       size_t err_len)
{
	sqlite3_stmt *st = reg->stmt[ST_TOKEN_BY_HASH];
	const char *tags;
	uint8_t hash[32];
	int rc, ret = -EACCES;

	token_hash(hash, token);
	sqlite3_bind_blob(st, 1, hash, sizeof(hash), SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		tags = (const char *)sqlite3_column_text(st, 4);
		ret = read_token(st, tok);
		if (ret || (size_t)snprintf(tag_text, TAGS_TEXT_LEN, "%s", tags ? tags : "") >=
				   TAGS_TEXT_LEN) {
			say(err, err_len, "relay.db: malformed row in table tokens");
			ret = -EIO;
		} else if (tok->uses_left < 1) {
			say(err, err_len, "token is used up");
			ret = -EACCES;
		} else if (tok->expires_at && now >= tok->expires_at) {
			say(err, err_len, "token expired at %lld (now is %lld)",
			    (long long)tok->expires_at, (long long)now);
			ret = -EACCES;
		}
	} else if (rc == SQLITE_DONE) {
		say(err, err_len, "unknown token (mistyped, used up or deleted?)");
	} else {
		ret = db_fail(reg, "cannot read tokens", err, err_len);
	}
	sqlite3_reset(st);
	return ret;
}

/* "node-" and the first 8 hex digits of the key hash (which the IPv6 IID starts with too). */
static int generate_name(struct kh_registry *reg, const uint8_t pubkey[32],
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
	say(err, err_len, "names node-%s to node-%s-%d are all taken", hex, hex, MAX_NAME_SUFFIX);
	return -EEXIST;
}

int kh_registry_token_redeem(struct kh_registry *reg, const uint8_t token[16],
			     const uint8_t pubkey[32], const char *name, int64_t now,
			     struct kh_node_record *out, char *err, size_t err_len)
{
	char tag_text[TAGS_TEXT_LEN], generated[KH_NAME_LEN];
	struct kh_node_record scratch;
	struct kh_token_record tok;
	bool named = name && *name;
	int ret;

	ret = named ? check_name(name, err, err_len) : 0;
	if (!ret)
		ret = tx_begin(reg, err, err_len);
	if (ret)
		return ret;
	ret = token_check(reg, token, now, &tok, tag_text, err, err_len);
	if (!ret && !named) {
		ret = generate_name(reg, pubkey, generated, err, err_len);
		name = generated;
	}
	if (!ret)
		ret = enroll(reg, name, pubkey, tag_text, now, out ? out : &scratch, err, err_len);
	if (!ret) {
		sqlite3_bind_int64(reg->stmt[tok.uses_left > 1 ? ST_TOKEN_USE : ST_TOKEN_DELETE], 1,
				   tok.id);
		ret = run(reg, tok.uses_left > 1 ? ST_TOKEN_USE : ST_TOKEN_DELETE,
			  "cannot use up token", err, err_len);
	}
	return tx_end(reg, ret, err, err_len);
}

static bool valid_rule_tag(const char *tag)
{
	return (tag && !strcmp(tag, "*")) || kh_valid_tag(tag);
}

static int check_rule(const char *from_tag, const char *to_tag, char *err, size_t err_len)
{
	if (valid_rule_tag(from_tag) && valid_rule_tag(to_tag))
		return 0;
	say(err, err_len, "policy rule '%s %s' is not valid (each side a tag of 1-32 a-z, 0-9, "
		"'-', or '*')", from_tag ? from_tag : "", to_tag ? to_tag : "");
	return -EINVAL;
}

static void bind_rule(sqlite3_stmt *st, const char *from_tag, const char *to_tag)
{
	sqlite3_bind_text(st, 1, from_tag, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, to_tag, -1, SQLITE_STATIC);
}

int kh_registry_policy_add(struct kh_registry *reg, const char *from_tag, const char *to_tag,
			   char *err, size_t err_len)
{
	sqlite3_stmt *st = reg->stmt[ST_POLICY_FIND];
	int rc, ret;

	ret = check_rule(from_tag, to_tag, err, err_len);
	if (!ret)
		ret = tx_begin(reg, err, err_len);
	if (ret)
		return ret;
	bind_rule(st, from_tag, to_tag);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		say(err, err_len, "policy rule '%s %s' already exists", from_tag, to_tag);
		ret = -EEXIST;
	} else if (rc != SQLITE_DONE) {
		ret = db_fail(reg, "cannot read policy", err, err_len);
	}
	sqlite3_reset(st);
	if (!ret) {
		bind_rule(reg->stmt[ST_POLICY_INSERT], from_tag, to_tag);
		ret = run(reg, ST_POLICY_INSERT, "cannot add policy rule", err, err_len);
	}
	return tx_end(reg, ret, err, err_len);
}

int kh_registry_policy_del(struct kh_registry *reg, const char *from_tag, const char *to_tag,
			   char *err, size_t err_len)
{
	int ret;

	ret = check_rule(from_tag, to_tag, err, err_len);
	if (!ret)
		ret = tx_begin(reg, err, err_len);
	if (ret)
		return ret;
	bind_rule(reg->stmt[ST_POLICY_DELETE], from_tag, to_tag);
	ret = run(reg, ST_POLICY_DELETE, "cannot delete policy rule", err, err_len);
	if (!ret && sqlite3_changes(reg->db) == 0) {
		say(err, err_len, "no policy rule '%s %s'", from_tag, to_tag);
		ret = -ENOENT;
	}
	return tx_end(reg, ret, err, err_len);
}

int kh_registry_policy_foreach(struct kh_registry *reg,
			       int (*cb)(const struct kh_policy_rule *rule, void *ctx), void *ctx,
			       char *err, size_t err_len)
{
	static const char *const what = "cannot list policy";
	struct kh_policy_rule rule;
	const char *from, *to;
	sqlite3_stmt *st;
	int rc = SQLITE_DONE, ret;

	ret = walk_prepare(reg, "SELECT from_tag, to_tag FROM policy ORDER BY from_tag, to_tag",
			   &st, what, err, err_len);
	if (ret)
		return ret;
	while (!ret && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		from = (const char *)sqlite3_column_text(st, 0);
		to = (const char *)sqlite3_column_text(st, 1);
		if (!from || !to || strlen(from) >= KH_TAG_LEN || strlen(to) >= KH_TAG_LEN) {
			say(err, err_len, "relay.db: malformed row in table policy");
			ret = -EIO;
		} else {
			strcpy(rule.from_tag, from);
			strcpy(rule.to_tag, to);
			ret = cb(&rule, ctx);
		}
	}
	return walk_end(reg, st, rc, ret, what, err, err_len);
}

static int make_state_dir(const char *dir, char *err, size_t err_len)
{
	struct stat st;
	int ret;

	if (mkdir(dir, 0700) == 0)
		return 0;
	if (errno != EEXIST) {
		ret = -errno;
		say(err, err_len, "cannot create state directory %s: %s", dir, strerror(-ret));
		return ret;
	}
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		say(err, err_len, "state directory %s exists but is not a directory", dir);
		return -ENOTDIR;
	}
	return 0;
}

/* Created by us, not SQLite, to get 0600: the WAL and shm files copy the database's mode. */
static int make_db_file(const char *path, char *err, size_t err_len)
{
	struct stat st;
	int fd, ret = 0;

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		ret = -errno;
		say(err, err_len, "cannot open %s: %s", path, strerror(-ret));
		return ret;
	}
	/* A looser file left by an older setup is tightened, as key files are. */
	if (fstat(fd, &st) < 0 || ((st.st_mode & 077) && fchmod(fd, 0600) < 0)) {
		ret = -errno;
		say(err, err_len, "cannot make %s mode 0600: %s", path, strerror(-ret));
	}
	close(fd);
	return ret;
}

static int version_row(void *arg, int ncol, char **values, char **names)
{
	(void)names;
	snprintf(arg, 16, "%s", ncol > 0 && values[0] ? values[0] : "");
	return 0;
}

/* Create the tables on first open; refuse a database from a newer relay. */
static int apply_schema(struct kh_registry *reg, char *err, size_t err_len)
{
	char version[16] = "";
	int ret;

	if (sqlite3_exec(reg->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return db_fail(reg, "cannot start a write transaction", err, err_len);
	if (sqlite3_exec(reg->db, kh_schema_sql, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(reg->db, "SELECT value FROM meta WHERE key = 'schema_version'",
			 version_row, version, NULL) != SQLITE_OK ||
	    sqlite3_exec(reg->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		ret = db_fail(reg, "cannot create the schema", err, err_len);
		sqlite3_exec(reg->db, "ROLLBACK", NULL, NULL, NULL);
		return ret;
	}
	if (strcmp(version, SCHEMA_VERSION)) {
		say(err, err_len, "relay.db has schema version '%s'; this relay knows version %s",
		    version, SCHEMA_VERSION);
		return -ENOTSUP;
	}
	return 0;
}

/*
 * WAL lets the relay read while an admin command writes. A new database is
 * switched while another process may be writing its first transaction, and
 * SQLite answers that with SQLITE_BUSY at once instead of calling the busy
 * handler (an upgrade from a read lock could deadlock): retry for as long.
 */
static int set_wal(struct kh_registry *reg, char *err, size_t err_len)
{
	sqlite3_stmt *st;
	const char *mode;
	int rc, waited, ret = 0;

	if (sqlite3_prepare_v2(reg->db, "PRAGMA journal_mode=WAL", -1, &st, NULL) != SQLITE_OK)
		return db_fail(reg, "cannot set journal mode", err, err_len);
	for (waited = 0; (rc = sqlite3_step(st)) == SQLITE_BUSY && waited < BUSY_TIMEOUT_MS;
	     waited += WAL_RETRY_MS) {
		sqlite3_reset(st);
		sqlite3_sleep(WAL_RETRY_MS);
	}
	if (rc != SQLITE_ROW) {
		ret = db_fail(reg, "cannot set journal mode", err, err_len);
	} else {
		mode = (const char *)sqlite3_column_text(st, 0);
		if (!mode || strcmp(mode, "wal")) {
			say(err, err_len, "relay.db: cannot switch to WAL mode (still in '%s')",
			    mode ? mode : "?");
			ret = -EIO;
		}
	}
	sqlite3_finalize(st);
	return ret;
}

static int configure(struct kh_registry *reg, char *err, size_t err_len)
{
	int i, ret;

	sqlite3_busy_timeout(reg->db, BUSY_TIMEOUT_MS);
	ret = set_wal(reg, err, err_len);
	if (ret)
		return ret;
	/* In WAL mode NORMAL loses no consistency on power failure, only the last commits. */
	if (sqlite3_exec(reg->db, "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON", NULL, NULL,
			 NULL) != SQLITE_OK)
		return db_fail(reg, "cannot set pragmas", err, err_len);
	ret = apply_schema(reg, err, err_len);
	for (i = 0; !ret && i < ST_COUNT; i++) {
		if (sqlite3_prepare_v3(reg->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
				       &reg->stmt[i], NULL) != SQLITE_OK)
			ret = db_fail(reg, "cannot prepare statement", err, err_len);
	}
	return ret;
}

int kh_registry_open(struct kh_registry **out, const char *state_dir, char *err,
		     size_t err_len)
{
	struct kh_registry *reg;
	char path[4096];
	int ret;

	*out = NULL;
	if ((size_t)snprintf(path, sizeof(path), "%s/relay.db", state_dir) >= sizeof(path)) {
		say(err, err_len, "state directory path is too long: %s", state_dir);
		return -ENAMETOOLONG;
	}
	ret = make_state_dir(state_dir, err, err_len);
	if (!ret)
		ret = make_db_file(path, err, err_len);
	if (ret)
		return ret;
	reg = calloc(1, sizeof(*reg));
	if (!reg) {
		say(err, err_len, "out of memory");
		return -ENOMEM;
	}
	if (sqlite3_open_v2(path, &reg->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW, NULL) !=
	    SQLITE_OK) {
		ret = reg->db ? sqlite_errno(sqlite3_errcode(reg->db)) : -ENOMEM;
		say(err, err_len, "cannot open %s: %s", path,
		    reg->db ? sqlite3_errmsg(reg->db) : "out of memory");
	} else {
		ret = configure(reg, err, err_len);
	}
	if (ret) {
		kh_registry_close(reg);
		return ret;
	}
	*out = reg;
	return 0;
}

void kh_registry_close(struct kh_registry *reg)
{
	int i;

	if (!reg)
		return;
	for (i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(reg->stmt[i]);
	sqlite3_close(reg->db);
	free(reg);
}
