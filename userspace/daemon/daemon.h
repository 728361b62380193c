/* daemon.h - keyholed's state: one interface, one session with the relay, owned by the event loop. */
#ifndef KEYHOLE_DAEMON_H
#define KEYHOLE_DAEMON_H

#include <limits.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "../../include/uapi/linux/keyhole.h"
#include "../common/rtnl.h"
#include "../lib/control.h"
#include "../lib/cookie.h"
#include "../lib/genl.h"
#include "../lib/ratelimit.h"
#include "../lib/transport.h"
#include "kmod.h"

#define KH_RUN_DIR_DEFAULT "/run/keyhole"
/* 1500-byte underlay less IPv6 (40), UDP (8), transport header and tag (32). */
#define KH_DEFAULT_MTU 1420
#define KH_BATCH 32
#define KH_PKT_BUF 4096
#define KH_MAX_CLIENTS 16
#define KH_MAX_PEERS 4096

/* keyholed --dataplane: auto uses keyhole.ko when it is loaded, else TUN. */
enum daemon_dp_mode { DAEMON_DP_AUTO, DAEMON_DP_TUN, DAEMON_DP_KERNEL };

/* What `keyhole set` configures. */
struct daemon_config {
	bool has_key, has_relay, has_relay_pub, has_psk, has_token;
	struct noise_static key;
	char relay_endpoint[KH_ENDPOINT_MAX];
	uint8_t relay_pub[32];
	uint8_t psk[32];
	uint16_t keepalive; /* 0: use the relay's */
	uint8_t token[KEYHOLE_TOKEN_LEN];
	char name[KH_NAME_LEN];
};

/* A control-socket client; a peers dump waits here for the relay's reply. */
struct daemon_client {
	int fd;
	bool waiting_peers;
	uint32_t request_id;
	uint64_t deadline_ns;
	struct nlmsghdr request; /* header of the pending request, for the reply */
};

struct daemon {
	char ifname[IFNAMSIZ];
	int ifindex;
	char run_dir[PATH_MAX - 32];
	char sock_path[PATH_MAX];
	struct daemon_config cfg;

	int tun_fd, udp_fd, ctl_fd, epoll_fd, timer_fd, signal_fd;
	int resolve_fd; /* read end of the resolver's pipe, -1 when idle */
	struct kh_rtnl rtnl, rtnl_events;
	enum keyhole_dataplane dataplane;
	char dataplane_note[160]; /* why auto mode fell back to TUN, for the log */
	struct daemon_kmod kmod; /* kernel data plane only */
	unsigned udp_gen;        /* counts new UDP sockets, for SET_PEER */
	bool kmod_peer_sent;     /* what the kernel was last given by SET_PEER */
	unsigned kmod_udp_gen;
	struct sockaddr_storage kmod_relay;
	socklen_t kmod_relay_len;
	bool interface_open; /* daemon_dataplane_open succeeded */
	bool link_up;
	bool stopping;

	/* The session with the relay. */
	enum keyhole_session_state state;
	struct noise_handshake hs;
	bool hs_pending;
	uint32_t hs_index;
	uint64_t hs_sent_ns;
	struct kh_cookie_maker cookies;
	/* With the kernel data plane these keep indices, birth and role only: the
	 * kernel holds the keys (dataplane.c). */
	struct kh_keypair current, previous;
	struct sockaddr_storage relay_addr;
	socklen_t relay_addr_len;
	bool relay_resolved;
	bool udp_gso_off; /* the kernel refused UDP_SEGMENT once: never again */
	unsigned attempts;
	uint64_t next_attempt_ns;
	uint64_t last_rx_ns, last_tx_ns;
	int64_t last_handshake; /* unix seconds */
	struct kh_ctrl_config assigned;
	bool has_assigned, addresses_installed;
	struct kh_ratelimit icmp_rl;
	uint32_t peers_request_id;

	uint64_t rx_bytes, tx_bytes, rx_packets, tx_packets;

	struct daemon_client clients[KH_MAX_CLIENTS];
	struct kh_ctrl_peer *peers; /* collected for a pending dump */
	uint32_t npeers;
};

uint64_t daemon_now_ns(void);

