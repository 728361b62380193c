/* router.c - transport messages from nodes: authenticate, roam, and forward, answer or drop what they carry. */
#include <errno.h>
#include <string.h>

#include "../common/log.h"
#include "../lib/ippacket.h"
#include "relay.h"
#include "udp.h"

static bool same_endpoint(const struct relay_session *s, int sock,
			  const struct sockaddr_storage *src, socklen_t src_len)
{
	return s->sock == sock && s->endpoint_len == src_len &&
	       !memcmp(&s->endpoint, src, src_len);
}

void relay_send_to_session(struct relay *r, struct relay_session *s, uint8_t *buf,
			   size_t payload_len)
{
	struct relay_node *n = &r->nodes[s->node];
	int len;

	len = kh_transport_seal(&s->current, buf + KH_DATA_HEADER_LEN, payload_len, buf,
				relay_now_ns());
	if (len < 0)
		return;
	n->tx_packets++;
	n->tx_bytes += (uint64_t)len;
	relay_udp_queue(r, s->sock, buf, (size_t)len, &s->endpoint.sa, s->endpoint_len);
}

void relay_send_control(struct relay *r, struct relay_session *s, const uint8_t *msg,
			size_t len)
{
	uint8_t *buf;

	if (!s->current.valid || len > RELAY_BUF_SIZE - KH_DATA_OVERHEAD)
		return;
	buf = relay_udp_txbuf(r);
	memcpy(buf + KH_DATA_HEADER_LEN, msg, len);
	relay_send_to_session(r, s, buf, len);
}

/* ICMP destination unreachable back to the sender, from the relay's own overlay address. */
static void send_unreachable(struct relay *r, struct relay_session *s, const uint8_t *pkt,
			     size_t len, const struct kh_ip_info *info,
			     enum kh_unreach_reason reason)
{
	struct kh_ipaddr from = { .family = info->src.family };
	uint8_t *buf;
	int icmp_len;

	if (!kh_ratelimit_allow(&s->icmp_rl, r->cfg.icmp_rate, r->cfg.icmp_burst, relay_now_ns())) {
		r->counters[RC_DROP_ICMP_RATE]++;
		return;
	}
	memcpy(from.bytes, from.family == 4 ? r->relay_ipv4 : r->relay_ipv6,
	       from.family == 4 ? 4 : 16);
	buf = relay_udp_txbuf(r);
	icmp_len = kh_icmp_unreachable(&from, pkt, len, reason, buf + KH_DATA_HEADER_LEN,
				       RELAY_BUF_SIZE - KH_DATA_OVERHEAD);
	if (icmp_len < 0)
		return;
	r->counters[reason == KH_UNREACH_HOST ? RC_ICMP_UNREACHABLE : RC_ICMP_PROHIBITED]++;
	relay_send_to_session(r, s, buf, (size_t)icmp_len);
}

static bool is_relay_addr(const struct relay *r, const struct kh_ipaddr *a)
{
	return a->family == 4 ? !memcmp(a->bytes, r->relay_ipv4, 4)
			      : !memcmp(a->bytes, r->relay_ipv6, 16);
}

/* Cryptokey routing: the inner source must be one of the sender's own addresses. */
static bool source_is_own(const struct relay_node *n, const struct kh_ipaddr *src)
{
	return src->family == 4 ? !memcmp(src->bytes, n->rec.ipv4, 4)
				: !memcmp(src->bytes, n->rec.ipv6, 16);
}

static void route_ip(struct relay *r, struct relay_session *s, uint8_t *buf, size_t len)
{
	uint8_t *pkt = buf + KH_DATA_HEADER_LEN;
	struct relay_node *from = &r->nodes[s->node], *to;
	struct relay_session *dst;
	struct kh_ip_info info;
	uint32_t to_idx;

	if (kh_ip_parse(pkt, len, &info)) {
		r->counters[RC_DROP_BAD_INNER]++;
		return;
	}
	if (!source_is_own(from, &info.src)) {
		r->counters[RC_DROP_SPOOFED_SOURCE]++;
		return;
	}
	/* Trailing bytes after the IP packet are not forwarded. */
	len = info.total_len;
	if (is_relay_addr(r, &info.dst)) {
		r->counters[RC_DROP_TO_RELAY]++;
		return;
	}
	if (!relay_node_by_addr(r, &info.dst, &to_idx) || !r->nodes[to_idx].active) {
		/* Deleted or never enrolled: say so at once, never forward elsewhere. */
		send_unreachable(r, s, pkt, len, &info, KH_UNREACH_HOST);
		return;
	}
	to = &r->nodes[to_idx];
	/* Policy before presence: whether a node hidden from the sender is online
	 * is none of the sender's business, so it gets the same answer either way. */
	if (!relay_policy_allows(r, from, to)) {
		send_unreachable(r, s, pkt, len, &info, KH_UNREACH_PROHIBITED);
		return;
	}
	if (to->session == KH_NO_INDEX || !r->sessions[to->session].online ||
	    !r->sessions[to->session].current.valid) {
		send_unreachable(r, s, pkt, len, &info, KH_UNREACH_HOST);
		return;
	}
	dst = &r->sessions[to->session];
	r->counters[RC_FORWARDED_PACKETS]++;
	r->counters[RC_FORWARDED_BYTES] += len;
	/* Re-encrypt in place: the plaintext already sits where the seal wants it. */
	relay_send_to_session(r, dst, buf, len);
}

