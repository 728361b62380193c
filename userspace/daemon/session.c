/* session.c - keyholed's one session with the relay: connect, confirm, keep alive, rekey, reconnect. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "../common/log.h"
#include "../lib/handshake.h"
#include "../lib/ippacket.h"
#include "daemon.h"

#define SEC 1000000000ULL
/* Exponential backoff between connection attempts: 1 s doubling to 8 s, +-25% jitter. */
#define BACKOFF_FIRST_NS (1 * SEC)
#define BACKOFF_MAX_NS (8 * SEC)
/* Before the relay has told us its timers. */
#define DEFAULT_KEEPALIVE_S 5
#define DEFAULT_DEAD_PEER_S 15

static const char *state_name(enum keyhole_session_state s)
{
	return s == KEYHOLE_SESSION_UP ? "up" : s == KEYHOLE_SESSION_CONNECTING ? "connecting" : "down";
}

static void set_state(struct daemon *d, enum keyhole_session_state s)
{
	if (d->state != s)
		kh_info("session %s -> %s", state_name(d->state), state_name(s));
	d->state = s;
}

static bool configured(const struct daemon *d)
{
	return d->cfg.has_key && d->cfg.has_relay && d->cfg.has_relay_pub;
}

static uint64_t keepalive_ns(const struct daemon *d)
{
	uint16_t k = d->cfg.keepalive ? d->cfg.keepalive
				      : d->has_assigned ? d->assigned.keepalive_s : DEFAULT_KEEPALIVE_S;

	return (uint64_t)k * SEC;
}

static uint64_t dead_peer_ns(const struct daemon *d)
{
	return (uint64_t)(d->has_assigned ? d->assigned.dead_peer_s : DEFAULT_DEAD_PEER_S) * SEC;
}

static void schedule_attempt(struct daemon *d, uint64_t now)
{
	uint64_t delay = BACKOFF_FIRST_NS << (d->attempts < 5 ? d->attempts : 5);

	if (delay > BACKOFF_MAX_NS)
		delay = BACKOFF_MAX_NS;
	/* Jitter keeps a fleet that lost the relay together from coming back in lockstep. */
	delay = delay * 3 / 4 + randombytes_uniform((uint32_t)(delay / 2 / 1000000)) * 1000000ULL;
	d->attempts++;
	d->next_attempt_ns = now + delay;
}

static void send_initiation(struct daemon *d, uint64_t now)
{
	uint8_t msg[KH_INIT_MAX_LEN], ts[KH_TAI64N_LEN];
	uint8_t zero_psk[NOISE_PSK_LEN] = { 0 };
	struct timespec wall;
	int len;

	clock_gettime(CLOCK_REALTIME, &wall);
	kh_tai64n(ts, wall.tv_sec, (uint32_t)wall.tv_nsec);
	d->hs_index = randombytes_random();
	len = kh_handshake_initiate(&d->hs, &d->cookies, &d->cfg.key, d->cfg.relay_pub,
				    d->cfg.has_psk ? d->cfg.psk : zero_psk, d->hs_index, ts,
				    d->cfg.has_token ? d->cfg.token : NULL,
				    d->cfg.has_token && d->cfg.name[0] ? d->cfg.name : NULL, msg, now);
	if (len < 0) {
		kh_err("cannot build a handshake: %s", strerror(-len));
		return;
	}
	d->hs_pending = true;
	d->hs_sent_ns = now;
	if (daemon_udp_send(d, msg, (size_t)len))
		kh_debug("handshake not sent: %s", strerror(errno));
}

/* Start (or retry) connecting when everything needed is there. */
static void attempt(struct daemon *d, uint64_t now)
{
	int ret;

	schedule_attempt(d, now);
	if (!d->relay_resolved) {
		ret = daemon_resolve_start(d);
		if (ret <= 0)
			return; /* resolving in the background, or failed: retry later */
		d->relay_resolved = true;
	}
	if (daemon_udp_prepare(d, d->relay_addr.ss_family)) {
		kh_err("cannot open a UDP socket: %s", strerror(errno));
		return;
	}
	daemon_dataplane_sync_peer(d);
	send_initiation(d, now);
}

void daemon_session_resolved(struct daemon *d)
{
	if (daemon_resolve_finish(d) == 0) {
		d->relay_resolved = true;
		if (d->state == KEYHOLE_SESSION_CONNECTING &&
		    daemon_udp_prepare(d, d->relay_addr.ss_family) == 0) {
			daemon_dataplane_sync_peer(d);
			send_initiation(d, daemon_now_ns());
		}
	}
}

void daemon_session_disconnect(struct daemon *d, bool goodbye)
{
	if (goodbye && d->current.valid) {
		uint8_t msg[16];
		int len = kh_ctrl_build_goodbye(msg, sizeof(msg), KH_GOODBYE_SHUTDOWN);

		if (len > 0)
			daemon_send_control(d, msg, (size_t)len);
	}
	daemon_dataplane_keys_drop(d);
	noise_handshake_wipe(&d->hs);
	d->hs_pending = false;
	if (d->npeers || d->peers_request_id)
		daemon_control_peers_done(d, false);
}

