//go:build ignore

/* net/http server: one span per HTTP/1.x request.
 *
 * Entry: net/http.serverHandler.ServeHTTP(sh, rw ResponseWriter, req *Request)
 *   (sh in RAX, rw in RBX:RCX, req in RDI). Captures the request and opens
 *   an in-flight record keyed by goroutine id.
 * Exit: net/http.(*response).finishRequest(w), which conn.serve calls right
 *   after ServeHTTP returns, on the same goroutine; its PUSHQ BP is emulated
 *   by the kernel (~0.9 us) where a RET would be single-stepped (~12 us).
 *   When that symbol is missing (or on request) the RETs of ServeHTTP are
 *   probed instead. Both end in finish_request.
 */

#include "common.h"

#define METHOD_MAX 16
#define URL_PATH_MAX 128
#define HOST_MAX 64
#define REMOTE_MAX 48
#define ROUTE_MAX 96
#define HEAD_MAX 512

GO_OFFSET(off_request_method);
GO_OFFSET(off_request_url);
GO_OFFSET(off_request_proto_major);
GO_OFFSET(off_request_proto_minor);
GO_OFFSET(off_request_host);
GO_OFFSET(off_request_remote_addr);
GO_OFFSET(off_request_tls);
GO_OFFSET(off_request_pat);     /* go1.22: *pattern */
GO_OFFSET(off_pattern_str);     /* go1.22: pattern.str */
GO_OFFSET(off_request_pattern); /* go1.23+: Pattern string */
GO_OFFSET(off_url_path);
GO_OFFSET(off_response_conn);
GO_OFFSET(off_response_req);
GO_OFFSET(off_response_status);
GO_OFFSET(off_conn_bufr);
GO_OFFSET(off_reader_buf);
GO_OFFSET(off_reader_r);

/* How the matched ServeMux pattern is found (it changed in Go 1.23). */
enum route_source {
	ROUTE_NONE = 0,
	ROUTE_PAT_STR = 1, /* req.pat.str (go1.22) */
	ROUTE_PATTERN = 2, /* req.Pattern (go1.23+) */
};
volatile const u32 route_source = ROUTE_NONE;

struct http_server_event {
	struct event_header hdr;
	u64 req_ptr;
	u64 resp_ptr;
	s64 status; /* 0: the handler wrote nothing, so net/http sends 200 */
	s64 proto_major;
	s64 proto_minor;
	u8 tls;
	u8 _pad[1];
	u16 method_len;
	u16 path_len;
	u16 host_len;
	u16 remote_len;
	u16 route_len;
	u16 head_len;
	u8 _pad2[2];
	char method[METHOD_MAX];
	char path[URL_PATH_MAX];
	char host[HOST_MAX];
	char remote[REMOTE_MAX];
	char route[ROUTE_MAX];
	/* The first bytes of the raw request head as the connection's bufio.Reader
	 * still holds them: user space finds User-Agent there without this probe
	 * walking the Header map (whose layout changed in Go 1.24). */
	char head[HEAD_MAX];
};

