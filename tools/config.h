/* config.h - keyhole's configuration file: [Interface] and [Relay] sections, as setconf reads them. */
#ifndef KEYHOLE_TOOL_CONFIG_H
#define KEYHOLE_TOOL_CONFIG_H

#include <stddef.h>

#include "../userspace/lib/genl.h"

/* Parse path into dev (has_* set for what the file gives); -errno with err set. */
int tool_config_parse(const char *path, struct kh_device *dev, char *err, size_t err_len);

/* Value checks shared by `set` and setconf; each writes a reason into why. */
int tool_parse_endpoint(const char *s, char *out, size_t out_len, const char **why);
int tool_parse_keepalive(const char *s, uint16_t *out);
int tool_parse_token(const char *s, uint8_t token[KEYHOLE_TOKEN_LEN]);
int tool_parse_name(const char *s);

#endif
