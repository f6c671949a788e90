package e2e

import (
	"bufio"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	tracev1 "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/spanprobe/spanprobe/internal/otlptest"
)

const (
	clientScope = "github.com/spanprobe/spanprobe/instrumentation/nethttp/client"
	dbScope     = "github.com/spanprobe/spanprobe/instrumentation/databasesql"

	// incomingTrace and incomingParent make up the valid traceparent sent
	// to the app; unsampledTrace comes with the sampled flag off.
	incomingTrace  = "4bf92f3577b34da6a3ce929d0e0e4736"
	incomingParent = "00f067aa0ba902b7"
	unsampledTrace = "5bf92f3577b34da6a3ce929d0e0e4737"
)

// child is a span a request must have below its server span.
type child struct {
	name  string
	scope string
	attrs map[string]any // exact values; absent{} and nonEmpty{} work too
	err   bool           // status ERROR
}

// tree is one request and the spans it must leave: one trace holding its
// server span and exactly these children.
type tree struct {
	call
	children []child
	// trace and parent: the trace id and remote parent span id the server
	// span must have (from a traceparent); "" means a new trace.
	trace, parent string
	// dropped: the request came in unsampled and must leave no span.
	dropped bool
}

// variant is one build of the app with one database.
type variant struct {
	name     string
	bin      string
	appFlags []string
	system   string // db.system.name
	// placeholder writes the i-th (1-based) bind parameter as the driver does.
	placeholder func(i int) string
	// dialErr and dbErr are error.type of a refused call and a failed query.
	dialErr, dbErr string
	// exits is the agent's --exit-probes.
	exits string
}

// TestRequestTrees sends one request per way an instrumented call can be
// tied to the request that caused it and checks the whole tree each leaves:
// calls on the handler's goroutine, on goroutines it starts (directly and
// transitively, without a context), through errgroup with the request's
// context, through a worker pool fed the context over a channel; a refused
// call; every kind of database/sql call and a failing one; and requests
// carrying valid, unsampled and invalid traceparent headers.
func TestRequestTrees(t *testing.T) {
	requireBPF(t)
	variants := []variant{
		{name: "sqlite", bin: bins.app, system: "sqlite", placeholder: question, dialErr: "*net.OpError", dbErr: "*modernc.org/sqlite.Error"},
		{name: "sqlite stripped", bin: bins.appStripped, system: "sqlite", placeholder: question, dialErr: "*net.OpError", dbErr: "*modernc.org/sqlite.Error"},
		// Loaded at a random address: type names need the process's load bias.
		{name: "sqlite position-independent", bin: bins.appPIE, system: "sqlite", placeholder: question, dialErr: "*net.OpError", dbErr: "*modernc.org/sqlite.Error"},
		{name: "postgresql", bin: bins.app, system: "postgresql", placeholder: dollar, dialErr: "*net.OpError", dbErr: "*github.com/jackc/pgx/v5/pgconn.PgError"},
		{name: "sqlite RET exits", bin: bins.app, system: "sqlite", placeholder: question, dialErr: "*net.OpError", dbErr: "*modernc.org/sqlite.Error", exits: "ret"},
	}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			if v.system == "postgresql" {
				v.appFlags = []string{"-db-driver", "pgx", "-db-dsn", startPostgres(t)}
			}
			down := startDownstream(t)
			rcv := otlptest.Start(t)
			a := startApp(t, v.bin, append([]string{"-downstream", down.URL}, v.appFlags...)...)
			flags := []string{"--pid", strconv.Itoa(a.pid()), "--log-level", "debug"}
			if v.exits != "" {
				flags = append(flags, "--exit-probes", v.exits)
			}
			agent := startAgent(t, otlpEnv(rcv.Endpoint()), flags...)
			waitAttached(t, agent)
			checkDBExitSites(t, agent, v.exits != "ret")
			checkClientExitSites(t, agent, v.exits != "ret")

			trees := requestTrees(down.URL, v)
			var calls []call
			for _, tr := range trees {
				calls = append(calls, tr.call)
			}
			sent := sendAll(t, a.addr, calls)
			agent.stop(t, 15*time.Second)
			checkTrees(t, rcv.Spans(), trees, sent)
		})
	}
}