/* Decide what the session should be now: after config changes, link changes, losses. */
void daemon_session_reconsider(struct daemon *d)
{
	uint64_t now = daemon_now_ns();

	if (!d->link_up || !configured(d)) {
		if (d->state != KEYHOLE_SESSION_DOWN)
			daemon_session_disconnect(d, true);
		set_state(d, KEYHOLE_SESSION_DOWN);
		return;
	}
	if (d->state == KEYHOLE_SESSION_DOWN) {
		set_state(d, KEYHOLE_SESSION_CONNECTING);
		d->attempts = 0;
		attempt(d, now);
	}
}

/* The session is gone (relay silent, goodbye): start over, after a pause. */
static void session_lost(struct daemon *d, const char *why, bool at_once)
{
	kh_warn("session with the relay lost: %s", why);
	daemon_session_disconnect(d, false);
	set_state(d, KEYHOLE_SESSION_CONNECTING);
	d->relay_resolved = false; /* the relay may have moved: resolve again */
	d->attempts = 0;
	if (at_once)
		attempt(d, daemon_now_ns());
	else
		schedule_attempt(d, daemon_now_ns());
}

int daemon_send_payload(struct daemon *d, uint8_t *buf, size_t len)
{
	return daemon_dataplane_send(d, buf, len);
}

int daemon_send_control(struct daemon *d, const uint8_t *msg, size_t len)
{
	uint8_t buf[KH_CTRL_MAX + KH_DATA_OVERHEAD];

	if (len > KH_CTRL_MAX || !d->current.valid)
		return -EINVAL;
	memcpy(buf + KH_DATA_HEADER_LEN, msg, len);
	return daemon_send_payload(d, buf, len);
}

int daemon_request_peers(struct daemon *d, uint32_t *request_id)
{
	uint8_t msg[64];
	int len;

	if (d->state != KEYHOLE_SESSION_UP)
		return -ENOTCONN;
	*request_id = randombytes_random() | 1;
	len = kh_ctrl_build_peers_request(msg, sizeof(msg), *request_id, false);
	if (len < 0)
		return len;
	return daemon_send_control(d, msg, (size_t)len);
}

void daemon_handle_cookie(struct daemon *d, const uint8_t *msg, size_t len)
{
	if (d->hs_pending && kh_get_le32(msg + KH_COOKIE_RECEIVER_OFF) == d->hs_index)
		kh_cookie_consume_reply(&d->cookies, msg, len, daemon_now_ns());
}

void daemon_handle_response(struct daemon *d, const uint8_t *msg, size_t len)
{
	struct kh_keypair kp;
	uint64_t now = daemon_now_ns();
	uint8_t confirm[KH_DATA_OVERHEAD];

	if (!d->hs_pending || kh_handshake_response_receiver(msg, len) != d->hs_index)
		return;
	if (kh_handshake_consume_response(&d->hs, msg, len, &kp, now)) {
		kh_debug("handshake response refused");
		return;
	}
	d->hs_pending = false;
	if (daemon_dataplane_keys_install(d, &kp)) {
		session_lost(d, "the data plane refused the new keys", false);
		return;
	}
	d->last_rx_ns = now;
	d->last_handshake = (int64_t)time(NULL);
	/* The relay takes the keys once it hears from us under them. */
	daemon_send_payload(d, confirm, 0);
}

static void install_addresses(struct daemon *d)
{
	char err[256];
	int ret;

	ret = kh_rtnl_link_set_mtu(&d->rtnl, d->ifindex, d->assigned.mtu, err, sizeof(err));
	if (ret)
		kh_warn("cannot set MTU %u: %s", d->assigned.mtu, err[0] ? err : strerror(-ret));
	ret = kh_rtnl_addr_set(&d->rtnl, d->ifindex, 4, d->assigned.ipv4, d->assigned.ipv4_plen,
			       err, sizeof(err));
	if (ret)
		kh_warn("cannot add the IPv4 address: %s", err[0] ? err : strerror(-ret));
	ret = kh_rtnl_addr_set(&d->rtnl, d->ifindex, 6, d->assigned.ipv6, d->assigned.ipv6_plen,
			       err, sizeof(err));
	if (ret)
		kh_warn("cannot add the IPv6 address: %s", err[0] ? err : strerror(-ret));
	d->addresses_installed = true;
}

