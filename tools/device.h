/* device.h - the requests every subcommand makes of a device: get, set, peers, delete. */
#ifndef KEYHOLE_TOOL_DEVICE_H
#define KEYHOLE_TOOL_DEVICE_H

#include <stdbool.h>
#include <stddef.h>

#include "../userspace/lib/genl.h"

/* Each returns 0, or -errno with a one-line reason (naming the device) in err. */
int device_get(const char *ifname, bool with_private, struct kh_device *dev, char *err,
	       size_t err_len);
int device_set(const char *ifname, const struct kh_device *dev, char *err, size_t err_len);
int device_del(const char *ifname, char *err, size_t err_len);
/* Fills a malloc'd array the caller frees. */
int device_peers(const char *ifname, struct kh_ctrl_peer **peers, size_t *count, char *err,
		 size_t err_len);
/* Interfaces that have a daemon's control socket, sorted; returns how many. */
size_t device_list(char names[][IFNAMSIZ], size_t max);

/* Print helpers shared by show, peers and link show. */
void print_bytes(char *out, size_t len, uint64_t bytes);
void print_ago(char *out, size_t len, uint64_t unix_seconds);
const char *state_text(uint8_t state);

#endif