// checkCallExits checks where the agent ended the calls of symbol: at
// emulated Jccs found through callee (DB.retry's result test, roundTrip's
// success test) or not, at RETs of symbol or not. The agent must log at
// debug level.
func checkCallExits(t *testing.T, agent *proc, symbol, callee string, wantTests, wantRets bool) {
	t.Helper()
	var tests, rets int
	for _, l := range agent.stderr.lines() {
		if !strings.Contains(l, `msg="uprobe attached"`) || !strings.Contains(l, " symbol="+symbol+" ") {
			continue
		}
		switch {
		case strings.Contains(l, "callee="+callee+" ") && strings.Contains(l, "emulated=true") && strings.Contains(l, `inst="J`):
			tests++
		case strings.Contains(l, "inst=RET"):
			rets++
		}
	}
	if (tests > 0) != wantTests || (rets > 0) != wantRets {
		t.Fatalf("%s exits at %d tests through %s and %d RETs; want tests %v, RETs %v", symbol, tests, callee, rets, wantTests, wantRets)
	}
}

// checkDBExitSites: DB.QueryContext's calls end at the result test in
// DB.retry when retry has one (Go 1.20+ without --exit-probes=ret), else at
// QueryContext's own RETs.
func checkDBExitSites(t *testing.T, agent *proc, wantRetry bool) {
	t.Helper()
	checkCallExits(t, agent, "database/sql.(*DB).QueryContext", "database/sql.(*DB).retry", wantRetry, !wantRetry)
}

// checkClientExitSites: a successful client request ends at roundTrip's
// test of its connection's result, unless --exit-probes=ret; failures
// always at RETs.
func checkClientExitSites(t *testing.T, agent *proc, wantTest bool) {
	t.Helper()
	checkCallExits(t, agent, "net/http.(*Transport).roundTrip", "net/http.(*persistConn).roundTrip", wantTest, true)
}

func question(int) string { return "?" }
func dollar(i int) string { return "$" + strconv.Itoa(i) }

// requestTrees lists the requests and what each must leave.
func requestTrees(down string, v variant) []tree {
	get := func(n int) []child {
		c := child{name: "GET", scope: clientScope, attrs: map[string]any{
			"http.request.method":       "GET",
			"url.full":                  down + "/hello",
			"http.response.status_code": int64(200),
			"network.protocol.version":  "1.1",
			"server.address":            "127.0.0.1",
			"server.port":               int64(portOf(down)),
			"error.type":                absent{},
		}}
		return slices.Repeat([]child{c}, n)
	}
	p := v.placeholder
	db := func(name, op, table, text string) child {
		attrs := map[string]any{
			"db.system.name":    v.system,
			"db.operation.name": op,
			"db.query.text":     text,
			"error.type":        absent{},
		}
		if table != "" {
			attrs["db.collection.name"] = table
		}
		if text == "" {
			attrs["db.query.text"] = absent{}
		}
		return child{name: name, scope: dbScope, attrs: attrs}
	}
	route := func(target string) call {
		path, _, _ := strings.Cut(target, "?")
		return call{method: "GET", target: target, status: 200, name: "GET " + path, route: path}
	}
	withHeader := func(c call, tp string) call { c.traceparent = tp; return c }
	failedDB := db("UPDATE missing_table", "UPDATE", "missing_table", "UPDATE missing_table SET name = ? WHERE id = ?")
	failedDB.err, failedDB.attrs["error.type"] = true, v.dbErr
	return []tree{
		{call: route("/chain"), children: get(1)},
		{call: route("/calls/goroutines"), children: get(3)},
		{call: route("/calls/errgroup"), children: get(3)},
		{call: route("/calls/pool"), children: get(1)},
		{call: route("/calls/refused"), children: []child{{name: "GET", scope: clientScope, err: true, attrs: map[string]any{
			"http.request.method":       "GET",
			"url.full":                  nonEmpty{},
			"error.type":                v.dialErr,
			"http.response.status_code": absent{},
		}}}},
		{call: route("/db"), children: []child{db("SELECT items", "SELECT", "items", "SELECT count(*) FROM items WHERE id > "+p(1))}},
		{call: route("/calls/db"), children: []child{
			db("INSERT items", "INSERT", "items", "INSERT INTO items (name) VALUES (?)"),
			db("SELECT items", "SELECT", "items", "SELECT id, name FROM items WHERE name = ? LIMIT ?"),
			db("SELECT items", "SELECT", "items", "SELECT name FROM items WHERE id = "+p(1)),
			db("UPDATE items", "UPDATE", "items", "UPDATE items SET name = ? WHERE id = ?"),
			db("BEGIN", "BEGIN", "", ""),
			db("DELETE items", "DELETE", "items", "DELETE FROM items WHERE name = ?"),
			db("COMMIT", "COMMIT", "", ""),
		}},
		{call: route("/calls/dbfail"), children: []child{failedDB}},
		{call: withHeader(route("/chain"), "00-"+incomingTrace+"-"+incomingParent+"-01"), children: get(1), trace: incomingTrace, parent: incomingParent},
		{call: withHeader(route("/chain"), "00-"+unsampledTrace+"-"+incomingParent+"-00"), dropped: true},
		// Invalid headers are ignored: each request starts a trace of its own.
		{call: withHeader(route("/hello"), "00-"+strings.ToUpper(incomingTrace)+"-"+incomingParent+"-01")},
		{call: withHeader(route("/hello"), "ff-"+incomingTrace+"-"+incomingParent+"-01")},
		{call: withHeader(route("/hello"), "00-"+strings.Repeat("0", 32)+"-"+incomingParent+"-01")},
		{call: withHeader(route("/hello"), "00-"+incomingTrace+"-"+strings.Repeat("0", 16)+"-01")},
		{call: withHeader(route("/hello"), "00-"+incomingTrace+"-"+incomingParent+"-1")},
		{call: withHeader(route("/hello"), "00-"+incomingTrace+"-"+incomingParent+"-01-extra")},
	}
}

