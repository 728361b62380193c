/* proto-bench.c - one-core cost of the protocol library: handshakes, X25519, transport seal/open. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "../../userspace/lib/handshake.h"
#include "../../userspace/lib/key.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double bench_x25519(double seconds)
{
	uint8_t priv[32], pub[32], out[32];
	double start = now_s(), elapsed;
	unsigned long n = 0, failures = 0;

	kh_key_generate(priv);
	kh_key_public(pub, priv);
	do {
		for (int i = 0; i < 100; i++)
			failures += crypto_scalarmult_curve25519(out, priv, pub) != 0;
		n += 100;
		elapsed = now_s() - start;
	} while (elapsed < seconds);
	return failures ? 0 : (double)n / elapsed;
}

struct one_ss {
	uint8_t ss[32];
	bool have;
};

/* The relay's cache of static-static DH results, for the one node of this benchmark. */
static int bench_ss(void *ctx, const uint8_t rs[32], const uint8_t s_priv[32], uint8_t out[32])
{
	struct one_ss *c = ctx;

	if (!c->have && crypto_scalarmult_curve25519(c->ss, s_priv, rs))
		return -1;
	c->have = true;
	memcpy(out, c->ss, 32);
	return 0;
}

/* Times the node's and the relay's halves of a handshake separately. */
static void bench_handshake(double seconds, bool cached, double *init_rate, double *resp_rate)
{
	struct one_ss cache = { .have = false };
	struct noise_static node, relay;
	uint8_t psk[32] = { 0 };
	uint8_t ts[KH_TAI64N_LEN], msg[KH_INIT_MAX_LEN], resp[KH_RESP_LEN];
	struct noise_handshake node_hs, relay_hs;
	struct kh_cookie_maker cm;
	struct kh_cookie_checker cc;
	struct kh_initiation init;
	struct kh_keypair kp_node, kp_relay;
	double t_init = 0, t_resp = 0, t0, start = now_s();
	unsigned long n = 0;
	int len;

	kh_key_generate(node.priv);
	kh_key_public(node.pub, node.priv);
	kh_key_generate(relay.priv);
	kh_key_public(relay.pub, relay.priv);
	kh_cookie_maker_init(&cm, relay.pub);
	kh_cookie_checker_init(&cc, relay.pub);
	kh_tai64n(ts, 1, 0);
	while (now_s() - start < seconds) {
		t0 = now_s();
		len = kh_handshake_initiate(&node_hs, &cm, &node, relay.pub, psk, 1, ts, NULL,
					    NULL, msg, 0);
		t_init += now_s() - t0;
		t0 = now_s();
		if (!kh_cookie_mac1_valid(&cc, msg, (size_t)len) ||
		    kh_handshake_consume_initiation_cached(&relay_hs, &init, &relay,
							   cached ? bench_ss : NULL, &cache, msg,
							   (size_t)len) ||
		    kh_handshake_respond(&relay_hs, psk, 2, 1, resp, &kp_relay, 0) != KH_RESP_LEN) {
			fprintf(stderr, "proto-bench: handshake failed\n");
			return;
		}
		t_resp += now_s() - t0;
		t0 = now_s();
		if (kh_handshake_consume_response(&node_hs, resp, sizeof(resp), &kp_node, 0)) {
			fprintf(stderr, "proto-bench: response refused\n");
			return;
		}
		t_init += now_s() - t0;
		n++;
	}
	*init_rate = (double)n / t_init;
	*resp_rate = (double)n / t_resp;
}

static void bench_transport(double seconds, size_t size, double *seal_gbps, double *open_gbps)
{
	static uint8_t buf[65536 + KH_DATA_OVERHEAD], out[65536];
	struct noise_split ka, kb;
	struct kh_keypair a, b;
	double t_seal = 0, t_open = 0, t0, start = now_s();
	unsigned long n = 0;
	int len;

	randombytes_buf(&ka, sizeof(ka));
	memcpy(kb.send, ka.recv, 32);
	memcpy(kb.recv, ka.send, 32);
	kh_keypair_init(&a, &ka, 1, 2, true, 0);
	kh_keypair_init(&b, &kb, 2, 1, false, 0);
	memset(buf, 0x45, sizeof(buf));
	while (now_s() - start < seconds) {
		t0 = now_s();
		for (int i = 0; i < 1000; i++)
			len = kh_transport_seal(&a, buf + KH_DATA_HEADER_LEN, size, buf, 0);
		t_seal += now_s() - t0;
		/* The same message opened again and again: reset the window between opens
		 * (one word is all a single counter touches). */
		t0 = now_s();
		for (int i = 0; i < 1000; i++) {
			b.replay.top = 0;
			memset(b.replay.bitmap, 0, sizeof(b.replay.bitmap[0]) * 2);
			if (kh_transport_open(&b, buf, (size_t)len, out, 0) < 0) {
				fprintf(stderr, "proto-bench: open failed\n");
				return;
			}
		}
		t_open += now_s() - t0;
		n += 1000;
	}
	*seal_gbps = (double)n * (double)size * 8 / t_seal / 1e9;
	*open_gbps = (double)n * (double)size * 8 / t_open / 1e9;
}

int main(int argc, char *argv[])
{
	double seconds = argc > 1 ? atof(argv[1]) : 1.0, x, hi, hr, hc, s, o;

	if (sodium_init() < 0 || seconds <= 0)
		return 1;
	x = bench_x25519(seconds);
	bench_handshake(seconds, false, &hi, &hr);
	bench_handshake(seconds, true, &hi, &hc);
	printf("| figure | value |\n|---|---|\n");
	printf("| X25519 operations per second | %.0f |\n", x);
	printf("| handshakes per second, node side (4 DH + ephemeral) | %.0f |\n", hi);
	printf("| handshakes per second, relay side (4 DH + ephemeral) | %.0f (bound X25519/4 = %.0f, %.0f%%) |\n",
	       hr, x / 4, 100 * hr / (x / 4));
	printf("| handshakes per second, relay side, static-static DH cached (3 DH + ephemeral) | %.0f (%.0f%% of X25519/4) |\n",
	       hc, 100 * hc / (x / 4));
	bench_transport(seconds, 1400, &s, &o);
	printf("| transport seal, 1400-byte packets | %.2f Gbit/s |\n", s);
	printf("| transport open, 1400-byte packets | %.2f Gbit/s |\n", o);
	return 0;
}
