package e2e

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	tracev1 "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/spanprobe/spanprobe/internal/otlptest"
)

// rawServer answers every HTTP/1 request with 200 and records the exact
// bytes of each (head and body), by path.
type rawServer struct {
	url string
	mu  sync.Mutex
	got map[string][][]byte
}

func startRawServer(t *testing.T) *rawServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &rawServer{url: "http://" + ln.Addr().String(), got: map[string][][]byte{}}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() { defer wg.Done(); s.serve(c) }()
		}
	}()
	return s
}

// recorder keeps everything read through it.
type recorder struct {
	r   io.Reader
	buf bytes.Buffer
}

func (r *recorder) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.buf.Write(p[:n])
	return n, err
}

func (s *rawServer) serve(c net.Conn) {
	defer c.Close()
	rec := &recorder{r: c}
	br := bufio.NewReader(rec)
	done := 0
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		io.Copy(io.Discard, req.Body)
		req.Body.Close()
		end := rec.buf.Len() - br.Buffered()
		raw := bytes.Clone(rec.buf.Bytes()[done:end])
		done = end
		s.mu.Lock()
		s.got[req.URL.Path] = append(s.got[req.URL.Path], raw)
		s.mu.Unlock()
		if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"); err != nil {
			return
		}
	}
}

// take returns and forgets what was recorded.
func (s *rawServer) take() map[string][][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	got := s.got
	s.got = map[string][][]byte{}
	return got
}

// injectedRE matches the header line the agent adds.
var injectedRE = regexp.MustCompile(`traceparent: 00-([0-9a-f]{32})-([0-9a-f]{16})-01\r\n`)

// TestOutgoingTraceparentBytes sends requests that are easy to corrupt
// (a keep-alive sequence, 8 KB of headers, a chunked body written in
// pieces, a body with a length, one that has a traceparent already) from
// the app to a server that records their bytes, first without the agent,
// then with it, on this locked-down kernel: each must arrive byte-identical
// but for one inserted traceparent line naming its client span, and the one
// with a traceparent must arrive untouched.
func TestOutgoingTraceparentBytes(t *testing.T) {
	requireBPF(t)
	raw := startRawServer(t)
	a := startApp(t, bins.app, "-downstream", raw.url)
	tricky := []call{{method: "GET", target: "/calls/tricky", status: 200, name: "GET /calls/tricky", route: "/calls/tricky"}}
	sendAll(t, a.addr, tricky)
	plain := raw.take()

	rcv := otlptest.Start(t)
	agent := startAgent(t, otlpEnv(rcv.Endpoint()), "--pid", strconv.Itoa(a.pid()), "--propagation", "sk_msg")
	waitAttached(t, agent)
	sendAll(t, a.addr, tricky)
	agent.stop(t, 15*time.Second)
	traced := raw.take()

	clients := map[string]*tracev1.Span{} // by path
	var root *tracev1.Span
	for _, s := range rcv.Spans() {
		switch s.Scope {
		case clientScope:
			u := s.Attrs()["url.full"].(string)
			clients[u[strings.Index(u[len("http://"):], "/")+len("http://"):]] = s.Span
		case serverScope:
			root = s.Span
		}
	}
	if root == nil {
		t.Fatal("no server span for /calls/tricky")
	}
	paths := []string{"/tricky/keepalive/0", "/tricky/keepalive/1", "/tricky/keepalive/2", "/tricky/bigheader", "/tricky/chunked", "/tricky/length", "/tricky/present"}
	for _, p := range paths {
		if len(plain[p]) != 1 || len(traced[p]) != 1 {
			t.Errorf("%s: received %d times without the agent and %d with it, want once each", p, len(plain[p]), len(traced[p]))
			continue
		}
		before, after := plain[p][0], traced[p][0]
		if p == "/tricky/present" {
			if !bytes.Equal(before, after) {
				t.Errorf("%s: a request with its own traceparent was changed:\n%q\nbecame\n%q", p, before, after)
			}
			continue
		}
		m := injectedRE.FindAllSubmatchIndex(after, -1)
		if len(m) != 1 {
			t.Errorf("%s: %d traceparent lines inserted, want 1:\n%q", p, len(m), after)
			continue
		}
		start, end := m[0][0], m[0][1]
		if stripped := append(bytes.Clone(after[:start]), after[end:]...); !bytes.Equal(stripped, before) {
			t.Errorf("%s: bytes differ beyond the inserted line:\nwithout the agent %q\nwith it          %q", p, before, after)
		}
		if !bytes.HasPrefix(after[end:], []byte("\r\n")) {
			t.Errorf("%s: the line is not the last of the head: %q", p, after[start:min(len(after), end+8)])
		}
		traceID, spanID := string(after[m[0][2]:m[0][3]]), string(after[m[0][4]:m[0][5]])
		c := clients[p]
		switch {
		case c == nil:
			t.Errorf("%s: no client span", p)
		case traceID != hex.EncodeToString(root.GetTraceId()) || spanID != hex.EncodeToString(c.GetSpanId()):
			t.Errorf("%s: traceparent names trace %s span %s, want the request's trace %x and its client span %x", p, traceID, spanID, root.GetTraceId(), c.GetSpanId())
		}
	}
}

