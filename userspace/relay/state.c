/* state.c - the relay's persistent state, created at first use and reopened after that. */
#include "state.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "../common/keyfile.h"
#include "../common/log.h"
#include "../lib/key.h"
#include "relay.h"

static int load_identity(struct relay *r, char *err, size_t err_len)
{
	char path[PATH_MAX + 32];
	struct stat st;
	int ret;

	snprintf(path, sizeof(path), "%s/%s", r->cfg.state_dir, RELAY_KEY_FILE);
	if (stat(path, &st) && errno == ENOENT) {
		kh_key_generate(r->identity.priv);
		ret = kh_keyfile_write(path, r->identity.priv, err, err_len);
		if (ret)
			return ret;
		kh_info("created the relay's key in %s", path);
	} else {
		ret = kh_keyfile_read_private(r->identity.priv, path, err, err_len);
		if (ret)
			return ret;
	}
	if (kh_key_public(r->identity.pub, r->identity.priv)) {
		snprintf(err, err_len, "%s: not a usable private key", path);
		return -EINVAL;
	}
	return 0;
}

/*
 * The network, stored at first use with the configured (or default) prefix.
 * Only `run` given a prefix explicitly insists it matches what is stored: an
 * admin command, or a relay started without one, just uses the stored network.
 */
static int open_network(struct relay *r, bool running, char *err, size_t err_len)
{
	const uint8_t *prefix = r->cfg.ipv4_prefix;
	uint8_t plen = r->cfg.ipv4_plen;
	bool strict = running && r->cfg.ipv4_prefix_set;
	size_t used;
	int ret;

	ret = kh_registry_network(r->reg, strict ? prefix : NULL, plen, &r->net, err, err_len);
	if (ret == -ENOENT)
		ret = kh_registry_network(r->reg, prefix, plen, &r->net, err, err_len);
	/* Another command stored a different prefix in between: that one it is. */
	if (ret == -EEXIST && !strict)
		ret = kh_registry_network(r->reg, NULL, 0, &r->net, err, err_len);
	if (ret == -EEXIST) {
		used = strnlen(err, err_len);
		snprintf(err + used, err_len - used,
			 " (leave out --ipv4-prefix and IPv4Prefix to use the stored prefix)");
	}
	return ret;
}

int relay_state_open(struct relay *r, bool running, char *err, size_t err_len)
{
	uint32_t base;
	int ret;

	/* The key lives in this struct: keep it out of swap (core dumps are off). */
	sodium_mlock(&r->identity, sizeof(r->identity));
	ret = kh_registry_open(&r->reg, r->cfg.state_dir, err, err_len);
	if (ret)
		return ret;
	ret = open_network(r, running, err, err_len);
	if (ret)
		return ret;
	ret = load_identity(r, err, err_len);
	if (ret)
		return ret;
	/* The relay's own overlay addresses: the first host of each prefix. */
	base = (uint32_t)r->net.ipv4_prefix[0] << 24 | (uint32_t)r->net.ipv4_prefix[1] << 16 |
	       (uint32_t)r->net.ipv4_prefix[2] << 8 | r->net.ipv4_prefix[3];
	base += 1;
	r->relay_ipv4[0] = (uint8_t)(base >> 24);
	r->relay_ipv4[1] = (uint8_t)(base >> 16);
	r->relay_ipv4[2] = (uint8_t)(base >> 8);
	r->relay_ipv4[3] = (uint8_t)base;
	memcpy(r->relay_ipv6, r->net.ipv6_prefix, 16);
	r->relay_ipv6[15] = 1;
	kh_cookie_checker_init(&r->cookies, r->identity.pub);
	randombytes_buf(r->hash_key, sizeof(r->hash_key));
	return 0;
}

void relay_state_close(struct relay *r)
{
	if (r->reg)
		kh_registry_close(r->reg);
	r->reg = NULL;
	kh_cookie_checker_wipe(&r->cookies);
	sodium_munlock(&r->identity, sizeof(r->identity));
}

int relay_state_lock(struct relay *r, char *err, size_t err_len)
{
	char path[PATH_MAX + 32];
	int fd;

	snprintf(path, sizeof(path), "%s/relay.lock", r->cfg.state_dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, err_len, "cannot open %s: %s", path, strerror(errno));
		return -errno;
	}
	/* Held until the process exits; the kernel drops it even after kill -9. */
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		snprintf(err, err_len, "another relay is running with state directory %s",
			 r->cfg.state_dir);
		close(fd);
		return -EBUSY;
	}
	return 0;
}
