/* rtnl.h - the rtnetlink requests keyhole makes (links, addresses), over libmnl. */
#ifndef KEYHOLE_RTNL_H
#define KEYHOLE_RTNL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libmnl/libmnl.h>

struct kh_rtnl {
	struct mnl_socket *nl;
	uint32_t portid;
	uint32_t seq;
};

struct kh_link_info {
	int ifindex;
	char ifname[16];
	bool up;        /* IFF_UP: administratively up */
	bool running;   /* IFF_RUNNING / carrier */
	uint32_t mtu;
	char kind[16];  /* IFLA_INFO_KIND ("tun", "keyhole"), empty if the kernel gave none */
};

/* groups: rtnetlink multicast groups to join (RTMGRP_LINK...) or 0. */
int kh_rtnl_open(struct kh_rtnl *r, unsigned groups);
/* The same socket on another netlink bus (NETLINK_GENERIC for the keyhole family). */
int kh_netlink_open(struct kh_rtnl *r, int bus, unsigned groups);
/*
 * Send nlh (its sequence number is set here) and read the replies, each
 * handed to cb when given, until the ACK, NLMSG_DONE or an error: 0 or
 * -errno, with the kernel's extended-ACK message in err when it sends one.
 */
int kh_netlink_transact(struct kh_rtnl *r, struct nlmsghdr *nlh,
			int (*cb)(const struct nlmsghdr *nlh, void *ctx), void *ctx, char *err,
			size_t err_len);
void kh_rtnl_close(struct kh_rtnl *r);
int kh_rtnl_fd(const struct kh_rtnl *r);

/* Each returns 0 or -errno; err gets the kernel's extended-ACK message when it sends one. */
int kh_rtnl_link_get(struct kh_rtnl *r, const char *ifname, struct kh_link_info *info,
		     char *err, size_t err_len);
/* `ip link add NAME type KIND`: -EEXIST if the name is taken. */
int kh_rtnl_link_add(struct kh_rtnl *r, const char *ifname, const char *kind, char *err,
		     size_t err_len);
int kh_rtnl_link_del(struct kh_rtnl *r, int ifindex, char *err, size_t err_len);
int kh_rtnl_link_set_up(struct kh_rtnl *r, int ifindex, bool up, char *err, size_t err_len);
int kh_rtnl_link_set_mtu(struct kh_rtnl *r, int ifindex, uint32_t mtu, char *err,
			 size_t err_len);
/* Add or replace an address (family 4 or 6); IPv6 without duplicate address detection. */
int kh_rtnl_addr_set(struct kh_rtnl *r, int ifindex, int family, const uint8_t *addr,
		     uint8_t plen, char *err, size_t err_len);
/* Remove an address; -EADDRNOTAVAIL if it is not there. */
int kh_rtnl_addr_del(struct kh_rtnl *r, int ifindex, int family, const uint8_t *addr,
		     uint8_t plen, char *err, size_t err_len);
/* Call cb for every address on ifindex (family 4 or 6, addr in network order). */
int kh_rtnl_addr_list(struct kh_rtnl *r, int ifindex,
		      void (*cb)(int family, const uint8_t *addr, uint8_t plen, void *ctx),
		      void *ctx, char *err, size_t err_len);

/*
 * Parse one multicast notification buffer: for each RTM_NEWLINK/RTM_DELLINK
 * about ifindex, report the link's new state (deleted = true on DELLINK).
 */
void kh_rtnl_parse_link_events(const void *buf, size_t len, int ifindex,
			       void (*cb)(const struct kh_link_info *info, bool deleted, void *ctx),
			       void *ctx);

#endif