/* The peers this node may see (the policy decides), in as many replies as needed. */
static void send_peer_list(struct relay *r, struct relay_session *s, uint32_t request_id)
{
	struct kh_ctrl_peers_writer pw;
	struct kh_ctrl_peer peer;
	uint8_t msg[KH_CTRL_MAX];
	struct relay_node *self = &r->nodes[s->node];
	uint32_t i;
	int len;

	kh_ctrl_peers_begin(&pw, msg, sizeof(msg), KH_CTRL_PEERS_REPLY, request_id);
	for (i = 0; i < r->nnodes; i++) {
		struct relay_node *n = &r->nodes[i];
		bool online;

		if (!n->active || i == s->node || !relay_policy_allows(r, self, n))
			continue;
		online = n->session != KH_NO_INDEX && r->sessions[n->session].online;
		relay_node_to_peer(r, n, online, &peer);
		if (kh_ctrl_peers_add(&pw, &peer))
			continue;
		len = kh_ctrl_peers_finish(&pw, false);
		if (len > 0)
			relay_send_control(r, s, msg, (size_t)len);
		kh_ctrl_peers_begin(&pw, msg, sizeof(msg), KH_CTRL_PEERS_REPLY, request_id);
		kh_ctrl_peers_add(&pw, &peer);
	}
	len = kh_ctrl_peers_finish(&pw, true);
	if (len > 0)
		relay_send_control(r, s, msg, (size_t)len);
}

static void handle_control(struct relay *r, struct relay_session *s, const uint8_t *msg,
			   size_t len)
{
	enum kh_goodbye_reason reason;
	uint32_t request_id;
	bool follow;

	switch (kh_ctrl_type(msg, len)) {
	case KH_CTRL_GOODBYE:
		if (kh_ctrl_parse_goodbye(msg, len, &reason))
			break;
		relay_session_end(r, s, "goodbye", false, KH_GOODBYE_SHUTDOWN);
		return;
	case KH_CTRL_PEERS_REQUEST:
		if (kh_ctrl_parse_peers_request(msg, len, &request_id, &follow))
			break;
		relay_session_follow(r, s, follow);
		send_peer_list(r, s, request_id);
		return;
	default:
		break;
	}
	r->counters[RC_DROP_BAD_INNER]++;
}

void relay_handle_transport(struct relay *r, int sock, const struct sockaddr_storage *src,
			    socklen_t src_len, uint8_t *msg, size_t len)
{
	struct relay_session *s;
	struct kh_keypair *kp;
	uint64_t now = relay_now_ns();
	int64_t index = kh_transport_receiver(msg, len);
	int plen;

	if (index < 0) {
		r->counters[RC_DROP_MALFORMED]++;
		return;
	}
	s = relay_session_for_index(r, (uint32_t)index, &kp);
	if (!s) {
		r->counters[RC_DROP_UNKNOWN_INDEX]++;
		return;
	}
	plen = kh_transport_open(kp, msg, len, msg + KH_DATA_HEADER_LEN, now);
	if (plen == -EALREADY) {
		r->counters[RC_DROP_REPLAY]++;
		return;
	}
	if (plen < 0) {
		r->counters[RC_DROP_DECRYPT]++;
		return;
	}
	/* Authenticated: now, and only now, the packet may move the endpoint. */
	if (!same_endpoint(s, sock, src, src_len)) {
		char ep[64];

		memcpy(&s->endpoint, src, src_len);
		s->endpoint_len = src_len;
		s->sock = sock;
		relay_endpoint_str((const struct sockaddr *)src, ep, sizeof(ep));
		kh_info("node '%s' roamed to %s", r->nodes[s->node].rec.name, ep);
	}
	s->last_rx_ns = now;
	r->nodes[s->node].rx_packets++;
	r->nodes[s->node].rx_bytes += len;
	if (kp == s->next)
		relay_session_confirm(r, s);
	if (plen == 0) {
		/* A keepalive: answer it so the node knows the relay still holds its session. */
		relay_send_to_session(r, s, relay_udp_txbuf(r), 0);
		return;
	}
	switch (msg[KH_DATA_HEADER_LEN] >> 4) {
	case 4:
	case 6:
		route_ip(r, s, msg, (size_t)plen);
		break;
	default:
		handle_control(r, s, msg + KH_DATA_HEADER_LEN, (size_t)plen);
		break;
	}
}
