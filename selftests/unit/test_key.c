/* test_key.c - key text parsing: good keys round-trip, every malformed input is refused. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../userspace/common/keyfile.h"
#include "../../userspace/lib/key.h"
#include "suites.h"

static void test_roundtrip(void)
{
	uint8_t priv[KH_KEY_LEN], back[KH_KEY_LEN];
	char text[KH_KEY_B64_LEN + 2];
	const char *why;

	kh_key_generate(priv);
	CHECK((priv[0] & 7) == 0);
	CHECK((priv[31] & 0xc0) == 0x40);
	kh_key_to_base64(text, priv);
	CHECK_EQ(strlen(text), KH_KEY_B64_LEN);
	CHECK_EQ(kh_key_from_base64(back, text, strlen(text), &why), 0);
	CHECK_MEM(back, priv, KH_KEY_LEN);
	strcat(text, "\n");
	CHECK_EQ(kh_key_from_base64(back, text, strlen(text), &why), 0);
	CHECK_MEM(back, priv, KH_KEY_LEN);
}

/* The public key of WireGuard's documented example: checks clamping-independent derivation. */
static void test_known_public(void)
{
	/* RFC 7748 section 6.1: Alice's private and public keys. */
	static const char *priv_b64 = "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=";
	static const char *pub_b64 = "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=";
	uint8_t priv[KH_KEY_LEN], pub[KH_KEY_LEN], expect[KH_KEY_LEN];
	const char *why;

	CHECK_EQ(kh_key_from_base64(priv, priv_b64, strlen(priv_b64), &why), 0);
	CHECK_EQ(kh_key_from_base64(expect, pub_b64, strlen(pub_b64), &why), 0);
	CHECK_EQ(kh_key_public(pub, priv), 0);
	CHECK_MEM(pub, expect, KH_KEY_LEN);
}

static void test_malformed(void)
{
	static const char *bad[] = {
		"",
		"\n",
		"dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LC=",    /* 43 characters */
		"dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCoo=",  /* 45 characters */
		"dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo",    /* no padding */
		"dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25L===",   /* too much padding */
		"dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LC*=",   /* not base64 */
		"dwdtCnMY X08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=",   /* space inside */
		"dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=\n\n", /* trailing garbage */
		"dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo= ",  /* trailing space */
		"dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCp=",   /* non-canonical last char */
	};
	uint8_t key[KH_KEY_LEN];
	const char *why;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		if (kh_key_from_base64(key, bad[i], strlen(bad[i]), &why) == 0) {
			printf("    accepted: '%s'\n", bad[i]);
			CHECK(!"malformed key accepted");
		}
		CHECK(why != NULL);
	}
}

TEST_SUITE(key_tests) = {
	{ "generate, encode and decode round-trip", test_roundtrip },
	{ "public key of RFC 7748's example private key", test_known_public },
	{ "malformed key text is refused with a reason", test_malformed },
	TEST_END,
};

/* Key files: 0600 accepted, group/world access refused with a reason naming the file. */
static void test_keyfile_permissions(void)
{
	char dir[] = "/tmp/keyhole-test-XXXXXX", path[64], err[256];
	uint8_t key[KH_KEY_LEN], back[KH_KEY_LEN];

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/node.key", dir);
	kh_key_generate(key);
	CHECK_EQ(kh_keyfile_write(path, key, err, sizeof(err)), 0);
	CHECK_EQ(kh_keyfile_read_private(back, path, err, sizeof(err)), 0);
	CHECK_MEM(back, key, KH_KEY_LEN);
	CHECK_EQ(chmod(path, 0640), 0);
	CHECK_EQ(kh_keyfile_read_private(back, path, err, sizeof(err)), -EACCES);
	CHECK(strstr(err, path) != NULL && strstr(err, "chmod 600") != NULL);
	CHECK_EQ(chmod(path, 0604), 0);
	CHECK_EQ(kh_keyfile_read_private(back, path, err, sizeof(err)), -EACCES);
	/* Writing over a loose file tightens it. */
	CHECK_EQ(kh_keyfile_write(path, key, err, sizeof(err)), 0);
	CHECK_EQ(kh_keyfile_read_private(back, path, err, sizeof(err)), 0);
	unlink(path);
	CHECK_EQ(kh_keyfile_read_private(back, path, err, sizeof(err)), -ENOENT);
	CHECK(strstr(err, "No such file") != NULL);
	rmdir(dir);
}

TEST_SUITE(keyfile_tests) = {
	{ "private key files must be 0600", test_keyfile_permissions },
	TEST_END,
};
