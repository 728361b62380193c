/* relay-test.c - a real keyhole-relay on loopback driven by real protocol clients. Usage: relay-test BUILD_DIR */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <sodium.h>

#include "../../userspace/lib/ippacket.h"
#include "../../userspace/lib/key.h"
#include "../unit/test.h"
#include "client.h"

bool test_failed;

void test_report(const char *file, int line, const char *expr, const char *detail)
{
	test_failed = true;
	printf("    %s:%d: expected %s%s%s\n", file, line, expr, detail ? ": " : "",
	       detail ? detail : "");
}

/* The relay under test: one process, one state directory, one port. */
static struct {
	char bin[512];
	char dir[64];
	uint16_t port;
	pid_t pid;
	uint8_t pub[32];
	char extra[256]; /* extra flags for `run` */
} relay;

static int relay_admin(char *out, size_t max, const char *args)
{
	return tn_shell(out, max, "%s -d %s -p %u %s 2>&1", relay.bin, relay.dir, relay.port, args);
}

/* Sanitizer reports in the relay's log fail the test that was running. */
static bool relay_log_clean(void)
{
	return relay.dir[0] == '\0' ||
	       tn_shell(NULL, 0, "grep -Eq 'Sanitizer|runtime error' %s/relay.log 2>/dev/null",
		  relay.dir) != 0;
}

static void relay_stop(int sig)
{
	int status;

	if (relay.pid <= 0)
		return;
	kill(relay.pid, sig);
	waitpid(relay.pid, &status, 0);
	relay.pid = 0;
	/* A clean stop must be a clean exit (LeakSanitizer runs at exit). */
	if (sig == SIGTERM && (!WIFEXITED(status) || WEXITSTATUS(status) != 0)) {
		printf("    relay exited with status %d on SIGTERM\n", status);
		test_failed = true;
	}
}

/* Start the relay and wait until its admin socket answers (bounded). */
static int relay_start(void)
{
	char log[128], out[256];
	int i;

	snprintf(log, sizeof(log), "%s/relay.log", relay.dir);
	relay.pid = fork();
	if (relay.pid < 0)
		return -errno;
	if (relay.pid == 0) {
		char cmd[1024];
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);

		dup2(fd, 2);
		dup2(fd, 1);
		snprintf(cmd, sizeof(cmd), "exec %s -d %s -l 127.0.0.1 -p %u %s run", relay.bin,
			 relay.dir, relay.port, relay.extra);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 100; i++) {
		if (relay_admin(out, sizeof(out), "status") == 0)
			return 0;
		usleep(20000);
	}
	return -ETIMEDOUT;
}

/* One counter of the running relay, -1 if unavailable. */
static long long counter(const char *name)
{
	struct json_object *o, *c, *v;
	char out[8192];
	long long val = -1;

	if (relay_admin(out, sizeof(out), "status --json"))
		return -1;
	o = json_tokener_parse(out);
	if (o && json_object_object_get_ex(o, "counters", &c) &&
	    json_object_object_get_ex(c, name, &v))
		val = json_object_get_int64(v);
	else if (o && json_object_object_get_ex(o, name, &v))
		val = json_object_get_int64(v);
	json_object_put(o);
	return val;
}

/* Enroll a test node by key; fills its expected addresses from the CLI's answer. */
static int enroll(struct test_node *tn, const char *name, const char *tags, uint8_t v4[4],
		  uint8_t v6[16])
{
	char out[512], args[256], a4[64], a6[64], n[64];

	snprintf(args, sizeof(args), "node add %s %s %s", name, tn->pub_b64, tags ? tags : "");
	if (relay_admin(out, sizeof(out), args))
		return -1;
	if (sscanf(out, "%63s %63s %63s", n, a4, a6) != 3 || inet_pton(AF_INET, a4, v4) != 1 ||
	    inet_pton(AF_INET6, a6, v6) != 1)
		return -1;
	return 0;
}

struct enrolled {
	struct test_node tn;
	uint8_t v4[4], v6[16];
};

static int enroll_and_connect(struct enrolled *e, const char *name, const char *tags)
{
	if (tn_init(&e->tn, relay.pub, relay.port) || enroll(&e->tn, name, tags, e->v4, e->v6))
		return -1;
	return tn_connect(&e->tn, NULL, NULL, 2000);
}

static int fresh_relay(const char *extra)
{
	char out[128];
	const char *why;

	relay_stop(SIGTERM);
	tn_shell(NULL, 0, "rm -rf %s", relay.dir);
	snprintf(relay.dir, sizeof(relay.dir), "/tmp/keyhole-relay-test-XXXXXX");
	if (!mkdtemp(relay.dir))
		return -1;
	relay.port = (uint16_t)(20000 + randombytes_uniform(20000));
	snprintf(relay.extra, sizeof(relay.extra), "%s", extra ? extra : "");
	/* Like an operator, give every command the relay's options: the first one
	 * creates the network. */
	if (tn_shell(out, sizeof(out), "%s -d %s %s pubkey 2>/dev/null", relay.bin, relay.dir,
	       relay.extra) ||
	    kh_key_from_base64(relay.pub, out, strlen(out), &why))
		return -1;
	return relay_start();
}

static void test_handshake_and_config(void)
{
	struct enrolled a;

	CHECK_EQ(fresh_relay(NULL), 0);
	CHECK_EQ(enroll_and_connect(&a, "pi", "tag device"), 0);
	CHECK(a.tn.have_cfg);
	CHECK_MEM(a.tn.cfg.ipv4, a.v4, 4);
	CHECK_MEM(a.tn.cfg.ipv6, a.v6, 16);
	CHECK_EQ(a.tn.cfg.ipv4_plen, 10);
	CHECK_EQ(a.tn.cfg.ipv6_plen, 48);
	CHECK_EQ(a.tn.cfg.mtu, 1420);
	CHECK(a.tn.cfg.keepalive_s > 0 && a.tn.cfg.dead_peer_s > a.tn.cfg.keepalive_s);
	CHECK(strcmp(a.tn.cfg.name, "pi") == 0);
	CHECK_EQ(a.v4[0], 100);
	CHECK_EQ(a.v4[1], 64);
	CHECK_EQ(a.v6[0], 0xfd);
	CHECK_EQ(counter("online"), 1);
	tn_close(&a.tn);
}

