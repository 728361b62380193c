/* relay.h - the running relay's state: one struct, owned by the event loop thread. */
#ifndef KEYHOLE_RELAY_H
#define KEYHOLE_RELAY_H

#include <limits.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "../lib/control.h"
#include "../lib/cookie.h"
#include "../lib/ippacket.h"
#include "../lib/ratelimit.h"
#include "../lib/transport.h"
#include "map.h"
#include "registry.h"

/* In the dynamic range that IANA never assigns (RFC 6335 section 6), next to
 * WireGuard's customary 51820. */
#define KH_RELAY_DEFAULT_PORT 51830
#define KH_RELAY_DEFAULT_STATE_DIR "/var/lib/keyhole-relay"
#define KH_RELAY_MAX_LISTEN 4
#define KH_NO_INDEX UINT32_MAX
/* WireGuard's per-source figures for handshakes under load: 20 per second, 5 at once. */
#define RELAY_SOURCE_BUCKETS 4096
#define RELAY_SOURCE_RATE 20
#define RELAY_SOURCE_BURST 5

struct relay_config {
	char state_dir[PATH_MAX];
	char listen[KH_RELAY_MAX_LISTEN][64]; /* addresses; none = "::" dual-stack */
	int nlisten;
	uint16_t port;
	uint8_t ipv4_prefix[4];
	uint8_t ipv4_plen;
	uint16_t keepalive_s;   /* told to nodes: send a keepalive this often */
	uint16_t dead_peer_s;   /* nothing authenticated for this long: offline */
	uint16_t mtu;           /* told to nodes for their interface */
	uint32_t max_sessions;
	uint32_t max_half_open; /* handshakes answered but not yet confirmed */
	uint32_t handshake_load_rate; /* initiations per second above which cookies are required */
	uint32_t icmp_rate, icmp_burst; /* ICMP errors per sender */
	uint8_t psk[NOISE_PSK_LEN];
	int log_level;
	bool use_syslog;
	bool ipv4_prefix_set; /* given by flag or file: `run` then insists on it */
};

/* What the relay keeps of a node's registry record: the columns it reads, with
 * the tags as indices into relay.tags. A kh_node_record is 408 bytes, 264 of
 * them tag strings, and the relay holds every node ever enrolled. */
struct relay_node_rec {
	char name[KH_NAME_LEN];
	uint8_t pubkey[32];
	uint8_t ipv4[4];  /* network byte order */
	uint8_t ipv6[16];
	uint8_t ntags;
	uint32_t tags[KH_MAX_TAGS];
};

/* A node the registry knows: enrolled, or deleted (a tombstone that still owns its addresses). */
struct relay_node {
	struct relay_node_rec rec;
	bool active;
	uint8_t last_timestamp[KH_TAI64N_LEN]; /* newest accepted initiation */
	uint32_t session;  /* index into sessions, or KH_NO_INDEX when offline */
	uint64_t policy_from, policy_to; /* bit i: the node matches side of rule i */
	int64_t last_handshake; /* unix seconds, 0 = never */
	uint8_t ss[32];    /* DH(relay, node): the same for every handshake, kept after the first */
	bool has_ss;
	uint64_t rx_bytes, tx_bytes;
	uint64_t rx_packets, tx_packets;
};

/* Where a node's datagrams come from. The relay's sockets are IPv4 or IPv6,
 * so this holds any source address; a sockaddr_storage would be 100 bytes
 * more in every session. */
union relay_endpoint {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
};

/* The one session of an online (or connecting) node: up to three key pairs.
 * Only current lives in the slot: a key pair is 368 bytes, most of it the
 * replay window, and an idle session has no previous or next one, so those two
 * are allocated while they exist (a handshake, the seconds after a rekey). */
struct relay_session {
	uint32_t node;  /* KH_NO_INDEX when the slot is free */
	uint32_t next_free;
	uint32_t active_pos; /* position in relay.active while in use */
	struct kh_keypair current;   /* confirmed, used to send */
	struct kh_keypair *previous; /* still accepted for a while after a rekey, or NULL */
	struct kh_keypair *next;     /* answered, waiting for the node's first message, or NULL */
	uint64_t next_born_ns;
	union relay_endpoint endpoint;
	socklen_t endpoint_len;
	int sock;                   /* which listening socket the node talks to */
	uint64_t last_rx_ns;
	bool online;                /* confirmed at least once */
	bool following;             /* push presence changes */
	struct kh_ratelimit icmp_rl;
};

