/* registry-tokens.c - enrollment tokens: issue, list, delete, and redeem one to enroll a key. */
#include "registry-internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

static int read_token(sqlite3_stmt *st, struct kh_token_record *tok)
{
	memset(tok, 0, sizeof(*tok));
	tok->id = sqlite3_column_int64(st, 0);
	tok->uses_left = sqlite3_column_int64(st, 1);
	tok->expires_at = sqlite3_column_int64(st, 2);
	tok->created_at = sqlite3_column_int64(st, 3);
	return reg_split_tags((const char *)sqlite3_column_text(st, 4), tok->tags, &tok->ntags);
}

static void token_hash(uint8_t hash[32], const uint8_t token[KH_TOKEN_LEN])
{
	crypto_generichash(hash, 32, token, KH_TOKEN_LEN, NULL, 0);
}

int kh_registry_token_add(struct kh_registry *reg, const char *const *tags, size_t ntags,
			  int64_t uses, int64_t expires_at, int64_t now,
			  char text[KH_TOKEN_TEXT_LEN + 1], struct kh_token_record *out,
			  char *err, size_t err_len)
{
	sqlite3_stmt *st = reg->stmt[ST_TOKEN_INSERT];
	uint8_t token[KH_TOKEN_LEN], hash[32];
	char tag_text[TAGS_TEXT_LEN];
	struct kh_token_record scratch;
	int ret;

	ret = reg_join_tags(tags, ntags, tag_text, err, err_len);
	if (ret)
		return ret;
	if (uses < 1) {
		reg_say(err, err_len, "a token needs at least 1 use (got %lld)", (long long)uses);
		return -EINVAL;
	}
	if (expires_at < 0 || (expires_at && expires_at <= now)) {
		reg_say(err, err_len,
			"token expiry %lld is not in the future (now is %lld; 0 = never)",
			(long long)expires_at, (long long)now);
		return -EINVAL;
	}
	randombytes_buf(token, sizeof(token));
	token_hash(hash, token);
	ret = reg_tx_begin(reg, err, err_len);
	if (ret)
		goto out;
	sqlite3_bind_blob(st, 1, hash, sizeof(hash), SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, uses);
	sqlite3_bind_int64(st, 3, expires_at);
	sqlite3_bind_int64(st, 4, now);
	sqlite3_bind_text(st, 5, tag_text, -1, SQLITE_STATIC);
	ret = reg_run(reg, ST_TOKEN_INSERT, "cannot store token", err, err_len);
	if (!out)
		out = &scratch;
	memset(out, 0, sizeof(*out));
	out->id = sqlite3_last_insert_rowid(reg->db);
	ret = reg_tx_end(reg, ret, err, err_len);
	if (ret)
		goto out;
	out->uses_left = uses;
	out->expires_at = expires_at;
	out->created_at = now;
	reg_split_tags(tag_text, out->tags, &out->ntags);
	kh_token_format(text, token);
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

	ret = reg_walk_prepare(reg, "SELECT " TOKEN_COLUMNS " FROM tokens ORDER BY id", &st, what,
			       err, err_len);
	if (ret)
		return ret;
	while (!ret && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (read_token(st, &tok)) {
			reg_say(err, err_len, "relay.db: malformed row in table tokens");
			ret = -EIO;
		} else {
			ret = cb(&tok, ctx);
		}
	}
	return reg_walk_end(reg, st, rc, ret, what, err, err_len);
}

int kh_registry_token_del(struct kh_registry *reg, int64_t id, char *err, size_t err_len)
{
	int ret = reg_tx_begin(reg, err, err_len);

	if (ret)
		return ret;
	sqlite3_bind_int64(reg->stmt[ST_TOKEN_DELETE], 1, id);
	ret = reg_run(reg, ST_TOKEN_DELETE, "cannot delete token", err, err_len);
	if (!ret && sqlite3_changes(reg->db) == 0) {
		reg_say(err, err_len, "no token with id %lld", (long long)id);
		ret = -ENOENT;
	}
	return reg_tx_end(reg, ret, err, err_len);
}

/* The token's row if it may still be used at now, else -EACCES. */
static int token_check(struct kh_registry *reg, const uint8_t token[KH_TOKEN_LEN],
		       int64_t now, struct kh_token_record *tok, char tag_text[TAGS_TEXT_LEN],
		       char *err, size_t err_len)
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
			reg_say(err, err_len, "relay.db: malformed row in table tokens");
			ret = -EIO;
		} else if (tok->uses_left < 1) {
			reg_say(err, err_len, "token is used up");
			ret = -EACCES;
		} else if (tok->expires_at && now >= tok->expires_at) {
			reg_say(err, err_len, "token expired at %lld (now is %lld)",
				(long long)tok->expires_at, (long long)now);
			ret = -EACCES;
		}
	} else if (rc == SQLITE_DONE) {
		reg_say(err, err_len, "unknown token (mistyped, used up or deleted?)");
	} else {
		ret = reg_db_fail(reg, "cannot read tokens", err, err_len);
	}
	sqlite3_reset(st);
	return ret;
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

	ret = named ? reg_check_name(name, err, err_len) : 0;
	if (!ret)
		ret = reg_tx_begin(reg, err, err_len);
	if (ret)
		return ret;
	ret = token_check(reg, token, now, &tok, tag_text, err, err_len);
	if (!ret && !named) {
		ret = reg_generate_name(reg, pubkey, generated, err, err_len);
		name = generated;
	}
	if (!ret)
		ret = reg_enroll(reg, name, pubkey, tag_text, now, out ? out : &scratch, err,
				 err_len);
	if (!ret) {
		sqlite3_bind_int64(reg->stmt[tok.uses_left > 1 ? ST_TOKEN_USE : ST_TOKEN_DELETE], 1,
				   tok.id);
		ret = reg_run(reg, tok.uses_left > 1 ? ST_TOKEN_USE : ST_TOKEN_DELETE,
			      "cannot use up token", err, err_len);
	}
	return reg_tx_end(reg, ret, err, err_len);
}
