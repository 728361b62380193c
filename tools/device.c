/* device.c - build the keyhole family's requests for the subcommands and read their answers. */
#include "device.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "transport.h"

#define REQ_MAX 4096

static int request(const char *ifname, uint8_t cmd, uint16_t flags, const struct kh_device *dev,
		   int (*cb)(const struct nlmsghdr *nlh, void *ctx), void *ctx, char *err,
		   size_t err_len)
{
	uint8_t buf[REQ_MAX];
	struct kh_transport t;
	struct nlmsghdr *nlh;
	char why[256];
	int ret;

	ret = transport_open(&t, ifname, err, err_len);
	if (ret)
		return ret;
	nlh = kh_genl_msg_start(buf, t.family, cmd, flags, 0);
	if (dev && !kh_genl_put_device(nlh, sizeof(buf), dev)) {
		transport_close(&t);
		snprintf(err, err_len, "%s: request too large", ifname);
		return -EMSGSIZE;
	}
	ret = transport_request(&t, nlh, cb, ctx, why, sizeof(why));
	sodium_memzero(buf, sizeof(buf));
	transport_close(&t);
	if (ret)
		snprintf(err, err_len, "%s: %s", ifname, why[0] ? why : strerror(-ret));
	return ret;
}

static int device_cb(const struct nlmsghdr *nlh, void *ctx)
{
	const char *why;

	return kh_genl_parse_device(nlh, ctx, &why) ? -EBADMSG : 0;
}

int device_get(const char *ifname, bool with_private, struct kh_device *dev, char *err,
	       size_t err_len)
{
	struct kh_device req = { .flags = with_private ? KEYHOLE_F_SHOW_PRIVATE_KEY : 0 };

	memset(dev, 0, sizeof(*dev));
	return request(ifname, KEYHOLE_CMD_GET_DEVICE, 0, &req, device_cb, dev, err, err_len);
}

int device_set(const char *ifname, const struct kh_device *dev, char *err, size_t err_len)
{
	return request(ifname, KEYHOLE_CMD_SET_DEVICE, 0, dev, NULL, NULL, err, err_len);
}

int device_del(const char *ifname, char *err, size_t err_len)
{
	return request(ifname, KEYHOLE_CMD_DEL_DEVICE, 0, NULL, NULL, NULL, err, err_len);
}

struct peers_ctx {
	struct kh_ctrl_peer *peers;
	size_t count, cap;
};

static int peer_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct peers_ctx *ctx = arg;
	const char *why;

	if (ctx->count == ctx->cap) {
		size_t cap = ctx->cap ? ctx->cap * 2 : 16;
		struct kh_ctrl_peer *grown = realloc(ctx->peers, cap * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		ctx->peers = grown;
		ctx->cap = cap;
	}
	if (kh_genl_parse_peer(nlh, &ctx->peers[ctx->count], &why))
		return -EBADMSG;
	ctx->count++;
	return 0;
}

int device_peers(const char *ifname, struct kh_ctrl_peer **peers, size_t *count, char *err,
		 size_t err_len)
{
	struct peers_ctx ctx = { NULL, 0, 0 };
	int ret = request(ifname, KEYHOLE_CMD_GET_PEERS, NLM_F_DUMP, NULL, peer_cb, &ctx, err,
			  err_len);

	if (ret) {
		free(ctx.peers);
		return ret;
	}
	*peers = ctx.peers;
	*count = ctx.count;
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(a, b);
}

size_t device_list(char names[][IFNAMSIZ], size_t max)
{
	DIR *dir = opendir(transport_run_dir());
	struct dirent *e;
	size_t n = 0, len;

	if (!dir)
		return 0;
	while (n < max && (e = readdir(dir))) {
		len = strlen(e->d_name);
		if (len > 5 && len - 5 < IFNAMSIZ && !strcmp(e->d_name + len - 5, ".sock")) {
			memcpy(names[n], e->d_name, len - 5);
			names[n][len - 5] = '\0';
			n++;
		}
	}
	closedir(dir);
	qsort(names, n, IFNAMSIZ, cmp_names);
	return n;
}

void print_bytes(char *out, size_t len, uint64_t bytes)
{
	static const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)bytes;
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(out, len, "%llu B", (unsigned long long)bytes);
	else
		snprintf(out, len, "%.2f %s", v, units[u]);
}

void print_ago(char *out, size_t len, uint64_t t)
{
	time_t now = time(NULL);
	long long d = (long long)now - (long long)t;

	if (!t)
		snprintf(out, len, "never");
	else if (d < 60)
		snprintf(out, len, "%lld second%s ago", d, d == 1 ? "" : "s");
	else if (d < 3600)
		snprintf(out, len, "%lld minute%s, %lld seconds ago", d / 60, d / 60 == 1 ? "" : "s",
			 d % 60);
	else
		snprintf(out, len, "%lld hours, %lld minutes ago", d / 3600, d % 3600 / 60);
}

const char *state_text(uint8_t state)
{
	switch (state) {
	case KEYHOLE_SESSION_UP:
		return "up";
	case KEYHOLE_SESSION_CONNECTING:
		return "connecting";
	default:
		return "down";
	}
}
