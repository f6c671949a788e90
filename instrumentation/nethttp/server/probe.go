package server

import (
	"go.opentelemetry.io/otel/sdk/instrumentation"

	"github.com/spanprobe/spanprobe/instrumentation/probe"
	"github.com/spanprobe/spanprobe/internal/goexe"
)

// Values of route_source in server.bpf.c.
const (
	routeNone    uint32 = 0
	routePatStr  uint32 = 1 // go1.22: Request.pat.str
	routePattern uint32 = 2 // go1.23+: Request.Pattern
)

const (
	serveHTTP = "net/http.serverHandler.ServeHTTP"
	connServe = "net/http.(*conn).serve"
)

// go120 is where conn.curReq becomes an atomic.Pointer.
var go120 = goexe.Version{Major: 1, Minor: 20}

// go117 is every release spanprobe supports: the register ABI starts there.
var go117 = probe.GoRange{From: goexe.Version{Major: 1, Minor: 17}}

// Bundle is the net/http server probe bundle.
var Bundle = &probe.Bundle{
	Name:    "nethttp/server",
	Scope:   instrumentation.Scope{Name: "github.com/spanprobe/spanprobe/instrumentation/nethttp/server"},
	Library: serveHTTP,
	Load:    loadServer,
	Offsets: []probe.Offset{
		{Var: "off_request_method", Key: "net/http.Request.Method"},
		{Var: "off_request_url", Key: "net/http.Request.URL"},
		{Var: "off_request_proto_major", Key: "net/http.Request.ProtoMajor"},
		{Var: "off_request_proto_minor", Key: "net/http.Request.ProtoMinor"},
		{Var: "off_request_host", Key: "net/http.Request.Host"},
		{Var: "off_request_remote_addr", Key: "net/http.Request.RemoteAddr"},
		{Var: "off_request_tls", Key: "net/http.Request.TLS"},
		{Var: "off_request_ctx", Key: "net/http.Request.ctx"},
		{Var: "off_request_pat", Key: "net/http.Request.pat", Optional: true},
		{Var: "off_pattern_str", Key: "net/http.pattern.str", Optional: true},
		{Var: "off_request_pattern", Key: "net/http.Request.Pattern", Optional: true},
		{Var: "off_url_path", Key: "net/url.URL.Path"},
		{Var: "off_response_conn", Key: "net/http.response.conn"},
		{Var: "off_response_req", Key: "net/http.response.req"},
		{Var: "off_response_status", Key: "net/http.response.status"},
		{Var: "off_response_handler_done", Key: "net/http.response.handlerDone"},
		{Var: "off_conn_bufr", Key: "net/http.conn.bufr"},
		{Var: "off_reader_buf", Key: "bufio.Reader.buf"},
		{Var: "off_reader_r", Key: "bufio.Reader.r"},
		{Var: "off_conn_r", Key: "net/http.conn.r"},
		{Var: "off_conn_cur_req", Key: "net/http.conn.curReq"},
		{Var: "off_conn_reader_conn", Key: "net/http.connReader.conn"},
		{Var: "off_g_sched", Key: "runtime.g.sched"},
		{Var: "off_gobuf_ctxt", Key: "runtime.gobuf.ctxt"},
	},
	Constants: constants,
	// A request starts at one of two sites, each the request's only trap
	// besides its exit (server.bpf.c says why): the `go` statement of the
	// background read, whose site the goroutine lineage bundle traps on
	// anyway, or conn.serve's registerOnHitEOF call for a request with a
	// body. The functions keep their names and argument registers over the
	// ranges below (checked for every minor by e2e's TestGoVersionMatrix); a
	// release that changes one gets an entry of its own. A late Go 1.26
	// patch made registerOnHitEOF a method of *body: the fallback.
	Probes: []probe.Probe{
		{Symbol: "runtime.newproc.func1", Callee: "runtime.runqput", Program: "uprobe_server_spawn", At: probe.AtCalls, Go: go117},
		{
			Symbol: connServe, Callee: "net/http.registerOnHitEOF", Program: "uprobe_conn_serve_registerOnHitEOF", At: probe.AtCalls, Go: go117,
			Fallback: &probe.Probe{Symbol: connServe, Callee: "net/http.(*body).registerOnHitEOF", Program: "uprobe_conn_serve_body_registerOnHitEOF", At: probe.AtCalls, Go: go117},
		},
		// The exit: the serving goroutine's first socket operation once
		// finishRequest has begun (kernel tracepoints, no trap: socket
		// send and receive lengths since Linux 6.3), else finishRequest's
		// entry, else the RETs of ServeHTTP.
		{
			Symbol: "socket operations", At: probe.AtTracepoints, Go: go117,
			Tracepoints: []probe.Tracepoint{
				{Name: "sock_send_length", Program: "tp_server_socket_op"},
				{Name: "sock_recv_length", Program: "tp_server_socket_op"},
				{Name: "inet_sock_set_state", Program: "tp_server_close"},
			},
			Fallback: &probe.Probe{
				Symbol: "net/http.(*response).finishRequest", Program: "uprobe_response_finishRequest", At: probe.AtEntry, Cheap: true, Go: go117,
				Fallback: &probe.Probe{Symbol: serveHTTP, Program: "uprobe_serverHandler_ServeHTTP_ret", At: probe.AtReturns, Go: go117},
			},
		},
	},
	EventKind: probe.KindHTTPServer,
	Decode:    decode,
}

// constants tells the C what changed between releases: where the matched
// ServeMux pattern lives (Go 1.22 keeps it in Request.pat, Go 1.23 added
// Request.Pattern; older has none) and how conn.curReq holds the response.
func constants(v goexe.Version, found map[string]bool) map[string]any {
	src := routeNone
	switch {
	case found["net/http.Request.Pattern"]:
		src = routePattern
	case found["net/http.Request.pat"] && found["net/http.pattern.str"]:
		src = routePatStr
	}
	curReqData := uint64(8) // atomic.Value: an interface, the data word second
	if (probe.GoRange{From: go120}).Contains(v) {
		curReqData = 0 // atomic.Pointer
	}
	return map[string]any{"route_source": src, "cur_req_data": curReqData}
}
