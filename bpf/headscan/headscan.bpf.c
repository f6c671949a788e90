//go:build ignore

/* Runs the request-head scan of traceparent.h on bytes a test supplies
 * (BPF_PROG_RUN of a syscall program): the same code the server probe runs
 * on a connection's buffer, checked against a reference in Go. */

#include "common.h"
#include "traceparent.h"

struct scan_case {
	char b[HEAD_SCAN_MAX + HEAD_SCAN_SLACK];
	u32 n;     /* bytes of b to scan */
	s32 found; /* out: find_traceparent's result */
	u32 head;  /* out: where the last head starts */
	s32 ua;    /* out: where its User-Agent value starts, -1: none */
	s32 ua_end; /* out: the line feed after it, -1: none */
	u32 _pad;
	struct span_context sc; /* out: the parsed traceparent */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct head_scan_buf);
} scan_buf SEC(".maps");

SEC("syscall")
int scan_head(struct scan_case *c)
{
	u32 zero = 0;
	struct head_scan_buf *hb = bpf_map_lookup_elem(&scan_buf, &zero);
	if (!hb)
		return 1;
	if (bpf_probe_read_kernel(hb->b, sizeof(hb->b), c->b))
		return 2;
	u32 n = c->n > HEAD_SCAN_MAX ? HEAD_SCAN_MAX : c->n;
	struct head_scan st = {.b = hb->b, .n = n};
	struct span_context sc = {};
	c->found = scan_request_head(&st, &sc);
	c->head = st.head;
	c->ua = st.ua;
	c->ua_end = st.ua_end;
	__builtin_memcpy(&c->sc, &sc, sizeof(sc));
	return 0;
}
