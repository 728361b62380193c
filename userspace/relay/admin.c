/* admin.c - `keyhole-relay node|token|policy|status`: change the registry, then tell the running relay. */
#include "admin.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "../lib/key.h"
#include "config.h"
#include "ctlsock.h"
#include "relay.h"

static bool want_json(int argc, char *argv[])
{
	return argc > 0 && !strcmp(argv[argc - 1], "--json");
}

static void addr_strings(const struct kh_node_record *n, char v4[INET_ADDRSTRLEN],
			 char v6[INET6_ADDRSTRLEN])
{
	inet_ntop(AF_INET, n->ipv4, v4, INET_ADDRSTRLEN);
	inet_ntop(AF_INET6, n->ipv6, v6, INET6_ADDRSTRLEN);
}

static struct json_object *tags_json(const char tags[][KH_TAG_LEN], uint8_t ntags)
{
	struct json_object *arr = json_object_new_array();
	uint8_t i;

	for (i = 0; i < ntags; i++)
		json_object_array_add(arr, json_object_new_string(tags[i]));
	return arr;
}

static void tags_text(const char tags[][KH_TAG_LEN], uint8_t ntags, char *out, size_t len)
{
	size_t used = 0;
	uint8_t i;

	out[0] = '\0';
	for (i = 0; i < ntags && used < len; i++)
		used += (size_t)snprintf(out + used, len - used, "%s%s", i ? "," : "", tags[i]);
	if (!ntags)
		snprintf(out, len, "-");
}

/* Tell a running relay to re-read the registry; quiet when none runs. */
static int notify_relay(struct relay *r)
{
	struct json_object *reply = relay_ctl_request(r->cfg.state_dir, "reload"), *e;
	int ret = 0;

	if (!reply)
		return 0;
	if (json_object_object_get_ex(reply, "error", &e)) {
		fprintf(stderr, "keyhole-relay: the running relay could not reload: %s\n",
			json_object_get_string(e));
		ret = -EIO;
	}
	json_object_put(reply);
	return ret;
}

/* "tag T" pairs, gathered into a list; other keywords are left to the caller. */
static int collect_tags(int argc, char *argv[], int *i, const char **tags, size_t *ntags)
{
	if (strcmp(argv[*i], "tag"))
		return 0;
	if (*i + 1 >= argc) {
		fprintf(stderr, "keyhole-relay: 'tag' needs a value\n");
		return -EINVAL;
	}
	if (!kh_valid_tag(argv[*i + 1])) {
		fprintf(stderr, "keyhole-relay: tag '%s': expected 1-32 of a-z, 0-9, '-'\n",
			argv[*i + 1]);
		return -EINVAL;
	}
	if (*ntags == KH_MAX_TAGS) {
		fprintf(stderr, "keyhole-relay: at most %d tags\n", KH_MAX_TAGS);
		return -EINVAL;
	}
	tags[(*ntags)++] = argv[*i + 1];
	*i += 2;
	return 1;
}

static int node_add(struct relay *r, int argc, char *argv[])
{
	const char *tags[KH_MAX_TAGS];
	struct kh_node_record rec;
	uint8_t key[32];
	char err[256], v4[INET_ADDRSTRLEN], v6[INET6_ADDRSTRLEN];
	const char *why;
	size_t ntags = 0;
	int i = 2, ret;

	if (argc < 2) {
		fprintf(stderr, "usage: keyhole-relay node add NAME PUBKEY [tag TAG]...\n");
		return 1;
	}
	if (kh_key_from_base64(key, argv[1], strlen(argv[1]), &why)) {
		fprintf(stderr, "keyhole-relay: public key '%s': %s\n", argv[1], why);
		return 1;
	}
	while (i < argc) {
		ret = collect_tags(argc, argv, &i, tags, &ntags);
		if (ret < 0)
			return 1;
		if (ret == 0) {
			fprintf(stderr, "keyhole-relay: unexpected '%s' (expected 'tag TAG')\n",
				argv[i]);
			return 1;
		}
	}
	if (kh_registry_node_add(r->reg, argv[0], key, tags, ntags, (int64_t)time(NULL), &rec,
				 err, sizeof(err))) {
		fprintf(stderr, "keyhole-relay: %s\n", err);
		return 1;
	}
	addr_strings(&rec, v4, v6);
	printf("%s %s %s\n", rec.name, v4, v6);
	return notify_relay(r) ? 1 : 0;
}

