/* fuzz_config.c - libFuzzer target: any bytes as a configuration file, and as each value `set` checks. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "../../tools/config.h"
#include "../../userspace/lib/names.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One file per process, rewritten for each input: a fresh file each time would only be slower. */
static char dir[] = "/tmp/keyhole-fuzz-config-XXXXXX";
static char path[sizeof(dir) + 16];

static void remove_file(void)
{
	unlink(path);
	rmdir(dir);
}

static void setup(void)
{
	if (sodium_init() < 0 || !mkdtemp(dir))
		abort();
	snprintf(path, sizeof(path), "%s/kh0.conf", dir);
	atexit(remove_file);
}

static void write_input(const uint8_t *data, size_t size, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	size_t done = 0;
	ssize_t n;

	if (fd < 0)
		abort();
	while (done < size) {
		n = write(fd, data + done, size - done);
		if (n <= 0)
			abort();
		done += (size_t)n;
	}
	if (fchmod(fd, mode) || close(fd))
		abort();
}

static void check_string(const char *s, size_t max)
{
	if (strnlen(s, max) == max)
		abort();
}

/* Every refusal starts "PATH:LINE: ", LINE counted from 1. */
static void check_error(const char *err, size_t err_len)
{
	size_t plen = strlen(path);
	char *end;

	check_string(err, err_len);
	if (strncmp(err, path, plen) || err[plen] != ':' || strtoul(err + plen + 1, &end, 10) < 1 ||
	    end[0] != ':' || end[1] != ' ')
		abort();
}

/* What a file gave must pass the very checks set applies to each value. */
static void check_device(const struct kh_device *dev)
{
	char endpoint[KH_ENDPOINT_MAX];
	const char *why;

	check_string(dev->relay_endpoint, sizeof(dev->relay_endpoint));
	check_string(dev->node_name, sizeof(dev->node_name));
	if (dev->has_relay_endpoint &&
	    (tool_parse_endpoint(dev->relay_endpoint, endpoint, sizeof(endpoint), &why) ||
	     strcmp(endpoint, dev->relay_endpoint)))
		abort();
	if (dev->has_node_name && !kh_valid_name(dev->node_name))
		abort();
	if (dev->keepalive > 3600 || (dev->keepalive && !dev->has_keepalive))
		abort();
	/* A file sets configuration only: no state, no flags, no interface. */
	if (dev->has_state || dev->has_addr4 || dev->has_addr6 || dev->has_mtu ||
	    dev->has_public_key || dev->flags || dev->ifindex || dev->ifname[0])
		abort();
}

static void check_file(const uint8_t *data, size_t size)
{
	struct kh_device dev, loose;
	char err[512], err2[512];
	int ret, ret2;

	write_input(data, size, 0600);
	ret = tool_config_parse(path, &dev, err, sizeof(err));
	if (ret == -EINVAL)
		check_error(err, sizeof(err));
	else if (ret == 0)
		check_device(&dev);
	else
		abort();
	/* Readable by others: refused for a secret in it, else the same result. */
	if (chmod(path, 0644))
		abort();
	ret2 = tool_config_parse(path, &loose, err2, sizeof(err2));
	if (ret == -EINVAL && (ret2 != -EINVAL || strcmp(err, err2)))
		abort();
	if (ret == 0 && ret2 == -EACCES &&
	    (!(dev.has_private_key || dev.has_psk || dev.has_token) || !strstr(err2, "chmod 600")))
		abort();
	if (ret == 0 && ret2 != -EACCES && (ret2 != 0 || memcmp(&dev, &loose, sizeof(dev))))
		abort();
	sodium_memzero(&dev, sizeof(dev));
	sodium_memzero(&loose, sizeof(loose));
}

/* The keys a file may hold, with their sections. */
static const struct {
	const char *section, *key;
} keys[] = {
	{ "Interface", "PrivateKey" }, { "Interface", "PrivateKeyFile" },
	{ "Interface", "Name" },       { "Interface", "Keepalive" },
	{ "Interface", "AuthToken" },  { "Relay", "Endpoint" },
	{ "Relay", "PublicKey" },      { "Relay", "PresharedKey" },
	{ "Relay", "PresharedKeyFile" },
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

/*
 * Random bytes seldom spell a key: each line of the input becomes a line of
 * a well-formed file instead, its first byte choosing the key (or, past the
 * keys, leaving the line as it is) and the rest giving the value.
 */
static void check_structured(const uint8_t *data, size_t size)
{
	const uint8_t *line = data, *end = data + size, *nl;
	const char *section = "";
	char *text = NULL;
	size_t len = 0, k;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		abort();
	while (line < end) {
		nl = memchr(line, '\n', (size_t)(end - line));
		if (!nl)
			nl = end;
		k = nl > line ? line[0] % (NKEYS + 1) : NKEYS;
		if (k < NKEYS) {
			if (strcmp(section, keys[k].section)) {
				section = keys[k].section;
				fprintf(f, "[%s]\n", section);
			}
			fprintf(f, "%s = ", keys[k].key);
			fwrite(line + 1, 1, (size_t)(nl - line - 1), f);
		} else {
			fwrite(line, 1, (size_t)(nl - line), f);
		}
		fputc('\n', f);
		line = nl < end ? nl + 1 : end;
	}
	if (fclose(f))
		abort();
	check_file((const uint8_t *)text, len);
	free(text);
}

/* The value checks shared with `keyhole set`, on the input as one string. */
static void check_values(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), out[KH_ENDPOINT_MAX];
	uint8_t token[KEYHOLE_TOKEN_LEN];
	const char *why = NULL;
	uint16_t keepalive;

	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	if (tool_parse_endpoint(s, out, sizeof(out), &why) == 0) {
		if (strcmp(out, s) || !strchr(s, ':'))
			abort();
	} else if (!why) {
		abort();
	}
	if (tool_parse_keepalive(s, &keepalive) == 0 && keepalive > 3600)
		abort();
	if (tool_parse_token(s, token) == 0 && strlen(s) != KH_TOKEN_TEXT_LEN)
		abort();
	if (tool_parse_name(s) == 0 && (strlen(s) < 1 || strlen(s) >= KH_NAME_LEN))
		abort();
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;

	if (!ready) {
		setup();
		ready = true;
	}
	check_file(data, size);
	check_structured(data, size);
	check_values(data, size);
	return 0;
}
