/* registry-internal.h - what the registry's files share: handle, statements, transactions. */
#ifndef KEYHOLE_RELAY_REGISTRY_INTERNAL_H
#define KEYHOLE_RELAY_REGISTRY_INTERNAL_H

#include <arpa/inet.h> /* INET6_ADDRSTRLEN */
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "registry.h"

/* Tags joined by single spaces, with the NUL: KH_MAX_TAGS * (32 + 1). */
#define TAGS_TEXT_LEN (KH_MAX_TAGS * KH_TAG_LEN)
#define PREFIX_TEXT_LEN (INET6_ADDRSTRLEN + 4)

#define NODE_COLUMNS "id, name, pubkey, ipv4, ipv6, tags, created_at, deleted_at"
#define TOKEN_COLUMNS "id, uses_left, expires_at, created_at, tags"

/* The cached statements, prepared once at open; their SQL is stmt_sql in registry.c. */
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

struct kh_registry {
	sqlite3 *db;
	sqlite3_stmt *stmt[ST_COUNT];
};

/*
 * registry.c. Every function takes err/err_len and, on failure, writes the
 * user's one-line reason there (reg_say) and returns a negative errno.
 */
__attribute__((format(printf, 3, 4)))
void reg_say(char *err, size_t err_len, const char *fmt, ...);
/* The connection's last error as "relay.db: what: message", and its errno. */
int reg_db_fail(struct kh_registry *reg, const char *what, char *err, size_t err_len);
/* Step a cached statement that returns no row, then reset it. */
int reg_run(struct kh_registry *reg, enum stmt_id id, const char *what, char *err,
	    size_t err_len);
/* BEGIN IMMEDIATE; reg_tx_end commits when ret is 0, rolls back otherwise. */
int reg_tx_begin(struct kh_registry *reg, char *err, size_t err_len);
int reg_tx_end(struct kh_registry *reg, int ret, char *err, size_t err_len);
/* A foreach over a table: its own statement, finalized by reg_walk_end. */
int reg_walk_prepare(struct kh_registry *reg, const char *sql, sqlite3_stmt **st,
		     const char *what, char *err, size_t err_len);
int reg_walk_end(struct kh_registry *reg, sqlite3_stmt *st, int rc, int ret,
		 const char *what, char *err, size_t err_len);
void reg_format_prefix(char out[PREFIX_TEXT_LEN], int af, const uint8_t *addr, uint8_t plen);
/* The stored network; -ENOENT before the relay's first start. */
int reg_network_load(struct kh_registry *reg, struct kh_network *net, char *err,
		     size_t err_len);

/* The ipv4 column holds addresses as integers; records hold them in network byte order. */
static inline uint32_t load32(const uint8_t p[4])
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void store32(uint8_t p[4], uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline uint32_t ipv4_mask(uint8_t plen)
{
	return plen ? ~(uint32_t)0 << (32 - plen) : 0;
}

/* registry-nodes.c: names and tags checked with a reason, and the tags column's text form. */
int reg_check_name(const char *name, char *err, size_t err_len);
int reg_join_tags(const char *const *tags, size_t ntags, char out[TAGS_TEXT_LEN], char *err,
		  size_t err_len);
int reg_split_tags(const char *text, char tags[KH_MAX_TAGS][KH_TAG_LEN], uint8_t *ntags);
/* Inside a write transaction: enroll pubkey under name with tags (text form), as node_add. */
int reg_enroll(struct kh_registry *reg, const char *name, const uint8_t pubkey[32],
	       const char *tags, int64_t now, struct kh_node_record *out, char *err,
	       size_t err_len);
/* "node-<first 8 hex digits of the key hash>", with "-2", "-3"... while taken. */
int reg_generate_name(struct kh_registry *reg, const uint8_t pubkey[32],
		      char name[KH_NAME_LEN], char *err, size_t err_len);

#endif
