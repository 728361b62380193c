/* up.c - `keyhole up FILE` and `keyhole down IFNAME|FILE`: the whole sequence in one go, as wg-quick does. */
#include <stdio.h>
#include <string.h>

#include "../userspace/common/rtnl.h"
#include "subcommands.h"

/* /etc/keyhole/kh0.conf -> kh0; a bare name stays itself. */
static int name_from(const char *arg, char out[IFNAMSIZ])
{
	const char *base = strrchr(arg, '/');
	size_t len;

	base = base ? base + 1 : arg;
	len = strlen(base);
	if (len > 5 && !strcmp(base + len - 5, ".conf"))
		len -= 5;
	if (len == 0 || len >= IFNAMSIZ)
		return -1;
	memcpy(out, base, len);
	out[len] = '\0';
	return 0;
}

int up_main(int argc, char *argv[])
{
	char ifname[IFNAMSIZ], err[256];
	struct kh_link_info info;
	struct kh_rtnl r;
	int ret;

	if (argc != 2 || !strcmp(argv[1], "help")) {
		printf("Usage: %s up FILE   (the interface is named after FILE: kh0.conf -> kh0)\n", prog);
		return argc != 2;
	}
	if (name_from(argv[1], ifname)) {
		fprintf(stderr, "%s: cannot name an interface after '%s' (1-15 characters before .conf)\n",
			prog, argv[1]);
		return 1;
	}
	if (link_add(ifname))
		return 1;
	if (tool_apply_file(ifname, argv[1])) {
		link_del(ifname);
		return 1;
	}
	if (kh_rtnl_open(&r, 0)) {
		fprintf(stderr, "%s: cannot open rtnetlink\n", prog);
		return 1;
	}
	ret = kh_rtnl_link_get(&r, ifname, &info, err, sizeof(err));
	if (!ret)
		ret = kh_rtnl_link_set_up(&r, info.ifindex, true, err, sizeof(err));
	kh_rtnl_close(&r);
	if (ret) {
		fprintf(stderr, "%s: %s: cannot bring it up: %s\n", prog, ifname, err);
		return 1;
	}
	return 0;
}

int down_main(int argc, char *argv[])
{
	char ifname[IFNAMSIZ];

	if (argc != 2 || !strcmp(argv[1], "help")) {
		printf("Usage: %s down IFNAME|FILE\n", prog);
		return argc != 2;
	}
	if (name_from(argv[1], ifname)) {
		fprintf(stderr, "%s: '%s' is not an interface name\n", prog, argv[1]);
		return 1;
	}
	return link_del(ifname);
}
