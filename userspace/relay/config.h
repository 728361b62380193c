/* config.h - the relay's settings: defaults, then a config file, then command-line flags. */
#ifndef KEYHOLE_RELAY_CONFIG_H
#define KEYHOLE_RELAY_CONFIG_H

#include <stddef.h>

#include "relay.h"

void relay_config_defaults(struct relay_config *cfg);
/* Apply an INI file ([Relay] section, Key = Value lines). */
int relay_config_file(struct relay_config *cfg, const char *path, char *err, size_t err_len);
/*
 * Apply the options at the front of argv ("--name value" or "-x value");
 * returns how many arguments were consumed, or -EINVAL with err set. Stops at
 * the first argument that is not an option.
 */
int relay_config_args(struct relay_config *cfg, int argc, char *argv[], char *err,
		      size_t err_len);
/* Parse "10s", "5m", "2h", "7d" or plain seconds; -EINVAL if malformed. */
int relay_parse_duration(const char *s, long long *seconds);
/* Parse "A.B.C.D/N" into prefix bytes (host bits must be zero). */
int relay_parse_ipv4_prefix(const char *s, uint8_t prefix[4], uint8_t *plen);

#endif
