/* ctlsock.h - the running relay's admin socket: <state-dir>/relay.sock, JSON requests, root only. */
#ifndef KEYHOLE_RELAY_CTLSOCK_H
#define KEYHOLE_RELAY_CTLSOCK_H

#include <stddef.h>

#include <json-c/json.h>

struct relay;

#define RELAY_CTL_SOCK "relay.sock"

int relay_ctl_listen(struct relay *r, char *err, size_t err_len);
/* Serve one connection waiting on the listening socket. */
void relay_ctl_accept(struct relay *r);
void relay_ctl_close(struct relay *r);

/*
 * Client side for the admin commands: send {"cmd": cmd} to the relay using
 * state_dir and return its parsed reply (caller puts it), or NULL with errno
 * ENOENT/ECONNREFUSED when no relay runs there.
 */
struct json_object *relay_ctl_request(const char *state_dir, const char *cmd);

#endif
