//go:build ignore

/* net/http server: one span per HTTP/1.x request, for one uprobe hit.
 *
 * Start: conn.serve starts a background read of the connection just before
 * it runs the handler, `go cr.backgroundRead()`, or, when the request has
 * a body, registers that start for the body's end. So the request starts
 * at one of two sites, both emulated by the kernel (~0.9 us):
 * - the CALL runtime.runqput in runtime.newproc.func1, where goroutine
 *   lineage (instrumentation/goroutines) already traps for every `go`
 *   statement: a second program on a site costs no second trap. The new
 *   goroutine's closure holds the *connReader, which leads to the request;
 * - the CALL of registerOnHitEOF in conn.serve, whose func argument is the
 *   method value cr.startBackgroundRead.
 * A separate entry probe (serverHandler.ServeHTTP) would be a second trap.
 * Exit, the first of these that the kernel has:
 * - no trap at all: finishRequest sets response.handlerDone, then writes
 *   the response out on the serving goroutine. Kernel tracepoints on socket
 *   sends, receives and TCP state changes (tp_server_socket_op) end the
 *   request at the first such operation of its goroutine once handlerDone
 *   is set: the response's write, else the keep-alive read for the next
 *   request or the connection's close. A trap costs the app 5-14 us under
 *   load here; a tracepoint program a fraction of a microsecond;
 * - net/http.(*response).finishRequest(w), which conn.serve calls right
 *   after ServeHTTP returns, on the same goroutine; its PUSHQ BP is
 *   emulated where a RET would be single-stepped (~12 us);
 * - the RETs of serverHandler.ServeHTTP.
 * All end in finish_request.
 * In-flight requests are keyed by the goroutine running conn.serve, which
 * runs the handler and finishRequest.
 */

#include "common.h"
#include "traceparent.h"

#define METHOD_MAX 16
#define URL_PATH_MAX 128
#define HOST_MAX 64
#define REMOTE_MAX 48
#define ROUTE_MAX 96
#define USER_AGENT_MAX 256

GO_OFFSET(off_request_method);
GO_OFFSET(off_request_url);
GO_OFFSET(off_request_proto_major);
GO_OFFSET(off_request_proto_minor);
GO_OFFSET(off_request_host);
GO_OFFSET(off_request_remote_addr);
GO_OFFSET(off_request_tls);
GO_OFFSET(off_request_ctx);
GO_OFFSET(off_request_pat);     /* go1.22: *pattern */
GO_OFFSET(off_pattern_str);     /* go1.22: pattern.str */
GO_OFFSET(off_request_pattern); /* go1.23+: Pattern string */
GO_OFFSET(off_url_path);
GO_OFFSET(off_response_conn);
GO_OFFSET(off_response_req);
GO_OFFSET(off_response_status);
GO_OFFSET(off_response_handler_done);
GO_OFFSET(off_conn_bufr);
GO_OFFSET(off_reader_buf);
GO_OFFSET(off_reader_r);
GO_OFFSET(off_conn_r);
GO_OFFSET(off_conn_cur_req);
GO_OFFSET(off_conn_reader_conn);
GO_OFFSET(off_g_sched);
GO_OFFSET(off_gobuf_ctxt);

/* Where conn.curReq keeps the *response: an atomic.Value (an interface,
 * data second) until Go 1.19, an atomic.Pointer since 1.20. */
volatile const u64 cur_req_data = 0;

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
	u64 ctx_ptr; /* the request's context.Context data: registered for children */
	s64 status; /* 0: the handler wrote nothing, so net/http sends 200 */
	s64 proto_major;
	s64 proto_minor;
	u8 tls;
	u8 _pad[1];
	/* The texts that follow, in this order (see Record texts). The user
	 * agent comes from the raw request head the connection's bufio.Reader
	 * still holds: no walk of the Header map (whose layout changed in Go
	 * 1.24). Spaces around it and the CR are user space's to trim. */
	u16 method_len;
	u16 path_len;
	u16 host_len;
	u16 remote_len;
	u16 user_agent_len;
	u16 route_len;
	u16 text_len;
};

/* An in-flight request: its record and room for its texts. */
struct http_server_record {
	struct http_server_event ev;
	char text[METHOD_MAX + URL_PATH_MAX + HOST_MAX + REMOTE_MAX + USER_AGENT_MAX + ROUTE_MAX];
};