// checkTrees checks that spans hold exactly the trees, and nothing else.
func checkTrees(t *testing.T, spans []otlptest.Span, trees []tree, sent []sent) {
	t.Helper()
	byTrace := map[string][]otlptest.Span{}
	for _, s := range spans {
		id := hex.EncodeToString(s.Span.GetTraceId())
		byTrace[id] = append(byTrace[id], s)
	}
	seen := map[string]bool{}
	for i, tr := range trees {
		what := fmt.Sprintf("request %d (%s, traceparent %q)", i, tr.target, tr.traceparent)
		root := serverSpanOf(spans, sent[i].localPort)
		if tr.dropped {
			if root != nil || len(byTrace[unsampledTrace]) != 0 {
				t.Errorf("%s: unsampled request left spans", what)
			}
			continue
		}
		if root == nil {
			t.Errorf("%s: no server span", what)
			continue
		}
		traceID := hex.EncodeToString(root.Span.GetTraceId())
		seen[traceID] = true
		if tr.trace != "" && traceID != tr.trace {
			t.Errorf("%s: trace id %s, want %s from the traceparent", what, traceID, tr.trace)
		}
		if got := hex.EncodeToString(root.Span.GetParentSpanId()); got != tr.parent {
			t.Errorf("%s: server span parent %q, want %q", what, got, tr.parent)
		}
		if root.Span.GetName() != tr.name {
			t.Errorf("%s: server span %q, want %q", what, root.Span.GetName(), tr.name)
		}
		rootID := string(root.Span.GetSpanId())
		var kids []otlptest.Span
		for _, s := range byTrace[traceID] {
			if string(s.Span.GetSpanId()) != rootID {
				kids = append(kids, s)
			}
		}
		if len(kids) != len(tr.children) {
			logSpans(t, byTrace[traceID])
			t.Errorf("%s: %d spans below the server span, want %d", what, len(kids), len(tr.children))
			continue
		}
		for _, want := range tr.children {
			k := slices.IndexFunc(kids, func(s otlptest.Span) bool { return s.Span.GetName() == want.name && s.Scope == want.scope })
			if k < 0 {
				logSpans(t, kids)
				t.Errorf("%s: no child %q from %s", what, want.name, want.scope)
				continue
			}
			got := kids[k]
			kids = slices.Delete(kids, k, k+1)
			cw := what + " child " + want.name
			if string(got.Span.GetParentSpanId()) != rootID {
				t.Errorf("%s: parent %x, want the server span %x", cw, got.Span.GetParentSpanId(), rootID)
			}
			if got.Span.GetKind() != tracev1.Span_SPAN_KIND_CLIENT {
				t.Errorf("%s: kind %v, want client", cw, got.Span.GetKind())
			}
			if isErr := got.Span.GetStatus().GetCode() == tracev1.Status_STATUS_CODE_ERROR; isErr != want.err {
				t.Errorf("%s: status error %v, want %v", cw, isErr, want.err)
			}
			if got.Span.GetStartTimeUnixNano() < root.Span.GetStartTimeUnixNano() || got.Span.GetEndTimeUnixNano() > root.Span.GetEndTimeUnixNano() {
				t.Errorf("%s: not inside the server span's time", cw)
			}
			attrs := got.Attrs()
			for key, w := range want.attrs {
				checkValue(t, cw+" "+key, attrs, key, w)
			}
		}
	}
	for id, ss := range byTrace {
		if !seen[id] {
			logSpans(t, ss)
			t.Errorf("trace %s belongs to no request", id)
		}
	}
}

