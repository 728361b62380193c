/* main.c - keyholed: one daemon per keyhole interface; sets it up, daemonizes, runs the event loop. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <linux/rtnetlink.h>
#include <sodium.h>

#include "../common/log.h"
#include "daemon.h"

/* Timers (keepalive, handshake retries, dead relay) are checked this often. */
#define TICK_MS 100

enum { TAG_DATAPLANE, TAG_UDP, TAG_TIMER, TAG_SIGNAL, TAG_RTNL, TAG_CONTROL, TAG_RESOLVE };

uint64_t daemon_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: keyholed [--foreground] [--log-file FILE] [--log-level LEVEL]\n"
		"                [--dataplane auto|kernel|tun] IFNAME\n"
		"Creates interface IFNAME and serves it; normally started by `keyhole link add`.\n"
		"  --foreground, -f     stay in the foreground, log to stderr\n"
		"  --log-file FILE      when daemonized, log there instead of to syslog\n"
		"  --log-level LEVEL    error, warn, info (default) or debug\n"
		"  --dataplane MODE     auto (default): the keyhole kernel module when loaded, else TUN;\n"
		"                       kernel: the module or fail; tun: a TUN device in any case\n"
		"Control socket: $KEYHOLE_RUN_DIR/IFNAME.sock (default %s).\n",
		KH_RUN_DIR_DEFAULT);
}

static int parse_dataplane(const char *s, enum daemon_dp_mode *mode)
{
	if (!strcmp(s, "auto"))
		*mode = DAEMON_DP_AUTO;
	else if (!strcmp(s, "kernel"))
		*mode = DAEMON_DP_KERNEL;
	else if (!strcmp(s, "tun"))
		*mode = DAEMON_DP_TUN;
	else
		return -EINVAL;
	return 0;
}

static int watch(struct daemon *d, int fd, uint64_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = tag };

	return epoll_ctl(d->epoll_fd, EPOLL_CTL_ADD, fd, &ev);
}

static int setup(struct daemon *d, enum daemon_dp_mode mode, char *err, size_t err_len)
{
	struct itimerspec tick = { { 0, TICK_MS * 1000000L }, { 0, TICK_MS * 1000000L } };
	struct kh_link_info info;
	sigset_t mask;
	int ret;

	d->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (d->epoll_fd < 0)
		goto sys;
	if (kh_rtnl_open(&d->rtnl, 0) || kh_rtnl_open(&d->rtnl_events, RTMGRP_LINK)) {
		snprintf(err, err_len, "cannot open rtnetlink: %s", strerror(errno));
		return -errno;
	}
	/* Before the interface: a keyholed serving IFNAME already keeps its link untouched. */
	ret = daemon_control_listen(d, err, err_len);
	if (ret)
		return ret;
	ret = daemon_dataplane_open(d, mode, err, err_len);
	if (ret)
		return ret;
	d->interface_open = true;
	ret = kh_rtnl_link_get(&d->rtnl, d->ifname, &info, err, err_len);
	if (ret) {
		if (!err[0])
			snprintf(err, err_len, "cannot find %s: %s", d->ifname, strerror(-ret));
		return ret;
	}
	d->ifindex = info.ifindex;
	d->link_up = info.up;
	ret = kh_rtnl_link_set_mtu(&d->rtnl, d->ifindex, KH_DEFAULT_MTU, err, err_len);
	if (ret)
		return ret;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	d->signal_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	d->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (d->signal_fd < 0 || d->timer_fd < 0 || timerfd_settime(d->timer_fd, 0, &tick, NULL) ||
	    watch(d, daemon_dataplane_fd(d), TAG_DATAPLANE) || watch(d, d->timer_fd, TAG_TIMER) ||
	    watch(d, d->signal_fd, TAG_SIGNAL) ||
	    watch(d, kh_rtnl_fd(&d->rtnl_events), TAG_RTNL))
		goto sys;
	return 0;
sys:
	snprintf(err, err_len, "cannot set up the event loop: %s", strerror(errno));
	return -errno;
}