/* Built here, then copied into active_requests: too big for the BPF stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct http_server_record);
} scratch SEC(".maps");

/* The connection's buffered bytes, searched for the request head. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct head_scan_buf);
} head_bytes SEC(".maps");

/* In-flight requests by goroutine id. LRU: a request whose exit never comes
 * (panicking handler, hijacked connection) must not pin a slot forever. A
 * live request evicted by a flood shows up as DROP_UNMATCHED_EXIT. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, u64);
	__type(value, struct http_server_record);
} active_requests SEC(".maps");

/* Processes that serve requests, as bits by kernel tgid modulo
 * SERVING_PID_BITS: the socket tracepoints fire for every process on the
 * node, and this one load sends nearly all of them away before any map
 * lookup. Set as requests start, so it follows --exe's restarts and needs
 * no PID translation for a sidecar; never cleared: a bit left by a process
 * that exited, or shared by two PIDs, only costs the next test. */
#define SERVING_PID_BITS 4096
u64 serving_pids[SERVING_PID_BITS / 64];

static __always_inline u64 *serving_pid_word(u32 tgid, u64 *bit)
{
	*bit = 1ULL << (tgid & 63);
	return &serving_pids[(tgid / 64) & (SERVING_PID_BITS / 64 - 1)];
}

/* The *response each serving goroutine is answering, by goroutine id: what
 * the socket tracepoints look up, 8 bytes a request where active_requests
 * holds a whole record. Larger than active_requests, so a request evicted
 * from there by a flood is still seen to end, and counted. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 32768);
	__type(key, u64);
	__type(value, u64);
} serving SEC(".maps");

/* scan_head finds the request head in the bytes the connection's
 * bufio.Reader holds (its read position r is just past the head) and
 * parses its traceparent into incoming: 1 when valid, 0 when absent, -1
 * when invalid. st keeps where its User-Agent value is (append_user_agent):
 * the texts wait for the sampling decision, which the traceparent makes. */
static __always_inline int scan_head(void *resp, struct head_scan *st, struct span_context *incoming)
{
	st->n = 0;
	st->ua = -1;
	void *conn = read_ptr(resp + off_response_conn);
	void *bufr = conn ? read_ptr(conn + off_conn_bufr) : 0;
	if (!bufr)
		return 0;
	void *buf = read_ptr(bufr + off_reader_buf);
	s64 r = read_s64(bufr + off_reader_r);
	u32 zero = 0;
	struct head_scan_buf *hb = bpf_map_lookup_elem(&head_bytes, &zero);
	if (!hb || !buf || r <= 0)
		return 0;
	/* Past HEAD_SCAN_MAX the head is longer than the default buffer: keep
	 * its first bytes, which hold the request line and early headers. */
	u32 n = r > HEAD_SCAN_MAX ? HEAD_SCAN_MAX : (u32)r;
	if (bpf_probe_read_user(hb->b, n, buf))
		return 0;
	st->b = hb->b;
	st->n = n;
	return scan_request_head(st, incoming);
}

/* append_user_agent appends the User-Agent value scan_head found to rec's
 * texts. The buffer's slack covers a value that runs to its end; a line
 * cut by the end of the buffer is left out rather than reported short. */
static __always_inline u16 append_user_agent(struct http_server_record *rec, const struct head_scan *st)
{
	if (!st->n || st->ua < 0 || st->ua_end <= st->ua)
		return 0;
	return text_append_kernel(rec->text, sizeof(rec->text), &rec->ev.text_len, USER_AGENT_MAX,
				  st->b + (st->ua & HEAD_SCAN_MASK), st->ua_end - st->ua);
}

/* end_request_scope stops new children from finding the request's span. */
static __always_inline void end_request_scope(u64 goid, u64 ctx_ptr)
{
	bpf_map_delete_elem(&goroutine_spans, &goid);
	if (ctx_ptr)
		bpf_map_delete_elem(&context_spans, &ctx_ptr);
}

/* finish_request ends goroutine goid's request now. resp_seen, when not 0,
 * is the *response the exit site saw, which must be the request's. Not
 * inlined: four programs end requests. */
static __noinline int finish_request(u64 goid, u64 resp_seen)
{
	struct http_server_record *rec = ACTIVE_RECORD(active_requests, goid);
	/* Without a record (evicted by a flood) the goroutine must still leave
	 * goroutine_spans, or the next request on its connection would look
	 * started already (start_background_read). */
	end_request_scope(goid, rec ? rec->ev.ctx_ptr : 0);
	bpf_map_delete_elem(&serving, &goid);
	if (!rec)
		return 0;
	if (resp_seen && rec->ev.resp_ptr != resp_seen) {
		count_drop(DROP_MISMATCHED_EXIT);
		bpf_map_delete_elem(&active_requests, &goid);
		return 0;
	}

	struct http_server_event *ev = &rec->ev;
	ev->hdr.end_ns = bpf_ktime_get_ns();
	void *resp = (void *)ev->resp_ptr;
	void *req = (void *)ev->req_ptr;
	ev->route_len = 0;
	if (SPAN_SAMPLED(&ev->hdr.sc)) { /* an unsampled one is only counted */
		ev->status = read_s64(resp + off_response_status);
		if (route_source == ROUTE_PATTERN) {
			ev->route_len = APPEND_GO_STRING(rec, ROUTE_MAX, req + off_request_pattern);
		} else if (route_source == ROUTE_PAT_STR) {
			void *pat = read_ptr(req + off_request_pat);
			if (pat)
				ev->route_len = APPEND_GO_STRING(rec, ROUTE_MAX, pat + off_pattern_str);
		}
	}
	OUTPUT_ACTIVE(active_requests, goid, rec);
	return 0;
}