static void test_forward_v4_v6(void)
{
	struct enrolled a, b;
	uint8_t pkt[256], got[2048];
	size_t len;

	CHECK_EQ(fresh_relay(NULL), 0);
	CHECK_EQ(enroll_and_connect(&a, "client", NULL), 0);
	CHECK_EQ(enroll_and_connect(&b, "device", NULL), 0);
	len = tn_build_udp4(pkt, a.v4, b.v4, (const uint8_t *)"hello over v4", 13);
	CHECK_EQ(tn_send(&a.tn, pkt, len), 0);
	CHECK_EQ(tn_recv_ip(&b.tn, got, sizeof(got), 1000), (int)len);
	CHECK_MEM(got, pkt, len);
	len = tn_build_udp6(pkt, b.v6, a.v6, (const uint8_t *)"and back over v6", 16);
	CHECK_EQ(tn_send(&b.tn, pkt, len), 0);
	CHECK_EQ(tn_recv_ip(&a.tn, got, sizeof(got), 1000), (int)len);
	CHECK_MEM(got, pkt, len);
	CHECK(counter("forwarded_packets") == 2);
	tn_close(&a.tn);
	tn_close(&b.tn);
}

static uint16_t sum16(const uint8_t *p, size_t len, uint32_t sum)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)(p[len - 1] << 8);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* The ICMP error, field by field: from the relay, to the sender, quoting the packet. */
static const char *check_icmp4(const uint8_t *icmp, int len, const uint8_t *orig, size_t olen,
			       uint8_t code)
{
	if (len < 28 + 20 || (icmp[0] >> 4) != 4 || icmp[9] != 1)
		return "not an ICMP packet";
	if (sum16(icmp, 20, 0) != 0xffff)
		return "bad IPv4 header checksum";
	if (memcmp(icmp + 16, orig + 12, 4))
		return "not addressed to the sender";
	if (icmp[12] != 100 || icmp[13] != 64 || icmp[14] != 0 || icmp[15] != 1)
		return "not from the relay's address 100.64.0.1";
	if (icmp[20] != 3 || icmp[21] != code)
		return "wrong type or code";
	if (sum16(icmp + 20, (size_t)len - 20, 0) != 0xffff)
		return "bad ICMP checksum";
	if ((size_t)len - 28 != olen || memcmp(icmp + 28, orig, olen))
		return "does not quote the packet";
	return NULL;
}

static const char *check_icmp6(const uint8_t *icmp, int len, const uint8_t *orig, size_t olen,
			       uint8_t code)
{
	uint8_t pseudo[40] = { 0 };
	uint32_t plen = (uint32_t)len - 40;

	if (len < 48 + 40 || (icmp[0] >> 4) != 6 || icmp[6] != 58)
		return "not an ICMPv6 packet";
	if (memcmp(icmp + 24, orig + 8, 16))
		return "not addressed to the sender";
	if (icmp[40] != 1 || icmp[41] != code)
		return "wrong type or code";
	memcpy(pseudo, icmp + 8, 32);
	pseudo[34] = (uint8_t)(plen >> 8);
	pseudo[35] = (uint8_t)plen;
	pseudo[39] = 58;
	if (sum16(icmp + 40, plen, sum16(pseudo, 40, 0)) != 0xffff)
		return "bad ICMPv6 checksum";
	if ((size_t)len - 48 != olen || memcmp(icmp + 48, orig, olen))
		return "does not quote the packet";
	return NULL;
}

static void test_offline_gets_unreachable(void)
{
	struct enrolled a, off;
	uint8_t pkt[256], got[2048], unknown4[4], unknown6[16];
	const char *why;
	size_t len;
	uint64_t t0;
	int n;

	CHECK_EQ(fresh_relay(NULL), 0);
	CHECK_EQ(enroll_and_connect(&a, "client", NULL), 0);
	CHECK_EQ(tn_init(&off.tn, relay.pub, relay.port), 0);
	CHECK_EQ(enroll(&off.tn, "device", NULL, off.v4, off.v6), 0);
	/* Enrolled but offline: host unreachable at once, quoting the packet. */
	len = tn_build_udp4(pkt, a.v4, off.v4, (const uint8_t *)"anyone there?", 13);
	t0 = tn_now_ns();
	CHECK_EQ(tn_send(&a.tn, pkt, len), 0);
	n = tn_recv_ip(&a.tn, got, sizeof(got), 1000);
	CHECK(n > 0);
	CHECK(tn_now_ns() - t0 < 500000000ULL);
	why = check_icmp4(got, n, pkt, len, 1);
	if (why)
		printf("    %s\n", why);
	CHECK(why == NULL);
	len = tn_build_udp6(pkt, a.v6, off.v6, (const uint8_t *)"anyone there?", 13);
	CHECK_EQ(tn_send(&a.tn, pkt, len), 0);
	n = tn_recv_ip(&a.tn, got, sizeof(got), 1000);
	CHECK(n > 0);
	why = check_icmp6(got, n, pkt, len, 3);
	if (why)
		printf("    %s\n", why);
	CHECK(why == NULL);
	/* Never enrolled at all: the same answer. */
	memcpy(unknown4, a.v4, 4);
	unknown4[3] = 200;
	len = tn_build_udp4(pkt, a.v4, unknown4, (const uint8_t *)"x", 1);
	CHECK_EQ(tn_send(&a.tn, pkt, len), 0);
	n = tn_recv_ip(&a.tn, got, sizeof(got), 1000);
	CHECK(n > 0 && check_icmp4(got, n, pkt, len, 1) == NULL);
	memcpy(unknown6, a.v6, 16);
	unknown6[15] ^= 0x55;
	len = tn_build_udp6(pkt, a.v6, unknown6, (const uint8_t *)"x", 1);
	CHECK_EQ(tn_send(&a.tn, pkt, len), 0);
	n = tn_recv_ip(&a.tn, got, sizeof(got), 1000);
	CHECK(n > 0 && check_icmp6(got, n, pkt, len, 3) == NULL);
	CHECK_EQ(counter("icmp_unreachable"), 4);
	tn_close(&a.tn);
	tn_close(&off.tn);
}