// TestCrossProcessTrace has service A, traced by one agent, call service B,
// traced by another, over loopback: in Jaeger each request is one trace in
// which B's server span is a child of A's client span.
func TestCrossProcessTrace(t *testing.T) {
	requireBPF(t)
	j := startJaeger(t, jaegerBinary(t))
	b := startApp(t, bins.app)
	a := startApp(t, bins.app, "-downstream", "http://"+b.addr)
	for _, svc := range []struct {
		name string
		pid  int
	}{{"svc-a", a.pid()}, {"svc-b", b.pid()}} {
		ag := startAgent(t, agentEnv(
			"OTEL_SERVICE_NAME="+svc.name,
			"OTEL_EXPORTER_OTLP_ENDPOINT=http://"+j.otlpAddr,
			"OTEL_EXPORTER_OTLP_INSECURE=true",
			"OTEL_BSP_SCHEDULE_DELAY=200",
		), "--pid", strconv.Itoa(svc.pid))
		waitAttached(t, ag)
		t.Cleanup(func() { ag.stop(t, 15*time.Second) })
	}
	begin := time.Now()
	const n = 5
	sendAll(t, a.addr, slices.Repeat([]call{{method: "GET", target: "/chain", status: 200, name: "GET /chain", route: "/chain"}}, n))

	// Jaeger answers a query by service with whole traces: both services'
	// spans, which are then told apart by their process.
	spans := j.waitSpans(t, "svc-a", begin.Add(-time.Minute), time.Now().Add(time.Minute), 3*n)
	clientOf := map[string]jaegerSpan{} // A's client spans by span id
	var bSpans []jaegerSpan
	for _, s := range spans {
		switch {
		case s.Process.ServiceName == "svc-a" && s.tag("span.kind") == "client":
			clientOf[s.SpanID] = s
		case s.Process.ServiceName == "svc-b":
			bSpans = append(bSpans, s)
		}
	}
	if len(clientOf) != n || len(bSpans) != n {
		t.Fatalf("svc-a has %d client spans and svc-b %d spans in svc-a's traces, want %d each", len(clientOf), len(bSpans), n)
	}
	linked := 0
	for _, s := range bSpans {
		if len(s.References) != 1 {
			t.Errorf("svc-b span %s %s has references %v, want its caller's client span", s.OperationName, s.SpanID, s.References)
			continue
		}
		ref := s.References[0]
		c, ok := clientOf[ref.SpanID]
		if !ok || ref.TraceID != s.TraceID || c.TraceID != s.TraceID {
			t.Errorf("svc-b span %s (trace %s) refers to %+v, which is no client span of svc-a in that trace", s.SpanID, s.TraceID, ref)
			continue
		}
		linked++
	}
	if linked != n {
		t.Errorf("%d of %d requests form one trace across both services", linked, n)
	}
}

// TestCrossProcessLoad sends 10,000 requests through A to B as fast as
// 32 connections go, without the agents and then with them: every request
// must succeed (a corrupted request would get a 400 from B) and every one
// of B's server spans must be a child of one of A's client spans. It prints
// both rates and their ratio.
func TestCrossProcessLoad(t *testing.T) {
	requireBPF(t)
	const total, conns = 10000, 32
	b := startApp(t, bins.app)
	a := startApp(t, bins.app, "-downstream", "http://"+b.addr)
	url := "http://" + a.addr + "/chain"
	load(t, url, 500, conns) // warm-up
	baseRate := load(t, url, total, conns)

	rcvA, rcvB := otlptest.Start(t), otlptest.Start(t)
	healthA, healthB := fmt.Sprintf("127.0.0.1:%d", freePort(t)), fmt.Sprintf("127.0.0.1:%d", freePort(t))
	agA := startAgent(t, otlpEnv(rcvA.Endpoint()), "--pid", strconv.Itoa(a.pid()), "--health-addr", healthA)
	agB := startAgent(t, otlpEnv(rcvB.Endpoint()), "--pid", strconv.Itoa(b.pid()), "--health-addr", healthB)
	waitAttached(t, agA)
	waitAttached(t, agB)
	rate := load(t, url, total, conns)
	time.Sleep(1500 * time.Millisecond) // the agents copy BPF counters every second
	for _, m := range []metrics{scrape(t, healthA), scrape(t, healthB)} {
		for k, v := range m.series {
			if v > 0 && (strings.Contains(k, "injections") || strings.Contains(k, "dropped")) {
				t.Logf("%s %v", k, v)
			}
		}
	}
	agA.stop(t, 30*time.Second)
	agB.stop(t, 30*time.Second)

	clients := map[string]string{} // A's client span id -> trace id
	for _, s := range rcvA.Spans() {
		if s.Scope == clientScope {
			clients[string(s.Span.GetSpanId())] = string(s.Span.GetTraceId())
		}
	}
	servedB, linked := 0, 0
	for _, s := range rcvB.Spans() {
		if s.Scope != serverScope {
			continue
		}
		servedB++
		if tid, ok := clients[string(s.Span.GetParentSpanId())]; ok && tid == string(s.Span.GetTraceId()) {
			linked++
		}
	}
	t.Logf("A -> B /chain, %d requests over %d connections: %.0f req/s without the agents, %.0f with them (ratio %.2f); A client spans %d, B server spans %d, linked %d",
		total, conns, baseRate, rate, rate/baseRate, len(clients), servedB, linked)
	if len(clients) != total || servedB != total || linked != total {
		t.Errorf("want %d client spans in A, %d server spans in B, all linked", total, total)
	}
}

// load sends n GETs to rawURL over conns keep-alive connections, fails the
// test on any error or non-200 answer, and returns the rate.
func load(t *testing.T, rawURL string, n, conns int) float64 {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	target := u.RequestURI()
	res := startLoad(t, loadSpec{addr: u.Host, conns: conns, total: n, req: func(int) (string, string) { return target, "" }}).wait()
	if res.failed > 0 {
		t.Fatalf("%d of %d requests failed (first: %v)", res.failed, n, res.firstErr)
	}
	return res.rate()
}
