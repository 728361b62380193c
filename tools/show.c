/* show.c - `keyhole show [IFNAME] [--json]`: keys, addresses, relay, session and counters. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "../userspace/lib/key.h"
#include "device.h"
#include "subcommands.h"

#define KH_MAX_LINKS 256

static struct json_object *device_json(const struct kh_device *d)
{
	struct json_object *o = json_object_new_object();
	char key[KH_KEY_B64_LEN + 1], a[INET6_ADDRSTRLEN + 8];

	json_object_object_add(o, "interface", json_object_new_string(d->ifname));
	if (d->has_public_key) {
		kh_key_to_base64(key, d->public_key);
		json_object_object_add(o, "public_key", json_object_new_string(key));
	}
	json_object_object_add(o, "private_key", d->has_public_key ? json_object_new_string("(hidden)") : NULL);
	if (d->has_node_name)
		json_object_object_add(o, "name", json_object_new_string(d->node_name));
	if (d->has_addr4) {
		inet_ntop(AF_INET, d->addr4, a, sizeof(a));
		snprintf(a + strlen(a), sizeof(a) - strlen(a), "/%u", d->plen4);
		json_object_object_add(o, "ipv4", json_object_new_string(a));
	}
	if (d->has_addr6) {
		inet_ntop(AF_INET6, d->addr6, a, sizeof(a));
		snprintf(a + strlen(a), sizeof(a) - strlen(a), "/%u", d->plen6);
		json_object_object_add(o, "ipv6", json_object_new_string(a));
	}
	if (d->has_relay_endpoint)
		json_object_object_add(o, "relay", json_object_new_string(d->relay_endpoint));
	if (d->relay_address[0])
		json_object_object_add(o, "relay_address", json_object_new_string(d->relay_address));
	if (d->has_relay_public_key) {
		kh_key_to_base64(key, d->relay_public_key);
		json_object_object_add(o, "relay_key", json_object_new_string(key));
	}
	json_object_object_add(o, "session", json_object_new_string(state_text(d->session_state)));
	json_object_object_add(o, "last_handshake", json_object_new_int64((int64_t)d->last_handshake));
	json_object_object_add(o, "rx_bytes", json_object_new_int64((int64_t)d->rx_bytes));
	json_object_object_add(o, "tx_bytes", json_object_new_int64((int64_t)d->tx_bytes));
	json_object_object_add(o, "rx_packets", json_object_new_int64((int64_t)d->rx_packets));
	json_object_object_add(o, "tx_packets", json_object_new_int64((int64_t)d->tx_packets));
	json_object_object_add(o, "mtu", json_object_new_int64(d->mtu));
	json_object_object_add(o, "dataplane", json_object_new_string(
		d->dataplane == KEYHOLE_DATAPLANE_KERNEL ? "kernel" : "tun"));
	return o;
}

static void device_text(const struct kh_device *d)
{
	char key[KH_KEY_B64_LEN + 1], a[INET6_ADDRSTRLEN], rx[32], tx[32], ago[64];

	printf("interface: %s\n", d->ifname);
	if (d->has_public_key) {
		kh_key_to_base64(key, d->public_key);
		printf("  public key: %s\n  private key: (hidden)\n", key);
	}
	if (d->has_node_name)
		printf("  name: %s\n", d->node_name);
	if (d->has_addr4) {
		inet_ntop(AF_INET, d->addr4, a, sizeof(a));
		printf("  ipv4: %s/%u\n", a, d->plen4);
	}
	if (d->has_addr6) {
		inet_ntop(AF_INET6, d->addr6, a, sizeof(a));
		printf("  ipv6: %s/%u\n", a, d->plen6);
	}
	printf("  data plane: %s\n  mtu: %u\n",
	       d->dataplane == KEYHOLE_DATAPLANE_KERNEL ? "kernel" : "tun", d->mtu);
	printf("\nrelay: %s\n", d->has_relay_endpoint ? d->relay_endpoint : "(none)");
	if (d->relay_address[0] && strcmp(d->relay_address, d->relay_endpoint))
		printf("  address: %s\n", d->relay_address);
	if (d->has_relay_public_key) {
		kh_key_to_base64(key, d->relay_public_key);
		printf("  public key: %s\n", key);
	}
	print_ago(ago, sizeof(ago), d->last_handshake);
	print_bytes(rx, sizeof(rx), d->rx_bytes);
	print_bytes(tx, sizeof(tx), d->tx_bytes);
	printf("  session: %s\n  latest handshake: %s\n", state_text(d->session_state), ago);
	printf("  transfer: %s received (%llu packets), %s sent (%llu packets)\n", rx,
	       (unsigned long long)d->rx_packets, tx, (unsigned long long)d->tx_packets);
}

int show_main(int argc, char *argv[])
{
	static char names[KH_MAX_LINKS][IFNAMSIZ];
	struct json_object *arr = NULL;
	struct kh_device dev;
	char err[512];
	size_t n, i;
	int ret = 0;

	if (argc > 1 && !strcmp(argv[argc - 1], "--json")) {
		arr = json_object_new_array();
		argc--;
	}
	if (argc > 1 && !strcmp(argv[1], "help")) {
		printf("Usage: %s show [IFNAME] [--json]\n", prog);
		json_object_put(arr);
		return 0;
	}
	if (argc > 2) {
		fprintf(stderr, "Usage: %s show [IFNAME] [--json]\n", prog);
		json_object_put(arr);
		return 1;
	}
	if (argc == 2) {
		snprintf(names[0], IFNAMSIZ, "%.*s", IFNAMSIZ - 1, argv[1]);
		n = 1;
	} else {
		n = device_list(names, KH_MAX_LINKS);
	}
	for (i = 0; i < n; i++) {
		if (device_get(names[i], false, &dev, err, sizeof(err))) {
			fprintf(stderr, "%s: %s\n", prog, err);
			ret = 1;
			continue;
		}
		if (arr)
			json_object_array_add(arr, device_json(&dev));
		else
			device_text(&dev);
		if (!arr && i + 1 < n)
			printf("\n");
	}
	if (arr) {
		/* One device asked for: the object itself, as scripts expect. */
		struct json_object *out = argc == 2 && json_object_array_length(arr) == 1
						  ? json_object_array_get_idx(arr, 0)
						  : arr;

		if (!ret)
			printf("%s\n", json_object_to_json_string_ext(out, JSON_C_TO_STRING_PRETTY |
									       JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(arr);
	}
	return ret;
}