static void on_link(const struct kh_link_info *info, bool deleted, void *ctx)
{
	struct daemon *d = ctx;

	if (deleted) {
		kh_info("%s was deleted", d->ifname);
		d->stopping = true;
		return;
	}
	if (info->up != d->link_up) {
		kh_info("%s is %s", d->ifname, info->up ? "up" : "down");
		d->link_up = info->up;
		/* IPv6 addresses go with the link: put them back on the way up. */
		if (info->up)
			d->addresses_installed = false;
		daemon_session_reconsider(d);
	}
}

static void on_rtnl(struct daemon *d)
{
	char buf[16384];
	ssize_t n;

	while ((n = recv(kh_rtnl_fd(&d->rtnl_events), buf, sizeof(buf), MSG_DONTWAIT)) > 0)
		kh_rtnl_parse_link_events(buf, (size_t)n, d->ifindex, on_link, d);
}

static void on_timer(struct daemon *d)
{
	uint64_t expirations, now = daemon_now_ns();

	if (read(d->timer_fd, &expirations, sizeof(expirations)) != sizeof(expirations))
		return;
	daemon_session_tick(d, now);
	daemon_control_tick(d, now);
	/* Addresses come back after a down/up once the relay's config is known. */
	if (d->state == KEYHOLE_SESSION_UP && !d->addresses_installed && d->has_assigned)
		daemon_session_reconsider(d);
}

static void on_signal(struct daemon *d)
{
	struct signalfd_siginfo si;

	while (read(d->signal_fd, &si, sizeof(si)) == sizeof(si))
		if (si.ssi_signo != SIGHUP)
			d->stopping = true;
}

static int run(struct daemon *d)
{
	struct epoll_event events[32];
	int n, i;

	daemon_session_reconsider(d);
	while (!d->stopping) {
		n = epoll_wait(d->epoll_fd, events, 32, -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		for (i = 0; i < n && !d->stopping; i++) {
			uint64_t tag = events[i].data.u64;

			if (tag == TAG_DATAPLANE)
				daemon_dataplane_receive(d);
			else if (tag == TAG_UDP)
				daemon_udp_receive(d);
			else if (tag == TAG_TIMER)
				on_timer(d);
			else if (tag == TAG_SIGNAL)
				on_signal(d);
			else if (tag == TAG_RTNL)
				on_rtnl(d);
			else if (tag == TAG_CONTROL)
				daemon_control_accept(d);
			else if (tag == TAG_RESOLVE)
				daemon_session_resolved(d);
			else if (tag >= 100 && tag < 100 + KH_MAX_CLIENTS &&
				 d->clients[tag - 100].fd >= 0)
				daemon_control_client(d, &d->clients[tag - 100]);
		}
	}
	return 0;
}

/* Fork; the parent exits once the child says the interface and socket are ready. */
static int daemonize(int *ready_fd)
{
	int fds[2];
	pid_t pid;
	char status = 1;

	if (pipe2(fds, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0) {
		close(fds[1]);
		if (read(fds[0], &status, 1) != 1)
			status = 1;
		_exit(status);
	}
	close(fds[0]);
	setsid();
	*ready_fd = fds[1];
	return 0;
}

static void report_ready(int ready_fd, char status)
{
	if (ready_fd < 0)
		return;
	if (write(ready_fd, &status, 1) != 1)
		kh_warn("cannot report readiness");
	close(ready_fd);
}

static void redirect_stdio(const char *log_file)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC), fd;

	if (null < 0)
		return;
	dup2(null, STDIN_FILENO);
	dup2(null, STDOUT_FILENO);
	fd = log_file ? open(log_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600) : -1;
	dup2(fd >= 0 ? fd : null, STDERR_FILENO);
	if (fd >= 0)
		close(fd);
	close(null);
}