/* end_done_request ends goroutine goid's request if its handler is done
 * (finishRequest has begun) and says whether it did. */
static __always_inline int end_done_request(u64 goid)
{
	u64 *resp = bpf_map_lookup_elem(&serving, &goid);
	if (!resp)
		return 0;
	u32 done = 0; /* atomicBool (int32) until Go 1.18, atomic.Bool after */
	bpf_probe_read_user(&done, sizeof(done), (void *)*resp + off_response_handler_done);
	if (!done)
		return 0;
	finish_request(goid, 0);
	return 1;
}

/* start_request opens the in-flight record of req (served through resp)
 * on goroutine goid, and registers its span for children. Not inlined:
 * inlined into both starting programs, it outgrew the BPF stack alongside
 * their own variables. */
static __noinline void start_request(u64 goid, void *resp, void *req, void *req_ctx)
{
	u32 zero = 0;
	struct http_server_record *rec = bpf_map_lookup_elem(&scratch, &zero);
	if (!rec)
		return;
	struct http_server_event *ev = &rec->ev;

	ev->req_ptr = (u64)req;
	ev->resp_ptr = (u64)resp; /* status and route are read at the exit */

	struct span_context incoming = {};
	struct head_scan st = {};
	int found = scan_head(resp, &st, &incoming);
	if (found < 0)
		count_drop(DROP_BAD_TRACEPARENT);
	begin_event(&ev->hdr, EVENT_HTTP_SERVER, goid, found > 0 ? &incoming : 0);

	/* An unsampled request leaves no record: its texts are not read. */
	ev->text_len = 0;
	ev->method_len = ev->path_len = ev->host_len = ev->remote_len = ev->user_agent_len = 0;
	if (SPAN_SAMPLED(&ev->hdr.sc)) {
		ev->method_len = APPEND_GO_STRING(rec, METHOD_MAX, req + off_request_method);
		void *url = read_ptr(req + off_request_url);
		ev->path_len = url ? APPEND_GO_STRING(rec, URL_PATH_MAX, url + off_url_path) : 0;
		ev->host_len = APPEND_GO_STRING(rec, HOST_MAX, req + off_request_host);
		ev->remote_len = APPEND_GO_STRING(rec, REMOTE_MAX, req + off_request_remote_addr);
		ev->user_agent_len = append_user_agent(rec, &st);
		ev->proto_major = read_s64(req + off_request_proto_major);
		ev->proto_minor = read_s64(req + off_request_proto_minor);
		ev->tls = read_ptr(req + off_request_tls) != 0;
	}

	/* Children find this span through the request's context or the
	 * handler's goroutine until the exit removes both. */
	ev->ctx_ptr = (u64)req_ctx;
	if (req_ctx)
		bpf_map_update_elem(&context_spans, &ev->ctx_ptr, &ev->hdr.sc, BPF_ANY);
	bpf_map_update_elem(&goroutine_spans, &goid, &ev->hdr.sc, BPF_ANY);

	bpf_map_update_elem(&active_requests, &goid, rec, BPF_ANY);
	bpf_map_update_elem(&serving, &goid, &ev->resp_ptr, BPF_ANY);

	u64 bit;
	u64 *word = serving_pid_word(bpf_get_current_pid_tgid() >> 32, &bit);
	if (!(*word & bit))
		__sync_fetch_and_or(word, bit);
}

/* start_background_read starts the request of the connection whose
 * *connReader is cr, unless it is started already: a body read to its end
 * starts the background read again, maybe on a goroutine that did not
 * inherit the request. cr comes from a closure that may belong to any
 * code, so it must lead back to itself through its conn before it counts. */
