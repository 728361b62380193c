/* peers.c - `keyhole peers [IFNAME] [--json]`: the nodes the relay lets this one see. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "../userspace/lib/key.h"
#include "device.h"
#include "subcommands.h"

static void print_peer(const struct kh_ctrl_peer *p, struct json_object *arr)
{
	char key[KH_KEY_B64_LEN + 1], a4[INET_ADDRSTRLEN], a6[INET6_ADDRSTRLEN], tags[300] = "";
	uint8_t i;

	kh_key_to_base64(key, p->pubkey);
	inet_ntop(AF_INET, p->ipv4, a4, sizeof(a4));
	inet_ntop(AF_INET6, p->ipv6, a6, sizeof(a6));
	if (arr) {
		struct json_object *o = json_object_new_object(), *t = json_object_new_array();

		json_object_object_add(o, "name", json_object_new_string(p->name));
		json_object_object_add(o, "public_key", json_object_new_string(key));
		json_object_object_add(o, "ipv4", json_object_new_string(a4));
		json_object_object_add(o, "ipv6", json_object_new_string(a6));
		json_object_object_add(o, "online", json_object_new_boolean(p->online));
		for (i = 0; i < p->ntags; i++)
			json_object_array_add(t, json_object_new_string(p->tags[i]));
		json_object_object_add(o, "tags", t);
		json_object_array_add(arr, o);
		return;
	}
	for (i = 0; i < p->ntags; i++)
		snprintf(tags + strlen(tags), sizeof(tags) - strlen(tags), "%s%s", i ? "," : "",
			 p->tags[i]);
	printf("%-20s %-15s %-39s %-7s %s\n", p->name, a4, a6, p->online ? "online" : "offline",
	       tags[0] ? tags : "-");
}

int peers_main(int argc, char *argv[])
{
	struct json_object *arr = NULL;
	struct kh_ctrl_peer *peers = NULL;
	static char names[256][IFNAMSIZ];
	char err[512];
	const char *ifname;
	size_t n = 0, i;

	if (argc > 1 && !strcmp(argv[argc - 1], "--json")) {
		arr = json_object_new_array();
		argc--;
	}
	if (argc > 2 || (argc == 2 && !strcmp(argv[1], "help"))) {
		printf("Usage: %s peers [IFNAME] [--json]\n", prog);
		json_object_put(arr);
		return argc > 2;
	}
	if (argc == 2) {
		ifname = argv[1];
	} else if (device_list(names, 256) == 1) {
		ifname = names[0];
	} else {
		fprintf(stderr, "%s: %s (name one: %s peers IFNAME)\n", prog,
			device_list(names, 256) ? "several keyhole interfaces" : "no keyhole interface",
			prog);
		json_object_put(arr);
		return 1;
	}
	if (device_peers(ifname, &peers, &n, err, sizeof(err))) {
		fprintf(stderr, "%s: %s\n", prog, err);
		json_object_put(arr);
		return 1;
	}
	if (!arr)
		printf("%-20s %-15s %-39s %-7s %s\n", "NAME", "IPV4", "IPV6", "STATE", "TAGS");
	for (i = 0; i < n; i++)
		print_peer(&peers[i], arr);
	if (arr) {
		printf("%s\n", json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PRETTY |
								       JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(arr);
	}
	free(peers);
	return 0;
}