/* dataplane.c: everything that differs between the TUN and the kernel data plane. */
/* Create the interface: keyhole.ko's link (kernel, or auto when the module is there) or TUN. */
int daemon_dataplane_open(struct daemon *d, enum daemon_dp_mode mode, char *err, size_t err_len);
/* Clean exit: remove the interface. */
void daemon_dataplane_close(struct daemon *d);
/* Setup failed: remove the interface only if this daemon created it. */
void daemon_dataplane_abandon(struct daemon *d);
const char *daemon_dataplane_name(const struct daemon *d);
/* The fd the event loop watches for the data plane (TUN packets, kernel notifications). */
int daemon_dataplane_fd(const struct daemon *d);
void daemon_dataplane_receive(struct daemon *d);
/* A handshake made kp: it becomes the current keypair (kp is wiped). 0 or -errno. */
int daemon_dataplane_keys_install(struct daemon *d, struct kh_keypair *kp);
/* The session is over: forget every keypair. */
void daemon_dataplane_keys_drop(struct daemon *d);
/* Seal buf[KH_DATA_HEADER_LEN..+len) under the current keys and send it to the relay. */
int daemon_dataplane_send(struct daemon *d, uint8_t *buf, size_t len);
/* The UDP socket or the relay's address may have changed: tell the kernel. */
void daemon_dataplane_sync_peer(struct daemon *d);
/* The relay (re)assigned the overlay addresses: tell the kernel. */
void daemon_dataplane_overlay(struct daemon *d);
/* Data plane and traffic counters for GET_DEVICE. */
void daemon_dataplane_counters(struct daemon *d, struct kh_device *dev);

/* tun.c */
int daemon_tun_open(struct daemon *d, char *err, size_t err_len);
void daemon_tun_receive(struct daemon *d);
/* An opened packet for the TUN device: it may be held, where it is, to be coalesced
 * with the next ones until daemon_tun_flush, due before its buffer is reused. */
void daemon_tun_write(struct daemon *d, uint8_t *pkt, size_t len);
void daemon_tun_flush(struct daemon *d);

/* udp.c */
int daemon_udp_prepare(struct daemon *d, int family);
void daemon_udp_receive(struct daemon *d);
int daemon_udp_send(struct daemon *d, const uint8_t *buf, size_t len);
/* Send count sealed datagrams (bufs[i][0..lens[i])) to the relay with one sendmmsg. */
void daemon_udp_send_batch(struct daemon *d, uint8_t (*bufs)[KH_PKT_BUF], const size_t *lens,
			   unsigned count);

/* session.c */
void daemon_session_reconsider(struct daemon *d);
void daemon_session_disconnect(struct daemon *d, bool goodbye);
void daemon_session_tick(struct daemon *d, uint64_t now);
void daemon_session_resolved(struct daemon *d);
void daemon_handle_response(struct daemon *d, const uint8_t *msg, size_t len);
void daemon_handle_cookie(struct daemon *d, const uint8_t *msg, size_t len);
void daemon_handle_transport(struct daemon *d, uint8_t *msg, size_t len);
/* A payload opened under the current keys that is not an IP packet (0 bytes: keepalive). */
void daemon_session_received(struct daemon *d, const uint8_t *payload, size_t len);
int daemon_send_payload(struct daemon *d, uint8_t *buf, size_t len);
int daemon_send_control(struct daemon *d, const uint8_t *msg, size_t len);
int daemon_request_peers(struct daemon *d, uint32_t *request_id);

/* resolve.c */
int daemon_resolve_start(struct daemon *d);
int daemon_resolve_finish(struct daemon *d);
int daemon_parse_endpoint(const char *endpoint, char *host, size_t host_len, uint16_t *port,
			  const char **why);

/* control.c */
int daemon_control_listen(struct daemon *d, char *err, size_t err_len);
void daemon_control_accept(struct daemon *d);
void daemon_control_client(struct daemon *d, struct daemon_client *c);
void daemon_control_peers_done(struct daemon *d, bool complete);
void daemon_control_tick(struct daemon *d, uint64_t now);
void daemon_control_close(struct daemon *d);

#endif
