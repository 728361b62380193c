/* ctlsock.c - admin requests to the running relay: reload the registry, status, live node state. */
#include "ctlsock.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../common/log.h"
#include "../lib/key.h"
#include "relay.h"
#include "udp.h"

#define CTL_REQUEST_MAX 4096
/* A stuck admin client must not hold up forwarding for long. */
#define CTL_IO_TIMEOUT_MS 500

static int ctl_path(const char *state_dir, struct sockaddr_un *sun)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if ((size_t)snprintf(sun->sun_path, sizeof(sun->sun_path), "%s/%s", state_dir,
			     RELAY_CTL_SOCK) >= sizeof(sun->sun_path))
		return -ENAMETOOLONG;
	return 0;
}

int relay_ctl_listen(struct relay *r, char *err, size_t err_len)
{
	struct sockaddr_un sun;
	mode_t old;
	int fd;

	if (ctl_path(r->cfg.state_dir, &sun)) {
		snprintf(err, err_len, "state directory path too long for a socket");
		return -ENAMETOOLONG;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, err_len, "cannot create the admin socket: %s", strerror(errno));
		return -errno;
	}
	unlink(sun.sun_path);
	old = umask(077);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) || listen(fd, 16)) {
		int e = errno;

		umask(old);
		snprintf(err, err_len, "cannot listen on %s: %s", sun.sun_path, strerror(e));
		close(fd);
		return -e;
	}
	umask(old);
	r->control_fd = fd;
	return 0;
}

void relay_ctl_close(struct relay *r)
{
	struct sockaddr_un sun;

	if (r->control_fd < 0)
		return;
	close(r->control_fd);
	r->control_fd = -1;
	if (!ctl_path(r->cfg.state_dir, &sun))
		unlink(sun.sun_path);
}

static struct json_object *status_reply(struct relay *r)
{
	struct json_object *o = json_object_new_object(), *c = json_object_new_object();
	char pub[KH_KEY_B64_LEN + 1];
	int i;

	kh_key_to_base64(pub, r->identity.pub);
	json_object_object_add(o, "public_key", json_object_new_string(pub));
	json_object_object_add(o, "port", json_object_new_int(r->cfg.port));
	json_object_object_add(o, "uptime", json_object_new_int64(time(NULL) - r->started_at));
	json_object_object_add(o, "nodes", json_object_new_int64(r->nenrolled));
	json_object_object_add(o, "tombstones", json_object_new_int64(r->nnodes - r->nenrolled));
	json_object_object_add(o, "online", json_object_new_int64(r->nsessions_online));
	json_object_object_add(o, "half_open", json_object_new_int64(r->half_open));
	for (i = 0; i < RC_COUNT; i++)
		json_object_object_add(c, relay_counter_names[i],
				       json_object_new_int64((int64_t)r->counters[i]));
	json_object_object_add(o, "counters", c);
	return o;
}

static struct json_object *nodes_reply(struct relay *r)
{
	struct json_object *arr = json_object_new_array();
	uint32_t i;

	for (i = 0; i < r->nnodes; i++) {
		struct relay_node *n = &r->nodes[i];
		struct relay_session *s = n->session == KH_NO_INDEX ? NULL : &r->sessions[n->session];
		struct json_object *o = json_object_new_object();
		char pub[KH_KEY_B64_LEN + 1], ep[64];

		if (!n->active)
			continue;
		kh_key_to_base64(pub, n->rec.pubkey);
		json_object_object_add(o, "public_key", json_object_new_string(pub));
		json_object_object_add(o, "online", json_object_new_boolean(s && s->online));
		if (s && s->online) {
			relay_endpoint_str(&s->endpoint.sa, ep, sizeof(ep));
			json_object_object_add(o, "endpoint", json_object_new_string(ep));
		}
		json_object_object_add(o, "last_handshake", json_object_new_int64(n->last_handshake));
		json_object_object_add(o, "rx_bytes", json_object_new_int64((int64_t)n->rx_bytes));
		json_object_object_add(o, "tx_bytes", json_object_new_int64((int64_t)n->tx_bytes));
		json_object_array_add(arr, o);
	}
	return arr;
}

