/* test_registry.c - relay registry: files, network, nodes, tombstones, tokens, policy, races. */
#include <errno.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>

#include "../../userspace/relay/registry.h"
#include "suites.h"

#define NOW 1700000000
#define CHILDREN 4
#define NODES_PER_CHILD 25

static const uint8_t prefix_10_77[4] = { 10, 77, 0, 0 };

struct fixture {
	char dir[32];   /* a fresh /tmp/keyhole-registry-XXXXXX */
	char state[64]; /* dir/state: left for kh_registry_open to create */
	struct kh_registry *reg;
	struct kh_network net;
	char err[256];
};

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/*
 * Run body in a fresh temporary directory, with the registry open and the
 * network set to 10.77.0.0/plen unless plen is 0 (no network) or open is
 * false (no registry); the directory is removed whatever body checked.
 */
static void in_fixture(void (*body)(struct fixture *), bool open, uint8_t plen)
{
	struct fixture f;

	memset(&f, 0, sizeof(f));
	strcpy(f.dir, "/tmp/keyhole-registry-XXXXXX");
	if (!mkdtemp(f.dir)) {
		test_report(__FILE__, __LINE__, "mkdtemp() succeeds", strerror(errno));
		return;
	}
	snprintf(f.state, sizeof(f.state), "%s/state", f.dir);
	if (open && kh_registry_open(&f.reg, f.state, f.err, sizeof(f.err)))
		test_report(__FILE__, __LINE__, "the registry opens", f.err);
	else if (open && plen &&
		 kh_registry_network(f.reg, prefix_10_77, plen, &f.net, f.err, sizeof(f.err)))
		test_report(__FILE__, __LINE__, "the network is set", f.err);
	else
		body(&f);
	kh_registry_close(f.reg);
	nftw(f.dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static void reopen(struct fixture *f)
{
	kh_registry_close(f->reg);
	f->reg = NULL;
	if (kh_registry_open(&f->reg, f->state, f->err, sizeof(f->err)))
		test_report(__FILE__, __LINE__, "the registry reopens", f->err);
}

/* Distinct keys by number; the registry does not care that they are not real points. */
static void make_key(uint8_t key[32], unsigned n)
{
	memset(key, 0x5a, 32);
	key[0] = (uint8_t)n;
	key[1] = (uint8_t)(n >> 8);
}

static int add(struct fixture *f, const char *name, unsigned key_n, struct kh_node_record *out)
{
	uint8_t key[32];

	make_key(key, key_n);
	return kh_registry_node_add(f->reg, name, key, NULL, 0, NOW, out, f->err, sizeof(f->err));
}

/* The same derivation as the registry's, written out independently. */
static void key_hash(uint8_t hash[32], const uint8_t key[32])
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, (const uint8_t *)"keyhole ipv6 iid", 16);
	crypto_generichash_update(&st, key, 32);
	crypto_generichash_final(&st, hash, 32);
}

static void expected_ipv6(uint8_t out[16], const struct kh_network *net, unsigned key_n)
{
	uint8_t key[32], hash[32];

	make_key(key, key_n);
	key_hash(hash, key);
	memcpy(out, net->ipv6_prefix, 6);
	out[6] = out[7] = 0;
	memcpy(out + 8, hash, 8);
}

static uint32_t host32(const uint8_t p[4])
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void check_open(struct fixture *f)
{
	char path[96];
	struct stat st;
	sqlite3 *db = NULL;
	sqlite3_stmt *q = NULL;
	bool wal;

	CHECK_EQ(stat(f->state, &st), 0);
	CHECK(S_ISDIR(st.st_mode));
	CHECK_EQ(st.st_mode & 0777, 0700);
	snprintf(path, sizeof(path), "%s/relay.db", f->state);
	CHECK_EQ(stat(path, &st), 0);
	CHECK_EQ(st.st_mode & 0777, 0600);
	/* The schema was written, so the log exists, and SQLite gave it the database's mode. */
	snprintf(path, sizeof(path), "%s/relay.db-wal", f->state);
	CHECK_EQ(stat(path, &st), 0);
	CHECK_EQ(st.st_mode & 0777, 0600);
	snprintf(path, sizeof(path), "%s/relay.db", f->state);
	CHECK_EQ(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	wal = sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &q, NULL) == SQLITE_OK &&
	      sqlite3_step(q) == SQLITE_ROW &&
	      !strcmp((const char *)sqlite3_column_text(q, 0), "wal");
	sqlite3_finalize(q);
	sqlite3_close(db);
	CHECK(wal);
}

