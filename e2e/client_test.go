package e2e

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/spanprobe/spanprobe/internal/otlptest"
	tracev1 "go.opentelemetry.io/proto/otlp/trace/v1"
)

const (
	// defaultUA is what net/http's client sends when no User-Agent is set.
	defaultUA = "Go-http-client/1.1"
	// serverScope is the instrumentation scope of server spans.
	serverScope = "github.com/spanprobe/spanprobe/instrumentation/nethttp/server"
	// clockSlack bounds the disagreement between the test's wall clock and
	// the agent's conversion of BPF monotonic timestamps to wall-clock time.
	clockSlack = 5 * time.Millisecond
)

// call is one HTTP request the tests send and the span it must produce.
type call struct {
	method    string
	target    string // path and query
	body      string
	userAgent string // "" sends the client default
	// traceparent is sent as the traceparent header when set.
	traceparent string
	status      int // the response status the app must give

	name  string // span name
	route string // http.route; "" when no pattern matched
	// minDur is the least span duration, for /sleep.
	minDur time.Duration
	// pause is the wait before the next call on a keep-alive connection
	// (sendOnOneConn); keepAliveGap when 0.
	pause time.Duration
}

// sent records what happened on the wire for one call.
type sent struct {
	call
	addr       string // the server's "127.0.0.1:PORT"
	scheme     string // "https", or "" for http
	localPort  int    // the client's port, the server's network.peer.port
	start, end time.Time
}

// serverCalls is the request mix of the server-span tests.
var serverCalls = []call{
	{method: "GET", target: "/hello", status: 200, name: "GET /hello", route: "/hello"},
	{method: "GET", target: "/hello", status: 200, name: "GET /hello", route: "/hello"},
	{method: "GET", target: "/status/503", status: 503, name: "GET /status/{code}", route: "/status/{code}"},
	{method: "GET", target: "/items/42", userAgent: "spanprobe-e2e/1.0 (items)", status: 200, name: "GET /items/{id}", route: "/items/{id}"},
	{method: "GET", target: "/hello", status: 200, name: "GET /hello", route: "/hello"},
	{method: "GET", target: "/status/503", status: 503, name: "GET /status/{code}", route: "/status/{code}"},
	{method: "GET", target: "/sleep?ms=50", status: 200, name: "GET /sleep", route: "/sleep", minDur: 50 * time.Millisecond},
	{method: "POST", target: "/echo", body: "ping", status: 200, name: "POST /echo", route: "/echo"},
	{method: "GET", target: "/nope", status: 404, name: "GET"},
	{method: "GET", target: "/hello", status: 200, name: "GET /hello", route: "/hello"},
	{method: "GET", target: "/items/42", userAgent: "spanprobe-e2e/1.0 (items)", status: 200, name: "GET /items/{id}", route: "/items/{id}"},
	{method: "GET", target: "/status/503", status: 503, name: "GET /status/{code}", route: "/status/{code}"},
	{method: "GET", target: "/empty", status: 200, name: "GET /empty", route: "/empty"},
	{method: "GET", target: "/fail", status: 500, name: "GET /fail", route: "/fail"},
	{method: "GET", target: "/hello", status: 200, name: "GET /hello", route: "/hello"},
}

// hello is n plain GET /hello calls.
func hello(n int) []call {
	return slices.Repeat([]call{serverCalls[0]}, n)
}

// sendAll sends the calls one after another, each on a new connection so
// that every span has its own peer port, and checks each response.
func sendAll(t testing.TB, addr string, calls []call) []sent {
	t.Helper()
	return sendAllOver(t, addr, calls, nil)
}

// sendAllOver is sendAll over HTTPS when tlsConfig is not nil.
func sendAllOver(t testing.TB, addr string, calls []call, tlsConfig *tls.Config) []sent {
	t.Helper()
	scheme := schemeFor(tlsConfig)
	client := &http.Client{
		Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil, TLSClientConfig: tlsConfig},
		Timeout:   10 * time.Second,
	}
	defer client.CloseIdleConnections()
	out := make([]sent, 0, len(calls))
	for _, c := range calls {
		s := sent{call: c, addr: addr, scheme: scheme}
		trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
			s.localPort = info.Conn.LocalAddr().(*net.TCPAddr).Port
		}}
		req := callRequest(t, httptrace.WithClientTrace(t.Context(), trace), c, scheme+"://"+addr)
		s.start = time.Now()
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", c.method, c.target, err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		s.end = time.Now()
		if err != nil {
			t.Fatalf("%s %s: reading body: %v", c.method, c.target, err)
		}
		if resp.StatusCode != c.status {
			t.Fatalf("%s %s: status %d, want %d", c.method, c.target, resp.StatusCode, c.status)
		}
		if c.body != "" && string(got) != c.body {
			t.Fatalf("%s %s: body %q, want %q", c.method, c.target, got, c.body)
		}
		out = append(out, s)
	}
	return out
}

