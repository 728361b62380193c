/* loop.h - set up, run and shut down the relay's event loop. */
#ifndef KEYHOLE_RELAY_LOOP_H
#define KEYHOLE_RELAY_LOOP_H

#include <stddef.h>

struct relay;

int relay_loop_setup(struct relay *r, char *err, size_t err_len);
/* Runs until SIGTERM or SIGINT; SIGHUP reloads the registry. */
int relay_loop_run(struct relay *r);
void relay_loop_shutdown(struct relay *r);

#endif