// serverSpanOf finds the server span whose peer port is port.
func serverSpanOf(spans []otlptest.Span, port int) *otlptest.Span {
	for i, s := range spans {
		if s.Scope == serverScope && s.Attrs()["network.peer.port"] == int64(port) {
			return &spans[i]
		}
	}
	return nil
}

// startDownstream serves /hello outside any instrumented process, so the
// only server spans are the app's.
func startDownstream(t testing.TB) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello")
	}))
	t.Cleanup(srv.Close)
	return srv
}

func portOf(url string) int {
	i := strings.LastIndexByte(url, ':')
	p, _ := strconv.Atoi(url[i+1:])
	return p
}

// TestRequestTreesJaeger sends requests that make outgoing calls and
// queries, one under an incoming traceparent, with a real Jaeger as the
// collector: each request must be one trace there, its server span the
// parent of every call it caused.
func TestRequestTreesJaeger(t *testing.T) {
	requireBPF(t)
	j := startJaeger(t, jaegerBinary(t))
	down := startDownstream(t)
	a := startApp(t, bins.app, "-downstream", down.URL)
	agent := startAgent(t, agentEnv(
		"OTEL_EXPORTER_OTLP_ENDPOINT=http://"+j.otlpAddr,
		"OTEL_EXPORTER_OTLP_INSECURE=true",
		"OTEL_BSP_SCHEDULE_DELAY=200",
	), "--pid", strconv.Itoa(a.pid()))
	waitAttached(t, agent)
	begin := time.Now()
	all := requestTrees(down.URL, variant{system: "sqlite", placeholder: question})
	trees := []tree{all[0], all[1], all[5], all[8]} // /chain, /calls/goroutines, /db, /chain with a traceparent
	want := 0
	var calls []call
	for _, tr := range trees {
		calls = append(calls, tr.call)
		want += 1 + len(tr.children)
	}
	sendAll(t, a.addr, calls)
	agent.stop(t, 15*time.Second)

	spans := j.waitSpans(t, filepathBase(bins.app), begin.Add(-time.Minute), time.Now().Add(time.Minute), want)
	if len(spans) != want {
		t.Fatalf("jaeger holds %d spans, want %d", len(spans), want)
	}
	for _, tr := range trees {
		what := tr.name + " " + tr.traceparent
		var root *jaegerSpan
		for i, s := range spans {
			if s.OperationName == tr.name && s.tag("span.kind") == "server" && (tr.trace == "") == (s.TraceID != incomingTrace) {
				root = &spans[i]
			}
		}
		if root == nil {
			t.Errorf("%s: no server span", what)
			continue
		}
		var parentRef []jaegerRef
		if tr.parent != "" {
			parentRef = []jaegerRef{{RefType: "CHILD_OF", TraceID: tr.trace, SpanID: tr.parent}}
		}
		if !slices.Equal(root.References, parentRef) {
			t.Errorf("%s: server span references %v, want %v", what, root.References, parentRef)
		}
		var kids []string
		for _, s := range spans {
			if s.TraceID != root.TraceID || s.SpanID == root.SpanID {
				continue
			}
			kids = append(kids, s.OperationName)
			if ref := []jaegerRef{{RefType: "CHILD_OF", TraceID: root.TraceID, SpanID: root.SpanID}}; !slices.Equal(s.References, ref) {
				t.Errorf("%s: %s references %v, want %v", what, s.OperationName, s.References, ref)
			}
		}
		var wantKids []string
		for _, c := range tr.children {
			wantKids = append(wantKids, c.name)
		}
		slices.Sort(kids)
		slices.Sort(wantKids)
		if !slices.Equal(kids, wantKids) {
			t.Errorf("%s: children %v, want %v", what, kids, wantKids)
		}
	}
}

