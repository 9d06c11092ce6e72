// SPDX-License-Identifier: GPL-2.0
/*
 * netmatrix lab: Service translation at connect() time, the socket-level load balancing of
 * Cilium's and Calico's eBPF dataplanes. Attached to the lab's cgroup v2 folder, so it sees the
 * sockets of every process placed there (the lab's agents and their iperf3 children):
 *
 *   cgroup/connect4  TCP connect() and UDP connect() to ClusterIP:port -> backend podIP:port
 *   cgroup/sendmsg4  the same for datagrams an unconnected UDP socket sends with an address
 *   cgroup/recvmsg4  an unconnected UDP socket sees replies as coming from the ClusterIP
 *
 * No packet is ever rewritten: the socket talks to the backend from the start, so there is no
 * DNAT rule and no conntrack entry for the Service. Userspace fills nm_services (and
 * nm_backends, its reverse) with bpftool; nm_svc_hits counts what was translated, per Service,
 * as evidence that traffic took this path.
 *
 * Built by `lab up` with Debian's clang: clang -O2 -g -target bpf -c service.c
 */
#include <linux/bpf.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>

/* A Service port. Address and port in network byte order, as in struct bpf_sock_addr. */
struct svc_key {
	__u32 ip;
	__u16 port;
	__u8 proto; /* IPPROTO_TCP or IPPROTO_UDP */
	__u8 pad;
};

/* Where a Service port leads: one backend (the lab has one pod behind each Service). */
struct svc_backend {
	__u32 ip;
	__u16 port;
	__u16 pad;
};

/* What was translated for one Service port. */
struct svc_hits {
	__u64 connect;  /* connect() calls rewritten: TCP connections, connected UDP sockets */
	__u64 sendmsg;  /* datagrams of unconnected UDP sockets rewritten */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct svc_key);
	__type(value, struct svc_backend);
} nm_services SEC(".maps");

/* Reverse of nm_services, keyed by backend, for recvmsg4. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct svc_key);
	__type(value, struct svc_backend);
} nm_backends SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct svc_key);
	__type(value, struct svc_hits);
} nm_svc_hits SEC(".maps");

static __always_inline int translate(struct bpf_sock_addr *ctx, int is_sendmsg)
{
	struct svc_key key = {
		.ip = ctx->user_ip4,
		.port = (__u16)ctx->user_port,
		.proto = (__u8)ctx->protocol,
	};
	struct svc_backend *be = bpf_map_lookup_elem(&nm_services, &key);
	if (!be)
		return 1; /* not a Service: leave the socket alone */

	ctx->user_ip4 = be->ip;
	ctx->user_port = be->port;

	struct svc_hits *hits = bpf_map_lookup_elem(&nm_svc_hits, &key);
	if (hits) {
		if (is_sendmsg)
			__sync_fetch_and_add(&hits->sendmsg, 1);
		else
			__sync_fetch_and_add(&hits->connect, 1);
	} else {
		struct svc_hits first = { .connect = !is_sendmsg, .sendmsg = !!is_sendmsg };
		bpf_map_update_elem(&nm_svc_hits, &key, &first, BPF_NOEXIST);
	}
	return 1;
}

SEC("cgroup/connect4")
int nm_connect4(struct bpf_sock_addr *ctx)
{
	if (ctx->protocol != IPPROTO_TCP && ctx->protocol != IPPROTO_UDP)
		return 1;
	return translate(ctx, 0);
}

SEC("cgroup/sendmsg4")
int nm_sendmsg4(struct bpf_sock_addr *ctx)
{
	return translate(ctx, 1);
}

SEC("cgroup/recvmsg4")
int nm_recvmsg4(struct bpf_sock_addr *ctx)
{
	struct svc_key key = {
		.ip = ctx->user_ip4,
		.port = (__u16)ctx->user_port,
		.proto = IPPROTO_UDP,
	};
	struct svc_backend *svc = bpf_map_lookup_elem(&nm_backends, &key);
	if (svc) {
		ctx->user_ip4 = svc->ip;
		ctx->user_port = svc->port;
	}
	return 1;
}

char LICENSE[] SEC("license") = "GPL";