static void test_spoofed_source_dropped(void)
{
	struct enrolled a, b;
	uint8_t pkt[256], got[2048], fake[4];
	size_t len;

	CHECK_EQ(fresh_relay(NULL), 0);
	CHECK_EQ(enroll_and_connect(&a, "client", NULL), 0);
	CHECK_EQ(enroll_and_connect(&b, "device", NULL), 0);
	/* a claims to be someone else (here: b itself, then an outsider). */
	len = tn_build_udp4(pkt, b.v4, b.v4, (const uint8_t *)"spoof", 5);
	CHECK_EQ(tn_send(&a.tn, pkt, len), 0);
	memcpy(fake, a.v4, 4);
	fake[3] ^= 1;
	len = tn_build_udp4(pkt, fake, b.v4, (const uint8_t *)"spoof", 5);
	CHECK_EQ(tn_send(&a.tn, pkt, len), 0);
	CHECK_EQ(tn_recv_ip(&b.tn, got, sizeof(got), 300), 0);
	CHECK_EQ(tn_recv_ip(&a.tn, got, sizeof(got), 100), 0);
	CHECK_EQ(counter("drop_spoofed_source"), 2);
	CHECK_EQ(counter("forwarded_packets"), 0);
	tn_close(&a.tn);
	tn_close(&b.tn);
}

static void test_unknown_key_silence(void)
{
	struct test_node stranger;
	uint8_t buf[512];

	CHECK_EQ(fresh_relay(NULL), 0);
	CHECK_EQ(tn_init(&stranger, relay.pub, relay.port), 0);
	CHECK_EQ(tn_send_initiation(&stranger, NULL, NULL), 0);
	CHECK_EQ(tn_recv_raw(&stranger, buf, sizeof(buf), 500), 0);
	CHECK_EQ(counter("drop_unknown_key"), 1);
	/* A made-up token buys nothing either. */
	CHECK_EQ(tn_send_initiation(&stranger, (const uint8_t *)"0123456789abcdef", "evil"), 0);
	CHECK_EQ(tn_recv_raw(&stranger, buf, sizeof(buf), 300), 0);
	tn_close(&stranger);
}

static void test_replayed_initiation(void)
{
	struct enrolled a;
	uint8_t buf[512];

	CHECK_EQ(fresh_relay(NULL), 0);
	CHECK_EQ(enroll_and_connect(&a, "pi", NULL), 0);
	CHECK_EQ((int)send(a.tn.fd, a.tn.last_initiation, a.tn.last_initiation_len, 0),
		 (int)a.tn.last_initiation_len);
	/* Only the keepalive answer may come back, never a response. */
	for (;;) {
		int n = tn_recv_raw(&a.tn, buf, sizeof(buf), 300);

		if (n <= 0)
			break;
		CHECK(kh_msg_type(buf, (size_t)n) != KH_MSG_RESPONSE);
	}
	CHECK_EQ(counter("drop_replayed_handshake"), 1);
	tn_close(&a.tn);
}

static void test_delete_ends_session(void)
{
	struct enrolled a, b, c;
	uint8_t pkt[256], got[2048];
	char out[256];
	const char *why;
	size_t len;
	uint64_t t0;
	int n;

	CHECK_EQ(fresh_relay(NULL), 0);
	CHECK_EQ(enroll_and_connect(&a, "client", NULL), 0);
	CHECK_EQ(enroll_and_connect(&b, "device", NULL), 0);
	t0 = tn_now_ns();
	CHECK_EQ(relay_admin(out, sizeof(out), "node del device"), 0);
	/* The device is told at once... */
	CHECK(tn_recv_control(&b.tn, KH_CTRL_GOODBYE, got, sizeof(got), 1000) > 0);
	CHECK(b.tn.got_goodbye && b.tn.goodbye_reason == KH_GOODBYE_DELETED);
	/* ...and the client gets unreachable within a second. */
	len = tn_build_udp4(pkt, a.v4, b.v4, (const uint8_t *)"still there?", 12);
	CHECK_EQ(tn_send(&a.tn, pkt, len), 0);
	n = tn_recv_ip(&a.tn, got, sizeof(got), 1000);
	CHECK(n > 0);
	why = check_icmp4(got, n, pkt, len, 1);
	CHECK(why == NULL);
	CHECK(tn_now_ns() - t0 < 1000000000ULL);
	/* The deleted key cannot come back by itself. */
	CHECK(tn_connect(&b.tn, NULL, NULL, 500) != 0);
	/* A new key under the same name gets new addresses, never the old ones. */
	CHECK_EQ(enroll_and_connect(&c, "device", NULL), 0);
	CHECK(memcmp(c.v4, b.v4, 4) != 0);
	CHECK(memcmp(c.v6, b.v6, 16) != 0);
	/* Status counts enrolled nodes; the deleted one is a tombstone. */
	CHECK_EQ(counter("nodes"), 2);
	CHECK_EQ(counter("tombstones"), 1);
	tn_close(&a.tn);
	tn_close(&b.tn);
	tn_close(&c.tn);
}

/* Every node of the `before` listing appears in `after` with the same key and addresses. */
static bool nodes_kept(const char *before, const char *after)
{
	struct json_object *b = json_tokener_parse(before), *a = json_tokener_parse(after);
	bool ok = b && a && json_object_array_length(b) == 2;
	size_t i, j;

	for (i = 0; ok && i < json_object_array_length(b); i++) {
		struct json_object *nb = json_object_array_get_idx(b, i), *x, *y;
		bool found = false;

		for (j = 0; !found && j < json_object_array_length(a); j++) {
			struct json_object *na = json_object_array_get_idx(a, j);
			const char *keys[] = { "name", "public_key", "ipv4", "ipv6" };
			size_t k;

			found = true;
			for (k = 0; k < 4; k++)
				if (!json_object_object_get_ex(nb, keys[k], &x) ||
				    !json_object_object_get_ex(na, keys[k], &y) ||
				    strcmp(json_object_get_string(x), json_object_get_string(y)))
					found = false;
		}
		ok = found;
	}
	json_object_put(a);
	json_object_put(b);
	return ok;
}