static void test_open(void)
{
	in_fixture(check_open, true, 0);
}

static void check_network(struct fixture *f)
{
	static const uint8_t zero[10];
	static const uint8_t other[4] = { 10, 78, 0, 0 }, host_bits[4] = { 10, 77, 0, 1 };
	struct kh_network net, again;

	CHECK_EQ(kh_registry_network(f->reg, NULL, 0, &net, f->err, sizeof(f->err)), -ENOENT);
	CHECK_EQ(kh_registry_network(f->reg, prefix_10_77, 16, &net, f->err, sizeof(f->err)), 0);
	CHECK_MEM(net.ipv4_prefix, prefix_10_77, 4);
	CHECK_EQ(net.ipv4_plen, 16);
	CHECK_EQ(net.ipv6_prefix[0], 0xfd);
	CHECK_MEM(net.ipv6_prefix + 6, zero, 10);
	CHECK_EQ(net.ipv6_plen, 48);

	CHECK_EQ(kh_registry_network(f->reg, prefix_10_77, 16, &again, f->err, sizeof(f->err)), 0);
	CHECK_MEM(&again, &net, sizeof(net));
	CHECK_EQ(kh_registry_network(f->reg, other, 16, &again, f->err, sizeof(f->err)), -EEXIST);
	CHECK(strstr(f->err, "10.77.0.0/16") && strstr(f->err, "10.78.0.0/16"));
	CHECK_EQ(kh_registry_network(f->reg, prefix_10_77, 24, &again, f->err, sizeof(f->err)),
		 -EEXIST);
	CHECK_EQ(kh_registry_network(f->reg, host_bits, 16, &again, f->err, sizeof(f->err)),
		 -EINVAL);
	CHECK_EQ(kh_registry_network(f->reg, prefix_10_77, 31, &again, f->err, sizeof(f->err)),
		 -EINVAL);

	reopen(f);
	CHECK(f->reg != NULL);
	CHECK_EQ(kh_registry_network(f->reg, prefix_10_77, 16, &again, f->err, sizeof(f->err)), 0);
	CHECK_MEM(&again, &net, sizeof(net));
	/* Without a prefix, what is stored. */
	CHECK_EQ(kh_registry_network(f->reg, NULL, 0, &again, f->err, sizeof(f->err)), 0);
	CHECK_MEM(&again, &net, sizeof(net));
}

static void test_network(void)
{
	in_fixture(check_network, true, 0);
}

static void check_node_add(struct fixture *f)
{
	static const char *const tags[] = { "home", "arm" };
	struct kh_node_record pi, laptop;
	uint8_t key[32], ipv6[16];

	make_key(key, 1);
	CHECK_EQ(kh_registry_node_add(f->reg, "pi", key, tags, 2, NOW, &pi, f->err, sizeof(f->err)),
		 0);
	CHECK(!strcmp(pi.name, "pi"));
	CHECK_MEM(pi.pubkey, key, 32);
	CHECK_EQ(host32(pi.ipv4), host32(prefix_10_77) + 2); /* .1 is the relay's */
	expected_ipv6(ipv6, &f->net, 1);
	CHECK_MEM(pi.ipv6, ipv6, 16);
	CHECK_EQ(pi.ntags, 2);
	CHECK(!strcmp(pi.tags[0], "home") && !strcmp(pi.tags[1], "arm"));
	CHECK_EQ(pi.created_at, NOW);
	CHECK_EQ(pi.deleted_at, 0);

	CHECK_EQ(add(f, "laptop", 2, &laptop), 0);
	CHECK_EQ(host32(laptop.ipv4), host32(prefix_10_77) + 3);
	CHECK_EQ(host32(laptop.ipv4) & 0xffff0000u, host32(prefix_10_77));
	CHECK_MEM(laptop.ipv6, f->net.ipv6_prefix, 6);
	CHECK_EQ(laptop.ntags, 0);
	CHECK(laptop.id != pi.id);
}

static void test_node_add(void)
{
	in_fixture(check_node_add, true, 16);
}

static int count_node(const struct kh_node_record *node, void *ctx)
{
	(void)node;
	(*(int *)ctx)++;
	return 0;
}

