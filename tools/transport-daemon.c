/* transport-daemon.c - the keyhole family over a daemon's control socket, $KEYHOLE_RUN_DIR/IFNAME.sock. */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../include/uapi/linux/keyhole.h"
#include "transport.h"

/* A peers dump waits for the relay: allow it that long. */
#define DAEMON_REPLY_TIMEOUT_S 5

int transport_daemon_open(struct kh_transport *t, const char *ifname, char *err, size_t err_len)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = DAEMON_REPLY_TIMEOUT_S };
	int e;

	t->fd = -1;
	if ((size_t)snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/%s.sock", transport_run_dir(),
			     ifname) >= sizeof(sun.sun_path)) {
		snprintf(err, err_len, "%s: control socket path too long", ifname);
		return -ENAMETOOLONG;
	}
	t->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (t->fd < 0) {
		snprintf(err, err_len, "cannot create a socket: %s", strerror(errno));
		return -errno;
	}
	setsockopt(t->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(t->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(t->fd, (struct sockaddr *)&sun, sizeof(sun))) {
		e = errno;
		close(t->fd);
		t->fd = -1;
		if (e == ENOENT || e == ECONNREFUSED)
			snprintf(err, err_len,
				 "%s: no such keyhole interface (no daemon at %s; try 'keyhole link add dev %s')",
				 ifname, sun.sun_path, ifname);
		else
			snprintf(err, err_len, "%s: cannot reach its daemon at %s: %s", ifname,
				 sun.sun_path, strerror(e));
		return -e;
	}
	t->family = KEYHOLE_DAEMON_FAMILY_ID;
	t->seq = (uint32_t)time(NULL);
	return 0;
}
