/* subcommands.h - the entry point of every `keyhole` subcommand, one file each. */
#ifndef KEYHOLE_SUBCOMMANDS_H
#define KEYHOLE_SUBCOMMANDS_H

extern const char *prog;

int genkey_main(int argc, char *argv[]);
int pubkey_main(int argc, char *argv[]);

#endif