static void check_node_invalid(struct fixture *f)
{
	static const char *const bad_names[] = {
		"", "Foo_1", "-a", "a-", "a b", "a.b", "\xc3\xa9",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", /* 64 */
	};
	static const char *const bad_tag[] = { "UP" }, *const star[] = { "*" };
	static const char *const empty_tag[] = { "" }, *const twice[] = { "x", "x" };
	static const char *const long_tag[] = { "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" }; /* 33 */
	static const char *const nine[] = { "a", "b", "c", "d", "e", "f", "g", "h", "i" };
	static const struct {
		const char *const *tags;
		size_t n;
	} bad_tags[] = { { bad_tag, 1 }, { star, 1 }, { empty_tag, 1 }, { twice, 2 },
			 { long_tag, 1 }, { nine, 9 } };
	uint8_t key[32];
	size_t i;
	int count = 0;

	make_key(key, 1);
	CHECK_EQ(add(f, "Foo_1", 1, NULL), -EINVAL);
	CHECK(!strcmp(f->err, "node name 'Foo_1' is not a DNS label (1-63 of a-z, 0-9, '-', "
			      "not starting or ending with '-')"));
	for (i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		if (add(f, bad_names[i], 1, NULL) != -EINVAL) {
			printf("    accepted name: '%s'\n", bad_names[i]);
			CHECK(!"bad name refused");
		}
	}
	CHECK_EQ(kh_registry_node_add(f->reg, NULL, key, NULL, 0, NOW, NULL, f->err,
				      sizeof(f->err)), -EINVAL);
	for (i = 0; i < sizeof(bad_tags) / sizeof(bad_tags[0]); i++) {
		if (kh_registry_node_add(f->reg, "pi", key, bad_tags[i].tags, bad_tags[i].n, NOW,
					 NULL, f->err, sizeof(f->err)) != -EINVAL) {
			printf("    accepted tags starting '%s'\n", bad_tags[i].tags[0]);
			CHECK(!"bad tags refused");
		}
	}
	CHECK_EQ(kh_registry_node_foreach(f->reg, true, count_node, &count, f->err,
					  sizeof(f->err)), 0);
	CHECK_EQ(count, 0);
}

static void test_node_invalid(void)
{
	in_fixture(check_node_invalid, true, 16);
}

