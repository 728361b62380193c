/* main.c - keyhole-relay: run the relay in the foreground, or administer its registry. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

#include <sodium.h>

#include "../common/log.h"
#include "../lib/key.h"
#include "admin.h"
#include "config.h"
#include "ctlsock.h"
#include "loop.h"
#include "relay.h"
#include "state.h"
#include "udp.h"

const char *const relay_counter_names[RC_COUNT] = {
	[RC_RX_DATAGRAMS] = "rx_datagrams",
	[RC_FORWARDED_PACKETS] = "forwarded_packets",
	[RC_FORWARDED_BYTES] = "forwarded_bytes",
	[RC_HANDSHAKES] = "handshakes",
	[RC_SESSIONS_UP] = "sessions_up",
	[RC_SESSIONS_DOWN] = "sessions_down",
	[RC_ICMP_UNREACHABLE] = "icmp_unreachable",
	[RC_ICMP_PROHIBITED] = "icmp_prohibited",
	[RC_COOKIE_REPLIES] = "cookie_replies",
	[RC_ENROLLED_BY_TOKEN] = "enrolled_by_token",
	[RC_DROP_MALFORMED] = "drop_malformed",
	[RC_DROP_MAC] = "drop_bad_mac",
	[RC_DROP_HANDSHAKE] = "drop_bad_handshake",
	[RC_DROP_UNKNOWN_KEY] = "drop_unknown_key",
	[RC_DROP_REPLAYED_HANDSHAKE] = "drop_replayed_handshake",
	[RC_DROP_SESSION_LIMIT] = "drop_session_limit",
	[RC_DROP_HALF_OPEN_LIMIT] = "drop_half_open_limit",
	[RC_DROP_UNKNOWN_INDEX] = "drop_unknown_index",
	[RC_DROP_DECRYPT] = "drop_decrypt",
	[RC_DROP_REPLAY] = "drop_replay",
	[RC_DROP_SPOOFED_SOURCE] = "drop_spoofed_source",
	[RC_DROP_BAD_INNER] = "drop_bad_inner",
	[RC_DROP_ICMP_RATE] = "drop_icmp_rate",
	[RC_DROP_TO_RELAY] = "drop_to_relay",
	[RC_DROP_SEND] = "drop_send",
	[RC_DROP_SOURCE_RATE] = "drop_source_rate",
};

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: keyhole-relay [OPTIONS] [COMMAND]\n"
		"\n"
		"Commands:\n"
		"  run                          run the relay in the foreground (the default)\n"
		"  pubkey                       print the relay's public key (nodes pin it)\n"
		"  node add NAME PUBKEY [tag TAG]...\n"
		"  node del NAME\n"
		"  node list [--json]\n"
		"  token add [tag TAG]... [uses N] [expires DURATION]\n"
		"  token list [--json]\n"
		"  token del ID\n"
		"  policy show [--json] | policy allow TAG TAG | policy deny TAG TAG\n"
		"  status [--json]\n"
		"\n"
		"Options (later ones win):\n"
		"  -c, --config FILE            settings from an INI file ([Relay] section)\n"
		"  -d, --state-dir DIR          default %s\n"
		"  -l, --listen ADDR            listen address, repeatable (default :: for IPv4 and IPv6)\n"
		"  -p, --port PORT              UDP port (default %d)\n"
		"  --ipv4-prefix CIDR           overlay IPv4 prefix (default 100.64.0.0/10)\n"
		"  --keepalive SECONDS          node keepalive interval (default 5)\n"
		"  --dead-peer-timeout SECONDS  offline after this much silence (default 15)\n"
		"  --mtu BYTES                  overlay MTU told to nodes (default 1420)\n"
		"  --max-sessions N             default 65536\n"
		"  --max-half-open N            unconfirmed handshakes, default 4096\n"
		"  --handshake-load N           initiations/s before cookies are required (1000)\n"
		"  --icmp-rate N                ICMP errors per second per node (20)\n"
		"  --preshared-key FILE         pre-shared key all nodes must hold\n"
		"  --log-level LEVEL            error, warn, info (default) or debug\n"
		"  --syslog                     log to syslog instead of stderr\n",
		KH_RELAY_DEFAULT_STATE_DIR, KH_RELAY_DEFAULT_PORT);
}

static int run(struct relay *r)
{
	char err[256], pub[KH_KEY_B64_LEN + 1];
	int ret;

	r->started_at = (int64_t)time(NULL);
	if (relay_state_lock(r, err, sizeof(err)) || relay_sessions_init(r) ||
	    relay_nodes_load(r, err, sizeof(err)) < 0 ||
	    relay_udp_open(r, err, sizeof(err)) || relay_ctl_listen(r, err, sizeof(err)) ||
	    relay_loop_setup(r, err, sizeof(err))) {
		kh_err("%s", err[0] ? err : "out of memory");
		return 1;
	}
	kh_key_to_base64(pub, r->identity.pub);
	kh_info("listening on UDP port %u, public key %s, %u nodes enrolled", r->cfg.port, pub,
		r->nenrolled);
	ret = relay_loop_run(r);
	kh_info("stopping");
	relay_loop_shutdown(r);
	return ret ? 1 : 0;
}

int main(int argc, char *argv[])
{
	static struct relay relay;
	struct relay *r = &relay;
	char err[512] = "";
	char pub[KH_KEY_B64_LEN + 1];
	const char *cmd;
	int consumed, ret;

	if (sodium_init() < 0) {
		fprintf(stderr, "keyhole-relay: cannot initialise libsodium\n");
		return 1;
	}
	if (argc > 1 && (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") ||
			 !strcmp(argv[1], "-h"))) {
		usage(stdout);
		return 0;
	}
	/* No core dumps and no ptrace by others, before any key is read: every
	 * command loads the relay's private key, and --preshared-key reads one
	 * while the options are parsed. */
	prctl(PR_SET_DUMPABLE, 0);
	relay_config_defaults(&r->cfg);
	r->control_fd = r->epoll_fd = r->timer_fd = r->signal_fd = -1;
	consumed = relay_config_args(&r->cfg, argc - 1, argv + 1, err, sizeof(err));
	if (consumed < 0) {
		fprintf(stderr, "keyhole-relay: %s\n", err);
		return 1;
	}
	argc -= 1 + consumed;
	argv += 1 + consumed;
	cmd = argc > 0 ? argv[0] : "run";
	kh_log_setup("keyhole-relay", (enum kh_log_level)r->cfg.log_level,
		     r->cfg.use_syslog && !strcmp(cmd, "run"));
	if (strcmp(cmd, "run") && strcmp(cmd, "pubkey") && strcmp(cmd, "node") &&
	    strcmp(cmd, "token") && strcmp(cmd, "policy") && strcmp(cmd, "status")) {
		fprintf(stderr, "keyhole-relay: unknown command '%s' (try 'keyhole-relay help')\n",
			cmd);
		return 1;
	}
	if (relay_state_open(r, !strcmp(cmd, "run"), err, sizeof(err))) {
		fprintf(stderr, "keyhole-relay: %s\n", err);
		relay_state_close(r);
		return 1;
	}
	if (!strcmp(cmd, "run")) {
		ret = argc > 1 ? (fprintf(stderr, "keyhole-relay: run takes no arguments\n"), 1)
			       : run(r);
	} else if (!strcmp(cmd, "pubkey")) {
		kh_key_to_base64(pub, r->identity.pub);
		printf("%s\n", pub);
		ret = 0;
	} else if (!strcmp(cmd, "node")) {
		ret = relay_admin_node(r, argc - 1, argv + 1);
	} else if (!strcmp(cmd, "token")) {
		ret = relay_admin_token(r, argc - 1, argv + 1);
	} else if (!strcmp(cmd, "policy")) {
		ret = relay_admin_policy(r, argc - 1, argv + 1);
	} else {
		ret = relay_admin_status(r, argc - 1, argv + 1);
	}
	relay_ctl_close(r);
	relay_udp_close(r);
	relay_state_close(r);
	return ret;
}
