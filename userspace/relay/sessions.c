/* sessions.c - handshakes with nodes and the life of their sessions: up, rekey, roam, down. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "../common/log.h"
#include "../lib/handshake.h"
#include "relay.h"
#include "udp.h"

/* An answered handshake the node never confirmed is forgotten after this. */
#define RELAY_HALF_OPEN_TIMEOUT_NS (10ULL * 1000000000ULL)
/* After a rekey the old keys still open late packets for a while. */
#define RELAY_PREVIOUS_KEYS_NS (10ULL * 1000000000ULL)
/* Token redemptions read and write the database: at most this many per second. */
#define RELAY_ENROLL_RATE 20
#define RELAY_ENROLL_BURST 40

int relay_sessions_init(struct relay *r)
{
	uint32_t n = r->cfg.max_sessions;

	/* calloc'd pages stay untouched (and unresident) until a session uses them:
	 * slots are handed out from never_used upwards, and only freed ones are listed. */
	r->sessions = calloc(n, sizeof(*r->sessions));
	r->active = calloc(n, sizeof(*r->active));
	if (!r->sessions || !r->active)
		return -ENOMEM;
	r->free_session = KH_NO_INDEX;
	r->never_used = 0;
	/* Each session holds up to three key pairs, each with its own index. */
	return kh_map_init(&r->by_index, 3 * n);
}

static uint32_t session_idx(const struct relay *r, const struct relay_session *s)
{
	return (uint32_t)(s - r->sessions);
}

static void drop_keypair(struct relay *r, struct kh_keypair *kp)
{
	if (kp->valid)
		kh_map_remove(&r->by_index, kp->local_index);
	kh_keypair_wipe(kp);
}

/* previous and next live outside the session slot only while they exist (relay.h). */
static void drop_spare(struct relay *r, struct kh_keypair **kp)
{
	if (!*kp)
		return;
	drop_keypair(r, *kp);
	free(*kp);
	*kp = NULL;
}

/* A fresh random index no live key pair uses; never KH_NO_INDEX, which means failure. */
static uint32_t new_index(struct relay *r, uint32_t sess)
{
	uint32_t idx, unused;

	do
		idx = randombytes_random();
	while (idx == KH_NO_INDEX || kh_map_get(&r->by_index, idx, &unused));
	if (kh_map_insert(&r->by_index, idx, sess))
		return KH_NO_INDEX;
	return idx;
}

struct relay_session *relay_session_for_index(struct relay *r, uint32_t index,
					      struct kh_keypair **kp)
{
	struct relay_session *s;
	uint32_t sess;

	if (!kh_map_get(&r->by_index, index, &sess))
		return NULL;
	s = &r->sessions[sess];
	if (s->current.valid && s->current.local_index == index)
		*kp = &s->current;
	else if (s->next && s->next->local_index == index)
		*kp = s->next;
	else if (s->previous && s->previous->local_index == index)
		*kp = s->previous;
	else
		return NULL;
	return s;
}

static struct relay_session *session_get(struct relay *r, uint32_t node_idx)
{
	struct relay_node *n = &r->nodes[node_idx];
	struct relay_session *s;

	if (n->session != KH_NO_INDEX)
		return &r->sessions[n->session];
	if (r->free_session != KH_NO_INDEX) {
		s = &r->sessions[r->free_session];
		r->free_session = s->next_free;
	} else if (r->never_used < r->cfg.max_sessions) {
		s = &r->sessions[r->never_used++];
	} else {
		return NULL;
	}
	memset(s, 0, sizeof(*s));
	s->node = node_idx;
	s->next_free = KH_NO_INDEX;
	s->active_pos = r->nactive;
	r->active[r->nactive++] = session_idx(r, s);
	n->session = session_idx(r, s);
	return s;
}

static void session_free(struct relay *r, struct relay_session *s)
{
	if (s->next)
		r->half_open--;
	drop_keypair(r, &s->current);
	drop_spare(r, &s->previous);
	drop_spare(r, &s->next);
	relay_session_follow(r, s, false);
	r->nodes[s->node].session = KH_NO_INDEX;
	/* Move the last active session into this one's place. */
	r->active[s->active_pos] = r->active[--r->nactive];
	r->sessions[r->active[s->active_pos]].active_pos = s->active_pos;
	s->node = KH_NO_INDEX;
	s->online = false;
	s->next_free = r->free_session;
	r->free_session = session_idx(r, s);
}