static void test_restart_keeps_addresses(void)
{
	struct enrolled a, b;
	uint8_t pkt[256], got[2048];
	char before[4096], after[4096];
	size_t len;

	CHECK_EQ(fresh_relay(NULL), 0);
	CHECK_EQ(enroll_and_connect(&a, "client", NULL), 0);
	CHECK_EQ(enroll_and_connect(&b, "device", NULL), 0);
	CHECK_EQ(relay_admin(before, sizeof(before), "node list --json"), 0);
	/* kill -9 while an admin write is in flight: the database must survive. */
	tn_shell(NULL, 0, "%s -d %s node add racer %s >/dev/null 2>&1 &", relay.bin, relay.dir,
	   "Qm7mhDGIo/WJ0KAmU9AefDRorvwfJ73+XqXdpECnGgw=");
	relay_stop(SIGKILL);
	usleep(200000);
	CHECK_EQ(relay_start(), 0);
	CHECK_EQ(relay_admin(after, sizeof(after), "node list --json"), 0);
	/* Every node keeps key and addresses (the racer may or may not have landed). */
	CHECK(nodes_kept(before, after));
	CHECK_EQ(tn_connect(&a.tn, NULL, NULL, 2000), 0);
	CHECK_EQ(tn_connect(&b.tn, NULL, NULL, 2000), 0);
	CHECK_MEM(a.tn.cfg.ipv4, a.v4, 4);
	CHECK_MEM(b.tn.cfg.ipv6, b.v6, 16);
	len = tn_build_udp4(pkt, a.v4, b.v4, (const uint8_t *)"after restart", 13);
	CHECK_EQ(tn_send(&a.tn, pkt, len), 0);
	CHECK_EQ(tn_recv_ip(&b.tn, got, sizeof(got), 1000), (int)len);
	CHECK_EQ(tn_shell(NULL, 0, "sqlite3 %s/relay.db 'PRAGMA integrity_check' | grep -qx ok",
		    relay.dir), 0);
	tn_close(&a.tn);
	tn_close(&b.tn);
}

static void test_garbage_burst(void)
{
	struct enrolled a, b;
	uint8_t pkt[256], got[2048], junk[1500];
	struct test_node flood;
	size_t len;
	int i;

	CHECK_EQ(fresh_relay(NULL), 0);
	CHECK_EQ(enroll_and_connect(&a, "client", NULL), 0);
	CHECK_EQ(enroll_and_connect(&b, "device", NULL), 0);
	CHECK_EQ(tn_init(&flood, relay.pub, relay.port), 0);
	for (i = 0; i < 3000; i++) {
		size_t n = 1 + randombytes_uniform(sizeof(junk));

		randombytes_buf(junk, n);
		/* A third look like our messages at first glance. */
		if (i % 3 == 0) {
			junk[0] = (uint8_t)(1 + i % 4);
			junk[1] = KH_VERSION;
			junk[2] = junk[3] = 0;
		}
		if (i % 7 == 0 && a.tn.last_initiation_len)
			n = randombytes_uniform((uint32_t)a.tn.last_initiation_len),
			memcpy(junk, a.tn.last_initiation, n);
		send(flood.fd, junk, n, 0);
	}
	len = tn_build_udp4(pkt, a.v4, b.v4, (const uint8_t *)"through the storm", 17);
	CHECK_EQ(tn_send(&a.tn, pkt, len), 0);
	CHECK_EQ(tn_recv_ip(&b.tn, got, sizeof(got), 2000), (int)len);
	CHECK_MEM(got, pkt, len);
	CHECK(counter("rx_datagrams") >= 3000);
	CHECK_EQ(counter("online"), 2);
	tn_close(&a.tn);
	tn_close(&b.tn);
	tn_close(&flood);
}

static void test_token_enrollment(void)
{
	struct test_node t1, t2, t3;
	uint8_t token[16];
	char out[256], *nl;

	CHECK_EQ(fresh_relay(NULL), 0);
	CHECK_EQ(relay_admin(out, sizeof(out), "token add tag sensor uses 2 expires 1h"), 0);
	nl = strchr(out, '\n');
	if (nl)
		*nl = '\0';
	CHECK(strncmp(out, "kh1-", 4) == 0);
	CHECK_EQ(sodium_hex2bin(token, sizeof(token), out + 4, 32, NULL, NULL, NULL), 0);
	CHECK_EQ(tn_init(&t1, relay.pub, relay.port), 0);
	CHECK_EQ(tn_connect(&t1, token, "cam-1", 2000), 0);
	CHECK(strcmp(t1.cfg.name, "cam-1") == 0);
	CHECK_EQ(tn_init(&t2, relay.pub, relay.port), 0);
	CHECK_EQ(tn_connect(&t2, token, NULL, 2000), 0);
	CHECK(strncmp(t2.cfg.name, "node-", 5) == 0);
	/* Used up after two enrollments. */
	CHECK_EQ(tn_init(&t3, relay.pub, relay.port), 0);
	CHECK(tn_connect(&t3, token, "cam-3", 500) != 0);
	CHECK_EQ(relay_admin(out, sizeof(out), "node list --json"), 0);
	CHECK(strstr(out, "\"sensor\"") != NULL);
	CHECK_EQ(counter("enrolled_by_token"), 2);
	tn_close(&t1);
	tn_close(&t2);
	tn_close(&t3);
}

