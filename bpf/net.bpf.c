// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Network hooks. Inet endpoints are checked against the net_rules LPM trie;
 * Unix sockets by the socket file, with the same file rules (and walk) as any
 * file, so /run/docker.sock can be withheld while other sockets are granted.
 * Abstract Unix sockets have no file and cannot be granted: denied.
 */
#include "walk.bpf.h"

#define AF_UNSPEC 0
#define AF_UNIX 1
#define AF_INET 2
#define AF_INET6 10
#define AF_NETLINK 16
#define SOCK_STREAM 1
#define SOCK_RAW 3
#define MSG_FASTOPEN 0x20000000

/*
 * Reads a sockaddr_in/in6 into d; false if it is not a usable inet address.
 * family is the address's first field, read by the caller.
 */
static __always_inline bool read_inet(struct decision *d, const void *address, int addrlen, __u16 family)
{
	if (family == AF_INET) {
		struct sockaddr_in sin = {};

		if (bpf_probe_read_kernel(&sin, sizeof(sin), address))
			return false;
		d->family = 4;
		d->port = bpf_ntohs(sin.sin_port);
		__builtin_memcpy(d->addr, &sin.sin_addr.s_addr, 4);
		return true;
	}
	if (family == AF_INET6 && addrlen >= (int)sizeof(struct sockaddr_in6)) {
		struct sockaddr_in6 sin6 = {};
		const __u8 *a;

		if (bpf_probe_read_kernel(&sin6, sizeof(sin6), address))
			return false;
		d->port = bpf_ntohs(sin6.sin6_port);
		a = sin6.sin6_addr.in6_u.u6_addr8;
		/* ::ffff:a.b.c.d is a.b.c.d: one rule set for both spellings. */
		if (!a[0] && !a[1] && !a[2] && !a[3] && !a[4] && !a[5] && !a[6] && !a[7] && !a[8] &&
		    !a[9] && a[10] == 0xff && a[11] == 0xff) {
			d->family = 4;
			__builtin_memcpy(d->addr, a + 12, 4);
		} else {
			d->family = 6;
			__builtin_memcpy(d->addr, a, 16);
		}
		return true;
	}
	return false;
}

/*
 * An AF_INET address through a BTF pointer: struct sockaddr's sa_data holds
 * sin_port (network order) and then sin_addr, which sockaddr_in's layout
 * puts at its offsets 2 and 4. Byte loads: the verifier allows a load of an
 * array's element size. The caller checked that the address is as long as
 * a sockaddr_in.
 */
static __always_inline bool read_inet4(struct decision *d, const struct sockaddr *address)
{
	const char *data = address->sa_data;

	d->family = 4;
	d->port = (__u16)((__u8)data[0] << 8 | (__u8)data[1]);
	d->addr[0] = data[2];
	d->addr[1] = data[3];
	d->addr[2] = data[4];
	d->addr[3] = data[5];
	return true;
}

/* Looks up the exact port and "any port", uniting their live rights. */
static __always_inline void check_endpoint(struct decision *d, __u32 session_id, int net_right)
{
	struct grantd_net_key key = {};
	__u32 bit = d->requested;
	__u64 now = bpf_ktime_get_boot_ns();
	const struct grantd_net_rule *rule;
	int i;

	key.prefixlen = GRANTD_NET_KEY_FIXED_BITS + (d->family == 4 ? 32 : 128);
	key.session_id = session_id;
	key.family = d->family;
	key.protocol = d->protocol;
	key.port = d->port;
	__builtin_memcpy(key.addr, d->addr, sizeof(key.addr));
#pragma unroll
	for (i = 0; i < 2; i++) {
		rule = bpf_map_lookup_elem(&net_rules, &key);
		if (rule && net_right >= 0 && net_right < GRANTD_NR_NET_RIGHTS) {
			__u64 deadline = rule->deadline_ns[net_right];

			if (live(deadline, now))
				d->granted |= bit;
			else if (deadline)
				d->expired |= bit;
		}
		if (d->granted & bit)
			return;
		key.port = 0;
	}
}

