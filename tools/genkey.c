/* genkey.c - `keyhole genkey`: a new clamped X25519 private key, in base64, to stdout. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "../userspace/lib/key.h"
#include "subcommands.h"

int genkey_main(int argc, char *argv[])
{
	uint8_t priv[KH_KEY_LEN];
	char text[KH_KEY_B64_LEN + 1];
	struct stat st;
	int ret = 0;

	if (argc > 1) {
		if (!strcmp(argv[1], "help")) {
			printf("Usage: %s genkey > private.key\n"
			       "Writes a new private key (base64, 44 characters). A regular file given as\n"
			       "stdout is made mode 0600.\n", prog);
			return 0;
		}
		fprintf(stderr, "%s: genkey takes no arguments (usage: %s genkey > FILE)\n", prog, prog);
		return 1;
	}
	/* A file the shell created for our stdout holds a secret now: make it private. */
	if (fstat(STDOUT_FILENO, &st) == 0 && S_ISREG(st.st_mode) &&
	    (st.st_mode & (S_IRWXG | S_IRWXO)) && fchmod(STDOUT_FILENO, 0600) < 0) {
		fprintf(stderr, "%s: cannot make the output file private: %s\n", prog,
			strerror(errno));
		return 1;
	}
	kh_key_generate(priv);
	kh_key_to_base64(text, priv);
	if (printf("%s\n", text) < 0 || fflush(stdout) != 0) {
		fprintf(stderr, "%s: cannot write the key to stdout\n", prog);
		ret = 1;
	}
	sodium_memzero(priv, sizeof(priv));
	sodium_memzero(text, sizeof(text));
	return ret;
}
