/* keyhole.c - the keyhole tool: dispatch `keyhole COMMAND [ARGS]` to its subcommand. */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "subcommands.h"

const char *prog = "keyhole";

static const struct {
	const char *name;
	int (*run)(int argc, char *argv[]);
	const char *summary;
} subcommands[] = {
	{ "genkey", genkey_main, "write a new private key to stdout" },
	{ "pubkey", pubkey_main, "read a private key on stdin, write its public key" },
	{ "link", link_main, "add, delete, set up/down or show keyhole interfaces" },
	{ "set", set_main, "change an interface's configuration" },
	{ "setconf", setconf_main, "apply a configuration file to an interface" },
	{ "showconf", showconf_main, "print an interface's configuration as a file" },
	{ "show", show_main, "show keys, addresses, session state and counters" },
	{ "peers", peers_main, "list the peers the relay lets this node see" },
	{ "up", up_main, "create, configure and bring up an interface from a file" },
	{ "down", down_main, "remove an interface" },
};

static void usage(FILE *out)
{
	size_t i;

	fprintf(out, "Usage: %s COMMAND [ARGS]...\n\nCommands:\n", prog);
	for (i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		fprintf(out, "  %-9s %s\n", subcommands[i].name, subcommands[i].summary);
	fprintf(out, "  %-9s %s\n", "help", "show this help; `keyhole COMMAND help` for one command");
}

int main(int argc, char *argv[])
{
	size_t i;

	if (sodium_init() < 0) {
		fprintf(stderr, "%s: cannot initialise libsodium\n", prog);
		return 1;
	}
	if (argc < 2) {
		usage(stderr);
		return 1;
	}
	if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return 0;
	}
	for (i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		if (!strcmp(argv[1], subcommands[i].name))
			return subcommands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "%s: unknown command '%s' (try '%s help')\n", prog, argv[1], prog);
	return 1;
}