// TestClientRetry: a request the transport retries on a new connection
// (the server hung up on the reused one after reading it) is one client
// span, ended by the attempt that succeeded. roundTrip's success test sees
// the failed attempt first, and no probed RET lies on the retry's path.
func TestClientRetry(t *testing.T) {
	requireBPF(t)
	down := startFlakyDownstream(t)
	spans, sent := callTwice(t, "-downstream", down.url)
	if conns, reqs := down.counts(); conns != 2 || reqs != 3 {
		t.Fatalf("the downstream saw %d connections and %d requests, want 2 and 3: the second call was not retried", conns, reqs)
	}
	get := child{name: "GET", scope: clientScope, attrs: map[string]any{
		"http.request.method":       "GET",
		"url.full":                  down.url + "/hello",
		"http.response.status_code": int64(200),
		"server.port":               int64(portOf(down.url)),
		"error.type":                absent{},
	}}
	checkTrees(t, spans, []tree{{call: sent[0].call, children: []child{get, get}}}, sent)
}

// callTwice runs the app with appFlags under the agent, which must end
// successful client calls at roundTrip's success test, and sends it one
// /calls/twice: two calls in a row to its downstream. It returns the
// spans exported.
func callTwice(t *testing.T, appFlags ...string) ([]otlptest.Span, []sent) {
	t.Helper()
	rcv := otlptest.Start(t)
	a := startApp(t, bins.app, appFlags...)
	agent := startAgent(t, otlpEnv(rcv.Endpoint()), "--pid", strconv.Itoa(a.pid()), "--log-level", "debug")
	waitAttached(t, agent)
	checkClientExitSites(t, agent, true)
	c := call{method: "GET", target: "/calls/twice", status: 200, name: "GET /calls/twice", route: "/calls/twice"}
	sent := sendAll(t, a.addr, []call{c})
	agent.stop(t, 15*time.Second)
	return rcv.Spans(), sent
}

// flakyServer answers the first request on each connection and hangs up
// on reading the second, unanswered: a client that reuses the connection
// retries the request on a new one (net/http does for GETs).
type flakyServer struct {
	url         string
	mu          sync.Mutex
	conns, reqs int
}

func startFlakyDownstream(t *testing.T) *flakyServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	f := &flakyServer{url: "http://" + ln.Addr().String()}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f.mu.Lock()
			f.conns++
			f.mu.Unlock()
			go f.serve(c)
		}
	}()
	return f
}

func (f *flakyServer) serve(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	for i := 0; ; i++ {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		io.Copy(io.Discard, req.Body)
		f.mu.Lock()
		f.reqs++
		f.mu.Unlock()
		if i == 1 {
			return
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
	}
}

func (f *flakyServer) counts() (conns, reqs int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.conns, f.reqs
}

// TestClientHTTP2: a call over HTTP/2 (TLS, negotiated by ALPN) is a
// client span with protocol version 2. HTTP/2's RoundTrip returns to the
// same success test in Transport.roundTrip as HTTP/1's, whose RET the
// agent leaves unprobed: a span that did not end there would never end.
func TestClientHTTP2(t *testing.T) {
	requireBPF(t)
	var protos sync.Map
	down := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		protos.Store(r.Proto, true)
		io.WriteString(w, "hello")
	}))
	down.EnableHTTP2 = true
	down.StartTLS()
	t.Cleanup(down.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: down.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	spans, sent := callTwice(t, "-downstream", down.URL, "-downstream-ca", ca)
	if _, ok := protos.Load("HTTP/2.0"); !ok {
		t.Fatal("the downstream saw no HTTP/2 request")
	}
	get := child{name: "GET", scope: clientScope, attrs: map[string]any{
		"http.request.method":       "GET",
		"url.full":                  down.URL + "/hello",
		"http.response.status_code": int64(200),
		"network.protocol.version":  "2",
		"server.port":               int64(portOf(down.URL)),
		"error.type":                absent{},
	}}
	checkTrees(t, spans, []tree{{call: sent[0].call, children: []child{get, get}}}, sent)
}