int main(int argc, char *argv[])
{
	static struct daemon daemon;
	struct daemon *d = &daemon;
	const char *log_file = NULL, *run_dir = getenv("KEYHOLE_RUN_DIR");
	enum daemon_dp_mode mode = DAEMON_DP_AUTO;
	bool foreground = false;
	char err[512] = "";
	int i, level = KH_LOG_INFO, ready_fd = -1, ret;

	if (sodium_init() < 0)
		return 1;
	/* The environment sets the default, for links `keyhole link add` starts. */
	if (getenv("KEYHOLE_DATAPLANE") && parse_dataplane(getenv("KEYHOLE_DATAPLANE"), &mode)) {
		fprintf(stderr, "keyholed: KEYHOLE_DATAPLANE='%s': expected auto, kernel or tun\n",
			getenv("KEYHOLE_DATAPLANE"));
		return 1;
	}
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--foreground") || !strcmp(argv[i], "-f")) {
			foreground = true;
		} else if (!strcmp(argv[i], "--log-file") && i + 1 < argc) {
			log_file = argv[++i];
		} else if (!strcmp(argv[i], "--log-level") && i + 1 < argc &&
			   (level = kh_log_level_parse(argv[i + 1])) >= 0) {
			i++;
		} else if (!strcmp(argv[i], "--dataplane") && i + 1 < argc) {
			if (parse_dataplane(argv[++i], &mode)) {
				fprintf(stderr, "keyholed: --dataplane '%s': expected auto, kernel or tun\n",
					argv[i]);
				return 1;
			}
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "keyholed: unknown or incomplete option '%s'\n", argv[i]);
			usage(stderr);
			return 1;
		}
	}
	if (i != argc - 1 || !argv[i][0] || strlen(argv[i]) >= IFNAMSIZ ||
	    strchr(argv[i], '/') || strchr(argv[i], ' ')) {
		fprintf(stderr, "keyholed: expected one interface name of 1-%d characters\n",
			IFNAMSIZ - 1);
		return 1;
	}
	memset(d, 0, sizeof(*d));
	snprintf(d->ifname, sizeof(d->ifname), "%s", argv[i]);
	snprintf(d->run_dir, sizeof(d->run_dir), "%s",
		 run_dir && *run_dir ? run_dir : KH_RUN_DIR_DEFAULT);
	d->tun_fd = d->udp_fd = d->ctl_fd = d->epoll_fd = d->timer_fd = d->signal_fd = -1;
	d->resolve_fd = -1;
	/* The private key lives in this process: no core dumps, no ptrace by others. */
	prctl(PR_SET_DUMPABLE, 0);
	sodium_mlock(&d->cfg, sizeof(d->cfg));
	kh_log_setup("keyholed", (enum kh_log_level)level, false);
	if (!foreground && daemonize(&ready_fd)) {
		fprintf(stderr, "keyholed: cannot daemonize: %s\n", strerror(errno));
		return 1;
	}
	ret = setup(d, mode, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "keyholed: %s: %s\n", d->ifname, err);
		if (d->interface_open)
			daemon_dataplane_abandon(d);
		daemon_control_close(d);
		report_ready(ready_fd, 1);
		return 1;
	}
	if (!foreground) {
		redirect_stdio(log_file);
		/* Daemonized without a log file: stderr is gone, so syslog it is. */
		if (!log_file)
			kh_log_setup("keyholed", (enum kh_log_level)level, true);
	}
	kh_info("%s ready (%s data plane%s%s), control socket %s", d->ifname,
		daemon_dataplane_name(d), d->dataplane_note[0] ? ": " : "", d->dataplane_note,
		d->sock_path);
	report_ready(ready_fd, 0);
	ret = run(d);
	daemon_session_disconnect(d, true);
	daemon_control_close(d);
	daemon_dataplane_close(d);
	kh_info("%s stopped", d->ifname);
	sodium_munlock(&d->cfg, sizeof(d->cfg));
	free(d->peers);
	return ret ? 1 : 0;
}