enum relay_counter {
	RC_RX_DATAGRAMS,
	RC_FORWARDED_PACKETS,
	RC_FORWARDED_BYTES,
	RC_HANDSHAKES,
	RC_SESSIONS_UP,
	RC_SESSIONS_DOWN,
	RC_ICMP_UNREACHABLE,
	RC_ICMP_PROHIBITED,
	RC_COOKIE_REPLIES,
	RC_ENROLLED_BY_TOKEN,
	RC_DROP_MALFORMED,        /* header, length or type wrong */
	RC_DROP_MAC,              /* mac1 wrong */
	RC_DROP_HANDSHAKE,        /* Noise message did not authenticate */
	RC_DROP_UNKNOWN_KEY,      /* authenticated, but not an enrolled key */
	RC_DROP_REPLAYED_HANDSHAKE,
	RC_DROP_SESSION_LIMIT,
	RC_DROP_HALF_OPEN_LIMIT,
	RC_DROP_UNKNOWN_INDEX,
	RC_DROP_DECRYPT,          /* transport did not authenticate or keys expired */
	RC_DROP_REPLAY,
	RC_DROP_SPOOFED_SOURCE,
	RC_DROP_BAD_INNER,        /* inner packet not a valid IP packet or control message */
	RC_DROP_ICMP_RATE,        /* an ICMP error was due but over the rate limit */
	RC_DROP_TO_RELAY,         /* addressed to the relay's own overlay address */
	RC_DROP_SEND,             /* sendmmsg failed */
	RC_DROP_SOURCE_RATE,      /* under load, a source (with a valid cookie) over its share */
	RC_COUNT,
};

extern const char *const relay_counter_names[RC_COUNT];

struct relay_rule {
	char from_tag[KH_TAG_LEN];
	char to_tag[KH_TAG_LEN];
};
#define RELAY_MAX_RULES 64

struct relay_udp; /* udp.h */

struct relay {
	struct relay_config cfg;
	struct kh_registry *reg;
	struct kh_network net;
	struct noise_static identity;
	struct kh_cookie_checker cookies;
	uint8_t relay_ipv4[4], relay_ipv6[16]; /* the relay's own overlay addresses */

	struct relay_node *nodes;
	uint32_t nnodes, nodes_cap; /* tombstones included */
	uint32_t nenrolled;         /* active nodes only */
	struct kh_map by_key, by_ipv4, by_ipv6; /* SipHash -> node index */
	uint8_t hash_key[16];
	/* Every tag a node has had since the relay started, each once; never shrinks. */
	char (*tags)[KH_TAG_LEN];
	uint32_t ntags, tags_cap;
	struct kh_map by_tag; /* SipHash -> index into tags */

	struct relay_session *sessions;
	uint32_t *active;  /* dense list of sessions in use: timers never touch idle slots */
	uint32_t nactive;
	uint32_t free_session;
	uint32_t never_used; /* slots from here on were never touched */
	uint32_t nfollowing; /* sessions that asked for presence pushes */
	uint32_t nsessions_online;
	uint32_t half_open;
	struct kh_map by_index; /* our session index -> session */

	struct relay_rule rules[RELAY_MAX_RULES];
	uint32_t nrules;

	struct kh_ratelimit handshake_load; /* over its rate: demand cookies */
	/* Under load, initiations per source IP (hashed; sources may share a bucket). */
	struct kh_ratelimit source_rl[RELAY_SOURCE_BUCKETS];
	struct kh_ratelimit enroll_rl;      /* token redemptions touch the disk */

	struct relay_udp *udp;
	int epoll_fd, timer_fd, signal_fd, control_fd;
	bool stopping;
	uint64_t counters[RC_COUNT];
	int64_t started_at;
};

uint64_t relay_now_ns(void);

/* nodes.c */
int relay_nodes_load(struct relay *r, char *err, size_t err_len);
uint64_t relay_hash(const struct relay *r, const void *data, size_t len);
bool relay_node_by_key(const struct relay *r, const uint8_t key[32], uint32_t *idx);
bool relay_node_by_addr(const struct relay *r, const struct kh_ipaddr *addr, uint32_t *idx);
bool relay_policy_allows(const struct relay *r, const struct relay_node *a,
			 const struct relay_node *b);
void relay_node_to_peer(const struct relay *r, const struct relay_node *n, bool online,
			struct kh_ctrl_peer *peer);

/* sessions.c */
int relay_sessions_init(struct relay *r);
void relay_handle_initiation(struct relay *r, int sock, const struct sockaddr_storage *src,
			     socklen_t src_len, const uint8_t *msg, size_t len);
struct relay_session *relay_session_for_index(struct relay *r, uint32_t index,
					      struct kh_keypair **kp);
void relay_session_confirm(struct relay *r, struct relay_session *s);
void relay_session_end(struct relay *r, struct relay_session *s, const char *why, bool goodbye,
		       enum kh_goodbye_reason reason);
void relay_sessions_tick(struct relay *r, uint64_t now_ns);
void relay_presence_changed(struct relay *r, uint32_t node_idx);
void relay_session_follow(struct relay *r, struct relay_session *s, bool follow);

/* router.c */
void relay_handle_transport(struct relay *r, int sock, const struct sockaddr_storage *src,
			    socklen_t src_len, uint8_t *msg, size_t len);
/* Seal payload (at buf + KH_DATA_HEADER_LEN) to a session and queue it. */
void relay_send_to_session(struct relay *r, struct relay_session *s, uint8_t *buf,
			   size_t payload_len);
void relay_send_control(struct relay *r, struct relay_session *s, const uint8_t *msg,
			size_t len);

#endif
