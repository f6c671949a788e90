//go:build ignore

/* Outgoing traceparent without writing the target's memory (which kernel
 * lockdown forbids): the header goes into the bytes on their way into the
 * socket.
 *
 * sockops (cgroup): a connect() made by a target process marks the socket;
 *   once established it joins target_sockets, so only the targets' client
 *   connections ever reach the sk_msg program.
 * sk_msg (target_sockets): for a write on a connection the client bundle
 *   has filed an outgoing request for (outgoing_requests, by pid and local
 *   port), scan the request head across writes; at its end, if it has no
 *   traceparent, insert one before the blank line. Anything that is not an
 *   HTTP/1 request head (TLS records, bodies) passes untouched.
 */

#include "common.h"
#include "traceparent.h"

/* Longest write scanned: net/http's bufio.Writer flushes request heads in
 * pieces of 4096 bytes. A longer write without the end of the head is
 * given up on (counted), never modified. */
#define SCAN_MAX 4096
#define METHOD_MAX 16

enum inject_result {
	INJECT_DONE = 0,     /* a traceparent was inserted */
	INJECT_PRESENT,      /* the request had one already */
	INJECT_NOT_HTTP,     /* the bytes are not an HTTP/1 request head */
	INJECT_HEAD_TOO_BIG, /* a single write longer than SCAN_MAX within the head */
	INJECT_SPLIT_END,    /* the head's last CRLF CRLF was split across writes */
	INJECT_FAILED,       /* the kernel refused to grow the message */
	INJECT_RESULT_MAX,
};

enum inject_result unused_inject_result __attribute__((unused));

/* Sockets between connect() and the end of the handshake, by cookie. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, u64);
	__type(value, u8);
} connecting SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 65536);
	__type(key, u64);
	__type(value, u64);
} target_sockets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, INJECT_RESULT_MAX);
	__type(key, u32);
	__type(value, u64);
} inject_counts SEC(".maps");

struct scan_buf {
	char b[SCAN_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct scan_buf);
} scan_bytes SEC(".maps");

static __always_inline void count_inject(u32 result)
{
	u64 *n = bpf_map_lookup_elem(&inject_counts, &result);
	if (n)
		*n += 1;
}

SEC("sockops")
int sockops_target_connections(struct bpf_sock_ops *skops)
{
	u64 cookie;
	u8 one = 1;
	switch (skops->op) {
	case BPF_SOCK_OPS_TCP_CONNECT_CB: {
		/* connect() runs in the caller's context: the pid is the target's. */
		u32 pid = bpf_get_current_pid_tgid() >> 32;
		if (!bpf_map_lookup_elem(&injecting_pids, &pid))
			break;
		cookie = bpf_get_socket_cookie(skops);
		bpf_map_update_elem(&connecting, &cookie, &one, BPF_ANY);
		break;
	}
	case BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB:
		cookie = bpf_get_socket_cookie(skops);
		if (!bpf_map_lookup_elem(&connecting, &cookie))
			break;
		bpf_map_delete_elem(&connecting, &cookie);
		bpf_sock_hash_update(skops, &target_sockets, &cookie, BPF_NOEXIST);
		break;
	}
	return 1;
}

/* The head scan's state while bpf_loop walks one write. */
struct head_walk {
	const char *b;
	u32 n;
	s32 end; /* index of the head's final LF in b; -1: not in this write */
	struct outgoing_request *req;
};

static long walk_head_byte(u32 i, struct head_walk *w)
{
	if (i >= w->n)
		return 1;
	struct outgoing_request *r = w->req;
	char c = w->b[i & (SCAN_MAX - 1)];
	const char name[] = "traceparent:";
	if (c == '\n') {
		if (r->prev[2] == '\r' && r->prev[1] == '\n' && r->prev[0] == '\r') {
			w->end = i;
			return 1;
		}
		r->line_pos = 0;
		r->matching = 1;
	} else {
		u16 k = r->line_pos;
		if (r->matching && k < TRACEPARENT_NAME_LEN) {
			r->matching = (c | 0x20) == name[k];
			if (r->matching && k == TRACEPARENT_NAME_LEN - 1)
				r->found = 1;
		}
		if (k < 0xffff)
			r->line_pos = k + 1;
	}
	r->prev[0] = r->prev[1];
	r->prev[1] = r->prev[2];
	r->prev[2] = c;
	return 0;
}

/* is_request_line reports whether b starts like "METHOD SP". */
static __always_inline int is_request_line(const char *b, u32 n)
{
	for (u32 k = 0; k < METHOD_MAX && k < n; k++) {
		char c = b[k];
		if (c == ' ')
			return k > 0;
		if (c < 'A' || c > 'Z')
			return 0;
	}
	return 0;
}

static __always_inline int give_up(struct outgoing_key *key, u32 result)
{
	count_inject(result);
	bpf_map_delete_elem(&outgoing_requests, key);
	return SK_PASS;
}

SEC("sk_msg")
int sk_msg_inject_traceparent(struct sk_msg_md *msg)
{
	struct outgoing_key key = {.pid = bpf_get_current_pid_tgid() >> 32, .port = msg->local_port};
	struct outgoing_request *req = bpf_map_lookup_elem(&outgoing_requests, &key);
	if (!req)
		return SK_PASS;
	u32 size = msg->size;
	u32 n = size > SCAN_MAX ? SCAN_MAX : size;
	u32 zero = 0;
	struct scan_buf *sb = bpf_map_lookup_elem(&scan_bytes, &zero);
	if (!sb || n == 0)
		return SK_PASS;
	if (bpf_msg_pull_data(msg, 0, n, 0))
		return give_up(&key, INJECT_FAILED);
	if (bpf_probe_read_kernel(sb->b, n, msg->data))
		return give_up(&key, INJECT_FAILED);

	if (!req->started) {
		if (!is_request_line(sb->b, n))
			return give_up(&key, INJECT_NOT_HTTP);
		req->started = 1;
		req->matching = 0; /* the request line is no header */
	}
	struct head_walk w = {.b = sb->b, .n = n, .end = -1, .req = req};
	bpf_loop(n, walk_head_byte, &w, 0);
	if (w.end < 0)
		return size > n ? give_up(&key, INJECT_HEAD_TOO_BIG) : SK_PASS;
	if (req->found)
		return give_up(&key, INJECT_PRESENT);
	if (w.end < 1)
		return give_up(&key, INJECT_SPLIT_END);

	/* Insert before the blank line: its CR is at end-1. The scanned bytes
	 * are done with, so their buffer holds the new line. */
	char *line = sb->b;
	format_traceparent(line, &req->sc);
	u32 at = w.end - 1;
	if (bpf_msg_push_data(msg, at, TRACEPARENT_LINE_LEN, 0))
		return give_up(&key, INJECT_FAILED);
	if (bpf_msg_pull_data(msg, at, at + TRACEPARENT_LINE_LEN, 0))
		return give_up(&key, INJECT_FAILED);
	char *data = msg->data;
	if ((void *)(data + TRACEPARENT_LINE_LEN) > msg->data_end)
		return give_up(&key, INJECT_FAILED);
	__builtin_memcpy(data, line, TRACEPARENT_LINE_LEN);
	/* The inserted bytes sit in a buffer of their own: made contiguous with
	 * the rest, the head leaves in one segment, and a receiver that reads
	 * it in pieces (net/http keeps only the last piece of a head in its
	 * buffer) is less likely to be handed the new line apart from the end
	 * of the head. */
	bpf_msg_pull_data(msg, 0, msg->size, 0);
	return give_up(&key, INJECT_DONE);
}
