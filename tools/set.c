/* set.c - `keyhole set IFNAME KEYWORD VALUE...`: change a device's configuration. */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "../userspace/common/keyfile.h"
#include "../userspace/lib/key.h"
#include "config.h"
#include "device.h"
#include "subcommands.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: %s set IFNAME [private-key FILE] [relay HOST:PORT] [relay-key KEY]\n"
		"                     [preshared-key FILE] [keepalive SECONDS] [auth-token TOKEN]\n"
		"                     [name NAME]\n"
		"Keys come from files (the command line shows in ps); relay-key is a public key.\n",
		prog);
}

/* One keyword and its value into dev; prints the error itself. */
static int keyword(struct kh_device *dev, const char *k, const char *v)
{
	char err[256];
	const char *why = NULL;

	if (!strcmp(k, "private-key")) {
		if (kh_keyfile_read_private(dev->private_key, v, err, sizeof(err)))
			goto bad_err;
		dev->has_private_key = true;
	} else if (!strcmp(k, "relay")) {
		if (tool_parse_endpoint(v, dev->relay_endpoint, sizeof(dev->relay_endpoint), &why))
			goto bad;
		dev->has_relay_endpoint = true;
	} else if (!strcmp(k, "relay-key")) {
		if (kh_key_from_base64(dev->relay_public_key, v, strlen(v), &why))
			goto bad;
		dev->has_relay_public_key = true;
	} else if (!strcmp(k, "preshared-key")) {
		if (kh_keyfile_read_private(dev->psk, v, err, sizeof(err)))
			goto bad_err;
		dev->has_psk = true;
	} else if (!strcmp(k, "keepalive")) {
		why = "expected 0-3600 seconds (0: the relay's interval)";
		if (tool_parse_keepalive(v, &dev->keepalive))
			goto bad;
		dev->has_keepalive = true;
	} else if (!strcmp(k, "auth-token")) {
		why = "expected an enrollment token kh1-<32 hex digits>";
		if (tool_parse_token(v, dev->token))
			goto bad;
		dev->has_token = true;
	} else if (!strcmp(k, "name")) {
		why = "expected a DNS label (1-63 of a-z, 0-9, '-')";
		if (tool_parse_name(v))
			goto bad;
		snprintf(dev->node_name, sizeof(dev->node_name), "%s", v);
		dev->has_node_name = true;
	} else {
		fprintf(stderr, "%s: set: unknown keyword '%s'\n", prog, k);
		usage(stderr);
		return -1;
	}
	return 0;
bad:
	fprintf(stderr, "%s: %s '%s': %s\n", prog, k, v, why);
	return -1;
bad_err:
	fprintf(stderr, "%s: %s: %s\n", prog, k, err);
	return -1;
}

int set_main(int argc, char *argv[])
{
	struct kh_device dev;
	char err[512];
	int i, ret;

	if (argc >= 2 && !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (argc < 2) {
		usage(stderr);
		return 1;
	}
	memset(&dev, 0, sizeof(dev));
	for (i = 2; i < argc; i += 2) {
		if (i + 1 >= argc) {
			fprintf(stderr, "%s: set: '%s' needs a value\n", prog, argv[i]);
			return 1;
		}
		if (keyword(&dev, argv[i], argv[i + 1])) {
			sodium_memzero(&dev, sizeof(dev));
			return 1;
		}
	}
	ret = device_set(argv[1], &dev, err, sizeof(err));
	sodium_memzero(&dev, sizeof(dev));
	if (ret) {
		fprintf(stderr, "%s: %s\n", prog, err);
		return 1;
	}
	return 0;
}
