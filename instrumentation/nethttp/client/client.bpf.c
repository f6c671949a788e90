//go:build ignore

/* net/http client: one span per request sent through a Transport.
 *
 * Entry: net/http.(*Transport).roundTrip(t, req *Request) (t in RAX, req in
 *   RBX), which Transport.RoundTrip, http.Get, Client.Do and any
 *   RoundTripper delegating to a Transport end up in, on the caller's
 *   goroutine. Opens an in-flight record keyed by goroutine id, with the
 *   parent found through req's context or the goroutine.
 * Exit: a successful request at roundTrip's test of the error its
 *   connection's roundTrip returned (a Jcc, emulated), every other path
 *   at its RET ((*Response, error) in RAX and RBX:RCX, single-stepped).
 *   Where the test cannot be told apart (goexe.SuccessTestSites), every RET.
 */

#include "common.h"
#include "traceparent.h"

#define METHOD_MAX 16
#define SCHEME_MAX 16
#define HOST_MAX 64
#define URL_PATH_MAX 128
#define QUERY_MAX 128

GO_OFFSET(off_request_method);
GO_OFFSET(off_request_url);
GO_OFFSET(off_request_ctx);
GO_OFFSET(off_url_scheme);
GO_OFFSET(off_url_user);
GO_OFFSET(off_url_host);
GO_OFFSET(off_url_path);
GO_OFFSET(off_url_raw_query);
GO_OFFSET(off_response_status_code);
GO_OFFSET(off_response_proto_major);
GO_OFFSET(off_response_proto_minor);
GO_OFFSET(off_persistconn_conn);
GO_OFFSET(off_tcpconn_conn);
GO_OFFSET(off_conn_fd);
GO_OFFSET(off_netfd_laddr);
GO_OFFSET(off_tcpaddr_port);

/* Set when the agent injects outgoing traceparents (see
 * instrumentation/nethttp/propagation). */
volatile const u8 inject_traceparent = 0;

struct http_client_event {
	struct event_header hdr;
	u64 status; /* 0: no response */
	s64 proto_major;
	s64 proto_minor;
	u64 err_type; /* the returned error's dynamic type, 0: none */
	u8 has_user;  /* the URL carries user info: url.full redacts it */
	u8 _pad[1];
	/* The texts that follow, in this order (see Record texts). */
	u16 method_len;
	u16 scheme_len;
	u16 host_len;
	u16 path_len;
	u16 query_len;
	u16 text_len;
};

/* An in-flight request: its record and room for its texts. */
struct http_client_record {
	struct http_client_event ev;
	char text[METHOD_MAX + SCHEME_MAX + HOST_MAX + URL_PATH_MAX + QUERY_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct http_client_record);
} scratch SEC(".maps");

/* In-flight requests by goroutine id; LRU for the reasons given in the
 * server bundle. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, u64);
	__type(value, struct http_client_record);
} active_requests SEC(".maps");

SEC("uprobe")
int uprobe_Transport_roundTrip(struct pt_regs *ctx)
{
	IGNORE_OTHER_NAMESPACES();
	void *req = (void *)GO_PARAM2(ctx);
	u64 goid = goroutine_id(ctx);
	u32 zero = 0;
	struct http_client_record *rec = bpf_map_lookup_elem(&scratch, &zero);
	if (!goid || !rec)
		return 0;
	struct http_client_event *ev = &rec->ev;

	struct go_iface rctx = {};
	bpf_probe_read_user(&rctx, sizeof(rctx), req + off_request_ctx);
	begin_event(&ev->hdr, EVENT_HTTP_CLIENT, goid, parent_span(goid, rctx.data));

	ev->text_len = 0;
	ev->method_len = 0;
	ev->scheme_len = 0;
	ev->host_len = 0;
	ev->path_len = 0;
	ev->query_len = 0;
	ev->has_user = 0;
	/* An unsampled request leaves no record: its texts are not read. */
	void *url = 0;
	if (SPAN_SAMPLED(&ev->hdr.sc)) {
		ev->method_len = APPEND_GO_STRING(rec, METHOD_MAX, req + off_request_method);
		url = read_ptr(req + off_request_url);
	}
	if (url) {
		ev->scheme_len = APPEND_GO_STRING(rec, SCHEME_MAX, url + off_url_scheme);
		ev->host_len = APPEND_GO_STRING(rec, HOST_MAX, url + off_url_host);
		ev->path_len = APPEND_GO_STRING(rec, URL_PATH_MAX, url + off_url_path);
		ev->query_len = APPEND_GO_STRING(rec, QUERY_MAX, url + off_url_raw_query);
		ev->has_user = read_ptr(url + off_url_user) != 0;
	}
	bpf_map_update_elem(&active_requests, &goid, rec, BPF_ANY);
	if (inject_traceparent) {
		/* Written once per process; the lookup keeps it fresh in the LRU. */
		u32 tgid = bpf_get_current_pid_tgid() >> 32;
		u8 one = 1;
		if (!bpf_map_lookup_elem(&injecting_pids, &tgid))
			bpf_map_update_elem(&injecting_pids, &tgid, &one, BPF_ANY);
	}
	return 0;
}

