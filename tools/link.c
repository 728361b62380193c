/* link.c - `keyhole link add|del|set|show`: keyhole interfaces the ip-link way. */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "../userspace/common/rtnl.h"
#include "device.h"
#include "subcommands.h"
#include "transport.h"

#define KH_MAX_LINKS 256

static void link_usage(FILE *out)
{
	fprintf(out, "Usage: %s link add dev IFNAME\n"
		     "       %s link del dev IFNAME\n"
		     "       %s link set dev IFNAME { up | down } [mtu MTU]\n"
		     "       %s link show [dev IFNAME] [--json]\n",
		prog, prog, prog, prog);
}

/* "dev NAME" or a bare NAME, as ip(8) takes them. */
static const char *take_dev(int *i, int argc, char *argv[])
{
	const char *name;

	if (*i < argc && !strcmp(argv[*i], "dev"))
		(*i)++;
	if (*i >= argc)
		return NULL;
	name = argv[(*i)++];
	if (!*name || strlen(name) >= IFNAMSIZ || strchr(name, '/') || strchr(name, ' ')) {
		fprintf(stderr, "%s: '%s' is not a valid interface name (1-%d characters)\n", prog,
			name, IFNAMSIZ - 1);
		exit(1);
	}
	return name;
}

/* keyholed sits next to this program, else in PATH; $KEYHOLED overrides both. */
static void daemon_path(char *out, size_t len)
{
	char self[PATH_MAX - 16];
	const char *env = getenv("KEYHOLED");
	ssize_t n;
	char *slash;

	if (env && *env) {
		snprintf(out, len, "%s", env);
		return;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash) {
			*slash = '\0';
			if ((size_t)snprintf(out, len, "%.*s/keyholed", (int)(sizeof(self) - 1), self) <
			    len &&
			    access(out, X_OK) == 0)
				return;

		}
	}
	snprintf(out, len, "keyholed");
}

int link_add(const char *ifname)
{
	char path[PATH_MAX];
	struct kh_rtnl r;
	struct kh_link_info info;
	char err[256];
	pid_t pid;
	int status;

	if (kh_rtnl_open(&r, 0) == 0) {
		/* A keyhole.ko link (from `ip link add ... type keyhole`, or left by a killed
		 * keyholed) is keyholed's to adopt; any other interface is someone else's. */
		if (kh_rtnl_link_get(&r, ifname, &info, err, sizeof(err)) == 0 &&
		    strcmp(info.kind, "keyhole") != 0) {
			kh_rtnl_close(&r);
			fprintf(stderr, "%s: %s: an interface with that name exists\n", prog, ifname);
			return 1;
		}
		kh_rtnl_close(&r);
	}
	daemon_path(path, sizeof(path));
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "%s: cannot start keyholed: %s\n", prog, strerror(errno));
		return 1;
	}
	if (pid == 0) {
		execlp(path, "keyholed", ifname, (char *)NULL);
		fprintf(stderr, "%s: cannot run %s: %s\n", prog, path, strerror(errno));
		_exit(127);
	}
	/* keyholed returns once the interface and its control socket are ready. */
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
		return 1;
	return 0;
}

int link_del(const char *ifname)
{
	struct kh_rtnl r;
	struct kh_link_info info;
	char err[512];
	int i;

	if (device_del(ifname, err, sizeof(err))) {
		fprintf(stderr, "%s: %s\n", prog, err);
		return 1;
	}
	/* Return once the interface is really gone (bounded). */
	if (kh_rtnl_open(&r, 0))
		return 0;
	for (i = 0; i < 100 && kh_rtnl_link_get(&r, ifname, &info, err, sizeof(err)) == 0; i++)
		usleep(20000);
	kh_rtnl_close(&r);
	return 0;
}

static int link_set(int argc, char *argv[])
{
	struct kh_rtnl r;
	struct kh_link_info info;
	const char *ifname;
	char err[256], *end;
	int i = 0, up = -1, ret = 0;
	unsigned long mtu = 0;

	ifname = take_dev(&i, argc, argv);
	if (!ifname) {
		link_usage(stderr);
		return 1;
	}
	for (; i < argc; i++) {
		if (!strcmp(argv[i], "up")) {
			up = 1;
		} else if (!strcmp(argv[i], "down")) {
			up = 0;
		} else if (!strcmp(argv[i], "mtu") && i + 1 < argc) {
			errno = 0;
			mtu = strtoul(argv[++i], &end, 10);
			if (errno || *end || mtu < 1280 || mtu > 65535) {
				fprintf(stderr, "%s: mtu '%s': expected 1280-65535\n", prog, argv[i]);
				return 1;
			}
		} else {
			fprintf(stderr, "%s: link set: unexpected '%s' (expected up, down or mtu MTU)\n",
				prog, argv[i]);
			return 1;
		}
	}
	if (kh_rtnl_open(&r, 0)) {
		fprintf(stderr, "%s: cannot open rtnetlink: %s\n", prog, strerror(errno));
		return 1;
	}
	ret = kh_rtnl_link_get(&r, ifname, &info, err, sizeof(err));
	if (!ret && mtu)
		ret = kh_rtnl_link_set_mtu(&r, info.ifindex, (uint32_t)mtu, err, sizeof(err));
	if (!ret && up >= 0)
		ret = kh_rtnl_link_set_up(&r, info.ifindex, up, err, sizeof(err));
	kh_rtnl_close(&r);
	if (ret) {
		fprintf(stderr, "%s: %s: %s\n", prog, ifname, err[0] ? err : strerror(-ret));
		return 1;
	}
	return 0;
}

