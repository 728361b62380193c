/* registry.h - the relay's persistent state in SQLite: network, nodes and tombstones, tokens, policy. */
#ifndef KEYHOLE_RELAY_REGISTRY_H
#define KEYHOLE_RELAY_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../lib/control.h" /* KH_NAME_LEN, KH_TAG_LEN, KH_MAX_TAGS */
#include "../lib/names.h"   /* kh_valid_name, kh_valid_tag, the token text form */

/* Opaque: holds the sqlite3 handle and prepared statements. */
struct kh_registry;

/* The overlay network the relay serves, fixed at first start. */
struct kh_network {
	uint8_t ipv4_prefix[4]; /* network byte order, host bits zero */
	uint8_t ipv4_plen;      /* 8..30 */
	uint8_t ipv6_prefix[16]; /* ULA /48: fdXX:XXXX:XXXX::, the rest zero */
	uint8_t ipv6_plen;       /* 48 */
};

/* One enrolled (or deleted) node. */
struct kh_node_record {
	int64_t id;
	char name[KH_NAME_LEN];
	uint8_t pubkey[32];
	uint8_t ipv4[4];  /* network byte order */
	uint8_t ipv6[16];
	uint8_t ntags;
	char tags[KH_MAX_TAGS][KH_TAG_LEN];
	int64_t created_at; /* unix seconds */
	int64_t deleted_at; /* 0 while enrolled; otherwise a tombstone */
};

struct kh_token_record {
	int64_t id;
	int64_t uses_left;   /* > 0 */
	int64_t expires_at;  /* unix seconds, 0 = never */
	int64_t created_at;
	uint8_t ntags;
	char tags[KH_MAX_TAGS][KH_TAG_LEN];
};

struct kh_policy_rule {
	char from_tag[KH_TAG_LEN]; /* a tag, or "*" for every node */
	char to_tag[KH_TAG_LEN];
};

/*
 * Open (creating if needed) <state_dir>/relay.db: WAL mode, foreign keys on,
 * a busy timeout so concurrent admin commands wait for each other, schema
 * created if absent. Every function returns 0 or a negative errno and, on
 * failure, writes a one-line reason for the user into err (err_len bytes).
 */
int kh_registry_open(struct kh_registry **out, const char *state_dir, char *err,
		     size_t err_len);
void kh_registry_close(struct kh_registry *reg);

/*
 * The network: on the first call stores ipv4 prefix/plen as given and picks a
 * random ULA /48 (RFC 4193: fd00::/8 + 40 random bits); later calls return
 * what is stored and fail with -EEXIST if the ipv4 prefix given differs (the
 * network cannot be renumbered).
 */
int kh_registry_network(struct kh_registry *reg, const uint8_t ipv4_prefix[4],
			uint8_t ipv4_plen, struct kh_network *net, char *err, size_t err_len);

/*
 * Enroll a key under name with tags, in one IMMEDIATE transaction. Names are
 * DNS labels (1-63 of a-z 0-9 -, no leading/trailing -), unique among
 * enrolled nodes. Tags are 1-32 of a-z 0-9 - and at most KH_MAX_TAGS.
 * The IPv4 address is the next never-used host address of the prefix (the
 * first host address, .1, belongs to the relay; network and broadcast
 * addresses are never used), so no address is ever given twice, not even
 * after deletion. The IPv6 address is the /48 prefix, subnet 0, and as
 * interface identifier the first 8 bytes of BLAKE2b-256("keyhole ipv6 iid" ||
 * pubkey). Both addresses and the key are UNIQUE in the schema.
 * Enrolling a key that was deleted restores that key's row (same addresses)
 * under the new name and tags. Errors: -EINVAL (bad name/tag),
 * -EEXIST (name or key already enrolled), -ENOSPC (prefix exhausted).
 */
int kh_registry_node_add(struct kh_registry *reg, const char *name, const uint8_t pubkey[32],
			 const char *const *tags, size_t ntags, int64_t now,
			 struct kh_node_record *out, char *err, size_t err_len);
/* Tombstone an enrolled node: it keeps its addresses forever. -ENOENT if no such node. */
int kh_registry_node_del(struct kh_registry *reg, const char *name, int64_t now,
			 struct kh_node_record *out, char *err, size_t err_len);
/* Look up one node (enrolled or deleted) by key; -ENOENT if never seen. */
int kh_registry_node_by_key(struct kh_registry *reg, const uint8_t pubkey[32],
			    struct kh_node_record *out, char *err, size_t err_len);
/* Look up an enrolled node by name; -ENOENT if none. */
int kh_registry_node_by_name(struct kh_registry *reg, const char *name,
			     struct kh_node_record *out, char *err, size_t err_len);
/* Call cb for every node ordered by id, deleted ones too when with_deleted; stops when cb returns non-zero (that value is returned). */
int kh_registry_node_foreach(struct kh_registry *reg, bool with_deleted,
			     int (*cb)(const struct kh_node_record *node, void *ctx), void *ctx,
			     char *err, size_t err_len);

/*
 * Tokens. A token is 16 random bytes shown to the admin once in its text
 * form (kh_token_format in names.h); the database keeps only its
 * BLAKE2b-256 hash. uses >= 1; expires_at 0 = never.
 */
int kh_registry_token_add(struct kh_registry *reg, const char *const *tags, size_t ntags,
			  int64_t uses, int64_t expires_at, int64_t now,
			  char text[KH_TOKEN_TEXT_LEN + 1], struct kh_token_record *out,
			  char *err, size_t err_len);
int kh_registry_token_foreach(struct kh_registry *reg,
			      int (*cb)(const struct kh_token_record *tok, void *ctx), void *ctx,
			      char *err, size_t err_len);
/* -ENOENT if no such token. */
int kh_registry_token_del(struct kh_registry *reg, int64_t id, char *err, size_t err_len);
/*
 * Redeem a token for pubkey, in one IMMEDIATE transaction: the token must
 * exist, have uses left and not be expired at now; then the key is enrolled
 * (as kh_registry_node_add) with the token's tags under name, or under a
 * generated name "node-<first 8 hex digits of the key hash>" (with "-2",
 * "-3"... appended while taken) when name is NULL or empty, and the token's
 * uses_left is decremented (the token row is deleted at 0). If the key is
 * already enrolled this returns -EEXIST and consumes nothing. -EACCES if the
 * token is unknown, used up or expired.
 */
int kh_registry_token_redeem(struct kh_registry *reg, const uint8_t token[16],
			     const uint8_t pubkey[32], const char *name, int64_t now,
			     struct kh_node_record *out, char *err, size_t err_len);

/*
 * Policy: symmetric allow rules between tags; "*" matches every node. A new
 * database holds the single rule "* *" (everyone may reach everyone).
 * add: -EEXIST if present; del: -ENOENT if absent.
 */
int kh_registry_policy_add(struct kh_registry *reg, const char *from_tag, const char *to_tag,
			   char *err, size_t err_len);
int kh_registry_policy_del(struct kh_registry *reg, const char *from_tag, const char *to_tag,
			   char *err, size_t err_len);
int kh_registry_policy_foreach(struct kh_registry *reg,
			       int (*cb)(const struct kh_policy_rule *rule, void *ctx), void *ctx,
			       char *err, size_t err_len);

#endif