/*
 * The right an inet hook needs: bind for bind; connect for connect and for a
 * stream's TCP Fast Open message; send for a datagram sent to an address.
 * btf: address is the hook's own struct sockaddr argument, which the
 * verifier lets the program load from directly; else it is read with probe
 * reads.
 */
static __always_inline int inet_check(__u16 hook, struct socket *sock, const struct sockaddr *address, int addrlen,
				      bool btf)
{
	struct sock *sk = sock->sk;
	struct subject s;
	__u32 right = RIGHT(SEND);
	int net_right = GRANTD_NET_SEND;
	__u16 family = 0;

	if (!sk || !subject_of(&s))
		return 0;
	if (hook == GRANTD_HOOK_SOCKET_BIND) {
		right = RIGHT(BIND);
		net_right = GRANTD_NET_BIND;
	} else if (hook == GRANTD_HOOK_SOCKET_CONNECT || sock->type == SOCK_STREAM) {
		right = RIGHT(CONNECT);
		net_right = GRANTD_NET_CONNECT;
	}
	struct decision d = { .requested = right };

	d.protocol = sk->sk_protocol;
	/* A NULL address reads as family 0 either way (a faulting BTF load yields 0). */
	if (btf)
		family = address->sa_family;
	else
		bpf_probe_read_kernel(&family, sizeof(family), address);
	if (addrlen < (int)sizeof(struct sockaddr_in) ||
	    !(btf && family == AF_INET ? read_inet4(&d, address) : read_inet(&d, address, addrlen, family))) {
		/* Disconnecting (AF_UNSPEC) reaches nobody. */
		if (family == AF_UNSPEC && hook == GRANTD_HOOK_SOCKET_CONNECT)
			d.requested = 0;
		else
			d.reason = GRANTD_REASON_UNRESOLVED;
	} else if (session_of(&s)) {
		check_endpoint(&d, s.session->session_id, net_right);
	}
	return finish(&s, &d, hook);
}

/* For send: msg_name is a void pointer, read with probe reads. */
GOVERNED_PART int inet_governed(__u16 hook, struct socket *sock, const void *address, int addrlen)
{
	return inet_check(hook, sock, address, addrlen, false);
}

/*
 * For connect and bind, whose address argument is a struct sockaddr the
 * verifier knows: its family, port and IPv4 address are loaded directly
 * (fault-safe loads of a few instructions), not with two probe reads.
 */
GOVERNED_PART int inet_governed_sa(__u16 hook, struct socket *sock, const struct sockaddr *address, int addrlen)
{
	return inet_check(hook, sock, address, addrlen, true);
}

/* 6.12's verifier knows socket.sk may be NULL: every use checks it. */
static __always_inline bool inet_socket(struct socket *sock)
{
	struct sock *sk = sock->sk;
	__u16 family;

	if (!sk)
		return false;
	family = sk->__sk_common.skc_family;
	return family == AF_INET || family == AF_INET6;
}

SEC("lsm/socket_connect")
int BPF_PROG(grantd_socket_connect, struct socket *sock, struct sockaddr *address, int addrlen, int ret)
{
	if (ret)
		return ret;
	if (!inet_socket(sock) || !in_governed_tree())
		return 0; /* Unix: unix_stream_connect / unix_may_send */
	return inet_governed_sa(GRANTD_HOOK_SOCKET_CONNECT, sock, address, addrlen);
}

/*
 * Only messages that name their destination: unconnected datagrams (send),
 * and TCP Fast Open, which connects with its first message (connect).
 */
SEC("lsm/socket_sendmsg")
int BPF_PROG(grantd_socket_sendmsg, struct socket *sock, struct msghdr *msg, int size, int ret)
{
	bool stream;

	if (ret)
		return ret;
	if (!msg->msg_name || !inet_socket(sock))
		return 0;
	stream = sock->type == SOCK_STREAM;
	if (stream && !(msg->msg_flags & MSG_FASTOPEN))
		return 0; /* a stream ignores the address once connected */
	if (!in_governed_tree())
		return 0;
	return inet_governed(GRANTD_HOOK_SOCKET_SENDMSG, sock, msg->msg_name, msg->msg_namelen);
}

