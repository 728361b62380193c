// SPDX-License-Identifier: GPL-2.0
/* socket.c - the daemon's UDP socket: hooked so transport messages stop in the kernel. */
#include <linux/file.h>
#include <linux/net.h>
#include <linux/udp.h>
#include <net/sock.h>
#include <net/udp.h>
#include <net/udp_tunnel.h>

#include "keyhole.h"

/* Any non-zero encapsulation type turns on the encap hook; 1 is what WireGuard uses too. */
#define KEYHOLE_UDP_ENCAP_TYPE 1

static int check_socket(struct keyhole_dev *kd, struct socket *sock,
			struct netlink_ext_ack *extack)
{
	struct sock *sk = sock->sk;

	if (!sk || sk->sk_type != SOCK_DGRAM || sk->sk_protocol != IPPROTO_UDP ||
	    (sk->sk_family != AF_INET && sk->sk_family != AF_INET6)) {
		NL_SET_ERR_MSG_MOD(extack, "the socket is not a UDP socket");
		return -EINVAL;
	}
	if (!net_eq(sock_net(sk), dev_net(kd->dev))) {
		NL_SET_ERR_MSG_MOD(extack, "the socket is in another network namespace");
		return -EINVAL;
	}
	return 0;
}

/* Unhook a socket and drop our reference; conf_lock held. */
static void release_socket(struct socket *sock)
{
	struct sock *sk = sock->sk;

	lock_sock(sk);
	rcu_assign_sk_user_data(sk, NULL);
	WRITE_ONCE(udp_sk(sk)->encap_rcv, NULL);
	udp_sk(sk)->encap_type = 0;
	release_sock(sk);
	/* No CPU may still be in keyhole_udp_recv for it once the module can go away. */
	synchronize_net();
	sockfd_put(sock);
}

/* Take the daemon's socket fd: hook it, remember it, let go of the one before. */
int keyhole_socket_attach(struct keyhole_dev *kd, int fd, struct netlink_ext_ack *extack)
{
	struct udp_tunnel_sock_cfg cfg = {
		.sk_user_data = kd,
		.encap_type = KEYHOLE_UDP_ENCAP_TYPE,
		.encap_rcv = keyhole_udp_recv,
	};
	struct socket *sock, *old;
	void *owner;
	int err;

	sock = sockfd_lookup(fd, &err);
	if (!sock) {
		NL_SET_ERR_MSG_MOD(extack, "the socket descriptor is not a socket");
		return err;
	}
	err = check_socket(kd, sock, extack);
	if (err)
		goto put;
	old = rcu_dereference_protected(kd->sock, lockdep_is_held(&kd->conf_lock));
	if (old == sock) {
		err = 0; /* the same socket again: keep the reference we hold */
		goto put;
	}
	/* Under the socket's lock, so two devices cannot both take it. */
	lock_sock(sock->sk);
	rcu_read_lock();
	owner = rcu_dereference_sk_user_data(sock->sk);
	rcu_read_unlock();
	if (owner) {
		release_sock(sock->sk);
		NL_SET_ERR_MSG_MOD(extack, "the socket is already in use by a tunnel");
		err = -EBUSY;
		goto put;
	}
	setup_udp_tunnel_sock(dev_net(kd->dev), sock, &cfg);
	release_sock(sock->sk);
	rcu_assign_pointer(kd->sock, sock);
	if (old)
		release_socket(old);
	return 0;
put:
	sockfd_put(sock);
	return err;
}

void keyhole_socket_detach(struct keyhole_dev *kd)
{
	struct socket *sock = rcu_replace_pointer(kd->sock, NULL, lockdep_is_held(&kd->conf_lock));

	if (sock)
		release_socket(sock);
}
