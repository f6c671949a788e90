/* Minimal kernel UAPI types for spanprobe's BPF programs.
 *
 * Why not vmlinux.h or <linux/bpf.h>: uprobe programs need only a handful of
 * types, map kinds and flags, and keeping them here means `make generate`
 * needs clang alone, never kernel headers. The values are the kernel's stable
 * UAPI numbers (include/uapi/linux/bpf.h).
 */
#ifndef SPANPROBE_TYPES_H
#define SPANPROBE_TYPES_H

typedef unsigned char __u8;
typedef signed char __s8;
typedef unsigned short __u16;
typedef signed short __s16;
typedef unsigned int __u32;
typedef signed int __s32;
typedef unsigned long long __u64;
typedef signed long long __s64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;

typedef __u8 u8;
typedef __u16 u16;
typedef __u32 u32;
typedef __u64 u64;
typedef __s32 s32;
typedef __s64 s64;

enum bpf_map_type {
	BPF_MAP_TYPE_HASH = 1,
	BPF_MAP_TYPE_ARRAY = 2,
	BPF_MAP_TYPE_PERCPU_ARRAY = 6,
	BPF_MAP_TYPE_LRU_HASH = 9,
	BPF_MAP_TYPE_SOCKHASH = 18,
	BPF_MAP_TYPE_RINGBUF = 27,
};

/* bpf_map_update_elem flags */
#define BPF_ANY 0
#define BPF_NOEXIST 1
#define BPF_EXIST 2

/* bpf_ringbuf_submit flags and bpf_ringbuf_query fields */
#define BPF_RB_NO_WAKEUP 1
#define BPF_RB_FORCE_WAKEUP 2
#define BPF_RB_AVAIL_DATA 0

/* bpf_get_ns_current_pid_tgid's result */
struct bpf_pidns_info {
	__u32 pid;
	__u32 tgid;
};

/* Socket programs (traceparent injection). Context structs are read by
 * field offset, which the verifier rewrites, so only their leading fields
 * up to the last one used are declared, in the UAPI order. */
struct bpf_sock_ops {
	__u32 op;
	union {
		__u32 args[4];
		__u32 reply;
		__u32 replylong[4];
	};
	__u32 family;
	__u32 remote_ip4;
	__u32 local_ip4;
	__u32 remote_ip6[4];
	__u32 local_ip6[4];
	__u32 remote_port; /* network byte order */
	__u32 local_port;  /* host byte order */
};

struct sk_msg_md {
	union {
		void *data;
		__u64 :64;
	} __attribute__((aligned(8)));
	union {
		void *data_end;
		__u64 :64;
	} __attribute__((aligned(8)));
	__u32 family;
	__u32 remote_ip4;
	__u32 local_ip4;
	__u32 remote_ip6[4];
	__u32 local_ip6[4];
	__u32 remote_port; /* network byte order */
	__u32 local_port;  /* host byte order */
	__u32 size;        /* of the whole message */
};

enum {
	BPF_SOCK_OPS_TCP_CONNECT_CB = 3,        /* connect(): the caller's context */
	BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB = 4, /* the handshake completed */
};

enum sk_action {
	SK_DROP = 0,
	SK_PASS = 1,
};

/* The context of a raw tracepoint program: the tracepoint's arguments. */
struct bpf_raw_tracepoint_args {
	u64 args[0];
};

#endif
