/* registry.c - the relay's registry in SQLite: open, schema, pragmas, transactions, network. */
#include "registry-internal.h"

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

#include "schema.h" /* kh_schema_sql, generated from schema.sql by the Makefile */

#define SCHEMA_VERSION "1"
/* Admin commands and the relay queue behind each other's write transactions
 * for this long; a write holds the lock for milliseconds. */
#define BUSY_TIMEOUT_MS 5000
#define WAL_RETRY_MS 10

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

__attribute__((format(printf, 3, 4)))
void reg_say(char *err, size_t err_len, const char *fmt, ...)
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
int reg_db_fail(struct kh_registry *reg, const char *what, char *err, size_t err_len)
{
	reg_say(err, err_len, "relay.db: %s: %s", what, sqlite3_errmsg(reg->db));
	return sqlite_errno(sqlite3_extended_errcode(reg->db));
}

/* Step a statement that returns no row. Every cached statement is reset after
 * use: one left on a row would hold a read snapshot open. */
int reg_run(struct kh_registry *reg, enum stmt_id id, const char *what, char *err,
	    size_t err_len)
{
	int ret = 0;

	if (sqlite3_step(reg->stmt[id]) != SQLITE_DONE)
		ret = reg_db_fail(reg, what, err, err_len);
	sqlite3_reset(reg->stmt[id]);
	return ret;
}

int reg_tx_begin(struct kh_registry *reg, char *err, size_t err_len)
{
	return reg_run(reg, ST_BEGIN, "cannot start a write transaction", err, err_len);
}

/* Commit when ret is 0, roll back otherwise; returns ret or the commit's error. */
int reg_tx_end(struct kh_registry *reg, int ret, char *err, size_t err_len)
{
	if (!ret) {
		ret = reg_run(reg, ST_COMMIT, "cannot commit", err, err_len);
		if (!ret)
			return 0;
	}
	/* Fails harmlessly when SQLite has already rolled back by itself. */
	sqlite3_step(reg->stmt[ST_ROLLBACK]);
	sqlite3_reset(reg->stmt[ST_ROLLBACK]);
	return ret;
}

/* A statement of its own rather than a cached one: cb may use the registry meanwhile. */
int reg_walk_prepare(struct kh_registry *reg, const char *sql, sqlite3_stmt **st,
		     const char *what, char *err, size_t err_len)
{
	if (sqlite3_prepare_v2(reg->db, sql, -1, st, NULL) != SQLITE_OK)
		return reg_db_fail(reg, what, err, err_len);
	return 0;
}

/* After the last step: the callback's value, or the step's error. */
int reg_walk_end(struct kh_registry *reg, sqlite3_stmt *st, int rc, int ret,
		 const char *what, char *err, size_t err_len)
{
	if (!ret && rc != SQLITE_DONE)
		ret = reg_db_fail(reg, what, err, err_len);
	sqlite3_finalize(st);
	return ret;
}

void reg_format_prefix(char out[PREFIX_TEXT_LEN], int af, const uint8_t *addr, uint8_t plen)
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
			reg_say(err, err_len, "relay.db: meta value '%s' is malformed", key);
			ret = -EIO;
		}
	} else if (rc == SQLITE_DONE) {
		ret = -ENOENT;
	} else {
		ret = reg_db_fail(reg, "cannot read meta", err, err_len);
	}
	sqlite3_reset(st);
	return ret;
}