static int node_del(struct relay *r, int argc, char *argv[])
{
	struct kh_node_record rec;
	char err[256];

	if (argc != 1) {
		fprintf(stderr, "usage: keyhole-relay node del NAME\n");
		return 1;
	}
	if (kh_registry_node_del(r->reg, argv[0], (int64_t)time(NULL), &rec, err, sizeof(err))) {
		fprintf(stderr, "keyhole-relay: %s\n", err);
		return 1;
	}
	return notify_relay(r) ? 1 : 0;
}

struct list_ctx {
	struct json_object *live; /* public key -> live state, from the running relay */
	struct json_object *out;  /* JSON array, or NULL for text */
};

static int list_one(const struct kh_node_record *n, void *arg)
{
	struct list_ctx *ctx = arg;
	struct json_object *live = NULL, *v;
	char pub[KH_KEY_B64_LEN + 1], v4[INET_ADDRSTRLEN], v6[INET6_ADDRSTRLEN], tags[300];
	char ago[32];
	const char *endpoint = "-";
	bool online = false;
	int64_t last = 0, rx = 0, tx = 0;

	kh_key_to_base64(pub, n->pubkey);
	addr_strings(n, v4, v6);
	if (ctx->live)
		json_object_object_get_ex(ctx->live, pub, &live);
	if (live) {
		if (json_object_object_get_ex(live, "online", &v))
			online = json_object_get_boolean(v);
		if (json_object_object_get_ex(live, "endpoint", &v))
			endpoint = json_object_get_string(v);
		if (json_object_object_get_ex(live, "last_handshake", &v))
			last = json_object_get_int64(v);
		if (json_object_object_get_ex(live, "rx_bytes", &v))
			rx = json_object_get_int64(v);
		if (json_object_object_get_ex(live, "tx_bytes", &v))
			tx = json_object_get_int64(v);
	}
	if (ctx->out) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "name", json_object_new_string(n->name));
		json_object_object_add(o, "public_key", json_object_new_string(pub));
		json_object_object_add(o, "ipv4", json_object_new_string(v4));
		json_object_object_add(o, "ipv6", json_object_new_string(v6));
		json_object_object_add(o, "tags", tags_json(n->tags, n->ntags));
		json_object_object_add(o, "online", json_object_new_boolean(online));
		json_object_object_add(o, "endpoint",
				       online ? json_object_new_string(endpoint) : NULL);
		json_object_object_add(o, "last_handshake", json_object_new_int64(last));
		json_object_object_add(o, "rx_bytes", json_object_new_int64(rx));
		json_object_object_add(o, "tx_bytes", json_object_new_int64(tx));
		json_object_array_add(ctx->out, o);
		return 0;
	}
	tags_text(n->tags, n->ntags, tags, sizeof(tags));
	if (last)
		snprintf(ago, sizeof(ago), "%llds ago", (long long)(time(NULL) - last));
	else
		snprintf(ago, sizeof(ago), "never");
	printf("%-16s %s %-15s %-39s %-16s %-7s %-24s %10s %12lld %12lld\n", n->name, pub, v4,
	       v6, tags, online ? "online" : "offline", online ? endpoint : "-", ago,
	       (long long)rx, (long long)tx);
	return 0;
}

