/* nlcheck.c - report an interface's state straight from rtnetlink as JSON, for the netns tests. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <json-c/json.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>

#include "../userspace/common/rtnl.h"

static void add_addr(int family, const uint8_t *addr, uint8_t plen, void *ctx)
{
	char text[INET6_ADDRSTRLEN + 8];

	inet_ntop(family == 4 ? AF_INET : AF_INET6, addr, text, sizeof(text));
	snprintf(text + strlen(text), sizeof(text) - strlen(text), "/%u", plen);
	json_object_array_add(ctx, json_object_new_string(text));
}

struct route_ctx {
	int ifindex;
	struct json_object *routes;
};

static int route_cb(const struct nlmsghdr *nlh, void *data)
{
	struct route_ctx *rc = data;
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *a;
	const void *dst = NULL;
	char text[INET6_ADDRSTRLEN + 8];
	int oif = 0;

	if (nlh->nlmsg_type != RTM_NEWROUTE || rtm->rtm_table != RT_TABLE_MAIN)
		return MNL_CB_OK;
	mnl_attr_for_each(a, nlh, sizeof(*rtm)) {
		if (mnl_attr_get_type(a) == RTA_OIF && !mnl_attr_validate(a, MNL_TYPE_U32))
			oif = (int)mnl_attr_get_u32(a);
		else if (mnl_attr_get_type(a) == RTA_DST)
			dst = mnl_attr_get_payload(a);
	}
	if (oif != rc->ifindex || !dst)
		return MNL_CB_OK;
	inet_ntop(rtm->rtm_family, dst, text, sizeof(text));
	snprintf(text + strlen(text), sizeof(text) - strlen(text), "/%u", rtm->rtm_dst_len);
	json_object_array_add(rc->routes, json_object_new_string(text));
	return MNL_CB_OK;
}

static int list_routes(int ifindex, struct json_object *routes)
{
	char buf[32768];
	struct mnl_socket *nl = mnl_socket_open(NETLINK_ROUTE);
	struct nlmsghdr *nlh;
	struct rtmsg *rtm;
	struct route_ctx rc = { ifindex, routes };
	uint32_t seq = (uint32_t)time(NULL), portid;
	ssize_t n;
	int ret = MNL_CB_OK;

	struct timeval tv = { .tv_sec = 5 };

	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0)
		return -1;
	setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	portid = mnl_socket_get_portid(nl);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETROUTE;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = seq;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = AF_UNSPEC;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		mnl_socket_close(nl);
		return -1;
	}
	while (ret > MNL_CB_STOP && (n = mnl_socket_recvfrom(nl, buf, sizeof(buf))) > 0)
		ret = mnl_cb_run(buf, (size_t)n, seq, portid, route_cb, &rc);
	mnl_socket_close(nl);
	return ret < 0 ? -1 : 0;
}

int main(int argc, char *argv[])
{
	struct json_object *o, *addrs, *routes;
	struct kh_link_info info;
	struct kh_rtnl r;
	char err[256];

	if (argc != 2) {
		fprintf(stderr, "usage: nlcheck IFNAME\n");
		return 2;
	}
	if (kh_rtnl_open(&r, 0) || kh_rtnl_link_get(&r, argv[1], &info, err, sizeof(err))) {
		fprintf(stderr, "nlcheck: %s: no such interface\n", argv[1]);
		return 1;
	}
	o = json_object_new_object();
	addrs = json_object_new_array();
	routes = json_object_new_array();
	kh_rtnl_addr_list(&r, info.ifindex, add_addr, addrs, err, sizeof(err));
	kh_rtnl_close(&r);
	list_routes(info.ifindex, routes);
	json_object_object_add(o, "ifindex", json_object_new_int(info.ifindex));
	json_object_object_add(o, "up", json_object_new_boolean(info.up));
	json_object_object_add(o, "mtu", json_object_new_int64(info.mtu));
	json_object_object_add(o, "addresses", addrs);
	json_object_object_add(o, "routes", routes);
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							      JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return 0;
}