/* net/http.(*persistConn).roundTrip(pc, req) (pc in RAX), on the caller's
 * goroutine once a connection is ready, right before the connection's
 * write loop sends the request: files the request's span under the
 * connection's local port for the injector. */
SEC("uprobe")
int uprobe_persistConn_roundTrip(struct pt_regs *ctx)
{
	if (!inject_traceparent)
		return 0;
	u64 goid = goroutine_id(ctx);
	struct http_client_record *active = bpf_map_lookup_elem(&active_requests, &goid);
	if (!active)
		return 0;
	struct go_iface conn = {}, laddr = {};
	bpf_probe_read_user(&conn, sizeof(conn), (void *)GO_PARAM1(ctx) + off_persistconn_conn);
	if (!conn.data)
		return 0;
	/* A *net.TCPConn; a TLS connection reads as some other port, which no
	 * write matches (and TLS bytes are never taken for a request head). */
	void *fd = read_ptr(conn.data + off_tcpconn_conn + off_conn_fd);
	if (!fd || bpf_probe_read_user(&laddr, sizeof(laddr), fd + off_netfd_laddr) || !laddr.data)
		return 0;
	s64 port = read_s64(laddr.data + off_tcpaddr_port);
	if (port <= 0 || port > 65535)
		return 0;
	struct outgoing_key key = {.pid = bpf_get_current_pid_tgid() >> 32, .port = port};
	struct outgoing_request req = {.sc = active->ev.hdr.sc};
	bpf_map_update_elem(&outgoing_requests, &key, &req, BPF_ANY);
	return 0;
}

/* Ends the in-flight request of this goroutine with roundTrip's results. */
static __always_inline int end_round_trip(struct pt_regs *ctx, void *resp, void *err_itab)
{
	u64 end = bpf_ktime_get_ns();
	u64 goid = goroutine_id(ctx);
	struct http_client_record *rec = ACTIVE_RECORD(active_requests, goid);
	if (!rec)
		return 0;
	struct http_client_event *ev = &rec->ev;
	ev->hdr.end_ns = end;
	ev->err_type = go_type(err_itab);
	ev->status = 0;
	ev->proto_major = 0;
	ev->proto_minor = 0;
	if (resp) {
		ev->status = read_s64(resp + off_response_status_code);
		ev->proto_major = read_s64(resp + off_response_proto_major);
		ev->proto_minor = read_s64(resp + off_response_proto_minor);
	}
	OUTPUT_ACTIVE(active_requests, goid, rec);
	return 0;
}

/* roundTrip's test of the error that (*persistConn).roundTrip, or HTTP/2's
 * RoundTrip, returned ((*Response, error) in RAX and RBX:RCX): a nil error
 * is the request's success, and from here only its return follows. A
 * failed attempt is retried (this test judges it again) or returned
 * through a RET that uprobe_Transport_roundTrip_ret probes. */
SEC("uprobe")
int uprobe_Transport_roundTrip_success(struct pt_regs *ctx)
{
	IGNORE_OTHER_NAMESPACES();
	if (GO_PARAM2(ctx))
		return 0;
	return end_round_trip(ctx, (void *)GO_PARAM1(ctx), 0);
}

SEC("uprobe")
int uprobe_Transport_roundTrip_ret(struct pt_regs *ctx)
{
	IGNORE_OTHER_NAMESPACES();
	return end_round_trip(ctx, (void *)GO_PARAM1(ctx), (void *)GO_PARAM2(ctx));
}