static int show_one(const char *ifname, struct kh_rtnl *r, struct json_object *arr)
{
	struct kh_link_info info;
	struct kh_device dev;
	char err[512], a4[INET_ADDRSTRLEN], a6[INET6_ADDRSTRLEN];
	bool have_dev;

	if (kh_rtnl_link_get(r, ifname, &info, err, sizeof(err)))
		return 1;
	have_dev = device_get(ifname, false, &dev, err, sizeof(err)) == 0;
	/* Only interfaces a keyhole daemon serves are keyhole interfaces. */
	if (!have_dev) {
		fprintf(stderr, "%s: %s\n", prog, err);
		return 1;
	}
	if (have_dev && dev.has_addr4)
		inet_ntop(AF_INET, dev.addr4, a4, sizeof(a4));
	if (have_dev && dev.has_addr6)
		inet_ntop(AF_INET6, dev.addr6, a6, sizeof(a6));
	if (arr) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "ifindex", json_object_new_int(info.ifindex));
		json_object_object_add(o, "ifname", json_object_new_string(ifname));
		json_object_object_add(o, "up", json_object_new_boolean(info.up));
		json_object_object_add(o, "mtu", json_object_new_int64(info.mtu));
		json_object_object_add(o, "dataplane", json_object_new_string("tun"));
		if (have_dev && dev.has_addr4)
			json_object_object_add(o, "ipv4", json_object_new_string(a4));
		if (have_dev && dev.has_addr6)
			json_object_object_add(o, "ipv6", json_object_new_string(a6));
		json_object_array_add(arr, o);
		return 0;
	}
	printf("%d: %s: <%s> mtu %u state %s dataplane tun\n", info.ifindex, ifname,
	       info.up ? "UP" : "DOWN", info.mtu, info.up ? "UP" : "DOWN");
	if (have_dev && dev.has_addr4)
		printf("    inet %s/%u\n", a4, dev.plen4);
	if (have_dev && dev.has_addr6)
		printf("    inet6 %s/%u\n", a6, dev.plen6);
	return 0;
}

static int link_show(int argc, char *argv[])
{
	static char names[KH_MAX_LINKS][IFNAMSIZ];
	struct json_object *arr = NULL;
	struct kh_link_info info;
	struct kh_rtnl r;
	const char *only = NULL;
	char err[256];
	size_t n, k;
	int i = 0, ret = 0;

	if (argc > 0 && !strcmp(argv[argc - 1], "--json")) {
		arr = json_object_new_array();
		argc--;
	}
	if (i < argc)
		only = take_dev(&i, argc, argv);
	if (i < argc) {
		link_usage(stderr);
		return 1;
	}
	if (kh_rtnl_open(&r, 0)) {
		fprintf(stderr, "%s: cannot open rtnetlink: %s\n", prog, strerror(errno));
		return 1;
	}
	if (only) {
		snprintf(names[0], IFNAMSIZ, "%s", only);
		n = 1;
	} else {
		n = device_list(names, KH_MAX_LINKS);
	}
	for (k = 0; k < n; k++) {
		if (only && kh_rtnl_link_get(&r, only, &info, err, sizeof(err))) {
			fprintf(stderr, "%s: %s: no such interface\n", prog, only);
			kh_rtnl_close(&r);
			json_object_put(arr);
			return 1;
		}
		ret |= show_one(names[k], &r, arr);
	}
	kh_rtnl_close(&r);
	if (arr) {
		printf("%s\n", json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PRETTY |
								       JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(arr);
	}
	return ret;
}

int link_main(int argc, char *argv[])
{
	const char *ifname;
	int i = 2;

	if (argc < 2 || !strcmp(argv[1], "help")) {
		link_usage(argc < 2 ? stderr : stdout);
		return argc < 2;
	}
	if (!strcmp(argv[1], "add") || !strcmp(argv[1], "del") || !strcmp(argv[1], "delete")) {
		ifname = take_dev(&i, argc, argv);
		if (!ifname || i != argc) {
			link_usage(stderr);
			return 1;
		}
		return argv[1][0] == 'a' ? link_add(ifname) : link_del(ifname);
	}
	if (!strcmp(argv[1], "set"))
		return link_set(argc - 2, argv + 2);
	if (!strcmp(argv[1], "show") || !strcmp(argv[1], "list"))
		return link_show(argc - 2, argv + 2);
	fprintf(stderr, "%s: link: unknown command '%s'\n", prog, argv[1]);
	link_usage(stderr);
	return 1;
}
