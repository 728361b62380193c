/* client.h - a real keyhole protocol client for tests and load generation (no TUN): handshake, send, receive. */
#ifndef KEYHOLE_TEST_CLIENT_H
#define KEYHOLE_TEST_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../userspace/lib/control.h"
#include "../../userspace/lib/handshake.h"

struct test_node {
	struct noise_static key;
	char pub_b64[45];
	uint8_t relay_pub[32];
	uint16_t port;
	int fd; /* UDP socket connected to the relay on loopback */
	struct noise_handshake hs;
	struct kh_cookie_maker cm;
	struct kh_keypair kp;
	bool have_kp;
	struct kh_ctrl_config cfg;
	bool have_cfg;
	bool got_goodbye;
	enum kh_goodbye_reason goodbye_reason;
	uint8_t last_initiation[KH_INIT_MAX_LEN];
	size_t last_initiation_len;
};

/* A node with a fresh key and a socket towards 127.0.0.1:port. */
int tn_init(struct test_node *tn, const uint8_t relay_pub[32], uint16_t port);
void tn_close(struct test_node *tn);
/* A new socket: a new source port, as after a NAT rebinding. */
int tn_rebind(struct test_node *tn);
/* Send an initiation (optionally with token/name) and nothing more. */
int tn_send_initiation(struct test_node *tn, const uint8_t *token, const char *name);
/* Full handshake: initiation, response, keepalive, until the relay's config arrives. */
int tn_connect(struct test_node *tn, const uint8_t *token, const char *name, int timeout_ms);
/* Wait for one datagram; returns its length, 0 on timeout, <0 on error. */
int tn_recv_raw(struct test_node *tn, uint8_t *buf, size_t max, int timeout_ms);
/* Seal and send a payload (IP packet, control message, or empty keepalive). */
int tn_send(struct test_node *tn, const uint8_t *payload, size_t len);
/*
 * Wait for the next IP packet through the session, handling what else comes
 * (keepalives, config, goodbye). Returns its length, 0 on timeout.
 */
int tn_recv_ip(struct test_node *tn, uint8_t *buf, size_t max, int timeout_ms);
/* Wait for the next control message of the given type; length, 0 on timeout. */
int tn_recv_control(struct test_node *tn, int type, uint8_t *buf, size_t max, int timeout_ms);

/* Build a UDP-in-IPv4/IPv6 packet from src to dst carrying payload; returns its length. */
/* Run a shell command line; up to max - 1 bytes of its stdout into out (NUL-terminated; out
 * may be NULL), the rest read and dropped. Its exit status, -1 if it did not run or died. */
int tn_shell(char *out, size_t max, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

size_t tn_build_udp4(uint8_t *out, const uint8_t src[4], const uint8_t dst[4],
		     const uint8_t *payload, size_t len);
size_t tn_build_udp6(uint8_t *out, const uint8_t src[16], const uint8_t dst[16],
		     const uint8_t *payload, size_t len);

uint64_t tn_now_ns(void);

#endif