static void on_config(struct daemon *d, const uint8_t *msg, size_t len)
{
	struct kh_ctrl_config cfg;
	char a4[INET_ADDRSTRLEN], a6[INET6_ADDRSTRLEN];

	if (kh_ctrl_parse_config(msg, len, &cfg)) {
		kh_warn("relay sent a malformed configuration");
		return;
	}
	if (!d->has_assigned || memcmp(&cfg, &d->assigned, sizeof(cfg)) || !d->addresses_installed) {
		/* A new key gets new addresses: the old ones must not linger on the link. */
		if (d->has_assigned) {
			char err[256];

			if (memcmp(cfg.ipv4, d->assigned.ipv4, 4) || cfg.ipv4_plen != d->assigned.ipv4_plen)
				kh_rtnl_addr_del(&d->rtnl, d->ifindex, 4, d->assigned.ipv4,
						 d->assigned.ipv4_plen, err, sizeof(err));
			if (memcmp(cfg.ipv6, d->assigned.ipv6, 16) || cfg.ipv6_plen != d->assigned.ipv6_plen)
				kh_rtnl_addr_del(&d->rtnl, d->ifindex, 6, d->assigned.ipv6,
						 d->assigned.ipv6_plen, err, sizeof(err));
		}
		d->assigned = cfg;
		d->has_assigned = true;
		install_addresses(d);
	}
	daemon_dataplane_overlay(d);
	inet_ntop(AF_INET, cfg.ipv4, a4, sizeof(a4));
	inet_ntop(AF_INET6, cfg.ipv6, a6, sizeof(a6));
	kh_info("connected to the relay as '%s': %s/%u %s/%u", cfg.name, a4, cfg.ipv4_plen, a6,
		cfg.ipv6_plen);
	/* Enrolled now: the token has done its job. */
	if (d->cfg.has_token) {
		sodium_memzero(d->cfg.token, sizeof(d->cfg.token));
		d->cfg.has_token = false;
	}
	snprintf(d->cfg.name, sizeof(d->cfg.name), "%s", cfg.name);
	d->attempts = 0;
	set_state(d, KEYHOLE_SESSION_UP);
}

static int collect_peer(const struct kh_ctrl_peer *peer, void *ctx)
{
	struct daemon *d = ctx;

	if (d->npeers < KH_MAX_PEERS)
		d->peers[d->npeers++] = *peer;
	return 0;
}

static void on_control(struct daemon *d, const uint8_t *msg, size_t len)
{
	enum kh_goodbye_reason reason;
	uint32_t id;
	bool last;

	switch (kh_ctrl_type(msg, len)) {
	case KH_CTRL_CONFIG:
		on_config(d, msg, len);
		break;
	case KH_CTRL_GOODBYE:
		if (kh_ctrl_parse_goodbye(msg, len, &reason))
			break;
		session_lost(d, reason == KH_GOODBYE_DELETED ? "this node was deleted at the relay"
							     : "the relay said goodbye",
			     reason != KH_GOODBYE_DELETED);
		break;
	case KH_CTRL_PEERS_REPLY:
		if (!d->peers_request_id ||
		    kh_ctrl_parse_peers(msg, len, &id, &last, collect_peer, d) ||
		    id != d->peers_request_id)
			break;
		if (last)
			daemon_control_peers_done(d, true);
		break;
	default:
		break;
	}
}

void daemon_session_received(struct daemon *d, const uint8_t *payload, size_t len)
{
	/* Left over from keys already dropped: not this session's. */
	if (!d->current.valid)
		return;
	d->last_rx_ns = daemon_now_ns();
	if (len > 0)
		on_control(d, payload, len);
}

void daemon_handle_transport(struct daemon *d, uint8_t *msg, size_t len)
{
	struct kh_keypair *kp;
	int64_t index = kh_transport_receiver(msg, len);
	uint8_t *payload = msg + KH_DATA_HEADER_LEN;
	int n;

	/* The kernel opens what its keys match; the rest is stale or forged. */
	if (index < 0 || d->dataplane == KEYHOLE_DATAPLANE_KERNEL)
		return;
	if (d->current.valid && d->current.local_index == (uint32_t)index)
		kp = &d->current;
	else if (d->previous.valid && d->previous.local_index == (uint32_t)index)
		kp = &d->previous;
	else
		return;
	n = kh_transport_open(kp, msg, len, payload, daemon_now_ns());
	if (n < 0)
		return;
	if (n > 0 && (payload[0] >> 4 == 4 || payload[0] >> 4 == 6)) {
		d->last_rx_ns = daemon_now_ns();
		d->rx_packets++;
		d->rx_bytes += (uint64_t)n;
		daemon_tun_write(d, payload, (size_t)n);
	} else {
		daemon_session_received(d, payload, (size_t)n);
	}
}

void daemon_session_tick(struct daemon *d, uint64_t now)
{
	uint8_t keepalive[KH_DATA_OVERHEAD];

	if (d->state == KEYHOLE_SESSION_DOWN)
		return;
	if (d->state == KEYHOLE_SESSION_CONNECTING) {
		if (now >= d->next_attempt_ns)
			attempt(d, now);
		return;
	}
	/* Up: is the relay still there? It answers every keepalive. */
	if (now - d->last_rx_ns > dead_peer_ns(d)) {
		session_lost(d, "no answer from the relay", true);
		return;
	}
	if (d->current.valid && kh_keypair_needs_rekey(&d->current, now) &&
	    (!d->hs_pending || now - d->hs_sent_ns > 5 * SEC))
		send_initiation(d, now);
	if (d->current.valid && now - d->last_tx_ns >= keepalive_ns(d))
		daemon_send_payload(d, keepalive, 0);
	if (d->previous.valid && kh_keypair_expired(&d->previous, now))
		kh_keypair_wipe(&d->previous);
}