static __always_inline void start_background_read(u64 goid, void *cr)
{
	void *conn = cr ? read_ptr(cr + off_conn_reader_conn) : 0;
	if (!conn || read_ptr(conn + off_conn_r) != cr)
		return;
	void *resp = read_ptr(conn + off_conn_cur_req + cur_req_data);
	if (!resp || read_ptr(resp + off_response_conn) != conn)
		return;
	void *req = read_ptr(resp + off_response_req);
	if (!req)
		return;
	struct go_iface rctx = {};
	bpf_probe_read_user(&rctx, sizeof(rctx), req + off_request_ctx);
	if (rctx.data && bpf_map_lookup_elem(&context_spans, &rctx.data))
		return;
	start_request(goid, resp, req, rctx.data);
}

/* At the CALL runqput in runtime.newproc.func1 (runqput's second argument
 * is the new g): the new goroutine's closure, in its sched.ctxt, captured
 * cr when it is `go cr.backgroundRead()`. */
SEC("uprobe")
int uprobe_server_spawn(struct pt_regs *ctx)
{
	IGNORE_OTHER_NAMESPACES();
	/* A goroutine inside a request starts no request: this is the end of a
	 * request body, or a `go` statement of a handler (the common case,
	 * answered here by one lookup). Unless its request is over: a
	 * pipelined request after a response that needed no write. */
	u64 goid = spawning_goroutine(ctx);
	if (!goid || (bpf_map_lookup_elem(&goroutine_spans, &goid) && !end_done_request(goid)))
		return 0;
	void *newg = (void *)GO_PARAM2(ctx);
	void *fv = read_ptr(newg + off_g_sched + off_gobuf_ctxt);
	if (fv)
		start_background_read(goid, read_ptr(fv + 8));
	return 0;
}

/* At conn.serve's CALL of registerOnHitEOF, for a request with a body: its
 * func argument fv is the method value cr.startBackgroundRead, cr second.
 * It is the function registerOnHitEOF(rc io.ReadCloser, fn func()), fn in
 * RCX, until a late Go 1.26 patch made it the method
 * (*body).registerOnHitEOF(fn), fn in RBX. */
static __always_inline int on_hit_eof(struct pt_regs *ctx, void *fv)
{
	void *cr = fv ? read_ptr(fv + 8) : 0;
	u64 goid = goroutine_id(ctx);
	if (cr && goid) {
		/* A pipelined request after a response that needed no write. */
		end_done_request(goid);
		start_background_read(goid, cr);
	}
	return 0;
}

SEC("uprobe")
int uprobe_conn_serve_registerOnHitEOF(struct pt_regs *ctx)
{
	IGNORE_OTHER_NAMESPACES();
	return on_hit_eof(ctx, (void *)GO_PARAM3(ctx));
}

SEC("uprobe")
int uprobe_conn_serve_body_registerOnHitEOF(struct pt_regs *ctx)
{
	IGNORE_OTHER_NAMESPACES();
	return on_hit_eof(ctx, (void *)GO_PARAM2(ctx));
}

/* end_on_socket_op: a socket operation of the current thread, anywhere on
 * the node, ends the request of the goroutine that made it if its handler
 * is done. The response is written out after handlerDone is set, so that
 * write is the usual end; a response flushed by the handler itself ends at
 * the keep-alive read or the close that follows. */
static __always_inline int end_on_socket_op(void)
{
	u64 bit;
	if (!(*serving_pid_word(bpf_get_current_pid_tgid() >> 32, &bit) & bit))
		return 0;
	u64 goid = syscall_goroutine_id();
	if (goid)
		end_done_request(goid);
	return 0;
}

/* Socket sends and receives (sock_send_length, sock_recv_length). */
SEC("raw_tracepoint/sock_send_length")
int tp_server_socket_op(void *ctx)
{
	return end_on_socket_op();
}

#define TCP_FIN_WAIT1 4
#define TCP_LAST_ACK 9

/* TCP state changes (inet_sock_set_state): only the two a close() of an
 * open connection makes, in the closing thread. The others (handshakes,
 * the peer's FIN, timers) mostly run in softirq context, for any thread. */
SEC("raw_tracepoint/inet_sock_set_state")
int tp_server_close(struct bpf_raw_tracepoint_args *ctx)
{
	int state = (int)ctx->args[2];
	if (state != TCP_FIN_WAIT1 && state != TCP_LAST_ACK)
		return 0;
	return end_on_socket_op();
}

SEC("uprobe")
int uprobe_response_finishRequest(struct pt_regs *ctx)
{
	IGNORE_OTHER_NAMESPACES();
	return finish_request(goroutine_id(ctx), GO_PARAM1(ctx));
}

SEC("uprobe")
int uprobe_serverHandler_ServeHTTP_ret(struct pt_regs *ctx)
{
	IGNORE_OTHER_NAMESPACES();
	return finish_request(goroutine_id(ctx), 0);
}
