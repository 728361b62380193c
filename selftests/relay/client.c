/* client.c - the test protocol client: the same library the daemon uses, over a plain UDP socket. */
#include "client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include "../../userspace/lib/csum.h"
#include "../../userspace/lib/key.h"

uint64_t tn_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int open_socket(uint16_t port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin))) {
		close(fd);
		return -errno;
	}
	return fd;
}

int tn_init(struct test_node *tn, const uint8_t relay_pub[32], uint16_t port)
{
	memset(tn, 0, sizeof(*tn));
	kh_key_generate(tn->key.priv);
	kh_key_public(tn->key.pub, tn->key.priv);
	kh_key_to_base64(tn->pub_b64, tn->key.pub);
	memcpy(tn->relay_pub, relay_pub, 32);
	tn->port = port;
	kh_cookie_maker_init(&tn->cm, relay_pub);
	tn->fd = open_socket(port);
	return tn->fd < 0 ? tn->fd : 0;
}

void tn_close(struct test_node *tn)
{
	if (tn->fd >= 0)
		close(tn->fd);
	tn->fd = -1;
	noise_handshake_wipe(&tn->hs);
	kh_keypair_wipe(&tn->kp);
}

int tn_rebind(struct test_node *tn)
{
	int fd = open_socket(tn->port);

	if (fd < 0)
		return fd;
	close(tn->fd);
	tn->fd = fd;
	return 0;
}

int tn_send_initiation(struct test_node *tn, const uint8_t *token, const char *name)
{
	uint8_t ts[KH_TAI64N_LEN], psk[NOISE_PSK_LEN] = { 0 };
	struct timespec now;
	int len;

	clock_gettime(CLOCK_REALTIME, &now);
	kh_tai64n(ts, now.tv_sec, (uint32_t)now.tv_nsec);
	len = kh_handshake_initiate(&tn->hs, &tn->cm, &tn->key, tn->relay_pub, psk,
				    randombytes_random(), ts, token, name, tn->last_initiation,
				    tn_now_ns());
	if (len < 0)
		return len;
	tn->last_initiation_len = (size_t)len;
	return send(tn->fd, tn->last_initiation, (size_t)len, 0) == len ? 0 : -errno;
}

int tn_recv_raw(struct test_node *tn, uint8_t *buf, size_t max, int timeout_ms)
{
	struct pollfd pfd = { .fd = tn->fd, .events = POLLIN };
	ssize_t n;
	int ret = poll(&pfd, 1, timeout_ms);

	if (ret <= 0)
		return ret < 0 ? -errno : 0;
	n = recv(tn->fd, buf, max, 0);
	return n < 0 ? -errno : (int)n;
}

int tn_send(struct test_node *tn, const uint8_t *payload, size_t len)
{
	uint8_t buf[4096];
	int n;

	if (!tn->have_kp || len > sizeof(buf) - KH_DATA_OVERHEAD)
		return -EINVAL;
	n = kh_transport_seal(&tn->kp, payload, len, buf, tn_now_ns());
	if (n < 0)
		return n;
	return send(tn->fd, buf, (size_t)n, 0) == n ? 0 : -errno;
}

/* Take one datagram in: a response completes the handshake; transport is opened into out. */
static int take(struct test_node *tn, uint8_t *dgram, int n, uint8_t *out)
{
	switch (kh_msg_type(dgram, (size_t)n)) {
	case KH_MSG_RESPONSE:
		if (kh_handshake_consume_response(&tn->hs, dgram, (size_t)n, &tn->kp, tn_now_ns()))
			return -EBADMSG;
		tn->have_kp = true;
		/* Confirm the keys to the relay at once. */
		tn_send(tn, NULL, 0);
		return -EAGAIN;
	case KH_MSG_COOKIE_REPLY:
		kh_cookie_consume_reply(&tn->cm, dgram, (size_t)n, tn_now_ns());
		return -EAGAIN;
	case KH_MSG_TRANSPORT:
		if (!tn->have_kp)
			return -EAGAIN;
		return kh_transport_open(&tn->kp, dgram, (size_t)n, out, tn_now_ns());
	default:
		return -EBADMSG;
	}
}

/* Handle control messages every caller wants handled; true if consumed. */
static bool absorb_control(struct test_node *tn, const uint8_t *p, int len)
{
	switch (kh_ctrl_type(p, (size_t)len)) {
	case KH_CTRL_CONFIG:
		if (!kh_ctrl_parse_config(p, (size_t)len, &tn->cfg))
			tn->have_cfg = true;
		return true;
	case KH_CTRL_GOODBYE:
		if (!kh_ctrl_parse_goodbye(p, (size_t)len, &tn->goodbye_reason))
			tn->got_goodbye = true;
		return true;
	default:
		return false;
	}
}

