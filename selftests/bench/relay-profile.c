/* relay-profile.c - a bounded forwarding run through one keyhole-relay, for a profiler wrapped around the relay. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "../../userspace/lib/key.h"
#include "../../userspace/relay/registry.h"
#include "../relay/client.h"

/* A relay under valgrind runs some 50 times slower than on its own: every wait is generous. */
#define START_TIMEOUT_S 60
#define CONNECT_TIMEOUT_MS 30000
#define RECV_TIMEOUT_MS 5000
#define STOP_TIMEOUT_S 60
/* Packets sent before waiting for them: the relay then reads them in batches
 * (recvmmsg), as it does under load, and the count per packet includes that. */
#define BURST 32
#define DEFAULT_PACKETS 4000
#define DEFAULT_SIZE 1400

static char dir[64], log_path[96];
static const char *relay_bin;
static pid_t relay_pid = -1;

/* A counter from `keyhole-relay status --json`, -1 if the relay does not answer. */
static long long relay_counter(const char *name)
{
	static char out[65536];
	char key[64];
	const char *p;

	if (tn_shell(out, sizeof(out), "%s -d %s status --json 2>/dev/null", relay_bin, dir))
		return -1;
	snprintf(key, sizeof(key), "\"%s\":", name);
	p = strstr(out, key);
	return p ? strtoll(p + strlen(key), NULL, 10) : -1;
}

static int relay_start(char **wrapper, int nwrap, uint16_t port)
{
	char port_s[8];
	const char *argv[64];
	int argc = 0, i, fd, status;
	time_t deadline = time(NULL) + START_TIMEOUT_S;
	pid_t parent = getpid();

	if (nwrap > 50)
		return -E2BIG;
	snprintf(port_s, sizeof(port_s), "%u", port);
	for (i = 0; i < nwrap; i++)
		argv[argc++] = wrapper[i];
	argv[argc++] = relay_bin;
	argv[argc++] = "-d";
	argv[argc++] = dir;
	argv[argc++] = "-l";
	argv[argc++] = "127.0.0.1";
	argv[argc++] = "-p";
	argv[argc++] = port_s;
	argv[argc++] = "--log-level";
	argv[argc++] = "warn";
	argv[argc++] = "run";
	argv[argc] = NULL;
	relay_pid = fork();
	if (relay_pid < 0)
		return -errno;
	if (relay_pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(1);
		fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	while (time(NULL) < deadline) {
		if (waitpid(relay_pid, &status, WNOHANG) == relay_pid) {
			relay_pid = -1;
			return -ECHILD;
		}
		if (relay_counter("forwarded_packets") >= 0)
			return 0;
		usleep(100000);
	}
	return -ETIMEDOUT;
}

/* SIGTERM and wait: a profiler writes its figures as the relay exits. */
static int relay_stop(void)
{
	time_t deadline = time(NULL) + STOP_TIMEOUT_S;
	int status;

	if (relay_pid < 0)
		return -1;
	kill(relay_pid, SIGTERM);
	while (time(NULL) < deadline) {
		if (waitpid(relay_pid, &status, WNOHANG) == relay_pid) {
			relay_pid = -1;
			return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
		}
		usleep(100000);
	}
	kill(relay_pid, SIGKILL);
	waitpid(relay_pid, &status, 0);
	relay_pid = -1;
	return -1;
}

static int enroll(const struct test_node *a, const struct test_node *b)
{
	struct kh_registry *reg = NULL;
	char err[256];
	int ret;

	ret = kh_registry_open(&reg, dir, err, sizeof(err));
	if (!ret)
		ret = kh_registry_node_add(reg, "profile-a", a->key.pub, NULL, 0, time(NULL), NULL,
					   err, sizeof(err));
	if (!ret)
		ret = kh_registry_node_add(reg, "profile-b", b->key.pub, NULL, 0, time(NULL), NULL,
					   err, sizeof(err));
	if (reg)
		kh_registry_close(reg);
	if (ret)
		fprintf(stderr, "relay-profile: cannot enroll: %s\n", err);
	return ret;
}

/* Send packets from a to b in bursts; returns how many b received. */
static unsigned long forward(struct test_node *a, struct test_node *b, unsigned long packets,
			     size_t size)
{
	uint8_t payload[1500] = { 0 }, pkt[1500], got[2048];
	unsigned long sent = 0, delivered = 0, burst, i;
	size_t len = tn_build_udp4(pkt, a->cfg.ipv4, b->cfg.ipv4, payload, size - 28);

	while (sent < packets) {
		burst = packets - sent < BURST ? packets - sent : BURST;
		for (i = 0; i < burst; i++)
			if (tn_send(a, pkt, len) == 0)
				sent++;
		for (i = 0; i < burst; i++) {
			if (tn_recv_ip(b, got, sizeof(got), RECV_TIMEOUT_MS) != (int)len)
				return delivered;
			delivered++;
		}
	}
	return delivered;
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: relay-profile RELAY_BINARY [--packets N] [--size BYTES] [-- WRAPPER...]\n"
		   "Starts RELAY_BINARY on 127.0.0.1 behind WRAPPER (a profiler's command line),\n"
		   "brings up two nodes and forwards N IPv4 packets of BYTES (28-1500) from one\n"
		   "to the other in bursts of %d, then stops the relay and prints what it counted.\n",
		BURST);
}