static void test_policy_prohibited(void)
{
	struct enrolled a, b, c, d;
	uint8_t pkt[256], got[2048];
	char out[256];
	size_t len;
	int n;

	CHECK_EQ(fresh_relay(NULL), 0);
	CHECK_EQ(enroll_and_connect(&a, "laptop", "tag admin"), 0);
	CHECK_EQ(enroll_and_connect(&b, "pi", "tag device"), 0);
	CHECK_EQ(enroll_and_connect(&c, "guest", "tag guest"), 0);
	/* d is enrolled but never comes online. */
	CHECK_EQ(tn_init(&d.tn, relay.pub, relay.port), 0);
	CHECK_EQ(enroll(&d.tn, "sensor", "tag device", d.v4, d.v6), 0);
	CHECK_EQ(relay_admin(out, sizeof(out), "policy deny '*' '*'"), 0);
	CHECK_EQ(relay_admin(out, sizeof(out), "policy allow admin device"), 0);
	/* Allowed both ways (replies too). */
	len = tn_build_udp4(pkt, a.v4, b.v4, (const uint8_t *)"ok", 2);
	CHECK_EQ(tn_send(&a.tn, pkt, len), 0);
	CHECK_EQ(tn_recv_ip(&b.tn, got, sizeof(got), 1000), (int)len);
	len = tn_build_udp4(pkt, b.v4, a.v4, (const uint8_t *)"ok", 2);
	CHECK_EQ(tn_send(&b.tn, pkt, len), 0);
	CHECK_EQ(tn_recv_ip(&a.tn, got, sizeof(got), 1000), (int)len);
	/* Denied: administratively prohibited, v4 code 13 and v6 code 1. */
	len = tn_build_udp4(pkt, c.v4, b.v4, (const uint8_t *)"let me in", 9);
	CHECK_EQ(tn_send(&c.tn, pkt, len), 0);
	n = tn_recv_ip(&c.tn, got, sizeof(got), 1000);
	CHECK(n > 0 && check_icmp4(got, n, pkt, len, 13) == NULL);
	len = tn_build_udp6(pkt, c.v6, b.v6, (const uint8_t *)"let me in", 9);
	CHECK_EQ(tn_send(&c.tn, pkt, len), 0);
	n = tn_recv_ip(&c.tn, got, sizeof(got), 1000);
	CHECK(n > 0 && check_icmp6(got, n, pkt, len, 1) == NULL);
	CHECK_EQ(tn_recv_ip(&b.tn, got, sizeof(got), 200), 0);
	/* Denied and offline: the same answer, so guests cannot tell who is online. */
	len = tn_build_udp4(pkt, c.v4, d.v4, (const uint8_t *)"are you up?", 11);
	CHECK_EQ(tn_send(&c.tn, pkt, len), 0);
	n = tn_recv_ip(&c.tn, got, sizeof(got), 1000);
	CHECK(n > 0 && check_icmp4(got, n, pkt, len, 13) == NULL);
	len = tn_build_udp6(pkt, c.v6, d.v6, (const uint8_t *)"are you up?", 11);
	CHECK_EQ(tn_send(&c.tn, pkt, len), 0);
	n = tn_recv_ip(&c.tn, got, sizeof(got), 1000);
	CHECK(n > 0 && check_icmp6(got, n, pkt, len, 1) == NULL);
	/* Allowed and offline: host unreachable, as for anyone offline. */
	len = tn_build_udp4(pkt, a.v4, d.v4, (const uint8_t *)"are you up?", 11);
	CHECK_EQ(tn_send(&a.tn, pkt, len), 0);
	n = tn_recv_ip(&a.tn, got, sizeof(got), 1000);
	CHECK(n > 0 && check_icmp4(got, n, pkt, len, 1) == NULL);
	tn_close(&a.tn);
	tn_close(&b.tn);
	tn_close(&c.tn);
	tn_close(&d.tn);
}

/* The relay keeps each distinct tag once; well past its first table of 64 they still match. */
static void test_policy_many_tags(void)
{
	struct enrolled a, b, filler;
	char tags[512], name[32], out[256];
	uint8_t pkt[256], got[2048];
	size_t len, used;
	int i, t, n;

	CHECK_EQ(fresh_relay(NULL), 0);
	for (i = 0; i < 10; i++) {
		for (t = 0, used = 0; t < KH_MAX_TAGS; t++)
			used += (size_t)snprintf(tags + used, sizeof(tags) - used, "tag t%d-%d ", i, t);
		snprintf(name, sizeof(name), "filler-%d", i);
		CHECK_EQ(tn_init(&filler.tn, relay.pub, relay.port), 0);
		CHECK_EQ(enroll(&filler.tn, name, tags, filler.v4, filler.v6), 0);
		tn_close(&filler.tn);
	}
	CHECK_EQ(enroll_and_connect(&a, "laptop", "tag admin tag t0-0"), 0);
	CHECK_EQ(enroll_and_connect(&b, "pi", "tag t9-7 tag late"), 0);
	CHECK_EQ(relay_admin(out, sizeof(out), "policy deny '*' '*'"), 0);
	CHECK_EQ(relay_admin(out, sizeof(out), "policy allow admin late"), 0);
	len = tn_build_udp4(pkt, a.v4, b.v4, (const uint8_t *)"ok", 2);
	CHECK_EQ(tn_send(&a.tn, pkt, len), 0);
	CHECK_EQ(tn_recv_ip(&b.tn, got, sizeof(got), 1000), (int)len);
	CHECK_EQ(relay_admin(out, sizeof(out), "policy deny admin late"), 0);
	CHECK_EQ(tn_send(&a.tn, pkt, len), 0);
	n = tn_recv_ip(&a.tn, got, sizeof(got), 1000);
	CHECK(n > 0 && check_icmp4(got, n, pkt, len, 13) == NULL);
	tn_close(&a.tn);
	tn_close(&b.tn);
}

struct peer_seen {
	int count;
	bool device_online, device_tagged;
};

static int count_peer(const struct kh_ctrl_peer *p, void *ctx)
{
	struct peer_seen *seen = ctx;

	seen->count++;
	if (!strcmp(p->name, "device")) {
		seen->device_online = p->online;
		seen->device_tagged = p->ntags == 1 && !strcmp(p->tags[0], "pi");
	}
	return 0;
}