SEC("lsm/socket_bind")
int BPF_PROG(grantd_socket_bind, struct socket *sock, struct sockaddr *address, int addrlen, int ret)
{
	if (ret)
		return ret;
	if (!inet_socket(sock) || !in_governed_tree())
		return 0; /* a Unix socket file is created: path_mknod */
	return inet_governed_sa(GRANTD_HOOK_SOCKET_BIND, sock, address, addrlen);
}

/* listen() autobinds an unbound socket: check the local port it has now. */
SEC("lsm/socket_listen")
int BPF_PROG(grantd_socket_listen, struct socket *sock, int backlog, int ret)
{
	struct decision d = { .requested = RIGHT(BIND) };
	struct sock *sk = sock->sk;
	struct subject s;

	if (ret)
		return ret;
	if (!sk || !inet_socket(sock))
		return 0;
	if (!governed(&s))
		return 0;
	d.protocol = sk->sk_protocol;
	d.port = sk->__sk_common.skc_num;
	if (sk->__sk_common.skc_family == AF_INET) {
		d.family = 4;
		__builtin_memcpy(d.addr, &sk->__sk_common.skc_rcv_saddr, 4);
	} else {
		d.family = 6;
		__builtin_memcpy(d.addr, &sk->__sk_common.skc_v6_rcv_saddr, 16);
	}
	if (session_of(&s))
		check_endpoint(&d, s.session->session_id, GRANTD_NET_BIND);
	return finish(&s, &d, GRANTD_HOOK_SOCKET_LISTEN);
}

/* No raw or packet sockets, and no families grantd cannot reason about. */
GOVERNED_PART int socket_create_governed(int family, int kind)
{
	struct subject s;

	if (!subject_of(&s))
		return 0;
	struct decision d = { .target_id = ((__u64)family << 32) | (__u32)kind };

	if (!(family == AF_UNIX || family == AF_NETLINK ||
	      ((family == AF_INET || family == AF_INET6) && kind != SOCK_RAW)))
		d.reason = GRANTD_REASON_PROTECTED;
	return finish(&s, &d, GRANTD_HOOK_SOCKET_CREATE);
}

SEC("lsm/socket_create")
int BPF_PROG(grantd_socket_create, int family, int type, int protocol, int kern, int ret)
{
	if (ret)
		return ret;
	if (kern || !in_governed_tree())
		return 0;
	return socket_create_governed(family, type & 0xf);
}

/* The peer of a Unix socket, by its socket file. */
static __always_inline int check_unix_peer(__u16 hook, __u32 right, struct sock *other)
{
	struct decision d = { .requested = right };
	struct unix_sock *peer = (void *)other;
	struct dentry *dentry;
	struct subject s;

	if (!governed(&s))
		return 0;
	dentry = BPF_CORE_READ(peer, path.dentry);
	if (!dentry) {
		d.reason = GRANTD_REASON_UNRESOLVED; /* abstract or unbound */
		return finish(&s, &d, hook);
	}
	d.name = BPF_CORE_READ(dentry, d_name.name);
	d.dev = BPF_CORE_READ(dentry, d_sb, s_dev);
	d.ino = BPF_CORE_READ(dentry, d_inode, i_ino);
	slow_walk(&d, s.cgroup_id, dentry, real_mount(BPF_CORE_READ(peer, path.mnt)), bpf_ktime_get_boot_ns());
	return finish(&s, &d, hook);
}

SEC("lsm/unix_stream_connect")
int BPF_PROG(grantd_unix_stream_connect, struct sock *sock, struct sock *other, struct sock *newsk, int ret)
{
	if (ret)
		return ret;
	return check_unix_peer(GRANTD_HOOK_UNIX_CONNECT, RIGHT(CONNECT), other);
}

SEC("lsm/unix_may_send")
int BPF_PROG(grantd_unix_may_send, struct socket *sock, struct socket *other, int ret)
{
	struct sock *peer = other->sk;

	if (ret)
		return ret;
	if (!peer)
		return 0;
	return check_unix_peer(GRANTD_HOOK_UNIX_SEND, RIGHT(SEND), peer);
}
