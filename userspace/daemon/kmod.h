/* kmod.h - keyhole.ko's generic netlink family as keyholed speaks it: probe, link, requests, notifications. */
#ifndef KEYHOLE_DAEMON_KMOD_H
#define KEYHOLE_DAEMON_KMOD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/rtnl.h"
#include "../lib/genl-dataplane.h"

struct daemon_kmod {
	struct kh_rtnl req;    /* requests, each waiting for its ACK */
	struct kh_rtnl events; /* the "ctrl" multicast group: RECV_CTRL */
	uint16_t family;       /* dynamic, from the genl controller */
	uint32_t group;
	bool open;
	bool created; /* this daemon created the link (else it adopted one) */
};

/*
 * Find the keyhole family and join its "ctrl" group. Returns 0, -ENOENT when
 * the module is not loaded, or another -errno; err says what failed.
 */
int daemon_kmod_probe(struct daemon_kmod *k, char *err, size_t err_len);

/*
 * Create link ifname of kind keyhole, or adopt it if it exists and is of that
 * kind. Returns 0 with *ifindex set, or -errno with err set.
 */
int daemon_kmod_link(struct daemon_kmod *k, struct kh_rtnl *rtnl, const char *ifname,
		     int *ifindex, char *err, size_t err_len);

/*
 * Send cmd with the fields of m and wait for the ACK; a reply message (the
 * kernel's GET_DEVICE) is parsed into reply when given (its payload pointer
 * does not outlive the call). The request buffer is wiped: it may hold keys.
 */
int daemon_kmod_request(struct daemon_kmod *k, uint8_t cmd, const struct kh_dp_msg *m,
			struct kh_dp_msg *reply, char *err, size_t err_len);

int daemon_kmod_events_fd(const struct daemon_kmod *k);
/* Read every pending notification; cb gets each RECV_CTRL payload for ifindex. */
void daemon_kmod_read_events(struct daemon_kmod *k, uint32_t ifindex,
			     void (*cb)(void *ctx, const uint8_t *payload, size_t len), void *ctx);

void daemon_kmod_close(struct daemon_kmod *k);

#endif