static int node_list(struct relay *r, int argc, char *argv[])
{
	struct list_ctx ctx = { NULL, NULL };
	struct json_object *reply = relay_ctl_request(r->cfg.state_dir, "nodes"), *arr;
	char err[256];
	size_t i;
	int ret;

	(void)argv;
	if (argc > 1 || (argc == 1 && !want_json(argc, argv))) {
		fprintf(stderr, "usage: keyhole-relay node list [--json]\n");
		json_object_put(reply);
		return 1;
	}
	if (reply && json_object_object_get_ex(reply, "nodes", &arr)) {
		ctx.live = json_object_new_object();
		for (i = 0; i < json_object_array_length(arr); i++) {
			struct json_object *o = json_object_array_get_idx(arr, i), *k;

			if (json_object_object_get_ex(o, "public_key", &k))
				json_object_object_add(ctx.live, json_object_get_string(k),
						       json_object_get(o));
		}
	}
	if (want_json(argc, argv))
		ctx.out = json_object_new_array();
	else
		printf("%-16s %-44s %-15s %-39s %-16s %-7s %-24s %10s %12s %12s\n", "NAME",
		       "PUBLIC KEY", "IPV4", "IPV6", "TAGS", "STATE", "ENDPOINT", "HANDSHAKE",
		       "RX BYTES", "TX BYTES");
	ret = kh_registry_node_foreach(r->reg, false, list_one, &ctx, err, sizeof(err));
	if (ret < 0)
		fprintf(stderr, "keyhole-relay: %s\n", err);
	else if (ctx.out)
		printf("%s\n", json_object_to_json_string_ext(ctx.out, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(ctx.out);
	json_object_put(ctx.live);
	json_object_put(reply);
	return ret < 0 ? 1 : 0;
}

static int token_add(struct relay *r, int argc, char *argv[])
{
	const char *tags[KH_MAX_TAGS];
	struct kh_token_record rec;
	char text[KH_TOKEN_TEXT_LEN + 1], err[256], *end;
	long long uses = 1, expires = 0, dur;
	size_t ntags = 0;
	int i = 0, ret;

	while (i < argc) {
		ret = collect_tags(argc, argv, &i, tags, &ntags);
		if (ret < 0)
			return 1;
		if (ret > 0)
			continue;
		if (i + 1 >= argc) {
			fprintf(stderr, "keyhole-relay: '%s' needs a value\n", argv[i]);
			return 1;
		}
		if (!strcmp(argv[i], "uses")) {
			errno = 0;
			uses = strtoll(argv[i + 1], &end, 10);
			if (errno || *end || uses < 1 || uses > 1000000) {
				fprintf(stderr, "keyhole-relay: uses '%s': expected 1-1000000\n",
					argv[i + 1]);
				return 1;
			}
		} else if (!strcmp(argv[i], "expires")) {
			if (relay_parse_duration(argv[i + 1], &dur) || dur < 1) {
				fprintf(stderr,
					"keyhole-relay: expires '%s': expected a duration such as 90s, 30m, 12h, 7d\n",
					argv[i + 1]);
				return 1;
			}
			expires = (long long)time(NULL) + dur;
		} else {
			fprintf(stderr, "keyhole-relay: unexpected '%s' (expected tag, uses or expires)\n",
				argv[i]);
			return 1;
		}
		i += 2;
	}
	if (kh_registry_token_add(r->reg, tags, ntags, uses, expires, (int64_t)time(NULL), text,
				  &rec, err, sizeof(err))) {
		fprintf(stderr, "keyhole-relay: %s\n", err);
		return 1;
	}
	printf("%s\n", text);
	return 0;
}

static int token_print(const struct kh_token_record *t, void *arg)
{
	struct json_object *out = arg;
	char tags[300];

	if (out) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "id", json_object_new_int64(t->id));
		json_object_object_add(o, "uses_left", json_object_new_int64(t->uses_left));
		json_object_object_add(o, "expires_at", json_object_new_int64(t->expires_at));
		json_object_object_add(o, "tags", tags_json(t->tags, t->ntags));
		json_object_array_add(out, o);
		return 0;
	}
	tags_text(t->tags, t->ntags, tags, sizeof(tags));
	printf("%-6lld %-9lld %-12lld %s\n", (long long)t->id, (long long)t->uses_left,
	       (long long)t->expires_at, tags);
	return 0;
}

static int token_cmd(struct relay *r, int argc, char *argv[])
{
	struct json_object *out = NULL;
	char err[256], *end;
	long long id;
	int ret;

	if (argc >= 1 && !strcmp(argv[0], "add"))
		return token_add(r, argc - 1, argv + 1);
	if (argc >= 1 && !strcmp(argv[0], "list") && argc <= 2) {
		if (want_json(argc, argv))
			out = json_object_new_array();
		else
			printf("%-6s %-9s %-12s %s\n", "ID", "USES", "EXPIRES", "TAGS");
		ret = kh_registry_token_foreach(r->reg, token_print, out, err, sizeof(err));
		if (ret < 0)
			fprintf(stderr, "keyhole-relay: %s\n", err);
		else if (out)
			printf("%s\n", json_object_to_json_string_ext(out, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(out);
		return ret < 0;
	}
	if (argc == 2 && !strcmp(argv[0], "del")) {
		errno = 0;
		id = strtoll(argv[1], &end, 10);
		if (errno || *end || id < 1) {
			fprintf(stderr, "keyhole-relay: token id '%s': expected a number from 'token list'\n",
				argv[1]);
			return 1;
		}
		if (kh_registry_token_del(r->reg, id, err, sizeof(err))) {
			fprintf(stderr, "keyhole-relay: %s\n", err);
			return 1;
		}
		return 0;
	}
	fprintf(stderr, "usage: keyhole-relay token add [tag TAG]... [uses N] [expires DURATION]\n"
			"       keyhole-relay token list [--json]\n"
			"       keyhole-relay token del ID\n");
	return 1;
}

static int rule_print(const struct kh_policy_rule *rule, void *arg)
{
	struct json_object *out = arg;

	if (out) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "from", json_object_new_string(rule->from_tag));
		json_object_object_add(o, "to", json_object_new_string(rule->to_tag));
		json_object_array_add(out, o);
	} else {
		printf("allow %s %s\n", rule->from_tag, rule->to_tag);
	}
	return 0;
}