static int remaining_ms(uint64_t deadline)
{
	uint64_t now = tn_now_ns();

	return now >= deadline ? 0 : (int)((deadline - now) / 1000000) + 1;
}

int tn_connect(struct test_node *tn, const uint8_t *token, const char *name, int timeout_ms)
{
	uint64_t deadline = tn_now_ns() + (uint64_t)timeout_ms * 1000000ULL;
	uint8_t dgram[4096], payload[4096];
	int n, plen, ret;

	tn->have_cfg = false;
	tn->have_kp = false;
	ret = tn_send_initiation(tn, token, name);
	if (ret)
		return ret;
	while (!tn->have_cfg) {
		n = tn_recv_raw(tn, dgram, sizeof(dgram), remaining_ms(deadline));
		if (n <= 0)
			return n < 0 ? n : -ETIMEDOUT;
		plen = take(tn, dgram, n, payload);
		if (plen > 0)
			absorb_control(tn, payload, plen);
	}
	return 0;
}

/* Wait for the next payload that want() accepts, absorbing keepalives, config and goodbye. */
static int recv_payload(struct test_node *tn, bool (*want)(const uint8_t *p, int len, int type),
			int type, uint8_t *buf, size_t max, int timeout_ms)
{
	uint64_t deadline = tn_now_ns() + (uint64_t)timeout_ms * 1000000ULL;
	uint8_t dgram[4096];
	uint8_t *p = dgram + KH_DATA_HEADER_LEN;
	int n, plen;

	for (;;) {
		n = tn_recv_raw(tn, dgram, sizeof(dgram), remaining_ms(deadline));
		if (n <= 0)
			return n;
		plen = take(tn, dgram, n, p);
		if (plen <= 0)
			continue;
		if (want(p, plen, type)) {
			if ((size_t)plen > max)
				return -EMSGSIZE;
			memcpy(buf, p, (size_t)plen);
			absorb_control(tn, buf, plen);
			return plen;
		}
		absorb_control(tn, p, plen);
	}
}

static bool is_ip(const uint8_t *p, int len, int type)
{
	(void)len;
	(void)type;
	return p[0] >> 4 == 4 || p[0] >> 4 == 6;
}

static bool is_control(const uint8_t *p, int len, int type)
{
	return kh_ctrl_type(p, (size_t)len) == type;
}

int tn_recv_ip(struct test_node *tn, uint8_t *buf, size_t max, int timeout_ms)
{
	return recv_payload(tn, is_ip, 0, buf, max, timeout_ms);
}

int tn_recv_control(struct test_node *tn, int type, uint8_t *buf, size_t max, int timeout_ms)
{
	return recv_payload(tn, is_control, type, buf, max, timeout_ms);
}

int tn_shell(char *out, size_t max, const char *fmt, ...)
{
	char cmd[2048], sink[4096];
	size_t n = 0;
	va_list ap;
	FILE *p;
	int status;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	if (out && max > 0) {
		n = fread(out, 1, max - 1, p);
		out[n] = '\0';
	}
	while (fread(sink, 1, sizeof(sink), p) > 0)
		;
	status = pclose(p);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

size_t tn_build_udp4(uint8_t *out, const uint8_t src[4], const uint8_t dst[4],
		     const uint8_t *payload, size_t len)
{
	size_t total = 20 + 8 + len;

	memset(out, 0, 28);
	out[0] = 0x45;
	out[2] = (uint8_t)(total >> 8);
	out[3] = (uint8_t)total;
	out[8] = 64;
	out[9] = 17;
	memcpy(out + 12, src, 4);
	memcpy(out + 16, dst, 4);
	kh_csum_store(out + 10, kh_csum_add(0, out, 20));
	out[20] = 0x30;
	out[21] = 0x39; /* source port 12345 */
	out[22] = 0x00;
	out[23] = 0x16; /* destination port 22 */
	out[24] = (uint8_t)((8 + len) >> 8);
	out[25] = (uint8_t)(8 + len);
	memcpy(out + 28, payload, len);
	return total;
}

size_t tn_build_udp6(uint8_t *out, const uint8_t src[16], const uint8_t dst[16],
		     const uint8_t *payload, size_t len)
{
	size_t plen = 8 + len;

	memset(out, 0, 48);
	out[0] = 0x60;
	out[4] = (uint8_t)(plen >> 8);
	out[5] = (uint8_t)plen;
	out[6] = 17;
	out[7] = 64;
	memcpy(out + 8, src, 16);
	memcpy(out + 24, dst, 16);
	out[40] = 0x30;
	out[41] = 0x39;
	out[43] = 0x16;
	out[44] = (uint8_t)(plen >> 8);
	out[45] = (uint8_t)plen;
	memcpy(out + 48, payload, len);
	return 40 + plen;
}
