/* state.h - open the relay's state directory: registry, network, identity key. */
#ifndef KEYHOLE_RELAY_STATE_H
#define KEYHOLE_RELAY_STATE_H

#include <stddef.h>

struct relay;

#define RELAY_KEY_FILE "private.key"

/* Creates what is missing on first use (directory, database, network, key). */
int relay_state_open(struct relay *r, char *err, size_t err_len);
void relay_state_close(struct relay *r);
/* Only one relay per state directory: -EBUSY if another holds it. */
int relay_state_lock(struct relay *r, char *err, size_t err_len);

#endif