void relay_session_end(struct relay *r, struct relay_session *s, const char *why, bool goodbye,
		       enum kh_goodbye_reason reason)
{
	struct relay_node *n = &r->nodes[s->node];
	uint32_t node_idx = s->node;
	bool was_online = s->online;

	if (goodbye && s->online) {
		uint8_t msg[16];
		int len = kh_ctrl_build_goodbye(msg, sizeof(msg), reason);

		if (len > 0)
			relay_send_control(r, s, msg, (size_t)len);
	}
	session_free(r, s);
	if (was_online) {
		r->nsessions_online--;
		r->counters[RC_SESSIONS_DOWN]++;
		kh_info("node '%s' offline: %s", n->rec.name, why);
		relay_presence_changed(r, node_idx);
	}
}

/* The node's first message under the newest keys: it holds them, so they become current. */
void relay_session_confirm(struct relay *r, struct relay_session *s)
{
	struct relay_node *n = &r->nodes[s->node];

	drop_spare(r, &s->previous);
	/* The old keys move out of the slot; without memory for them they go now. */
	if (s->current.valid) {
		s->previous = malloc(sizeof(*s->previous));
		if (s->previous)
			*s->previous = s->current;
		else
			drop_keypair(r, &s->current);
	}
	s->current = *s->next;
	/* Its index stays mapped: the keys it names now sit in current. */
	kh_keypair_wipe(s->next);
	free(s->next);
	s->next = NULL;
	r->half_open--;
	if (!s->online) {
		struct kh_ctrl_config cfg;
		uint8_t msg[KH_CTRL_MAX];
		char ep[64];
		int len;

		s->online = true;
		r->nsessions_online++;
		r->counters[RC_SESSIONS_UP]++;
		relay_endpoint_str(&s->endpoint.sa, ep, sizeof(ep));
		kh_info("node '%s' online from %s", n->rec.name, ep);
		memset(&cfg, 0, sizeof(cfg));
		memcpy(cfg.ipv4, n->rec.ipv4, 4);
		cfg.ipv4_plen = r->net.ipv4_plen;
		memcpy(cfg.ipv6, n->rec.ipv6, 16);
		cfg.ipv6_plen = r->net.ipv6_plen;
		cfg.mtu = r->cfg.mtu;
		cfg.keepalive_s = r->cfg.keepalive_s;
		cfg.dead_peer_s = r->cfg.dead_peer_s;
		memcpy(cfg.name, n->rec.name, sizeof(cfg.name));
		len = kh_ctrl_build_config(msg, sizeof(msg), &cfg);
		if (len > 0)
			relay_send_control(r, s, msg, (size_t)len);
		relay_presence_changed(r, s->node);
	}
}

static void src_bytes(const struct sockaddr_storage *src, uint8_t out[18], size_t *len)
{
	if (src->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)src;

		memcpy(out, &sin->sin_addr, 4);
		memcpy(out + 4, &sin->sin_port, 2);
		*len = 6;
	} else {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)src;

		memcpy(out, &sin6->sin6_addr, 16);
		memcpy(out + 16, &sin6->sin6_port, 2);
		*len = 18;
	}
}

/* mac1 always; under load also mac2, or the source gets a cookie to prove its address. */
static bool macs_ok(struct relay *r, int sock, const struct sockaddr_storage *src,
		    socklen_t src_len, const uint8_t *msg, size_t len, uint64_t now)
{
	uint8_t addr[18];
	size_t addr_len;
	enum kh_mac_verdict v;
	uint8_t *reply;

	if (!kh_cookie_mac1_valid(&r->cookies, msg, len)) {
		r->counters[RC_DROP_MAC]++;
		return false;
	}
	if (kh_ratelimit_allow(&r->handshake_load, r->cfg.handshake_load_rate,
			       r->cfg.handshake_load_rate, now))
		return true;
	src_bytes(src, addr, &addr_len);
	v = kh_cookie_validate(&r->cookies, msg, len, addr, addr_len, now);
	if (v == KH_MAC1_MAC2_VALID) {
		/* A source that proved its address still gets only its share of the work. */
		if (kh_ratelimit_allow(&r->source_rl[relay_hash(r, addr, addr_len - 2) %
						     RELAY_SOURCE_BUCKETS],
				       RELAY_SOURCE_RATE, RELAY_SOURCE_BURST, now))
			return true;
		r->counters[RC_DROP_SOURCE_RATE]++;
		return false;
	}
	reply = relay_udp_txbuf(r);
	kh_cookie_make_reply(&r->cookies, msg, len, kh_get_le32(msg + KH_INIT_SENDER_OFF), addr,
			     addr_len, now, reply);
	relay_udp_queue(r, sock, reply, KH_COOKIE_REPLY_LEN, (const struct sockaddr *)src,
			src_len);
	r->counters[RC_COOKIE_REPLIES]++;
	return false;
}

