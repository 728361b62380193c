/* test_config.c - configuration files as setconf reads them: what is taken, what is refused, where. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../tools/config.h"
#include "../../userspace/common/keyfile.h"
#include "../../userspace/lib/key.h"
#include "suites.h"

#define TOKEN_TEXT "kh1-00112233445566778899aabbccddeeff"

/* Keys used by the files below, made once: their text and their bytes. */
static struct {
	uint8_t priv[KH_KEY_LEN], relay[KH_KEY_LEN], psk[KH_KEY_LEN];
	char priv_text[KH_KEY_B64_LEN + 1], relay_text[KH_KEY_B64_LEN + 1];
	char psk_text[KH_KEY_B64_LEN + 1];
} keys;

static void make_keys(void)
{
	kh_key_generate(keys.priv);
	kh_key_generate(keys.relay);
	kh_key_generate(keys.psk);
	kh_key_to_base64(keys.priv_text, keys.priv);
	kh_key_to_base64(keys.relay_text, keys.relay);
	kh_key_to_base64(keys.psk_text, keys.psk);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Run body in a fresh temporary directory, removed afterwards whatever body checked. */
static void in_temp_dir(void (*body)(const char *dir))
{
	char dir[] = "/tmp/keyhole-config-XXXXXX";

	if (!mkdtemp(dir)) {
		test_report(__FILE__, __LINE__, "mkdtemp() succeeds", strerror(errno));
		return;
	}
	make_keys();
	body(dir);
	nftw(dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* Write text to dir/name with mode (exactly, whatever the umask); the path goes to path. */
static int write_file(char path[256], const char *dir, const char *name, const char *text,
		      mode_t mode)
{
	size_t len = strlen(text);
	int fd;

	snprintf(path, 256, "%s/%s", dir, name);
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (write(fd, text, len) != (ssize_t)len || fchmod(fd, mode)) {
		close(fd);
		return -EIO;
	}
	return close(fd) ? -errno : 0;
}

static void full_file_body(const char *dir)
{
	char text[1024], path[256], err[512] = "";
	struct kh_device dev;

	snprintf(text, sizeof(text),
		 "# kh0: the camera's tunnel\n"
		 "\n"
		 "[Interface]\n"
		 "PrivateKey = %s\n"
		 "Name=camera-1\n"
		 "   Keepalive   =   25   # seconds\n"
		 "AuthToken =\t" TOKEN_TEXT "\r\n"
		 "\n"
		 "  # the relay\n"
		 "[Relay]\n"
		 "Endpoint = relay.example.net:51820\n"
		 "publickey = %s\n"
		 "PresharedKey = %s\n",
		 keys.priv_text, keys.relay_text, keys.psk_text);
	CHECK_EQ(write_file(path, dir, "kh0.conf", text, 0600), 0);
	if (tool_config_parse(path, &dev, err, sizeof(err))) {
		test_report(__FILE__, __LINE__, "the file parses", err);
		return;
	}
	CHECK(dev.has_private_key);
	CHECK_MEM(dev.private_key, keys.priv, KH_KEY_LEN);
	CHECK(dev.has_node_name && !strcmp(dev.node_name, "camera-1"));
	CHECK(dev.has_keepalive);
	CHECK_EQ(dev.keepalive, 25);
	CHECK(dev.has_token);
	CHECK_MEM(dev.token,
		  "\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\xcc\xdd\xee\xff", 16);
	CHECK(dev.has_relay_endpoint && !strcmp(dev.relay_endpoint, "relay.example.net:51820"));
	CHECK(dev.has_relay_public_key);
	CHECK_MEM(dev.relay_public_key, keys.relay, KH_KEY_LEN);
	CHECK(dev.has_psk);
	CHECK_MEM(dev.psk, keys.psk, KH_KEY_LEN);
	/* What the file cannot say stays absent. */
	CHECK(!dev.has_public_key && !dev.has_state && !dev.has_mtu && dev.flags == 0);
}

static void test_full_file(void)
{
	in_temp_dir(full_file_body);
}

static void key_files_body(const char *dir)
{
	char text[1024], priv_path[256], psk_path[256], path[256], err[512] = "";
	struct kh_device dev;

	snprintf(priv_path, sizeof(priv_path), "%s/node.key", dir);
	CHECK_EQ(kh_keyfile_write(priv_path, keys.priv, err, sizeof(err)), 0);
	snprintf(psk_path, sizeof(psk_path), "%s/relay.psk", dir);
	CHECK_EQ(kh_keyfile_write(psk_path, keys.psk, err, sizeof(err)), 0);
	snprintf(text, sizeof(text),
		 "[Interface]\nPrivateKeyFile = %s\n[Relay]\nEndpoint = 192.0.2.1:51820\n"
		 "PublicKey = %s\nPresharedKeyFile = %s\n",
		 priv_path, keys.relay_text, psk_path);
	/* The secrets are in their own 0600 files: this one may be read by others. */
	CHECK_EQ(write_file(path, dir, "kh0.conf", text, 0644), 0);
	if (tool_config_parse(path, &dev, err, sizeof(err))) {
		test_report(__FILE__, __LINE__, "the file parses", err);
		return;
	}
	CHECK(dev.has_private_key && dev.has_psk && dev.has_relay_public_key);
	CHECK_MEM(dev.private_key, keys.priv, KH_KEY_LEN);
	CHECK_MEM(dev.psk, keys.psk, KH_KEY_LEN);
	/* A key file others can read is refused, naming the line that named it. */
	CHECK_EQ(chmod(psk_path, 0644), 0);
	CHECK_EQ(tool_config_parse(path, &dev, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, path) && strstr(err, ":6:") && strstr(err, "chmod 600"));
	CHECK(!dev.has_private_key); /* nothing half-read is left behind */
	/* A key file that is not there. */
	CHECK_EQ(unlink(psk_path), 0);
	CHECK_EQ(tool_config_parse(path, &dev, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, ":6:") && strstr(err, psk_path) && strstr(err, "No such file"));
}

static void test_key_files(void)
{
	in_temp_dir(key_files_body);
}

/* Each file below is refused, its error naming file and line and saying why. */
static const struct {
	const char *text;
	int line;
	const char *why;
} refused[] = {
	{ "[Peer]\n", 1, "unknown section [Peer]" },
	{ "# comment\n\n[Interface\n", 3, "unknown section" },
	{ "[interface]\n", 1, "unknown section" },
	{ "Name = camera-1\n", 1, "expected 'Key = Value'" },
	{ "[Interface]\nName camera-1\n", 2, "expected 'Key = Value'" },
	{ "[Interface]\nFrob = 1\n", 2, "Frob: unknown key" },
	{ "[Interface]\nEndpoint = relay:51820\n", 2, "unknown key" },
	{ "[Relay]\nPrivateKey = x\n", 2, "unknown key" },
	{ "[Interface]\nPrivateKey = abc\n", 2, "44 characters" },
	{ "[Interface]\nPrivateKey = dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25L*o=\n", 2,
	  "base64" },
	{ "[Interface]\nPrivateKey = (hidden)\n", 2, "(hidden)" },
	{ "[Relay]\nPresharedKey = (hidden)\n", 2, "(hidden)" },
	{ "[Relay]\nPublicKey = not a key\n", 2, "PublicKey" },
	{ "[Relay]\nEndpoint = relay.example.net\n", 2, "HOST:PORT" },
	{ "[Relay]\nEndpoint = relay.example.net:0\n", 2, "port must be 1-65535" },
	{ "[Relay]\nEndpoint = relay.example.net:99999\n", 2, "port must be 1-65535" },
	{ "[Relay]\nEndpoint = relay.example.net:\n", 2, "port must be 1-65535" },
	{ "[Relay]\nEndpoint = relay.example.net:+80\n", 2, "port must be 1-65535" },
	{ "[Relay]\nEndpoint = fd00::1:51820\n", 2, "brackets" },
	{ "[Relay]\nEndpoint = [fd00::1]51820\n", 2, "[IPV6]:PORT" },
	{ "[Relay]\nEndpoint = :51820\n", 2, "host is empty" },
	{ "[Relay]\nEndpoint = []:51820\n", 2, "host is empty" },
	{ "[Interface]\nKeepalive = 3601\n", 2, "0-3600" },
	{ "[Interface]\nKeepalive = 99999\n", 2, "0-3600" },
	{ "[Interface]\nKeepalive = -1\n", 2, "0-3600" },
	{ "[Interface]\nKeepalive = 5s\n", 2, "0-3600" },
	{ "[Interface]\nKeepalive =\n", 2, "0-3600" },
	{ "[Interface]\nAuthToken = bogus\n", 2, "enrollment token" },
	{ "[Interface]\nAuthToken = kh1-00112233445566778899AABBCCDDEEFF\n", 2,
	  "enrollment token" },
	{ "[Interface]\nAuthToken = kh1-00112233445566778899aabbccddeef\n", 2,
	  "enrollment token" },
	{ "[Interface]\nAuthToken = (hidden)\n", 2, "enrollment token" },
	{ "[Interface]\nName = Bad_Name\n", 2, "DNS label" },
	{ "[Interface]\nName = -camera\n", 2, "DNS label" },
	{ "[Interface]\nName =\n", 2, "DNS label" },
	{ "[Interface]\nName = "
	  "a123456789b123456789c123456789d123456789e123456789f123456789abcd\n",
	  2, "DNS label" },
	{ "[Interface]\nName = camera-1\n\n[Relay]\nEndpoint = relay:1\nKeepalive = 5\n", 6,
	  "unknown key" },
};

static void refused_body(const char *dir)
{
	char path[256], err[512], where[300];
	struct kh_device dev;
	size_t i;

	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		CHECK_EQ(write_file(path, dir, "kh0.conf", refused[i].text, 0600), 0);
		err[0] = '\0';
		snprintf(where, sizeof(where), "%s:%d: ", path, refused[i].line);
		if (tool_config_parse(path, &dev, err, sizeof(err)) != -EINVAL ||
		    strncmp(err, where, strlen(where)) || !strstr(err, refused[i].why)) {
			char detail[1024];

			snprintf(detail, sizeof(detail),
				 "-EINVAL and '%s...%s' for \"%s\", got '%s'", where, refused[i].why, refused[i].text, err);
			test_report(__FILE__, __LINE__, "the file is refused", detail);
			return;
		}
	}
}

static void test_refused(void)
{
	in_temp_dir(refused_body);
}

static void long_line_body(const char *dir)
{
	char text[2048], path[256], err[512];
	struct kh_device dev;
	size_t n;

	n = (size_t)snprintf(text, sizeof(text), "[Interface]\nName = camera-1\n# ");
	memset(text + n, 'x', 600);
	strcpy(text + n + 600, "\nKeepalive = 5\n");
	CHECK_EQ(write_file(path, dir, "kh0.conf", text, 0600), 0);
	CHECK_EQ(tool_config_parse(path, &dev, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, path) && strstr(err, ":3: line too long"));
	/* A long line is refused even when it is the last, without a newline. */
	text[n + 600] = '\0';
	CHECK_EQ(write_file(path, dir, "kh0.conf", text, 0600), 0);
	CHECK_EQ(tool_config_parse(path, &dev, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, ":3: line too long"));
}

static void test_long_line(void)
{
	in_temp_dir(long_line_body);
}

static void missing_body(const char *dir)
{
	char path[256], err[512];
	struct kh_device dev;

	snprintf(path, sizeof(path), "%s/absent.conf", dir);
	CHECK_EQ(tool_config_parse(path, &dev, err, sizeof(err)), -ENOENT);
	CHECK(strstr(err, path) && strstr(err, "cannot open"));
}

static void test_missing_file(void)
{
	in_temp_dir(missing_body);
}

static void permissions_body(const char *dir)
{
	static const struct {
		const char *line, *value;
	} secrets[] = {
		{ "[Interface]\nPrivateKey = ", keys.priv_text },
		{ "[Relay]\nPresharedKey = ", keys.psk_text },
		{ "[Interface]\nAuthToken = ", TOKEN_TEXT },
	};
	char text[512], path[256], err[512];
	struct kh_device dev;
	size_t i;

	for (i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++) {
		snprintf(text, sizeof(text), "%s%s\n", secrets[i].line, secrets[i].value);
		CHECK_EQ(write_file(path, dir, "kh0.conf", text, 0644), 0);
		CHECK_EQ(tool_config_parse(path, &dev, err, sizeof(err)), -EACCES);
		CHECK(strstr(err, path) && strstr(err, "chmod 600"));
		/* Nothing of the secret is handed back with the refusal. */
		CHECK(!dev.has_private_key && !dev.has_psk && !dev.has_token);
		CHECK_EQ(chmod(path, 0640), 0);
		CHECK_EQ(tool_config_parse(path, &dev, err, sizeof(err)), -EACCES);
		CHECK_EQ(chmod(path, 0600), 0);
		CHECK_EQ(tool_config_parse(path, &dev, err, sizeof(err)), 0);
	}
	/* No secret in it: anyone may read it. */
	snprintf(text, sizeof(text),
		 "[Relay]\nEndpoint = relay.example.net:51820\nPublicKey = %s\n", keys.relay_text);
	CHECK_EQ(write_file(path, dir, "kh0.conf", text, 0644), 0);
	if (tool_config_parse(path, &dev, err, sizeof(err))) {
		test_report(__FILE__, __LINE__, "a file without secrets parses at 0644", err);
		return;
	}
	CHECK(dev.has_relay_endpoint && dev.has_relay_public_key);
	CHECK_MEM(dev.relay_public_key, keys.relay, KH_KEY_LEN);
}

static void test_permissions(void)
{
	in_temp_dir(permissions_body);
}

static void test_endpoint(void)
{
	static const char *const good[] = {
		"relay.example.net:51820", "192.0.2.1:1", "[fd00::1]:65535", "[::1]:80",
		"localhost:443", "r:1", "xn--bcher-kva.example:8080",
	};
	static const char *const bad[] = {
		"relay.example.net", "relay:0", "relay:65536", "relay:99999", "relay:",
		"relay:-1", "relay: 80", "relay:80 ", "relay:0x50", "fd00::1:51820", "::1",
		"[fd00::1]51820", "[fd00::1]", "[fd00::1:51820", "[]:80", ":80", "",
	};
	char out[KH_ENDPOINT_MAX];
	const char *why;
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		why = NULL;
		CHECK_EQ(tool_parse_endpoint(good[i], out, sizeof(out), &why), 0);
		CHECK(!strcmp(out, good[i]));
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		CHECK_EQ(tool_parse_endpoint(bad[i], out, sizeof(out), &why), -EINVAL);
		CHECK(why != NULL);
	}
	/* The output buffer bounds what is taken. */
	why = NULL;
	CHECK_EQ(tool_parse_endpoint("relay.example.net:51820", out, 10, &why), -EINVAL);
	CHECK(why && strstr(why, "too long"));
}

TEST_SUITE(config_tests) = {
	{ "a full file: both sections, comments, blank lines, spaces", test_full_file },
	{ "PrivateKeyFile and PresharedKeyFile read 0600 key files", test_key_files },
	{ "each malformed line refused with file, line and reason", test_refused },
	{ "a line too long refused", test_long_line },
	{ "a missing file named in the error", test_missing_file },
	{ "secrets in a file others can read refused with a chmod 600 hint",
	  test_permissions },
	{ "endpoints: host:port, [v6]:port and names taken, the rest refused",
	  test_endpoint },
	TEST_END,
};