static int meta_put(struct kh_registry *reg, const char *key, const char *value, char *err,
		    size_t err_len)
{
	sqlite3_bind_text(reg->stmt[ST_META_PUT], 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(reg->stmt[ST_META_PUT], 2, value, -1, SQLITE_STATIC);
	return reg_run(reg, ST_META_PUT, "cannot store the network", err, err_len);
}

int reg_network_load(struct kh_registry *reg, struct kh_network *net, char *err,
		     size_t err_len)
{
	char v4[PREFIX_TEXT_LEN], v6[PREFIX_TEXT_LEN];
	int ret;

	memset(net, 0, sizeof(*net));
	ret = meta_get(reg, "ipv4_prefix", v4, sizeof(v4), err, err_len);
	if (ret == -ENOENT)
		reg_say(err, err_len,
			"the network is not set up yet (the relay sets it at its first start)");
	if (!ret)
		ret = meta_get(reg, "ipv6_prefix", v6, sizeof(v6), err, err_len);
	if (ret)
		return ret;
	if (parse_prefix(v4, AF_INET, net->ipv4_prefix, &net->ipv4_plen) ||
	    parse_prefix(v6, AF_INET6, net->ipv6_prefix, &net->ipv6_plen)) {
		reg_say(err, err_len, "relay.db: stored network '%s' '%s' is malformed", v4, v6);
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
	reg_format_prefix(v4, AF_INET, net->ipv4_prefix, net->ipv4_plen);
	reg_format_prefix(v6, AF_INET6, net->ipv6_prefix, net->ipv6_plen);
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
		reg_format_prefix(given, AF_INET, ipv4_prefix, ipv4_plen);
		reg_say(err, err_len,
			"IPv4 prefix %s is not a network (expected /8 to /30, host bits zero)",
			given);
		return -EINVAL;
	}
	ret = reg_tx_begin(reg, err, err_len);
	if (ret)
		return ret;
	ret = reg_network_load(reg, net, err, err_len);
	/* Without a prefix this only reads what is stored. */
	if (ret == -ENOENT && ipv4_prefix)
		ret = network_create(reg, ipv4_prefix, ipv4_plen, net, err, err_len);
	else if (!ret && ipv4_prefix &&
		 (memcmp(net->ipv4_prefix, ipv4_prefix, 4) || net->ipv4_plen != ipv4_plen)) {
		reg_format_prefix(given, AF_INET, ipv4_prefix, ipv4_plen);
		reg_format_prefix(stored, AF_INET, net->ipv4_prefix, net->ipv4_plen);
		reg_say(err, err_len, "the network is %s and cannot be renumbered to %s", stored,
			given);
		ret = -EEXIST;
	}
	return reg_tx_end(reg, ret, err, err_len);
}

static int make_state_dir(const char *dir, char *err, size_t err_len)
{
	struct stat st;
	int ret;

	if (mkdir(dir, 0700) == 0)
		return 0;
	if (errno != EEXIST) {
		ret = -errno;
		reg_say(err, err_len, "cannot create state directory %s: %s", dir, strerror(-ret));
		return ret;
	}
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		reg_say(err, err_len, "state directory %s exists but is not a directory", dir);
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
		reg_say(err, err_len, "cannot open %s: %s", path, strerror(-ret));
		return ret;
	}
	/* A looser file left by an older setup is tightened, as key files are. */
	if (fstat(fd, &st) < 0 || ((st.st_mode & 077) && fchmod(fd, 0600) < 0)) {
		ret = -errno;
		reg_say(err, err_len, "cannot make %s mode 0600: %s", path, strerror(-ret));
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
		return reg_db_fail(reg, "cannot start a write transaction", err, err_len);
	if (sqlite3_exec(reg->db, kh_schema_sql, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(reg->db, "SELECT value FROM meta WHERE key = 'schema_version'",
			 version_row, version, NULL) != SQLITE_OK ||
	    sqlite3_exec(reg->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		ret = reg_db_fail(reg, "cannot create the schema", err, err_len);
		sqlite3_exec(reg->db, "ROLLBACK", NULL, NULL, NULL);
		return ret;
	}
	if (strcmp(version, SCHEMA_VERSION)) {
		reg_say(err, err_len,
			"relay.db has schema version '%s'; this relay knows version %s", version,
			SCHEMA_VERSION);
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
		return reg_db_fail(reg, "cannot set journal mode", err, err_len);
	for (waited = 0; (rc = sqlite3_step(st)) == SQLITE_BUSY && waited < BUSY_TIMEOUT_MS;
	     waited += WAL_RETRY_MS) {
		sqlite3_reset(st);
		sqlite3_sleep(WAL_RETRY_MS);
	}
	if (rc != SQLITE_ROW) {
		ret = reg_db_fail(reg, "cannot set journal mode", err, err_len);
	} else {
		mode = (const char *)sqlite3_column_text(st, 0);
		if (!mode || strcmp(mode, "wal")) {
			reg_say(err, err_len, "relay.db: cannot switch to WAL mode (still in '%s')",
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
		return reg_db_fail(reg, "cannot set pragmas", err, err_len);
	ret = apply_schema(reg, err, err_len);
	for (i = 0; !ret && i < ST_COUNT; i++) {
		if (sqlite3_prepare_v3(reg->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
				       &reg->stmt[i], NULL) != SQLITE_OK)
			ret = reg_db_fail(reg, "cannot prepare statement", err, err_len);
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
		reg_say(err, err_len, "state directory path is too long: %s", state_dir);
		return -ENAMETOOLONG;
	}
	ret = make_state_dir(state_dir, err, err_len);
	if (!ret)
		ret = make_db_file(path, err, err_len);
	if (ret)
		return ret;
	reg = calloc(1, sizeof(*reg));
	if (!reg) {
		reg_say(err, err_len, "out of memory");
		return -ENOMEM;
	}
	if (sqlite3_open_v2(path, &reg->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW, NULL) !=
	    SQLITE_OK) {
		ret = reg->db ? sqlite_errno(sqlite3_errcode(reg->db)) : -ENOMEM;
		reg_say(err, err_len, "cannot open %s: %s", path,
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
