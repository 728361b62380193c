/* loop.c - the relay's event loop: UDP sockets, a tick timer, signals and the admin socket on one epoll. */
#include "loop.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "../common/log.h"
#include "ctlsock.h"
#include "relay.h"
#include "udp.h"

/* Dead peers are noticed within this much of their timeout. */
#define RELAY_TICK_MS 250

enum { TAG_TIMER = 100, TAG_SIGNAL, TAG_CONTROL };

uint64_t relay_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int watch(struct relay *r, int fd, uint64_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = tag };

	return epoll_ctl(r->epoll_fd, EPOLL_CTL_ADD, fd, &ev);
}

int relay_loop_setup(struct relay *r, char *err, size_t err_len)
{
	struct itimerspec tick = {
		.it_interval = { 0, RELAY_TICK_MS * 1000000L },
		.it_value = { 0, RELAY_TICK_MS * 1000000L },
	};
	sigset_t mask;
	int i;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	r->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	r->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	r->signal_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (r->epoll_fd < 0 || r->timer_fd < 0 || r->signal_fd < 0 ||
	    timerfd_settime(r->timer_fd, 0, &tick, NULL)) {
		snprintf(err, err_len, "cannot set up the event loop: %s", strerror(errno));
		return -errno;
	}
	for (i = 0; i < relay_udp_count(r); i++)
		if (watch(r, relay_udp_fd(r, i), (uint64_t)i))
			goto fail;
	if (watch(r, r->timer_fd, TAG_TIMER) || watch(r, r->signal_fd, TAG_SIGNAL) ||
	    watch(r, r->control_fd, TAG_CONTROL))
		goto fail;
	return 0;
fail:
	snprintf(err, err_len, "cannot watch descriptors: %s", strerror(errno));
	return -errno;
}

static void on_signal(struct relay *r)
{
	struct signalfd_siginfo si;
	char err[256];

	while (read(r->signal_fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			if (relay_nodes_load(r, err, sizeof(err)))
				kh_err("reload on SIGHUP failed: %s", err);
			else
				kh_info("registry reloaded on SIGHUP");
		} else {
			r->stopping = true;
		}
	}
}

static void on_timer(struct relay *r)
{
	uint64_t expirations;

	if (read(r->timer_fd, &expirations, sizeof(expirations)) != sizeof(expirations))
		return;
	relay_sessions_tick(r, relay_now_ns());
	relay_udp_flush(r);
}

int relay_loop_run(struct relay *r)
{
	struct epoll_event events[16];
	int n, i;

	while (!r->stopping) {
		n = epoll_wait(r->epoll_fd, events, 16, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			kh_err("epoll_wait: %s", strerror(errno));
			return -errno;
		}
		for (i = 0; i < n; i++) {
			uint64_t tag = events[i].data.u64;

			if (tag < KH_RELAY_MAX_LISTEN)
				relay_udp_receive(r, (int)tag);
			else if (tag == TAG_TIMER)
				on_timer(r);
			else if (tag == TAG_SIGNAL)
				on_signal(r);
			else if (tag == TAG_CONTROL)
				relay_ctl_accept(r);
		}
	}
	return 0;
}

void relay_loop_shutdown(struct relay *r)
{
	uint32_t i;

	/* Tell every node the relay is going away, so they reconnect at once. */
	for (i = r->nactive; i-- > 0;)
		relay_session_end(r, &r->sessions[r->active[i]], "relay stopping", true,
				  KH_GOODBYE_SHUTDOWN);
	relay_udp_flush(r);
	if (r->epoll_fd >= 0)
		close(r->epoll_fd);
	if (r->timer_fd >= 0)
		close(r->timer_fd);
	if (r->signal_fd >= 0)
		close(r->signal_fd);
}
