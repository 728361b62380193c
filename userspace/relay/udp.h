/* udp.h - the relay's UDP sockets: batched receive (recvmmsg) and a send queue (sendmmsg). */
#ifndef KEYHOLE_RELAY_UDP_H
#define KEYHOLE_RELAY_UDP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct relay;

/* A datagram this large covers any overlay MTU up to 4000 bytes. */
#define RELAY_BUF_SIZE 4096
#define RELAY_BATCH 32
#define RELAY_TXPOOL 64

int relay_udp_open(struct relay *r, char *err, size_t err_len);
void relay_udp_close(struct relay *r);
/* The socket descriptors, for the event loop. */
int relay_udp_fd(const struct relay *r, int sock);
int relay_udp_count(const struct relay *r);
/* Receive and dispatch what is waiting on socket sock (bounded per call). */
void relay_udp_receive(struct relay *r, int sock);
/* A scratch buffer of RELAY_BUF_SIZE bytes that stays valid until the next flush. */
uint8_t *relay_udp_txbuf(struct relay *r);
/* Queue buf[0..len) for dst on socket sock; buf must live until the flush. */
void relay_udp_queue(struct relay *r, int sock, uint8_t *buf, size_t len,
		     const struct sockaddr *dst, socklen_t dst_len);
void relay_udp_flush(struct relay *r);
/* Human-readable endpoint, "192.0.2.1:51820" or "[2001:db8::1]:51820". */
void relay_endpoint_str(const struct sockaddr *sa, char *out, size_t len);

#endif
