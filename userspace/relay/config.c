/* config.c - relay settings from defaults, an INI file and flags, each value checked with a clear error. */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/keyfile.h"
#include "../common/log.h"
#include "udp.h"

/* 1500-byte underlay, less IPv6 (40), UDP (8) and the transport header and tag (32). */
#define RELAY_DEFAULT_MTU 1420

void relay_config_defaults(struct relay_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->state_dir, sizeof(cfg->state_dir), "%s", KH_RELAY_DEFAULT_STATE_DIR);
	cfg->port = KH_RELAY_DEFAULT_PORT;
	cfg->ipv4_prefix[0] = 100;
	cfg->ipv4_prefix[1] = 64;
	cfg->ipv4_plen = 10;
	cfg->keepalive_s = 5;
	cfg->dead_peer_s = 15;
	cfg->mtu = RELAY_DEFAULT_MTU;
	cfg->max_sessions = 65536;
	cfg->max_half_open = 4096;
	cfg->handshake_load_rate = 1000;
	cfg->icmp_rate = 20;
	cfg->icmp_burst = 50;
	cfg->log_level = KH_LOG_INFO;
}

static int parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (!*s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

int relay_parse_duration(const char *s, long long *seconds)
{
	char *end;
	long long v, mult = 1;

	if (!*s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno)
		return -EINVAL;
	if (!strcmp(end, "m"))
		mult = 60;
	else if (!strcmp(end, "h"))
		mult = 3600;
	else if (!strcmp(end, "d"))
		mult = 86400;
	else if (*end && strcmp(end, "s"))
		return -EINVAL;
	if (v > (long long)1e12 / mult)
		return -EINVAL;
	*seconds = v * mult;
	return 0;
}

int relay_parse_ipv4_prefix(const char *s, uint8_t prefix[4], uint8_t *plen)
{
	char addr[INET_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	unsigned long len;
	uint32_t host, mask;

	if (!slash || (size_t)(slash - s) >= sizeof(addr))
		return -EINVAL;
	memcpy(addr, s, (size_t)(slash - s));
	addr[slash - s] = '\0';
	if (inet_pton(AF_INET, addr, prefix) != 1 || parse_uint(slash + 1, 8, 30, &len))
		return -EINVAL;
	host = (uint32_t)prefix[0] << 24 | (uint32_t)prefix[1] << 16 | (uint32_t)prefix[2] << 8 |
	       prefix[3];
	mask = len == 0 ? 0 : ~0u << (32 - len);
	if (host & ~mask)
		return -EINVAL;
	*plen = (uint8_t)len;
	return 0;
}

/* One setting by name, from the file ("ListenAddress") or a flag ("listen"). */
static int apply(struct relay_config *cfg, const char *key, const char *value, char *err,
		 size_t err_len)
{
	unsigned long v;
	int level;

	if (!strcmp(key, "listen") || !strcmp(key, "ListenAddress")) {
		if (cfg->nlisten == KH_RELAY_MAX_LISTEN || strlen(value) >= sizeof(cfg->listen[0]))
			goto bad;
		snprintf(cfg->listen[cfg->nlisten++], sizeof(cfg->listen[0]), "%s", value);
	} else if (!strcmp(key, "port") || !strcmp(key, "Port")) {
		if (parse_uint(value, 1, 65535, &v)) {
			snprintf(err, err_len, "port '%s': must be 1-65535", value);
			return -EINVAL;
		}
		cfg->port = (uint16_t)v;
	} else if (!strcmp(key, "state-dir") || !strcmp(key, "StateDirectory")) {
		if (!*value || strlen(value) >= sizeof(cfg->state_dir))
			goto bad;
		snprintf(cfg->state_dir, sizeof(cfg->state_dir), "%s", value);
	} else if (!strcmp(key, "ipv4-prefix") || !strcmp(key, "IPv4Prefix")) {
		if (relay_parse_ipv4_prefix(value, cfg->ipv4_prefix, &cfg->ipv4_plen)) {
			snprintf(err, err_len,
				 "IPv4 prefix '%s': expected A.B.C.D/N with N 8-30 and no host bits",
				 value);
			return -EINVAL;
		}
		cfg->ipv4_prefix_set = true;
	} else if (!strcmp(key, "keepalive") || !strcmp(key, "Keepalive")) {
		if (parse_uint(value, 1, 3600, &v))
			goto bad;
		cfg->keepalive_s = (uint16_t)v;
	} else if (!strcmp(key, "dead-peer") || !strcmp(key, "DeadPeerTimeout")) {
		if (parse_uint(value, 2, 3600, &v))
			goto bad;
		cfg->dead_peer_s = (uint16_t)v;
	} else if (!strcmp(key, "mtu") || !strcmp(key, "MTU")) {
		if (parse_uint(value, 1280, RELAY_BUF_SIZE - 100, &v))
			goto bad;
		cfg->mtu = (uint16_t)v;
	} else if (!strcmp(key, "max-sessions") || !strcmp(key, "MaxSessions")) {
		if (parse_uint(value, 1, 4000000, &v))
			goto bad;
		cfg->max_sessions = (uint32_t)v;
	} else if (!strcmp(key, "max-half-open") || !strcmp(key, "MaxHalfOpen")) {
		if (parse_uint(value, 1, 4000000, &v))
			goto bad;
		cfg->max_half_open = (uint32_t)v;
	} else if (!strcmp(key, "handshake-load") || !strcmp(key, "HandshakeLoadRate")) {
		if (parse_uint(value, 1, 10000000, &v))
			goto bad;
		cfg->handshake_load_rate = (uint32_t)v;
	} else if (!strcmp(key, "icmp-rate") || !strcmp(key, "ICMPRate")) {
		if (parse_uint(value, 1, 1000000, &v))
			goto bad;
		cfg->icmp_rate = (uint32_t)v;
	} else if (!strcmp(key, "preshared-key") || !strcmp(key, "PresharedKeyFile")) {
		char why[256];

		if (kh_keyfile_read_private(cfg->psk, value, why, sizeof(why))) {
			snprintf(err, err_len, "preshared key: %s", why);
			return -EINVAL;
		}
	} else if (!strcmp(key, "log-level") || !strcmp(key, "LogLevel")) {
		level = kh_log_level_parse(value);
		if (level < 0) {
			snprintf(err, err_len, "log level '%s': expected error, warn, info or debug",
				 value);
			return -EINVAL;
		}
		cfg->log_level = level;
	} else if (!strcmp(key, "Syslog")) {
		cfg->use_syslog = !strcmp(value, "yes") || !strcmp(value, "true");
	} else {
		snprintf(err, err_len, "unknown setting '%s'", key);
		return -EINVAL;
	}
	return 0;
bad:
	snprintf(err, err_len, "%s '%s': invalid value", key, value);
	return -EINVAL;
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

int relay_config_file(struct relay_config *cfg, const char *path, char *err, size_t err_len)
{
	char line[512], why[256];
	FILE *f = fopen(path, "re");
	int lineno = 0, ret = 0;
	bool in_relay = false;

	if (!f) {
		snprintf(err, err_len, "cannot open %s: %s", path, strerror(errno));
		return -errno;
	}
	while (!ret && fgets(line, sizeof(line), f)) {
		char *s, *eq;

		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			snprintf(err, err_len, "%s:%d: line too long", path, lineno);
			ret = -EINVAL;
			break;
		}
		s = trim(line);
		if (!*s || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			in_relay = !strcmp(s, "[Relay]");
			if (!in_relay) {
				snprintf(err, err_len, "%s:%d: unknown section %s (expected [Relay])",
					 path, lineno, s);
				ret = -EINVAL;
			}
			continue;
		}
		eq = strchr(s, '=');
		if (!in_relay || !eq) {
			snprintf(err, err_len, "%s:%d: expected 'Key = Value' in [Relay]", path,
				 lineno);
			ret = -EINVAL;
			break;
		}
		*eq = '\0';
		if (apply(cfg, trim(s), trim(eq + 1), why, sizeof(why))) {
			snprintf(err, err_len, "%s:%d: %s", path, lineno, why);
			ret = -EINVAL;
		}
	}
	fclose(f);
	return ret;
}

int relay_config_args(struct relay_config *cfg, int argc, char *argv[], char *err,
		      size_t err_len)
{
	static const struct {
		const char *flag, *shortflag, *key;
	} flags[] = {
		{ "--state-dir", "-d", "state-dir" },
		{ "--listen", "-l", "listen" },
		{ "--port", "-p", "port" },
		{ "--ipv4-prefix", NULL, "ipv4-prefix" },
		{ "--keepalive", NULL, "keepalive" },
		{ "--dead-peer-timeout", NULL, "dead-peer" },
		{ "--mtu", NULL, "mtu" },
		{ "--max-sessions", NULL, "max-sessions" },
		{ "--max-half-open", NULL, "max-half-open" },
		{ "--handshake-load", NULL, "handshake-load" },
		{ "--icmp-rate", NULL, "icmp-rate" },
		{ "--preshared-key", NULL, "preshared-key" },
		{ "--log-level", NULL, "log-level" },
	};
	int i = 0;
	size_t f;

	while (i < argc && argv[i][0] == '-') {
		if (!strcmp(argv[i], "--syslog")) {
			cfg->use_syslog = true;
			i++;
			continue;
		}
		if (!strcmp(argv[i], "--config") || !strcmp(argv[i], "-c")) {
			if (i + 1 >= argc) {
				snprintf(err, err_len, "%s needs a file", argv[i]);
				return -EINVAL;
			}
			if (relay_config_file(cfg, argv[i + 1], err, err_len))
				return -EINVAL;
			i += 2;
			continue;
		}
		for (f = 0; f < sizeof(flags) / sizeof(flags[0]); f++)
			if (!strcmp(argv[i], flags[f].flag) ||
			    (flags[f].shortflag && !strcmp(argv[i], flags[f].shortflag)))
				break;
		if (f == sizeof(flags) / sizeof(flags[0])) {
			snprintf(err, err_len, "unknown option '%s'", argv[i]);
			return -EINVAL;
		}
		if (i + 1 >= argc) {
			snprintf(err, err_len, "%s needs a value", argv[i]);
			return -EINVAL;
		}
		if (apply(cfg, flags[f].key, argv[i + 1], err, err_len))
			return -EINVAL;
		i += 2;
	}
	if (cfg->dead_peer_s <= cfg->keepalive_s) {
		snprintf(err, err_len,
			 "dead-peer timeout (%us) must be longer than the keepalive interval (%us)",
			 cfg->dead_peer_s, cfg->keepalive_s);
		return -EINVAL;
	}
	return i;
}
