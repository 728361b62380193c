/* setconf.c - `keyhole setconf IFNAME FILE`: make a device's configuration exactly the file's. */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "config.h"
#include "device.h"
#include "subcommands.h"

int tool_apply_file(const char *ifname, const char *path)
{
	struct kh_device dev;
	char err[512];
	int ret;

	ret = tool_config_parse(path, &dev, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "%s: %s\n", prog, err);
		return 1;
	}
	/* The file is the whole truth: what it leaves out is cleared. */
	if (!dev.has_psk)
		dev.flags |= KEYHOLE_F_CLEAR_PRESHARED_KEY;
	if (!dev.has_token)
		dev.flags |= KEYHOLE_F_CLEAR_AUTH_TOKEN;
	if (!dev.has_keepalive) {
		dev.has_keepalive = true;
		dev.keepalive = 0;
	}
	ret = device_set(ifname, &dev, err, sizeof(err));
	sodium_memzero(&dev, sizeof(dev));
	if (ret) {
		fprintf(stderr, "%s: %s\n", prog, err);
		return 1;
	}
	return 0;
}

int setconf_main(int argc, char *argv[])
{
	if (argc == 2 && !strcmp(argv[1], "help")) {
		printf("Usage: %s setconf IFNAME FILE\n", prog);
		return 0;
	}
	if (argc != 3) {
		fprintf(stderr, "Usage: %s setconf IFNAME FILE\n", prog);
		return 1;
	}
	return tool_apply_file(argv[1], argv[2]);
}