/* An unknown key with a token: enroll it now (rate limited, it touches the disk). */
static bool enroll_by_token(struct relay *r, const struct kh_initiation *init, uint64_t now,
			    uint32_t *node_idx)
{
	struct kh_node_record rec;
	char err[256];

	if (!init->has_token || !kh_ratelimit_allow(&r->enroll_rl, RELAY_ENROLL_RATE,
						    RELAY_ENROLL_BURST, now))
		return false;
	if (kh_registry_token_redeem(r->reg, init->token, init->static_pub,
				     init->name[0] ? init->name : NULL, (int64_t)time(NULL), &rec,
				     err, sizeof(err))) {
		kh_debug("enrollment by token refused: %s", err);
		return false;
	}
	if (relay_nodes_load(r, err, sizeof(err)) || !relay_node_by_key(r, rec.pubkey, node_idx)) {
		kh_err("enrolled '%s' by token but cannot load it: %s", rec.name, err);
		return false;
	}
	r->counters[RC_ENROLLED_BY_TOKEN]++;
	kh_info("node '%s' enrolled by token", rec.name);
	return true;
}

/* The static-static DH of an enrolled key is computed once: it saves a quarter of
 * the relay's work per handshake. Unknown keys get it computed each time. */
static int cached_ss(void *ctx, const uint8_t rs[32], const uint8_t s_priv[32], uint8_t out[32])
{
	struct relay *r = ctx;
	struct relay_node *n;
	uint32_t idx;

	if (!relay_node_by_key(r, rs, &idx))
		return crypto_scalarmult_curve25519(out, s_priv, rs) ? -EBADMSG : 0;
	n = &r->nodes[idx];
	if (!n->has_ss) {
		if (crypto_scalarmult_curve25519(n->ss, s_priv, rs))
			return -EBADMSG;
		n->has_ss = true;
	}
	memcpy(out, n->ss, 32);
	return 0;
}

