/* resolve.c - the relay's endpoint: literal addresses at once, host names on a helper thread. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "../common/log.h"
#include "daemon.h"

struct resolve_job {
	char host[KH_ENDPOINT_MAX];
	uint16_t port;
	int fd; /* write end of the pipe */
};

struct resolve_result {
	int error;
	struct sockaddr_storage addr;
	socklen_t len;
};

int daemon_parse_endpoint(const char *endpoint, char *host, size_t host_len, uint16_t *port,
			  const char **why)
{
	const char *colon, *h = endpoint;
	size_t hl;
	char *end;
	unsigned long p;

	if (endpoint[0] == '[') {
		const char *close = strchr(endpoint, ']');

		if (!close || close[1] != ':') {
			*why = "expected [IPV6]:PORT";
			return -EINVAL;
		}
		h = endpoint + 1;
		hl = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(endpoint, ':');
		if (!colon || strchr(endpoint, ':') != colon) {
			*why = "expected HOST:PORT (IPv6 addresses in brackets)";
			return -EINVAL;
		}
		hl = (size_t)(colon - endpoint);
	}
	if (hl == 0 || hl >= host_len) {
		*why = "host is empty or too long";
		return -EINVAL;
	}
	errno = 0;
	p = strtoul(colon + 1, &end, 10);
	if (!colon[1] || *end || errno || p < 1 || p > 65535) {
		*why = "port must be 1-65535";
		return -EINVAL;
	}
	memcpy(host, h, hl);
	host[hl] = '\0';
	*port = (uint16_t)p;
	return 0;
}

static void *resolve_thread(void *arg)
{
	struct resolve_job *job = arg;
	struct resolve_result res = { 0 };
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM, .ai_flags = AI_ADDRCONFIG };
	struct addrinfo *ai = NULL;
	char port[8];

	snprintf(port, sizeof(port), "%u", job->port);
	res.error = getaddrinfo(job->host, port, &hints, &ai);
	if (!res.error && ai) {
		memcpy(&res.addr, ai->ai_addr, ai->ai_addrlen);
		res.len = ai->ai_addrlen;
	} else if (!res.error) {
		res.error = EAI_NONAME;
	}
	if (ai)
		freeaddrinfo(ai);
	if (write(job->fd, &res, sizeof(res)) != sizeof(res))
		kh_warn("resolver: cannot hand back the result");
	close(job->fd);
	free(job);
	return NULL;
}

/* Returns 1 when resolved at once, 0 when a thread is working on it, <0 on error. */
int daemon_resolve_start(struct daemon *d)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 6 };
	struct sockaddr_in *sin = (struct sockaddr_in *)&d->relay_addr;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&d->relay_addr;
	struct resolve_job *job;
	char host[KH_ENDPOINT_MAX];
	const char *why;
	pthread_t tid;
	uint16_t port;
	int fds[2];

	if (d->resolve_fd >= 0)
		return 0;
	if (daemon_parse_endpoint(d->cfg.relay_endpoint, host, sizeof(host), &port, &why)) {
		kh_err("relay '%s': %s", d->cfg.relay_endpoint, why);
		return -EINVAL;
	}
	memset(&d->relay_addr, 0, sizeof(d->relay_addr));
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		d->relay_addr_len = sizeof(*sin);
		return 1;
	}
	if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		d->relay_addr_len = sizeof(*sin6);
		return 1;
	}
	job = calloc(1, sizeof(*job));
	if (!job || pipe2(fds, O_CLOEXEC)) {
		free(job);
		return -errno;
	}
	snprintf(job->host, sizeof(job->host), "%s", host);
	job->port = port;
	job->fd = fds[1];
	d->resolve_fd = fds[0];
	epoll_ctl(d->epoll_fd, EPOLL_CTL_ADD, d->resolve_fd, &ev);
	if (pthread_create(&tid, NULL, resolve_thread, job)) {
		close(fds[0]);
		close(fds[1]);
		free(job);
		d->resolve_fd = -1;
		return -EAGAIN;
	}
	pthread_detach(tid);
	return 0;
}

/* The helper thread answered: 0 with relay_addr set, or <0. */
int daemon_resolve_finish(struct daemon *d)
{
	struct resolve_result res;
	ssize_t n = read(d->resolve_fd, &res, sizeof(res));

	epoll_ctl(d->epoll_fd, EPOLL_CTL_DEL, d->resolve_fd, NULL);
	close(d->resolve_fd);
	d->resolve_fd = -1;
	if (n != sizeof(res))
		return -EIO;
	if (res.error) {
		kh_warn("relay '%s': cannot resolve: %s", d->cfg.relay_endpoint,
			gai_strerror(res.error));
		return -EHOSTUNREACH;
	}
	memcpy(&d->relay_addr, &res.addr, res.len);
	d->relay_addr_len = res.len;
	return 0;
}