static void test_peer_list_and_presence(void)
{
	struct enrolled a, b;
	struct peer_seen seen = { 0 };
	uint8_t msg[KH_CTRL_MAX];
	uint32_t id;
	bool last;
	int n;

	CHECK_EQ(fresh_relay(NULL), 0);
	CHECK_EQ(enroll_and_connect(&a, "client", NULL), 0);
	CHECK_EQ(enroll_and_connect(&b, "device", "tag pi"), 0);
	n = kh_ctrl_build_peers_request(msg, sizeof(msg), 77, true);
	CHECK(n > 0);
	CHECK_EQ(tn_send(&a.tn, msg, (size_t)n), 0);
	n = tn_recv_control(&a.tn, KH_CTRL_PEERS_REPLY, msg, sizeof(msg), 1000);
	CHECK(n > 0);
	CHECK_EQ(kh_ctrl_parse_peers(msg, (size_t)n, &id, &last, count_peer, &seen), 0);
	CHECK_EQ(id, 77);
	CHECK(last);
	CHECK_EQ(seen.count, 1);
	CHECK(seen.device_online && seen.device_tagged);
	/* The device says goodbye: the follower hears about it. */
	n = kh_ctrl_build_goodbye(msg, sizeof(msg), KH_GOODBYE_SHUTDOWN);
	CHECK_EQ(tn_send(&b.tn, msg, (size_t)n), 0);
	n = tn_recv_control(&a.tn, KH_CTRL_PRESENCE, msg, sizeof(msg), 1000);
	CHECK(n > 0);
	memset(&seen, 0, sizeof(seen));
	seen.device_online = true;
	CHECK_EQ(kh_ctrl_parse_peers(msg, (size_t)n, &id, &last, count_peer, &seen), 0);
	CHECK_EQ(seen.count, 1);
	CHECK(!seen.device_online);
	CHECK_EQ(counter("online"), 1);
	tn_close(&a.tn);
	tn_close(&b.tn);
}

static void test_roaming(void)
{
	struct enrolled a, b;
	struct test_node other;
	uint8_t pkt[256], got[2048], copy[512];
	size_t len;
	int n;

	CHECK_EQ(fresh_relay(NULL), 0);
	CHECK_EQ(enroll_and_connect(&a, "client", NULL), 0);
	CHECK_EQ(enroll_and_connect(&b, "device", NULL), 0);
	/* The device's NAT hands it a new port: its next packet moves the endpoint. */
	CHECK_EQ(tn_rebind(&b.tn), 0);
	CHECK_EQ(tn_send(&b.tn, NULL, 0), 0);
	usleep(100000);
	len = tn_build_udp4(pkt, a.v4, b.v4, (const uint8_t *)"found you", 9);
	CHECK_EQ(tn_send(&a.tn, pkt, len), 0);
	CHECK_EQ(tn_recv_ip(&b.tn, got, sizeof(got), 1000), (int)len);
	/* An unauthenticated copy from elsewhere must not steal the endpoint. */
	CHECK_EQ(tn_init(&other, relay.pub, relay.port), 0);
	n = kh_transport_seal(&b.tn.kp, NULL, 0, copy, tn_now_ns());
	copy[n - 1] ^= 1;
	send(other.fd, copy, (size_t)n, 0);
	usleep(100000);
	CHECK_EQ(tn_send(&a.tn, pkt, len), 0);
	CHECK_EQ(tn_recv_ip(&b.tn, got, sizeof(got), 1000), (int)len);
	CHECK_EQ(tn_recv_raw(&other, got, sizeof(got), 100), 0);
	tn_close(&a.tn);
	tn_close(&b.tn);
	tn_close(&other);
}

/* A new handshake (rekey) on a live session: the new keys, and for a while the old ones too. */
static int rekey(struct test_node *tn)
{
	uint8_t dgram[512];
	int n;

	if (tn_send_initiation(tn, NULL, NULL))
		return -1;
	/* Keepalives under the current keys may still be on their way: skip them. */
	do
		n = tn_recv_raw(tn, dgram, sizeof(dgram), 1000);
	while (n > 0 && kh_msg_type(dgram, (size_t)n) == KH_MSG_TRANSPORT);
	if (n <= 0 || kh_handshake_consume_response(&tn->hs, dgram, (size_t)n, &tn->kp,
						    tn_now_ns()))
		return -1;
	/* The node's first message under the new keys confirms them. */
	return tn_send(tn, NULL, 0);
}

static int send_with(struct test_node *tn, struct kh_keypair *kp, const uint8_t *pkt,
		     size_t len)
{
	uint8_t buf[512];
	int n = kh_transport_seal(kp, pkt, len, buf, tn_now_ns());

	return n > 0 && send(tn->fd, buf, (size_t)n, 0) == n ? 0 : -1;
}

static void test_rekey_keeps_previous_keys(void)
{
	struct enrolled a, b;
	struct kh_keypair first, second;
	uint8_t pkt[256], got[2048];
	size_t len;

	CHECK_EQ(fresh_relay(NULL), 0);
	CHECK_EQ(enroll_and_connect(&a, "client", NULL), 0);
	CHECK_EQ(enroll_and_connect(&b, "device", NULL), 0);
	len = tn_build_udp4(pkt, a.v4, b.v4, (const uint8_t *)"late but welcome", 16);
	first = a.tn.kp;
	CHECK_EQ(rekey(&a.tn), 0);
	usleep(100000);
	/* New keys both ways, and a late packet under the previous ones still goes through. */
	CHECK_EQ(tn_send(&a.tn, pkt, len), 0);
	CHECK_EQ(tn_recv_ip(&b.tn, got, sizeof(got), 1000), (int)len);
	CHECK_EQ(send_with(&a.tn, &first, pkt, len), 0);
	CHECK_EQ(tn_recv_ip(&b.tn, got, sizeof(got), 1000), (int)len);
	CHECK_MEM(got, pkt, len);
	/* Another rekey: the keys before the previous ones are gone for good. */
	second = a.tn.kp;
	CHECK_EQ(rekey(&a.tn), 0);
	usleep(100000);
	CHECK_EQ(send_with(&a.tn, &second, pkt, len), 0);
	CHECK_EQ(tn_recv_ip(&b.tn, got, sizeof(got), 1000), (int)len);
	CHECK_EQ(send_with(&a.tn, &first, pkt, len), 0);
	CHECK_EQ(tn_recv_ip(&b.tn, got, sizeof(got), 300), 0);
	CHECK_EQ(counter("drop_unknown_index"), 1);
	CHECK_EQ(counter("forwarded_packets"), 3);
	CHECK_EQ(counter("online"), 2);
	kh_keypair_wipe(&first);
	kh_keypair_wipe(&second);
	tn_close(&a.tn);
	tn_close(&b.tn);
}

