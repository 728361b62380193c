/* showconf.c - `keyhole showconf IFNAME [--show-private-key]`: the configuration as a setconf file. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "../userspace/lib/key.h"
#include "device.h"
#include "subcommands.h"

int showconf_main(int argc, char *argv[])
{
	char key[KH_KEY_B64_LEN + 1], err[512];
	struct kh_device dev;
	bool show_private = argc == 3 && !strcmp(argv[2], "--show-private-key");

	if (argc == 2 && !strcmp(argv[1], "help")) {
		printf("Usage: %s showconf IFNAME [--show-private-key]\n", prog);
		return 0;
	}
	if (argc != 2 && !show_private) {
		fprintf(stderr, "Usage: %s showconf IFNAME [--show-private-key]\n", prog);
		return 1;
	}
	if (show_private && geteuid() != 0) {
		fprintf(stderr, "%s: only root may print the private key\n", prog);
		return 1;
	}
	if (device_get(argv[1], show_private, &dev, err, sizeof(err))) {
		fprintf(stderr, "%s: %s\n", prog, err);
		return 1;
	}
	printf("[Interface]\n");
	if (dev.has_private_key) {
		kh_key_to_base64(key, dev.private_key);
		printf("PrivateKey = %s\n", key);
		sodium_memzero(key, sizeof(key));
	} else if (dev.has_public_key) {
		printf("PrivateKey = (hidden)\n");
	}
	if (dev.has_node_name)
		printf("Name = %s\n", dev.node_name);
	if (dev.keepalive)
		printf("Keepalive = %u\n", dev.keepalive);
	if (dev.token_set)
		printf("AuthToken = (hidden)\n");
	printf("\n[Relay]\n");
	if (dev.has_relay_endpoint)
		printf("Endpoint = %s\n", dev.relay_endpoint);
	if (dev.has_relay_public_key) {
		kh_key_to_base64(key, dev.relay_public_key);
		printf("PublicKey = %s\n", key);
	}
	if (dev.psk_set)
		printf("PresharedKey = (hidden)\n");
	sodium_memzero(&dev, sizeof(dev));
	return 0;
}