void relay_handle_initiation(struct relay *r, int sock, const struct sockaddr_storage *src,
			     socklen_t src_len, const uint8_t *msg, size_t len)
{
	struct noise_handshake hs;
	struct kh_initiation init;
	struct relay_session *s;
	struct relay_node *n;
	struct kh_keypair *next = NULL;
	uint64_t now = relay_now_ns();
	uint32_t node_idx, index;
	uint8_t *reply;
	bool new_session;

	if (len < KH_INIT_MIN_LEN || len > KH_INIT_MAX_LEN) {
		r->counters[RC_DROP_MALFORMED]++;
		return;
	}
	if (!macs_ok(r, sock, src, src_len, msg, len, now))
		return;
	if (kh_handshake_consume_initiation_cached(&hs, &init, &r->identity, cached_ss, r, msg,
						   len)) {
		r->counters[RC_DROP_HANDSHAKE]++;
		return;
	}
	/* Unknown and deleted keys get silence: no oracle for who is enrolled. */
	if ((!relay_node_by_key(r, init.static_pub, &node_idx) || !r->nodes[node_idx].active) &&
	    !enroll_by_token(r, &init, now, &node_idx)) {
		r->counters[RC_DROP_UNKNOWN_KEY]++;
		goto out;
	}
	n = &r->nodes[node_idx];
	if (!n->active) {
		r->counters[RC_DROP_UNKNOWN_KEY]++;
		goto out;
	}
	if (memcmp(init.timestamp, n->last_timestamp, KH_TAI64N_LEN) <= 0) {
		r->counters[RC_DROP_REPLAYED_HANDSHAKE]++;
		goto out;
	}
	new_session = n->session == KH_NO_INDEX;
	s = session_get(r, node_idx);
	if (!s) {
		r->counters[RC_DROP_SESSION_LIMIT]++;
		goto out;
	}
	if (!s->next && r->half_open >= r->cfg.max_half_open) {
		r->counters[RC_DROP_HALF_OPEN_LIMIT]++;
		if (new_session)
			session_free(r, s);
		goto out;
	}
	if (s->next) {
		drop_spare(r, &s->next);
		r->half_open--;
	}
	next = malloc(sizeof(*next));
	index = next ? new_index(r, session_idx(r, s)) : KH_NO_INDEX;
	if (index == KH_NO_INDEX) {
		r->counters[RC_DROP_SESSION_LIMIT]++;
		free(next);
		if (new_session)
			session_free(r, s);
		goto out;
	}
	reply = relay_udp_txbuf(r);
	if (kh_handshake_respond(&hs, r->cfg.psk, index, init.sender_index, reply, next,
				 now) != KH_RESP_LEN) {
		kh_map_remove(&r->by_index, index);
		kh_keypair_wipe(next);
		free(next);
		if (new_session)
			session_free(r, s);
		goto out;
	}
	s->next = next;
	r->half_open++;
	s->next_born_ns = now;
	memcpy(n->last_timestamp, init.timestamp, KH_TAI64N_LEN);
	n->last_handshake = (int64_t)time(NULL);
	/* The initiation authenticated the key and is fresh: answer where it came from. */
	memcpy(&s->endpoint, src, src_len);
	s->endpoint_len = src_len;
	s->sock = sock;
	if (new_session)
		s->last_rx_ns = now;
	relay_udp_queue(r, sock, reply, KH_RESP_LEN, (const struct sockaddr *)src, src_len);
	r->counters[RC_HANDSHAKES]++;
out:
	noise_handshake_wipe(&hs);
}

void relay_sessions_tick(struct relay *r, uint64_t now)
{
	uint32_t i;

	/* Backwards: ending a session moves an already visited one into its place. */
	for (i = r->nactive; i-- > 0;) {
		struct relay_session *s = &r->sessions[r->active[i]];

		if (s->online && now - s->last_rx_ns > (uint64_t)r->cfg.dead_peer_s * 1000000000ULL) {
			relay_session_end(r, s, "dead-peer timeout", false, KH_GOODBYE_SHUTDOWN);
			continue;
		}
		if (s->next && now - s->next_born_ns > RELAY_HALF_OPEN_TIMEOUT_NS) {
			drop_spare(r, &s->next);
			r->half_open--;
		}
		if (s->previous && now - s->current.birth_ns > RELAY_PREVIOUS_KEYS_NS)
			drop_spare(r, &s->previous);
		if (s->current.valid && kh_keypair_expired(&s->current, now))
			drop_keypair(r, &s->current);
		if (!s->online && !s->next)
			session_free(r, s);
	}
}

void relay_session_follow(struct relay *r, struct relay_session *s, bool follow)
{
	if (follow != s->following)
		r->nfollowing += follow ? 1 : -1;
	s->following = follow;
}

/* Tell every following node that may see this one that it came or went. */
void relay_presence_changed(struct relay *r, uint32_t node_idx)
{
	struct relay_node *changed = &r->nodes[node_idx];
	struct kh_ctrl_peers_writer pw;
	struct kh_ctrl_peer peer;
	uint8_t msg[KH_CTRL_MAX];
	bool online = changed->session != KH_NO_INDEX && r->sessions[changed->session].online;
	uint32_t i;
	int len;

	/* Most relays have no follower: then a node coming or going costs nothing here. */
	if (r->nfollowing == 0)
		return;
	relay_node_to_peer(r, changed, online, &peer);
	kh_ctrl_peers_begin(&pw, msg, sizeof(msg), KH_CTRL_PRESENCE, 0);
	if (!kh_ctrl_peers_add(&pw, &peer))
		return;
	len = kh_ctrl_peers_finish(&pw, true);
	if (len < 0)
		return;
	for (i = 0; i < r->nactive; i++) {
		struct relay_session *s = &r->sessions[r->active[i]];

		if (s->node == node_idx || !s->online || !s->following)
			continue;
		if (relay_policy_allows(r, &r->nodes[s->node], changed))
			relay_send_control(r, s, msg, (size_t)len);
	}
}