static struct json_object *handle(struct relay *r, const char *cmd)
{
	struct json_object *reply = json_object_new_object();
	char err[256];

	if (!strcmp(cmd, "reload")) {
		if (relay_nodes_load(r, err, sizeof(err))) {
			json_object_object_add(reply, "error", json_object_new_string(err));
		} else {
			kh_info("registry reloaded: %u nodes, %u policy rules", r->nenrolled,
				r->nrules);
			json_object_object_add(reply, "ok", json_object_new_boolean(1));
		}
		/* Deleted nodes were told goodbye: send it now, not at the next packet. */
		relay_udp_flush(r);
	} else if (!strcmp(cmd, "status")) {
		json_object_object_add(reply, "status", status_reply(r));
	} else if (!strcmp(cmd, "nodes")) {
		json_object_object_add(reply, "nodes", nodes_reply(r));
	} else {
		json_object_object_add(reply, "error", json_object_new_string("unknown command"));
	}
	return reply;
}

static void set_timeouts(int fd)
{
	struct timeval tv = { .tv_sec = 0, .tv_usec = CTL_IO_TIMEOUT_MS * 1000 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/*
 * The request may come in pieces: read until the client half-closes, the
 * buffer is full or CTL_IO_TIMEOUT_MS have passed in all (a client trickling
 * bytes must not hold the loop longer than that). Returns the length read.
 */
static size_t read_request(int fd, char *buf, size_t max)
{
	uint64_t deadline = relay_now_ns() + CTL_IO_TIMEOUT_MS * 1000000ULL, now;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	size_t len = 0;
	ssize_t n;
	int ready;

	while (len < max && (now = relay_now_ns()) < deadline) {
		ready = poll(&pfd, 1, (int)((deadline - now + 999999) / 1000000));
		if (ready < 0 && errno == EINTR)
			continue;
		if (ready <= 0)
			break;
		n = read(fd, buf + len, max - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	return len;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

void relay_ctl_accept(struct relay *r)
{
	struct json_object *req = NULL, *cmd, *reply;
	struct ucred cred;
	socklen_t cred_len = sizeof(cred);
	char buf[CTL_REQUEST_MAX];
	const char *out;
	size_t n;
	int fd;

	fd = accept4(r->control_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	/* The socket is 0600 already; check who it is anyway. */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cred_len) ||
	    (cred.uid != 0 && cred.uid != geteuid())) {
		close(fd);
		return;
	}
	set_timeouts(fd);
	n = read_request(fd, buf, sizeof(buf) - 1);
	if (n == 0) {
		close(fd);
		return;
	}
	buf[n] = '\0';
	req = json_tokener_parse(buf);
	if (req && json_object_object_get_ex(req, "cmd", &cmd) &&
	    json_object_is_type(cmd, json_type_string))
		reply = handle(r, json_object_get_string(cmd));
	else {
		reply = json_object_new_object();
		json_object_object_add(reply, "error", json_object_new_string("malformed request"));
	}
	out = json_object_to_json_string_ext(reply, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	write_all(fd, out, strlen(out));
	json_object_put(reply);
	json_object_put(req);
	close(fd);
}

struct json_object *relay_ctl_request(const char *state_dir, const char *cmd)
{
	struct json_object *req, *reply;
	struct json_tokener *tok;
	struct sockaddr_un sun;
	char buf[65536];
	const char *text;
	ssize_t n;
	int fd;

	if (ctl_path(state_dir, &sun)) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return NULL;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun))) {
		int e = errno;

		close(fd);
		errno = e;
		return NULL;
	}
	set_timeouts(fd);
	req = json_object_new_object();
	json_object_object_add(req, "cmd", json_object_new_string(cmd));
	text = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	if (write_all(fd, text, strlen(text))) {
		json_object_put(req);
		close(fd);
		errno = EIO;
		return NULL;
	}
	json_object_put(req);
	shutdown(fd, SHUT_WR);
	tok = json_tokener_new();
	reply = NULL;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		reply = json_tokener_parse_ex(tok, buf, (int)n);
		if (reply || json_tokener_get_error(tok) != json_tokener_continue)
			break;
	}
	json_tokener_free(tok);
	close(fd);
	if (!reply)
		errno = EIO;
	return reply;
}
