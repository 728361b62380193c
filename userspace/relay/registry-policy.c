/* registry-policy.c - the policy: symmetric allow rules between tags, "*" for every node. */
#include "registry-internal.h"

#include <errno.h>
#include <string.h>

static bool valid_rule_tag(const char *tag)
{
	return (tag && !strcmp(tag, "*")) || kh_valid_tag(tag);
}

static int check_rule(const char *from_tag, const char *to_tag, char *err, size_t err_len)
{
	if (valid_rule_tag(from_tag) && valid_rule_tag(to_tag))
		return 0;
	reg_say(err, err_len,
		"policy rule '%s %s' is not valid (each side a tag of 1-32 a-z, 0-9, '-', "
		"or '*')", from_tag ? from_tag : "", to_tag ? to_tag : "");
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
		ret = reg_tx_begin(reg, err, err_len);
	if (ret)
		return ret;
	bind_rule(st, from_tag, to_tag);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		reg_say(err, err_len, "policy rule '%s %s' already exists", from_tag, to_tag);
		ret = -EEXIST;
	} else if (rc != SQLITE_DONE) {
		ret = reg_db_fail(reg, "cannot read policy", err, err_len);
	}
	sqlite3_reset(st);
	if (!ret) {
		bind_rule(reg->stmt[ST_POLICY_INSERT], from_tag, to_tag);
		ret = reg_run(reg, ST_POLICY_INSERT, "cannot add policy rule", err, err_len);
	}
	return reg_tx_end(reg, ret, err, err_len);
}

int kh_registry_policy_del(struct kh_registry *reg, const char *from_tag, const char *to_tag,
			   char *err, size_t err_len)
{
	int ret;

	ret = check_rule(from_tag, to_tag, err, err_len);
	if (!ret)
		ret = reg_tx_begin(reg, err, err_len);
	if (ret)
		return ret;
	bind_rule(reg->stmt[ST_POLICY_DELETE], from_tag, to_tag);
	ret = reg_run(reg, ST_POLICY_DELETE, "cannot delete policy rule", err, err_len);
	if (!ret && sqlite3_changes(reg->db) == 0) {
		reg_say(err, err_len, "no policy rule '%s %s'", from_tag, to_tag);
		ret = -ENOENT;
	}
	return reg_tx_end(reg, ret, err, err_len);
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

	ret = reg_walk_prepare(reg, "SELECT from_tag, to_tag FROM policy ORDER BY from_tag, to_tag",
			       &st, what, err, err_len);
	if (ret)
		return ret;
	while (!ret && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		from = (const char *)sqlite3_column_text(st, 0);
		to = (const char *)sqlite3_column_text(st, 1);
		if (!from || !to || strlen(from) >= KH_TAG_LEN || strlen(to) >= KH_TAG_LEN) {
			reg_say(err, err_len, "relay.db: malformed row in table policy");
			ret = -EIO;
		} else {
			strcpy(rule.from_tag, from);
			strcpy(rule.to_tag, to);
			ret = cb(&rule, ctx);
		}
	}
	return reg_walk_end(reg, st, rc, ret, what, err, err_len);
}
