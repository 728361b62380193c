/* config.c - read keyhole configuration files strictly: every line known, every value checked. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "../userspace/common/keyfile.h"
#include "../userspace/lib/key.h"
#include "../userspace/lib/names.h"

int tool_parse_endpoint(const char *s, char *out, size_t out_len, const char **why)
{
	const char *colon, *host_end;
	char *end;
	unsigned long port;

	if (s[0] == '[') {
		host_end = strchr(s, ']');
		if (!host_end || host_end[1] != ':') {
			*why = "expected [IPV6]:PORT";
			return -EINVAL;
		}
		colon = host_end + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || strchr(s, ':') != colon) {
			*why = "expected HOST:PORT (an IPv6 address goes in brackets)";
			return -EINVAL;
		}
		host_end = colon;
	}
	if (host_end == s || (s[0] == '[' && host_end == s + 1)) {
		*why = "host is empty";
		return -EINVAL;
	}
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (!isdigit((unsigned char)colon[1]) || *end || errno || port < 1 || port > 65535) {
		*why = "port must be 1-65535";
		return -EINVAL;
	}
	if (strlen(s) >= out_len) {
		*why = "too long";
		return -EINVAL;
	}
	snprintf(out, out_len, "%s", s);
	return 0;
}

int tool_parse_keepalive(const char *s, uint16_t *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (!isdigit((unsigned char)*s) || *end || errno || v > 3600)
		return -EINVAL;
	*out = (uint16_t)v;
	return 0;
}

int tool_parse_token(const char *s, uint8_t token[KEYHOLE_TOKEN_LEN])
{
	return kh_token_parse(s, token);
}

int tool_parse_name(const char *s)
{
	return kh_valid_name(s) ? 0 : -EINVAL;
}

static char *trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

static int key_value(const char *value, uint8_t key[32], const char **why)
{
	if (!strcmp(value, "(hidden)")) {
		*why = "'(hidden)' is not a key (showconf hides keys unless asked with --show-private-key)";
		return -EINVAL;
	}
	return kh_key_from_base64(key, value, strlen(value), why);
}

static int key_file(const char *value, uint8_t key[32], char *why_buf, size_t why_len,
		    const char **why)
{
	if (kh_keyfile_read_private(key, value, why_buf, why_len)) {
		*why = why_buf;
		return -EINVAL;
	}
	return 0;
}

/* One "Key = Value" line of a section. */
static int apply(struct kh_device *dev, const char *section, const char *k, const char *v,
		 bool *secret, const char **why, char *why_buf, size_t why_len)
{
	if (!strcmp(section, "Interface")) {
		if (!strcasecmp(k, "PrivateKey")) {
			*secret = true;
			dev->has_private_key = true;
			return key_value(v, dev->private_key, why);
		}
		if (!strcasecmp(k, "PrivateKeyFile")) {
			dev->has_private_key = true;
			return key_file(v, dev->private_key, why_buf, why_len, why);
		}
		if (!strcasecmp(k, "Name")) {
			*why = "name must be a DNS label (1-63 of a-z, 0-9, '-')";
			dev->has_node_name = true;
			snprintf(dev->node_name, sizeof(dev->node_name), "%s", v);
			return tool_parse_name(v);
		}
		if (!strcasecmp(k, "Keepalive")) {
			*why = "keepalive must be 0-3600 seconds";
			dev->has_keepalive = true;
			return tool_parse_keepalive(v, &dev->keepalive);
		}
		if (!strcasecmp(k, "AuthToken")) {
			*secret = true;
			*why = "expected an enrollment token kh1-<32 hex digits>";
			dev->has_token = true;
			return tool_parse_token(v, dev->token);
		}
	} else if (!strcmp(section, "Relay")) {
		if (!strcasecmp(k, "Endpoint")) {
			dev->has_relay_endpoint = true;
			return tool_parse_endpoint(v, dev->relay_endpoint, sizeof(dev->relay_endpoint),
						   why);
		}
		if (!strcasecmp(k, "PublicKey")) {
			dev->has_relay_public_key = true;
			return kh_key_from_base64(dev->relay_public_key, v, strlen(v), why);
		}
		if (!strcasecmp(k, "PresharedKey")) {
			*secret = true;
			dev->has_psk = true;
			return key_value(v, dev->psk, why);
		}
		if (!strcasecmp(k, "PresharedKeyFile")) {
			dev->has_psk = true;
			return key_file(v, dev->psk, why_buf, why_len, why);
		}
	}
	*why = "unknown key for this section";
	return -EINVAL;
}

int tool_config_parse(const char *path, struct kh_device *dev, char *err, size_t err_len)
{
	char line[512], section[16] = "", why_buf[256];
	struct stat st;
	bool secret = false;
	int lineno = 0, ret = 0;
	FILE *f = fopen(path, "re");

	memset(dev, 0, sizeof(*dev));
	if (!f || fstat(fileno(f), &st)) {
		int e = errno;

		snprintf(err, err_len, "cannot open %s: %s", path, strerror(e));
		if (f)
			fclose(f);
		return -e;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, err_len, "%s: not a regular file", path);
		fclose(f);
		return -EINVAL;
	}
	while (!ret && fgets(line, sizeof(line), f)) {
		const char *why = NULL;
		char *s, *eq, *hash;

		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			snprintf(err, err_len, "%s:%d: line too long", path, lineno);
			ret = -EINVAL;
			break;
		}
		hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		s = trim(line);
		if (!*s)
			continue;
		if (*s == '[') {
			if (strcmp(s, "[Interface]") && strcmp(s, "[Relay]")) {
				snprintf(err, err_len, "%s:%d: unknown section %s (expected [Interface] or [Relay])",
					 path, lineno, s);
				ret = -EINVAL;
				break;
			}
			snprintf(section, sizeof(section), "%.*s", (int)(strlen(s) - 2), s + 1);
			continue;
		}
		eq = strchr(s, '=');
		if (!eq || !section[0]) {
			snprintf(err, err_len, "%s:%d: expected 'Key = Value' inside [Interface] or [Relay]",
				 path, lineno);
			ret = -EINVAL;
			break;
		}
		*eq = '\0';
		if (apply(dev, section, trim(s), trim(eq + 1), &secret, &why, why_buf,
			  sizeof(why_buf))) {
			snprintf(err, err_len, "%s:%d: %s: %s", path, lineno, trim(s), why);
			ret = -EINVAL;
		}
	}
	if (!ret && ferror(f)) {
		snprintf(err, err_len, "cannot read %s", path);
		ret = -EIO;
	}
	sodium_memzero(line, sizeof(line));
	fclose(f);
	if (!ret && secret && (st.st_mode & (S_IRWXG | S_IRWXO))) {
		snprintf(err, err_len,
			 "%s holds secrets but is accessible by group or others (mode %04o); run chmod 600 %s",
			 path, (unsigned)(st.st_mode & 07777), path);
		ret = -EACCES;
	}
	if (ret)
		sodium_memzero(dev, sizeof(*dev));
	return ret;
}
