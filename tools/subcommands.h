/* subcommands.h - the entry point of every `keyhole` subcommand, one file each. */
#ifndef KEYHOLE_SUBCOMMANDS_H
#define KEYHOLE_SUBCOMMANDS_H

#include <net/if.h>

extern const char *prog;

int genkey_main(int argc, char *argv[]);
int pubkey_main(int argc, char *argv[]);
int link_main(int argc, char *argv[]);
int set_main(int argc, char *argv[]);
int setconf_main(int argc, char *argv[]);
int showconf_main(int argc, char *argv[]);
int show_main(int argc, char *argv[]);
int peers_main(int argc, char *argv[]);
int up_main(int argc, char *argv[]);
int down_main(int argc, char *argv[]);

/* Shared steps of up/down and link. */
int link_add(const char *ifname);
int link_del(const char *ifname);
int tool_apply_file(const char *ifname, const char *path);

#endif
