/* transport.h - how the tool reaches a keyhole device: one interface, the transport picked in one place. */
#ifndef KEYHOLE_TOOL_TRANSPORT_H
#define KEYHOLE_TOOL_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include <libmnl/libmnl.h>

struct kh_transport {
	int fd;
	uint16_t family; /* the keyhole family's id on this transport */
	uint32_t seq;
};

/* The directory of the daemons' control sockets ($KEYHOLE_RUN_DIR or /run/keyhole). */
const char *transport_run_dir(void);

/*
 * Reach the device ifname. Today that is the daemon's control socket; when
 * the kernel module serves the device, its generic netlink family.
 */
int transport_open(struct kh_transport *t, const char *ifname, char *err, size_t err_len);
void transport_close(struct kh_transport *t);

/*
 * Send req (a keyhole genl message) and read the replies: cb for each data
 * message, until the ACK, NLMSG_DONE or an error. On error returns -errno with
 * the daemon's or kernel's extended-ACK message in err when there is one.
 */
int transport_request(struct kh_transport *t, struct nlmsghdr *req,
		      int (*cb)(const struct nlmsghdr *nlh, void *ctx), void *ctx, char *err,
		      size_t err_len);

/* The daemon side, used by transport.c only. */
int transport_daemon_open(struct kh_transport *t, const char *ifname, char *err, size_t err_len);

#endif
