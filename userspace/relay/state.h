/* state.h - open the relay's state directory: registry, network, identity key. */
#ifndef KEYHOLE_RELAY_STATE_H
#define KEYHOLE_RELAY_STATE_H

#include <stdbool.h>
#include <stddef.h>

struct relay;

#define RELAY_KEY_FILE "private.key"

/*
 * Creates what is missing on first use (directory, database, network, key).
 * running: for `run`, where an IPv4 prefix set in the configuration must be
 * the stored one (-EEXIST otherwise); other commands use the stored network.
 */
int relay_state_open(struct relay *r, bool running, char *err, size_t err_len);
void relay_state_close(struct relay *r);
/* Only one relay per state directory: -EBUSY if another holds it. */
int relay_state_lock(struct relay *r, char *err, size_t err_len);

#endif