static void test_valid_labels(void)
{
	CHECK(kh_valid_name("a"));
	CHECK(kh_valid_name("0"));
	CHECK(kh_valid_name("pi-4b"));
	/* 63 characters */
	CHECK(kh_valid_name("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
	CHECK(!kh_valid_name(NULL));
	CHECK(!kh_valid_name("a--"));
	CHECK(kh_valid_tag("-"));
	CHECK(kh_valid_tag("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")); /* 32 */
	CHECK(!kh_valid_tag(NULL));
	CHECK(!kh_valid_tag("a_b"));
}

static void check_node_duplicates(struct fixture *f)
{
	CHECK_EQ(add(f, "pi", 1, NULL), 0);
	CHECK_EQ(add(f, "pi", 2, NULL), -EEXIST);
	CHECK(!strcmp(f->err, "node 'pi' already exists"));
	CHECK_EQ(add(f, "other", 1, NULL), -EEXIST);
	CHECK(!strcmp(f->err, "key already enrolled as 'pi'"));
}

static void test_node_duplicates(void)
{
	in_fixture(check_node_duplicates, true, 16);
}

static void check_tombstones(struct fixture *f)
{
	static const char *const tags[] = { "back" };
	struct kh_node_record first, gone, second, third, back;
	uint32_t base = host32(prefix_10_77);
	uint8_t key[32];

	CHECK_EQ(add(f, "pi", 1, &first), 0);
	CHECK_EQ(add(f, "laptop", 2, NULL), 0);
	CHECK_EQ(kh_registry_node_del(f->reg, "pi", NOW + 1, &gone, f->err, sizeof(f->err)), 0);
	CHECK_EQ(gone.deleted_at, NOW + 1);
	CHECK_EQ(gone.id, first.id);
	CHECK_EQ(kh_registry_node_del(f->reg, "pi", NOW + 1, NULL, f->err, sizeof(f->err)),
		 -ENOENT);
	CHECK(!strcmp(f->err, "no node named 'pi'"));

	/* A new key under the freed name: new addresses, never the tombstone's. */
	CHECK_EQ(add(f, "pi", 3, &second), 0);
	CHECK_EQ(host32(second.ipv4), base + 4);
	CHECK(memcmp(second.ipv6, first.ipv6, 16) != 0);
	/* Deleting the highest address does not free it either. */
	CHECK_EQ(kh_registry_node_del(f->reg, "pi", NOW + 2, NULL, f->err, sizeof(f->err)), 0);
	CHECK_EQ(add(f, "desk", 4, &third), 0);
	CHECK_EQ(host32(third.ipv4), base + 5);

	/* The first key returns under a new name and tags, with its old addresses. */
	make_key(key, 1);
	CHECK_EQ(kh_registry_node_add(f->reg, "again", key, tags, 1, NOW + 3, &back, f->err,
				      sizeof(f->err)), 0);
	CHECK_EQ(back.id, first.id);
	CHECK_MEM(back.ipv4, first.ipv4, 4);
	CHECK_MEM(back.ipv6, first.ipv6, 16);
	CHECK(!strcmp(back.name, "again"));
	CHECK(back.ntags == 1 && !strcmp(back.tags[0], "back"));
	CHECK_EQ(back.deleted_at, 0);
}

static void test_tombstones(void)
{
	in_fixture(check_tombstones, true, 16);
}

struct seen_nodes {
	int count;
	int stop_after; /* return 7 once this many were seen; 0 = never */
	char names[8][KH_NAME_LEN];
	int64_t deleted_at[8];
};

static int collect_node(const struct kh_node_record *node, void *ctx)
{
	struct seen_nodes *seen = ctx;

	if (seen->count < 8) {
		strcpy(seen->names[seen->count], node->name);
		seen->deleted_at[seen->count] = node->deleted_at;
	}
	seen->count++;
	return seen->count == seen->stop_after ? 7 : 0;
}

static void check_foreach(struct fixture *f)
{
	struct seen_nodes seen;

	CHECK_EQ(add(f, "a", 1, NULL), 0);
	CHECK_EQ(add(f, "b", 2, NULL), 0);
	CHECK_EQ(add(f, "c", 3, NULL), 0);
	CHECK_EQ(kh_registry_node_del(f->reg, "b", NOW, NULL, f->err, sizeof(f->err)), 0);

	memset(&seen, 0, sizeof(seen));
	CHECK_EQ(kh_registry_node_foreach(f->reg, false, collect_node, &seen, f->err,
					  sizeof(f->err)), 0);
	CHECK_EQ(seen.count, 2);
	CHECK(!strcmp(seen.names[0], "a") && !strcmp(seen.names[1], "c"));

	memset(&seen, 0, sizeof(seen));
	CHECK_EQ(kh_registry_node_foreach(f->reg, true, collect_node, &seen, f->err,
					  sizeof(f->err)), 0);
	CHECK_EQ(seen.count, 3);
	CHECK(!strcmp(seen.names[1], "b") && seen.deleted_at[1] == NOW);
	CHECK(seen.deleted_at[0] == 0 && seen.deleted_at[2] == 0);

	memset(&seen, 0, sizeof(seen));
	seen.stop_after = 1;
	CHECK_EQ(kh_registry_node_foreach(f->reg, true, collect_node, &seen, f->err,
					  sizeof(f->err)), 7);
	CHECK_EQ(seen.count, 1);
}

static void test_foreach(void)
{
	in_fixture(check_foreach, true, 16);
}

static void check_lookup(struct fixture *f)
{
	struct kh_node_record added, found;
	uint8_t key[32];

	CHECK_EQ(add(f, "pi", 1, &added), 0);
	make_key(key, 1);
	CHECK_EQ(kh_registry_node_by_name(f->reg, "pi", &found, f->err, sizeof(f->err)), 0);
	CHECK_MEM(&found, &added, sizeof(found));
	CHECK_EQ(kh_registry_node_by_key(f->reg, key, &found, f->err, sizeof(f->err)), 0);
	CHECK_MEM(&found, &added, sizeof(found));

	CHECK_EQ(kh_registry_node_del(f->reg, "pi", NOW, NULL, f->err, sizeof(f->err)), 0);
	CHECK_EQ(kh_registry_node_by_name(f->reg, "pi", &found, f->err, sizeof(f->err)), -ENOENT);
	CHECK_EQ(kh_registry_node_by_key(f->reg, key, &found, f->err, sizeof(f->err)), 0);
	CHECK(!strcmp(found.name, "pi") && found.deleted_at == NOW);

	make_key(key, 2);
	CHECK_EQ(kh_registry_node_by_key(f->reg, key, &found, f->err, sizeof(f->err)), -ENOENT);
	CHECK(strstr(f->err, "no node has key ") != NULL);
	CHECK_EQ(kh_registry_node_by_name(f->reg, "x", &found, f->err, sizeof(f->err)), -ENOENT);
	CHECK(!strcmp(f->err, "no node named 'x'"));
}

static void test_lookup(void)
{
	in_fixture(check_lookup, true, 16);
}

struct seen_tokens {
	int count;
	struct kh_token_record tok[4];
};

static int collect_token(const struct kh_token_record *tok, void *ctx)
{
	struct seen_tokens *seen = ctx;

	if (seen->count < 4)
		seen->tok[seen->count] = *tok;
	seen->count++;
	return 0;
}

static int list_tokens(struct fixture *f, struct seen_tokens *seen)
{
	memset(seen, 0, sizeof(*seen));
	return kh_registry_token_foreach(f->reg, collect_token, seen, f->err, sizeof(f->err));
}

static int new_token(struct fixture *f, int64_t uses, int64_t expires_at, uint8_t token[16])
{
	static const char *const tags[] = { "ci", "build" };
	char text[KH_TOKEN_TEXT_LEN + 1];
	int ret;

	ret = kh_registry_token_add(f->reg, tags, 2, uses, expires_at, NOW, text, NULL, f->err,
				    sizeof(f->err));
	return ret ? ret : kh_token_parse(text, token);
}

static void check_token_text(struct fixture *f)
{
	static const char *const tags[] = { "ci" }, *const bad_tags[] = { "CI" };
	static const char *const bad[] = {
		"",
		"kh1-",
		"kh2-00112233445566778899aabbccddeeff",
		"KH1-00112233445566778899aabbccddeeff",
		"kh1-00112233445566778899AABBCCDDEEFF",  /* upper case */
		"kh1-00112233445566778899aabbccddeef",   /* 31 digits */
		"kh1-00112233445566778899aabbccddeeff0", /* 33 digits */
		"kh1-00112233445566778899aabbccddeefg",
		"kh1-00112233445566778899aabbccddeeff\n",
		"kh1 00112233445566778899aabbccddeeff",
		" kh1-00112233445566778899aabbccddeef",
	};
	static const uint8_t expect[16] = { 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
					    0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff };
	char text[KH_TOKEN_TEXT_LEN + 1];
	struct kh_token_record tok;
	struct seen_tokens seen;
	uint8_t token[16];
	size_t i;

	CHECK_EQ(kh_registry_token_add(f->reg, tags, 1, 2, 0, NOW, text, &tok, f->err,
				       sizeof(f->err)), 0);
	CHECK_EQ(strlen(text), KH_TOKEN_TEXT_LEN);
	CHECK(!strncmp(text, "kh1-", 4));
	CHECK_EQ(strspn(text + 4, "0123456789abcdef"), 32);
	CHECK_EQ(kh_token_parse(text, token), 0);
	CHECK(tok.uses_left == 2 && tok.expires_at == 0 && tok.created_at == NOW);
	CHECK(tok.ntags == 1 && !strcmp(tok.tags[0], "ci"));
	CHECK_EQ(list_tokens(f, &seen), 0);
	CHECK_EQ(seen.count, 1);
	CHECK_MEM(&seen.tok[0], &tok, sizeof(tok));

	CHECK_EQ(kh_token_parse("kh1-00112233445566778899aabbccddeeff", token), 0);
	CHECK_MEM(token, expect, 16);
	CHECK_EQ(kh_token_parse(NULL, token), -EINVAL);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (kh_token_parse(bad[i], token) != -EINVAL) {
			printf("    accepted: '%s'\n", bad[i]);
			CHECK(!"malformed token refused");
		}
	}

	CHECK_EQ(kh_registry_token_add(f->reg, tags, 1, 0, 0, NOW, text, NULL, f->err,
				       sizeof(f->err)), -EINVAL);
	CHECK_EQ(kh_registry_token_add(f->reg, tags, 1, 1, NOW, NOW, text, NULL, f->err,
				       sizeof(f->err)), -EINVAL);
	CHECK_EQ(kh_registry_token_add(f->reg, bad_tags, 1, 1, 0, NOW, text, NULL, f->err,
				       sizeof(f->err)), -EINVAL);
}

static void test_token_text(void)
{
	in_fixture(check_token_text, true, 16);
}

static void check_token_redeem(struct fixture *f)
{
	struct kh_node_record node;
	struct seen_tokens seen;
	uint8_t token[16], key[32], hash[32];
	char expect[KH_NAME_LEN], hex[9];

	CHECK_EQ(new_token(f, 2, 0, token), 0);
	make_key(key, 1);
	CHECK_EQ(kh_registry_token_redeem(f->reg, token, key, "runner", NOW, &node, f->err,
					  sizeof(f->err)), 0);
	CHECK(!strcmp(node.name, "runner"));
	CHECK(node.ntags == 2 && !strcmp(node.tags[0], "ci") && !strcmp(node.tags[1], "build"));
	CHECK_EQ(host32(node.ipv4), host32(prefix_10_77) + 2);
	CHECK_EQ(list_tokens(f, &seen), 0);
	CHECK(seen.count == 1 && seen.tok[0].uses_left == 1);

	/* No name: "node-" and the key hash's first 8 hex digits. */
	make_key(key, 2);
	CHECK_EQ(kh_registry_token_redeem(f->reg, token, key, NULL, NOW, &node, f->err,
					  sizeof(f->err)), 0);
	key_hash(hash, key);
	sodium_bin2hex(hex, sizeof(hex), hash, 4);
	snprintf(expect, sizeof(expect), "node-%s", hex);
	CHECK(!strcmp(node.name, expect));
	CHECK_EQ(list_tokens(f, &seen), 0);
	CHECK_EQ(seen.count, 0);
	make_key(key, 3);
	CHECK_EQ(kh_registry_token_redeem(f->reg, token, key, "late", NOW, &node, f->err,
					  sizeof(f->err)), -EACCES);

	/* A generated name already taken gets "-2". */
	make_key(key, 4);
	key_hash(hash, key);
	sodium_bin2hex(hex, sizeof(hex), hash, 4);
	snprintf(expect, sizeof(expect), "node-%s", hex);
	CHECK_EQ(add(f, expect, 5, NULL), 0);
	CHECK_EQ(new_token(f, 1, 0, token), 0);
	CHECK_EQ(kh_registry_token_redeem(f->reg, token, key, "", NOW, &node, f->err,
					  sizeof(f->err)), 0);
	snprintf(expect, sizeof(expect), "node-%s-2", hex);
	CHECK(!strcmp(node.name, expect));
}

static void test_token_redeem(void)
{
	in_fixture(check_token_redeem, true, 16);
}

static void check_token_refusals(struct fixture *f)
{
	struct kh_node_record node;
	struct seen_tokens seen;
	uint8_t token[16], unknown[16], key[32];

	CHECK_EQ(new_token(f, 1, NOW + 100, token), 0);
	CHECK_EQ(add(f, "pi", 1, NULL), 0);

	/* Nothing is consumed by a refusal. */
	make_key(key, 1);
	CHECK_EQ(kh_registry_token_redeem(f->reg, token, key, "again", NOW, &node, f->err,
					  sizeof(f->err)), -EEXIST);
	CHECK(!strcmp(f->err, "key already enrolled as 'pi'"));
	make_key(key, 2);
	CHECK_EQ(kh_registry_token_redeem(f->reg, token, key, "pi", NOW, &node, f->err,
					  sizeof(f->err)), -EEXIST);
	CHECK_EQ(kh_registry_token_redeem(f->reg, token, key, "Bad", NOW, &node, f->err,
					  sizeof(f->err)), -EINVAL);
	CHECK_EQ(kh_registry_token_redeem(f->reg, token, key, "late", NOW + 100, &node, f->err,
					  sizeof(f->err)), -EACCES);
	CHECK(strstr(f->err, "expired") != NULL);
	randombytes_buf(unknown, sizeof(unknown));
	CHECK_EQ(kh_registry_token_redeem(f->reg, unknown, key, "stranger", NOW, &node, f->err,
					  sizeof(f->err)), -EACCES);
	CHECK(strstr(f->err, "unknown token") != NULL);
	CHECK_EQ(list_tokens(f, &seen), 0);
	CHECK(seen.count == 1 && seen.tok[0].uses_left == 1);

	CHECK_EQ(kh_registry_token_redeem(f->reg, token, key, "ok", NOW + 99, &node, f->err,
					  sizeof(f->err)), 0);
	CHECK_EQ(list_tokens(f, &seen), 0);
	CHECK_EQ(seen.count, 0);
}

static void test_token_refusals(void)
{
	in_fixture(check_token_refusals, true, 16);
}

static void check_token_del(struct fixture *f)
{
	struct seen_tokens seen;
	uint8_t token[16];
	int64_t first;

	CHECK_EQ(new_token(f, 1, 0, token), 0);
	CHECK_EQ(new_token(f, 3, 0, token), 0);
	CHECK_EQ(list_tokens(f, &seen), 0);
	CHECK_EQ(seen.count, 2);
	first = seen.tok[0].id;
	CHECK_EQ(kh_registry_token_del(f->reg, first, f->err, sizeof(f->err)), 0);
	CHECK_EQ(kh_registry_token_del(f->reg, first, f->err, sizeof(f->err)), -ENOENT);
	CHECK_EQ(list_tokens(f, &seen), 0);
	CHECK(seen.count == 1 && seen.tok[0].id != first && seen.tok[0].uses_left == 3);
}

static void test_token_del(void)
{
	in_fixture(check_token_del, true, 16);
}

struct seen_rules {
	int count;
	struct kh_policy_rule rule[8];
};

static int collect_rule(const struct kh_policy_rule *rule, void *ctx)
{
	struct seen_rules *seen = ctx;

	if (seen->count < 8)
		seen->rule[seen->count] = *rule;
	seen->count++;
	return 0;
}

static int list_rules(struct fixture *f, struct seen_rules *seen)
{
	memset(seen, 0, sizeof(*seen));
	return kh_registry_policy_foreach(f->reg, collect_rule, seen, f->err, sizeof(f->err));
}

static void check_policy(struct fixture *f)
{
	struct seen_rules seen;
	char *err = f->err;
	size_t len = sizeof(f->err);

	CHECK_EQ(list_rules(f, &seen), 0);
	CHECK_EQ(seen.count, 1);
	CHECK(!strcmp(seen.rule[0].from_tag, "*") && !strcmp(seen.rule[0].to_tag, "*"));

	CHECK_EQ(kh_registry_policy_add(f->reg, "web", "db", err, len), 0);
	CHECK_EQ(kh_registry_policy_add(f->reg, "web", "db", err, len), -EEXIST);
	CHECK_EQ(kh_registry_policy_add(f->reg, "db", "web", err, len), -EEXIST); /* symmetric */
	CHECK_EQ(kh_registry_policy_add(f->reg, "Web", "db", err, len), -EINVAL);
	CHECK_EQ(kh_registry_policy_add(f->reg, "web", "", err, len), -EINVAL);
	CHECK_EQ(kh_registry_policy_add(f->reg, "*", "web", err, len), 0);
	CHECK_EQ(kh_registry_policy_del(f->reg, "db", "web", err, len), 0);
	CHECK_EQ(kh_registry_policy_del(f->reg, "web", "db", err, len), -ENOENT);
	CHECK_EQ(kh_registry_policy_del(f->reg, "*", "*", err, len), 0);
	CHECK_EQ(list_rules(f, &seen), 0);
	CHECK_EQ(seen.count, 1);

	/* The default rule is seeded when the database is created, not on every open. */
	reopen(f);
	CHECK(f->reg != NULL);
	CHECK_EQ(list_rules(f, &seen), 0);
	CHECK_EQ(seen.count, 1);
	CHECK(!strcmp(seen.rule[0].from_tag, "*") && !strcmp(seen.rule[0].to_tag, "web"));
}

static void test_policy(void)
{
	in_fixture(check_policy, true, 16);
}

/* One process, like one admin command: open, set up the network if first, enroll. */
static int enroll_many(const char *state, int child)
{
	struct kh_registry *reg;
	struct kh_network net;
	char err[256], name[16];
	uint8_t key[32];
	int i, ret;

	ret = kh_registry_open(&reg, state, err, sizeof(err));
	if (!ret)
		ret = kh_registry_network(reg, prefix_10_77, 16, &net, err, sizeof(err));
	for (i = 0; !ret && i < NODES_PER_CHILD; i++) {
		snprintf(name, sizeof(name), "c%d-n%d", child, i);
		make_key(key, (unsigned)(child * 100 + i));
		ret = kh_registry_node_add(reg, name, key, NULL, 0, NOW, NULL, err, sizeof(err));
	}
	if (ret)
		fprintf(stderr, "    child %d: %s\n", child, err);
	kh_registry_close(reg);
	return ret ? 1 : 0;
}

struct seen_addrs {
	int count;
	uint32_t ipv4[CHILDREN * NODES_PER_CHILD];
};

static int collect_addr(const struct kh_node_record *node, void *ctx)
{
	struct seen_addrs *seen = ctx;

	if (seen->count == CHILDREN * NODES_PER_CHILD)
		return -E2BIG;
	seen->ipv4[seen->count++] = host32(node->ipv4);
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

static void check_concurrent(struct fixture *f)
{
	struct seen_addrs seen;
	pid_t pid[CHILDREN];
	int i, status, failed = 0;

	/* The children race over creating the database and the network too. */
	fflush(stdout);
	for (i = 0; i < CHILDREN; i++) {
		pid[i] = fork();
		if (pid[i] == 0)
			_exit(enroll_many(f->state, i));
	}
	for (i = 0; i < CHILDREN; i++) {
		if (pid[i] < 0 || waitpid(pid[i], &status, 0) != pid[i] || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			failed++;
	}
	CHECK_EQ(failed, 0);

	reopen(f);
	CHECK(f->reg != NULL);
	memset(&seen, 0, sizeof(seen));
	CHECK_EQ(kh_registry_node_foreach(f->reg, false, collect_addr, &seen, f->err,
					  sizeof(f->err)), 0);
	CHECK_EQ(seen.count, CHILDREN * NODES_PER_CHILD);
	qsort(seen.ipv4, (size_t)seen.count, sizeof(seen.ipv4[0]), cmp_u32);
	for (i = 0; i < seen.count; i++)
		CHECK_EQ(seen.ipv4[i], host32(prefix_10_77) + 2 + (uint32_t)i);
}

static void test_concurrent(void)
{
	in_fixture(check_concurrent, false, 0);
}

static void check_exhaustion(struct fixture *f)
{
	struct kh_node_record node;

	CHECK_EQ(add(f, "a", 1, &node), 0);
	CHECK_EQ(host32(node.ipv4), host32(prefix_10_77) + 2);
	/* .3 is the broadcast address. */
	CHECK_EQ(add(f, "b", 2, NULL), -ENOSPC);
	CHECK(strstr(f->err, "10.77.0.0/30") != NULL);
	CHECK_EQ(kh_registry_node_del(f->reg, "a", NOW, NULL, f->err, sizeof(f->err)), 0);
	CHECK_EQ(add(f, "b", 2, NULL), -ENOSPC);
	/* The returning key still has its own address. */
	CHECK_EQ(add(f, "a", 1, &node), 0);
	CHECK_EQ(host32(node.ipv4), host32(prefix_10_77) + 2);
}

static void test_exhaustion(void)
{
	in_fixture(check_exhaustion, true, 30);
}

TEST_SUITE(registry_tests) = {
	{ "open creates a 0700 state dir and a 0600 database in WAL mode", test_open },
	{ "network: stored once with a random ULA /48, never renumbered", test_network },
	{ "node add: next host address, IPv6 from the key's hash", test_node_add },
	{ "node add refuses bad names and tags", test_node_invalid },
	{ "name and tag validation", test_valid_labels },
	{ "node add refuses a taken name and an enrolled key", test_node_duplicates },
	{ "addresses are never given twice; a returning key gets its own", test_tombstones },
	{ "foreach: enrolled nodes, tombstones on request, early stop", test_foreach },
	{ "lookup by key sees tombstones, by name only enrolled nodes", test_lookup },
	{ "token text is kh1- and 32 lowercase hex; bad text refused", test_token_text },
	{ "token redeem: named, generated name, uses counted down", test_token_redeem },
	{ "token redeem refusals consume nothing", test_token_refusals },
	{ "token del", test_token_del },
	{ "policy: '* *' seeded once, symmetric rules, duplicates", test_policy },
	{ "4 processes enroll 100 nodes with distinct addresses", test_concurrent },
	{ "a /30 holds one node, then -ENOSPC", test_exhaustion },
	TEST_END,
};