int main(int argc, char *argv[])
{
	unsigned long packets = DEFAULT_PACKETS, delivered = 0;
	size_t size = DEFAULT_SIZE;
	struct test_node a = { .fd = -1 }, b = { .fd = -1 };
	uint8_t relay_pub[32];
	char out[128];
	const char *why;
	char **wrapper = NULL;
	int nwrap = 0, i, ret = 1;
	long long forwarded = -1, datagrams = -1;
	uint16_t port;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--packets") && i + 1 < argc) {
			packets = strtoul(argv[++i], NULL, 10);
		} else if (!strcmp(argv[i], "--size") && i + 1 < argc) {
			size = strtoul(argv[++i], NULL, 10);
		} else if (!strcmp(argv[i], "--")) {
			wrapper = argv + i + 1;
			nwrap = argc - i - 1;
			break;
		} else if (!strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else if (argv[i][0] != '-' && !relay_bin) {
			relay_bin = argv[i];
		} else {
			usage(stderr);
			return 1;
		}
	}
	if (!relay_bin || size < 28 || size > 1500 || packets == 0) {
		usage(stderr);
		return 1;
	}
	if (sodium_init() < 0)
		return 1;
	snprintf(dir, sizeof(dir), "/tmp/keyhole-relay-profile-XXXXXX");
	if (!mkdtemp(dir)) {
		fprintf(stderr, "relay-profile: cannot create a directory: %s\n", strerror(errno));
		return 1;
	}
	snprintf(log_path, sizeof(log_path), "%s/relay.log", dir);
	port = (uint16_t)(20000 + randombytes_uniform(40000));
	/* The first command creates the state: key, database and network. */
	if (tn_shell(out, sizeof(out), "%s -d %s pubkey 2>/dev/null", relay_bin, dir) ||
	    kh_key_from_base64(relay_pub, out, strlen(out), &why)) {
		fprintf(stderr, "relay-profile: '%s pubkey' failed\n", relay_bin);
		goto out;
	}
	if (tn_init(&a, relay_pub, port) || tn_init(&b, relay_pub, port) || enroll(&a, &b))
		goto out;
	if (relay_start(wrapper, nwrap, port)) {
		fprintf(stderr, "relay-profile: the relay did not start; its log:\n");
		tn_shell(NULL, 0, "tail -n 20 %s >&2", log_path);
		goto out;
	}
	if (tn_connect(&a, NULL, NULL, CONNECT_TIMEOUT_MS) ||
	    tn_connect(&b, NULL, NULL, CONNECT_TIMEOUT_MS)) {
		fprintf(stderr, "relay-profile: the nodes could not connect\n");
		goto out;
	}
	delivered = forward(&a, &b, packets, size);
	forwarded = relay_counter("forwarded_packets");
	datagrams = relay_counter("rx_datagrams");
	if (relay_stop()) {
		fprintf(stderr, "relay-profile: the relay did not exit cleanly; its log:\n");
		tn_shell(NULL, 0, "tail -n 20 %s >&2", log_path);
		goto out;
	}
	printf("size=%zu\nsent=%lu\ndelivered=%lu\nforwarded_packets=%lld\nrx_datagrams=%lld\n",
	       size, packets, delivered, forwarded, datagrams);
	ret = delivered == packets && forwarded == (long long)packets ? 0 : 1;
	if (ret)
		fprintf(stderr, "relay-profile: %lu of %lu packets delivered\n", delivered, packets);
out:
	relay_stop();
	if (a.fd >= 0)
		tn_close(&a);
	if (b.fd >= 0)
		tn_close(&b);
	tn_shell(NULL, 0, "rm -rf %s", dir);
	return ret;
}