// schemeFor is the URL scheme of requests made with tlsConfig (nil: none).
func schemeFor(tlsConfig *tls.Config) string {
	if tlsConfig != nil {
		return "https"
	}
	return "http"
}

// callRequest builds c's request to the server at base ("http://HOST:PORT"):
// its method, target, body, User-Agent and traceparent.
func callRequest(t testing.TB, ctx context.Context, c call, base string) *http.Request {
	t.Helper()
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	req, err := http.NewRequestWithContext(ctx, c.method, base+c.target, body)
	if err != nil {
		t.Fatal(err)
	}
	if c.userAgent != "" {
		req.Header.Set("User-Agent", c.userAgent)
	}
	if c.traceparent != "" {
		req.Header.Set("Traceparent", c.traceparent)
	}
	return req
}

// wantResource is what every span of one target process must carry.
type wantResource struct {
	pid       int
	exePath   string
	goVersion string // "" for the sample app's
}

// checkResource compares the resource attributes the contract fixes.
func checkResource(t testing.TB, got map[string]any, want wantResource) {
	t.Helper()
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	goVersion := want.goVersion
	if goVersion == "" {
		goVersion = bins.appGo
	}
	exact := map[string]any{
		"service.name":             filepathBase(want.exePath),
		"process.pid":              int64(want.pid),
		"process.executable.name":  filepathBase(want.exePath),
		"process.executable.path":  want.exePath,
		"process.runtime.name":     "go",
		"process.runtime.version":  goVersion,
		"telemetry.distro.name":    "spanprobe",
		"host.name":                host,
		"telemetry.sdk.language":   "go",
		"telemetry.sdk.name":       "opentelemetry",
		"telemetry.distro.version": nonEmpty{},
		"telemetry.sdk.version":    nonEmpty{},
	}
	for k, w := range exact {
		checkValue(t, "resource "+k, got, k, w)
	}
}

// nonEmpty matches any non-empty string.
type nonEmpty struct{}

// absent matches a missing key.
type absent struct{}

func checkValue(t testing.TB, what string, m map[string]any, key string, want any) {
	t.Helper()
	got, ok := m[key]
	switch want.(type) {
	case absent:
		if ok {
			t.Errorf("%s = %#v, want it absent", what, got)
		}
		return
	case nonEmpty:
		if s, isStr := got.(string); !ok || !isStr || s == "" {
			t.Errorf("%s = %#v (present %v), want a non-empty string", what, got, ok)
		}
		return
	}
	if !ok {
		t.Errorf("%s missing, want %#v", what, want)
		return
	}
	if got != want {
		t.Errorf("%s = %#v (%T), want %#v (%T)", what, got, got, want, want)
	}
}

func filepathBase(p string) string { return p[strings.LastIndexByte(p, '/')+1:] }