static int policy_cmd(struct relay *r, int argc, char *argv[])
{
	struct json_object *out = NULL;
	char err[256];
	int ret;

	if (argc >= 1 && !strcmp(argv[0], "show") && argc <= 2) {
		if (want_json(argc, argv))
			out = json_object_new_array();
		ret = kh_registry_policy_foreach(r->reg, rule_print, out, err, sizeof(err));
		if (ret < 0)
			fprintf(stderr, "keyhole-relay: %s\n", err);
		else if (out)
			printf("%s\n", json_object_to_json_string_ext(out, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(out);
		return ret < 0;
	}
	if (argc == 3 && (!strcmp(argv[0], "allow") || !strcmp(argv[0], "deny"))) {
		ret = !strcmp(argv[0], "allow")
			      ? kh_registry_policy_add(r->reg, argv[1], argv[2], err, sizeof(err))
			      : kh_registry_policy_del(r->reg, argv[1], argv[2], err, sizeof(err));
		if (ret) {
			fprintf(stderr, "keyhole-relay: %s\n", err);
			return 1;
		}
		return notify_relay(r) ? 1 : 0;
	}
	fprintf(stderr, "usage: keyhole-relay policy show [--json]\n"
			"       keyhole-relay policy allow TAG TAG   (\"*\" is every node)\n"
			"       keyhole-relay policy deny TAG TAG\n");
	return 1;
}

int relay_admin_node(struct relay *r, int argc, char *argv[])
{
	if (argc >= 1 && !strcmp(argv[0], "add"))
		return node_add(r, argc - 1, argv + 1);
	if (argc >= 1 && !strcmp(argv[0], "del"))
		return node_del(r, argc - 1, argv + 1);
	if (argc >= 1 && !strcmp(argv[0], "list"))
		return node_list(r, argc - 1, argv + 1);
	fprintf(stderr, "usage: keyhole-relay node add NAME PUBKEY [tag TAG]...\n"
			"       keyhole-relay node del NAME\n"
			"       keyhole-relay node list [--json]\n");
	return 1;
}

int relay_admin_token(struct relay *r, int argc, char *argv[])
{
	return token_cmd(r, argc, argv);
}

int relay_admin_policy(struct relay *r, int argc, char *argv[])
{
	return policy_cmd(r, argc, argv);
}

int relay_admin_status(struct relay *r, int argc, char *argv[])
{
	struct json_object *reply, *status, *counters;

	if (argc > 1 || (argc == 1 && !want_json(argc, argv))) {
		fprintf(stderr, "usage: keyhole-relay status [--json]\n");
		return 1;
	}
	reply = relay_ctl_request(r->cfg.state_dir, "status");
	if (!reply || !json_object_object_get_ex(reply, "status", &status)) {
		fprintf(stderr, "keyhole-relay: no relay is running with state directory %s\n",
			r->cfg.state_dir);
		json_object_put(reply);
		return 1;
	}
	if (want_json(argc, argv)) {
		printf("%s\n", json_object_to_json_string_ext(status, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	} else {
		json_object_object_foreach(status, key, val) {
			if (strcmp(key, "counters"))
				printf("%-24s %s\n", key, json_object_get_string(val));
		}
		if (json_object_object_get_ex(status, "counters", &counters)) {
			json_object_object_foreach(counters, ckey, cval)
				printf("%-24s %s\n", ckey, json_object_get_string(cval));
		}
	}
	json_object_put(reply);
	return 0;
}
