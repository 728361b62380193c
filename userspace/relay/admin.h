/* admin.h - the relay's administration subcommands. */
#ifndef KEYHOLE_RELAY_ADMIN_H
#define KEYHOLE_RELAY_ADMIN_H

struct relay;

int relay_admin_node(struct relay *r, int argc, char *argv[]);
int relay_admin_token(struct relay *r, int argc, char *argv[]);
int relay_admin_policy(struct relay *r, int argc, char *argv[]);
int relay_admin_status(struct relay *r, int argc, char *argv[]);

#endif