// checkServerSpans checks that got holds exactly one server span per sent
// call, matched by start time (the calls were sequential), with the values
// the contract and the HTTP semantic conventions fix. Spans of other
// bundles (the sample app's start-up queries, traced in launch and --exe
// modes) are TestRequestTrees' business, not this check's.
func checkServerSpans(t testing.TB, got []otlptest.Span, calls []sent, res wantResource) {
	t.Helper()
	got = serverSpans(got)
	if len(got) != len(calls) {
		t.Errorf("got %d spans, want %d (one per request)", len(got), len(calls))
		logSpans(t, got)
		t.FailNow()
	}
	spans := slices.Clone(got)
	sort.Slice(spans, func(i, j int) bool {
		return spans[i].Span.GetStartTimeUnixNano() < spans[j].Span.GetStartTimeUnixNano()
	})
	traceIDs := map[string]bool{}
	spanIDs := map[string]bool{}
	for i, s := range spans {
		c := calls[i]
		sp := s.Span
		what := fmt.Sprintf("span %d (%s %s)", i, c.method, c.target)
		if sp.GetName() != c.name {
			t.Errorf("%s: name %q, want %q", what, sp.GetName(), c.name)
		}
		if sp.GetKind() != tracev1.Span_SPAN_KIND_SERVER {
			t.Errorf("%s: kind %v, want SERVER", what, sp.GetKind())
		}
		if s.Scope != serverScope {
			t.Errorf("%s: scope %q, want %q", what, s.Scope, serverScope)
		}
		checkIDs(t, what, sp, traceIDs, spanIDs)

		// 5xx is an error of the server; 4xx is the client's, so the span
		// status stays unset (semconv HTTP spans, "Status").
		wantStatus := tracev1.Status_STATUS_CODE_UNSET
		if c.status >= 500 {
			wantStatus = tracev1.Status_STATUS_CODE_ERROR
		}
		if sp.GetStatus().GetCode() != wantStatus {
			t.Errorf("%s: status %v, want %v", what, sp.GetStatus().GetCode(), wantStatus)
		}

		start := time.Unix(0, int64(sp.GetStartTimeUnixNano()))
		end := time.Unix(0, int64(sp.GetEndTimeUnixNano()))
		if start.Before(c.start.Add(-clockSlack)) || end.After(c.end.Add(clockSlack)) {
			t.Errorf("%s: span [%s, %s] outside the request's [%s, %s] (slack %v)", what,
				start.Format(time.RFC3339Nano), end.Format(time.RFC3339Nano),
				c.start.Format(time.RFC3339Nano), c.end.Format(time.RFC3339Nano), clockSlack)
		}
		dur := end.Sub(start)
		if dur <= 0 || dur >= time.Second || dur < c.minDur {
			t.Errorf("%s: duration %v, want in [%v, 1s) and positive", what, dur, c.minDur)
		}

		path, _, _ := strings.Cut(c.target, "?")
		host, port, _ := net.SplitHostPort(c.addr)
		var serverPort int64
		fmt.Sscan(port, &serverPort)
		ua := c.userAgent
		if ua == "" {
			ua = defaultUA
		}
		var route any = absent{}
		if c.route != "" {
			route = c.route
		}
		attrs := s.Attrs()
		for k, w := range map[string]any{
			"http.request.method":       c.method,
			"url.path":                  path,
			"url.scheme":                cmp.Or(c.scheme, "http"),
			"http.response.status_code": int64(c.status),
			"http.route":                route,
			"server.address":            host,
			"server.port":               serverPort,
			"network.peer.address":      "127.0.0.1",
			"network.peer.port":         int64(c.localPort),
			"network.protocol.version":  "1.1",
			"user_agent.original":       ua,
		} {
			checkValue(t, what+": attribute "+k, attrs, k, w)
		}
		checkResource(t, s.Resource, res)
	}
	if t.Failed() {
		logSpans(t, spans)
	}
}

func checkIDs(t testing.TB, what string, sp *tracev1.Span, traceIDs, spanIDs map[string]bool) {
	t.Helper()
	tid, sid := sp.GetTraceId(), sp.GetSpanId()
	if len(tid) != 16 || bytes.Equal(tid, make([]byte, 16)) {
		t.Errorf("%s: trace id %x, want 16 non-zero bytes", what, tid)
	}
	if len(sid) != 8 || bytes.Equal(sid, make([]byte, 8)) {
		t.Errorf("%s: span id %x, want 8 non-zero bytes", what, sid)
	}
	if len(sp.GetParentSpanId()) != 0 {
		t.Errorf("%s: parent span id %x, want none (no incoming traceparent)", what, sp.GetParentSpanId())
	}
	if traceIDs[string(tid)] {
		t.Errorf("%s: trace id %x repeats", what, tid)
	}
	if spanIDs[string(sid)] {
		t.Errorf("%s: span id %x repeats", what, sid)
	}
	traceIDs[string(tid)], spanIDs[string(sid)] = true, true
}

func logSpans(t testing.TB, spans []otlptest.Span) {
	t.Helper()
	for i, s := range spans {
		sp := s.Span
		t.Logf("span %d: %q kind=%v trace=%s span=%s start=%s dur=%v status=%v attrs=%v resource=%v", i,
			sp.GetName(), sp.GetKind(), hex.EncodeToString(sp.GetTraceId()), hex.EncodeToString(sp.GetSpanId()),
			time.Unix(0, int64(sp.GetStartTimeUnixNano())).Format(time.RFC3339Nano),
			time.Duration(sp.GetEndTimeUnixNano()-sp.GetStartTimeUnixNano()), sp.GetStatus().GetCode(),
			s.Attrs(), s.Resource)
	}
}

// waitSpans waits until the receiver holds at least n spans, while the agent
// runs; once the agent has exited (it flushes first), rcv.Spans() is final
// and tests compare its length exactly.
func waitSpans(t testing.TB, rcv *otlptest.Receiver, n int) []otlptest.Span {
	t.Helper()
	spans, err := rcv.WaitForSpans(timeout(t, 15*time.Second), n)
	if err != nil {
		logSpans(t, spans)
		t.Fatal(err)
	}
	return spans
}

// serverSpans returns the net/http server spans among spans.
func serverSpans(spans []otlptest.Span) []otlptest.Span {
	return slices.DeleteFunc(slices.Clone(spans), func(s otlptest.Span) bool { return s.Scope != serverScope })
}

// spansOfPID returns the spans whose resource has process.pid pid.
func spansOfPID(spans []otlptest.Span, pid int) []otlptest.Span {
	var out []otlptest.Span
	for _, s := range spans {
		if s.Resource["process.pid"] == int64(pid) {
			out = append(out, s)
		}
	}
	return out
}
