/* pubkey.c - `keyhole pubkey`: read a private key on stdin, write its public key. */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "../userspace/common/keyfile.h"
#include "subcommands.h"

int pubkey_main(int argc, char *argv[])
{
	uint8_t priv[KH_KEY_LEN], pub[KH_KEY_LEN];
	char text[KH_KEY_B64_LEN + 1], err[256];
	int ret;

	if (argc > 1) {
		if (!strcmp(argv[1], "help")) {
			printf("Usage: %s pubkey < private.key > public.key\n", prog);
			return 0;
		}
		fprintf(stderr, "%s: pubkey takes no arguments (usage: %s pubkey < FILE)\n", prog, prog);
		return 1;
	}
	ret = kh_keyfile_read_stream(priv, stdin, err, sizeof(err));
	if (!ret && kh_key_public(pub, priv)) {
		snprintf(err, sizeof(err), "key: not a usable X25519 private key");
		ret = -1;
	}
	sodium_memzero(priv, sizeof(priv));
	if (ret) {
		fprintf(stderr, "%s: %s\n", prog, err);
		return 1;
	}
	kh_key_to_base64(text, pub);
	if (printf("%s\n", text) < 0 || fflush(stdout) != 0) {
		fprintf(stderr, "%s: cannot write to stdout\n", prog);
		return 1;
	}
	return 0;
}