/* Built here, then copied into active_requests: too big for the BPF stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct http_server_event);
} scratch SEC(".maps");

/* In-flight requests by goroutine id. LRU: a request whose exit never comes
 * (panicking handler, hijacked connection) must not pin a slot forever. A
 * live request evicted by a flood shows up as DROP_UNMATCHED_EXIT. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, u64);
	__type(value, struct http_server_event);
} active_requests SEC(".maps");

SEC("uprobe")
int uprobe_serverHandler_ServeHTTP(struct pt_regs *ctx)
{
	void *resp = (void *)GO_PARAM3(ctx);
	void *req = (void *)GO_PARAM4(ctx);

	/* HTTP/1 passes an *http.response whose req field is this request; the
	 * HTTP/2 server passes another ResponseWriter, which this bundle skips. */
	if (read_ptr(resp + off_response_req) != req) {
		count_drop(DROP_UNSUPPORTED);
		return 0;
	}
	u64 goid = goroutine_id(ctx);
	if (!goid)
		return 0;

	u32 zero = 0;
	struct http_server_event *ev = bpf_map_lookup_elem(&scratch, &zero);
	if (!ev)
		return 0;

	ev->hdr.kind = EVENT_HTTP_SERVER;
	ev->hdr.pid = bpf_get_current_pid_tgid() >> 32;
	ev->hdr.goid = goid;
	ev->hdr.start_ns = bpf_ktime_get_ns();
	ev->hdr.end_ns = 0;
	new_span_context(&ev->hdr.sc);
	__builtin_memset(&ev->hdr.parent, 0, sizeof(ev->hdr.parent));
	ev->req_ptr = (u64)req;
	ev->resp_ptr = (u64)resp; /* status and route are read at the exit */

	ev->method_len = READ_GO_STRING(ev->method, req + off_request_method);
	void *url = read_ptr(req + off_request_url);
	ev->path_len = url ? READ_GO_STRING(ev->path, url + off_url_path) : 0;
	ev->host_len = READ_GO_STRING(ev->host, req + off_request_host);
	ev->remote_len = READ_GO_STRING(ev->remote, req + off_request_remote_addr);
	ev->proto_major = read_s64(req + off_request_proto_major);
	ev->proto_minor = read_s64(req + off_request_proto_minor);
	ev->tls = read_ptr(req + off_request_tls) != 0;

	void *conn = read_ptr(resp + off_response_conn);
	void *bufr = conn ? read_ptr(conn + off_conn_bufr) : 0;
	ev->head_len = 0;
	if (bufr) {
		void *buf = read_ptr(bufr + off_reader_buf);
		s64 r = read_s64(bufr + off_reader_r);
		ev->head_len = read_bytes(ev->head, sizeof(ev->head), buf, r);
	}

	bpf_map_update_elem(&active_requests, &goid, ev, BPF_ANY);
	return 0;
}

static __always_inline int finish_request(struct pt_regs *ctx, u64 resp_seen)
{
	u64 goid = goroutine_id(ctx);
	struct http_server_event *active = bpf_map_lookup_elem(&active_requests, &goid);
	if (!active) {
		count_drop(DROP_UNMATCHED_EXIT);
		return 0;
	}
	if (resp_seen && active->resp_ptr != resp_seen) {
		count_drop(DROP_MISMATCHED_EXIT);
		bpf_map_delete_elem(&active_requests, &goid);
		return 0;
	}

	struct http_server_event *ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev) {
		count_drop(DROP_RINGBUF_FULL);
		bpf_map_delete_elem(&active_requests, &goid);
		return 0;
	}
	bpf_probe_read_kernel(ev, sizeof(*ev), active);
	bpf_map_delete_elem(&active_requests, &goid);

	ev->hdr.end_ns = bpf_ktime_get_ns();
	void *resp = (void *)ev->resp_ptr;
	void *req = (void *)ev->req_ptr;
	ev->status = read_s64(resp + off_response_status);
	ev->route_len = 0;
	if (route_source == ROUTE_PATTERN) {
		ev->route_len = READ_GO_STRING(ev->route, req + off_request_pattern);
	} else if (route_source == ROUTE_PAT_STR) {
		void *pat = read_ptr(req + off_request_pat);
		if (pat)
			ev->route_len = READ_GO_STRING(ev->route, pat + off_pattern_str);
	}
	bpf_ringbuf_submit(ev, ringbuf_submit_flags());
	return 0;
}

SEC("uprobe")
int uprobe_response_finishRequest(struct pt_regs *ctx)
{
	return finish_request(ctx, GO_PARAM1(ctx));
}

SEC("uprobe")
int uprobe_serverHandler_ServeHTTP_ret(struct pt_regs *ctx)
{
	return finish_request(ctx, 0);
}