static void test_dead_peer_timeout(void)
{
	struct enrolled a, b;
	uint8_t pkt[256], got[2048];
	size_t len;
	uint64_t t0;
	int n;

	CHECK_EQ(fresh_relay("--keepalive 1 --dead-peer-timeout 2"), 0);
	CHECK_EQ(enroll_and_connect(&a, "client", NULL), 0);
	CHECK_EQ(enroll_and_connect(&b, "device", NULL), 0);
	/* The device goes silent (power cut); the client keeps its keepalives going. */
	t0 = tn_now_ns();
	while (counter("online") == 2 && tn_now_ns() - t0 < 5000000000ULL) {
		tn_send(&a.tn, NULL, 0);
		usleep(250000);
	}
	CHECK_EQ(counter("online"), 1);
	CHECK(tn_now_ns() - t0 < 3000000000ULL);
	len = tn_build_udp4(pkt, a.v4, b.v4, (const uint8_t *)"hello?", 6);
	CHECK_EQ(tn_send(&a.tn, pkt, len), 0);
	n = tn_recv_ip(&a.tn, got, sizeof(got), 1000);
	CHECK(n > 0 && check_icmp4(got, n, pkt, len, 1) == NULL);
	tn_close(&a.tn);
	tn_close(&b.tn);
}

/* Under load, even a source that echoes its cookie gets only its share of handshakes. */
static void test_source_rate_under_load(void)
{
	struct enrolled a;
	uint8_t buf[512];
	int i, n, responses = 0;

	CHECK_EQ(fresh_relay("--handshake-load 1"), 0);
	CHECK_EQ(tn_init(&a.tn, relay.pub, relay.port), 0);
	CHECK_EQ(enroll(&a.tn, "busy", NULL, a.v4, a.v6), 0);
	for (i = 0; i < 60; i++) {
		CHECK_EQ(tn_send_initiation(&a.tn, NULL, NULL), 0);
		/* Take the cookie in, so the next initiation carries a valid mac2. */
		while ((n = tn_recv_raw(&a.tn, buf, sizeof(buf), 5)) > 0) {
			if (kh_msg_type(buf, (size_t)n) == KH_MSG_COOKIE_REPLY)
				kh_cookie_consume_reply(&a.tn.cm, buf, (size_t)n, tn_now_ns());
			else if (kh_msg_type(buf, (size_t)n) == KH_MSG_RESPONSE)
				responses++;
		}
	}
	CHECK(counter("cookie_replies") >= 1);
	CHECK(counter("drop_source_rate") > 0);
	/* The load bucket (1), the source's burst (5) and its refill over the loop. */
	CHECK(responses >= 2 && responses <= 16);
	tn_close(&a.tn);
}

static void test_admin_errors(void)
{
	char out[512];

	CHECK_EQ(fresh_relay(NULL), 0);
	CHECK(relay_admin(out, sizeof(out), "node add x notakey") != 0);
	CHECK(strstr(out, "public key") != NULL);
	CHECK(relay_admin(out, sizeof(out), "node del nobody") != 0);
	CHECK(strstr(out, "nobody") != NULL);
	CHECK(relay_admin(out, sizeof(out), "token add expires soon") != 0);
	CHECK(strstr(out, "duration") != NULL);
	CHECK(relay_admin(out, sizeof(out), "token add uses 0") != 0);
	CHECK(tn_shell(out, sizeof(out), "%s -d %s --port 99999 status 2>&1", relay.bin, relay.dir) != 0);
	CHECK(strstr(out, "1-65535") != NULL);
	CHECK(tn_shell(out, sizeof(out), "%s -d %s --ipv4-prefix 10.0.0.1/8 status 2>&1", relay.bin,
		 relay.dir) != 0);
	CHECK(strstr(out, "prefix") != NULL);
	/* A second relay on the same state directory is refused. */
	CHECK(tn_shell(out, sizeof(out), "%s -d %s -l 127.0.0.1 -p %u run 2>&1", relay.bin, relay.dir,
		 (unsigned)relay.port + 1) != 0);
	CHECK(strstr(out, "another relay") != NULL);
}

static void test_stored_prefix(void)
{
	struct enrolled a;
	char out[512];

	CHECK_EQ(fresh_relay("--ipv4-prefix 10.99.0.0/16"), 0);
	/* Admin commands without the option use the network as stored. */
	CHECK_EQ(enroll_and_connect(&a, "pi", NULL), 0);
	CHECK(a.v4[0] == 10 && a.v4[1] == 99 && a.v4[2] == 0 && a.v4[3] == 2);
	CHECK_EQ(a.tn.cfg.ipv4_plen, 16);
	CHECK_MEM(a.tn.cfg.ipv4, a.v4, 4);
	/* A relay told another prefix explicitly refuses to start, naming both. */
	CHECK(tn_shell(out, sizeof(out), "%s -d %s -l 127.0.0.1 -p %u --ipv4-prefix 10.98.0.0/16 run 2>&1",
		 relay.bin, relay.dir, (unsigned)relay.port + 1) != 0);
	CHECK(strstr(out, "10.99.0.0/16") != NULL && strstr(out, "10.98.0.0/16") != NULL);
	/* Restarted without the option, the relay keeps the stored network. */
	relay_stop(SIGTERM);
	relay.extra[0] = '\0';
	CHECK_EQ(relay_start(), 0);
	CHECK_EQ(tn_connect(&a.tn, NULL, NULL, 2000), 0);
	CHECK_MEM(a.tn.cfg.ipv4, a.v4, 4);
	CHECK_EQ(a.tn.cfg.ipv4_plen, 16);
	tn_close(&a.tn);
}

static void test_port_taken(void)
{
	struct enrolled a;
	char out[1024];

	CHECK_EQ(fresh_relay(NULL), 0);
	/* Another state directory, the same port: refused, not sharing the traffic
	 * (the timeout only ends a relay that wrongly started). */
	CHECK(tn_shell(out, sizeof(out), "timeout 2 %s -d %s/other -l 127.0.0.1 -p %u run 2>&1",
		 relay.bin, relay.dir, relay.port) != 0);
	if (!strstr(out, "Address already in use"))
		printf("    second relay said: %s\n", out);
	CHECK(strstr(out, "cannot listen on 127.0.0.1 port") != NULL);
	CHECK(strstr(out, "Address already in use") != NULL);
	/* The first relay still has the port to itself. */
	CHECK_EQ(enroll_and_connect(&a, "pi", NULL), 0);
	tn_close(&a.tn);
}

/* A status request to the admin socket in two writes with a pause between;
 * the reply in out. half_close: shut down the write side after the request. */
static int ctl_request_in_pieces(char *out, size_t max, bool half_close)
{
	static const char part1[] = "{\"cmd\": ", part2[] = "\"status\"}";
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 2 };
	size_t len = 0;
	ssize_t n;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/relay.sock", relay.dir);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) ||
	    write(fd, part1, sizeof(part1) - 1) != (ssize_t)sizeof(part1) - 1)
		goto fail;
	usleep(100000);
	if (write(fd, part2, sizeof(part2) - 1) != (ssize_t)sizeof(part2) - 1)
		goto fail;
	if (half_close)
		shutdown(fd, SHUT_WR);
	while (len + 1 < max && (n = read(fd, out + len, max - 1 - len)) > 0)
		len += (size_t)n;
	out[len] = '\0';
	close(fd);
	return 0;
fail:
	close(fd);
	return -1;
}

static void test_admin_request_in_pieces(void)
{
	char out[8192];
	uint64_t t0;

	CHECK_EQ(fresh_relay(NULL), 0);
	CHECK_EQ(ctl_request_in_pieces(out, sizeof(out), true), 0);
	CHECK(strstr(out, "\"status\"") != NULL);
	/* A client that never half-closes is answered once the read times out. */
	t0 = tn_now_ns();
	CHECK_EQ(ctl_request_in_pieces(out, sizeof(out), false), 0);
	CHECK(strstr(out, "\"status\"") != NULL);
	CHECK(tn_now_ns() - t0 < 1500000000ULL);
}

static const struct test_case relay_tests[] = {
	{ "handshake, then addresses, prefixes, MTU and timers", test_handshake_and_config },
	{ "forwarding between two sessions, IPv4 and IPv6", test_forward_v4_v6 },
	{ "offline or unknown destination: exact ICMP at once", test_offline_gets_unreachable },
	{ "spoofed inner source is dropped", test_spoofed_source_dropped },
	{ "unknown key and bogus token get silence", test_unknown_key_silence },
	{ "replayed initiation gets no response", test_replayed_initiation },
	{ "node del ends the session within 1 s, addresses never reused", test_delete_ends_session },
	{ "kill -9 and restart keeps every address", test_restart_keeps_addresses },
	{ "a burst of garbage leaves sessions working", test_garbage_burst },
	{ "enrollment by token, uses counted", test_token_enrollment },
	{ "policy: denied pair gets administratively prohibited, online or not", test_policy_prohibited },
	{ "policy: tags still match with many distinct tags", test_policy_many_tags },
	{ "peer list and presence push", test_peer_list_and_presence },
	{ "roaming on authenticated packets only", test_roaming },
	{ "rekey: new keys at once, the previous ones for a while", test_rekey_keeps_previous_keys },
	{ "dead-peer timeout takes a silent node offline", test_dead_peer_timeout },
	{ "under load a source gets only its share of handshakes", test_source_rate_under_load },
	{ "admin input errors are clear", test_admin_errors },
	{ "admin commands use the stored IPv4 prefix", test_stored_prefix },
	{ "a second relay on a taken port is refused", test_port_taken },
	{ "admin request read in pieces until the client half-closes", test_admin_request_in_pieces },
	{ NULL, NULL },
};

int main(int argc, char *argv[])
{
	const char *build = argc > 1 ? argv[1] : "build/default";
	unsigned passed = 0, failed = 0;
	size_t t;

	if (sodium_init() < 0)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	snprintf(relay.bin, sizeof(relay.bin), "%s/keyhole-relay", build);
	for (t = 0; relay_tests[t].name; t++) {
		if (argc > 2 && !strstr(relay_tests[t].name, argv[2]))
			continue;
		test_failed = false;
		relay_tests[t].run();
		relay_stop(SIGTERM);
		if (!relay_log_clean()) {
			printf("    the relay's log holds a sanitizer report\n");
			test_failed = true;
		}
		if (test_failed && relay.dir[0]) {
			char cmd[256];

			snprintf(cmd, sizeof(cmd), "sed 's/^/    relay: /' %s/relay.log | tail -n 15",
				 relay.dir);
			fflush(stdout);
			if (system(cmd) != 0)
				printf("    (no relay log)\n");
		}
		printf("%s relay: %s\n", test_failed ? "FAIL" : "PASS", relay_tests[t].name);
		fflush(stdout);
		failed += test_failed;
		passed += !test_failed;
	}
	relay_stop(SIGTERM);
	if (relay.dir[0])
		tn_shell(NULL, 0, "rm -rf %s", relay.dir);
	printf("%u passed, %u failed\n", passed, failed);
	return failed ? 1 : 0;
}
