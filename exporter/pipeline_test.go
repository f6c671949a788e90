package exporter

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/resource"
	coltracev1 "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/spanprobe/spanprobe/internal/metrics"
	"github.com/spanprobe/spanprobe/internal/otlptest"
)

func twoTargets(cfg Config) (*resource.Resource, *resource.Resource) {
	return Resource(cfg, TargetInfo{PID: 101, ExePath: "/bin/shop", GoVersion: "go1.22.3"}),
		Resource(cfg, TargetInfo{PID: 202, ExePath: "/bin/cart", GoVersion: "go1.24.1"})
}

func TestOTLPGRPC(t *testing.T) {
	rcv := otlptest.Start(t)
	env := map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT": "http://" + rcv.Endpoint(),
		"OTEL_EXPORTER_OTLP_HEADERS":  "x-api-key=s3cr%20t,X-Tenant=t1",
		"OTEL_RESOURCE_ATTRIBUTES":    "deployment.environment.name=test",
		"OTEL_BSP_SCHEDULE_DELAY":     "20",
	}
	p, reg, _ := newPipeline(t, env, nil)
	cfg, _ := ConfigFromEnv(lookupMap(env))
	shop, cart := twoTargets(cfg)

	// Spans of two processes interleaved in one batch.
	for i := range 6 {
		res := shop
		if i%2 == 1 {
			res = cart
		}
		p.Enqueue(testSpan(i, res))
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	spans, err := rcv.WaitForSpans(ctx, 6)
	if err != nil {
		t.Fatal(err)
	}
	if len(spans) != 6 {
		t.Fatalf("received %d spans, want 6", len(spans))
	}
	for _, s := range spans {
		i := s.Attrs()["test.index"].(int64)
		wantSvc, wantPID := "shop", int64(101)
		if i%2 == 1 {
			wantSvc, wantPID = "cart", 202
		}
		t.Run(fmt.Sprintf("span %d", i), func(t *testing.T) {
			if got := s.Resource["service.name"]; got != wantSvc {
				t.Errorf("service.name = %v, want %s", got, wantSvc)
			}
			if got := s.Resource["process.pid"]; got != wantPID {
				t.Errorf("process.pid = %v, want %d", got, wantPID)
			}
			if got := s.Resource["deployment.environment.name"]; got != "test" {
				t.Errorf("deployment.environment.name = %v, want test", got)
			}
			if got := s.Resource["telemetry.distro.name"]; got != "spanprobe" {
				t.Errorf("telemetry.distro.name = %v", got)
			}
			if s.Scope != testScope {
				t.Errorf("scope = %q, want %q", s.Scope, testScope)
			}
			if s.Span.Name != "GET /items/{id}" {
				t.Errorf("name = %q", s.Span.Name)
			}
			if s.Span.TraceId[15] != byte(i+1) || s.Span.SpanId[7] != byte(i+1) {
				t.Errorf("ids = %x/%x, want index %d encoded", s.Span.TraceId, s.Span.SpanId, i)
			}
			if got := s.Span.EndTimeUnixNano - s.Span.StartTimeUnixNano; got != 1_500_000 {
				t.Errorf("duration = %dns, want 1.5ms", got)
			}
		})
	}

	for _, req := range rcv.Requests() {
		if got := req.Metadata.Get("x-api-key"); len(got) != 1 || got[0] != "s3cr t" {
			t.Errorf("x-api-key metadata = %q, want [\"s3cr t\"]", got)
		}
		if got := req.Metadata.Get("x-tenant"); len(got) != 1 || got[0] != "t1" {
			t.Errorf("x-tenant metadata = %q, want [\"t1\"]", got)
		}
	}
	if err := shutdown(t, p, 5*time.Second); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if c := readCounts(reg); c.exported != 6 || c.dropped() != 0 || c.errors != 0 {
		t.Errorf("counts = %+v, want 6 exported, nothing dropped", c)
	}
}

// httpReceiver is an OTLP/HTTP collector stand-in that decodes requests the
// way a collector does.
type httpReceiver struct {
	mu       sync.Mutex
	spans    []otlptest.Span
	paths    []string
	headers  []http.Header
	failures int // answer this many requests with 503 first
}

func (h *httpReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	if h.failures > 0 {
		h.failures--
		h.mu.Unlock()
		http.Error(w, "warming up", http.StatusServiceUnavailable)
		return
	}
	h.mu.Unlock()

	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	raw, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var req coltracev1.ExportTraceServiceRequest
	ct := r.Header.Get("Content-Type")
	switch ct {
	case "application/x-protobuf":
		err = proto.Unmarshal(raw, &req)
	case "application/json":
		err = protojson.Unmarshal(raw, &req)
	default:
		err = fmt.Errorf("unexpected content type %q", ct)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	h.spans = append(h.spans, otlptest.Flatten(req.GetResourceSpans())...)
	h.paths = append(h.paths, r.URL.Path)
	h.headers = append(h.headers, r.Header.Clone())
	h.mu.Unlock()

	resp, _ := proto.Marshal(&coltracev1.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.Write(resp)
}

func (h *httpReceiver) snapshot() ([]otlptest.Span, []string, []http.Header) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]otlptest.Span(nil), h.spans...), append([]string(nil), h.paths...), append([]http.Header(nil), h.headers...)
}

func TestOTLPHTTP(t *testing.T) {
	tests := []struct {
		name     string
		env      func(url string) map[string]string
		failures int
		wantPath string
	}{
		{
			name: "protobuf generic endpoint",
			env: func(url string) map[string]string {
				return map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf", "OTEL_EXPORTER_OTLP_ENDPOINT": url}
			},
			wantPath: "/v1/traces",
		},
		{
			name: "protobuf traces endpoint, gzip",
			env: func(url string) map[string]string {
				return map[string]string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf",
					"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": url + "/custom/traces", "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip"}
			},
			wantPath: "/custom/traces",
		},
		{
			name: "json",
			env: func(url string) map[string]string {
				return map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json", "OTEL_EXPORTER_OTLP_ENDPOINT": url + "/base"}
			},
			wantPath: "/base/v1/traces",
		},
		{
			name: "retries a 503",
			env: func(url string) map[string]string {
				return map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf", "OTEL_EXPORTER_OTLP_ENDPOINT": url}
			},
			failures: 1,
			wantPath: "/v1/traces",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &httpReceiver{failures: tt.failures}
			srv := httptest.NewServer(h)
			defer srv.Close()

			env := tt.env(srv.URL)
			env["OTEL_EXPORTER_OTLP_HEADERS"] = "Authorization=Bearer%20abc"
			env["OTEL_BSP_SCHEDULE_DELAY"] = "3600000" // only Shutdown flushes
			p, reg, _ := newPipeline(t, env, nil)
			cfg, _ := ConfigFromEnv(lookupMap(env))
			shop, cart := twoTargets(cfg)
			p.Enqueue(testSpan(0, shop))
			p.Enqueue(testSpan(1, cart))
			if err := shutdown(t, p, 10*time.Second); err != nil {
				t.Fatalf("Shutdown: %v", err)
			}

			spans, paths, headers := h.snapshot()
			if len(spans) != 2 {
				t.Fatalf("received %d spans, want 2", len(spans))
			}
			got := map[string]bool{}
			for _, s := range spans {
				got[fmt.Sprintf("%v/%v", s.Resource["service.name"], s.Attrs()["test.index"])] = true
			}
			if !got["shop/0"] || !got["cart/1"] {
				t.Errorf("spans by service/index = %v, want shop/0 and cart/1", got)
			}
			for i := range paths {
				if paths[i] != tt.wantPath {
					t.Errorf("request path = %q, want %q", paths[i], tt.wantPath)
				}
				if a := headers[i].Get("Authorization"); a != "Bearer abc" {
					t.Errorf("Authorization header = %q, want %q", a, "Bearer abc")
				}
			}
			if c := readCounts(reg); c.exported != 2 || c.dropped() != 0 {
				t.Errorf("counts = %+v, want 2 exported, nothing dropped", c)
			}
		})
	}
}

func TestBatching(t *testing.T) {
	tests := []struct {
		name      string
		env       map[string]string
		enqueue   int
		wantSizes []int // before Shutdown
		afterShut []int // added by Shutdown's flush
	}{
		{
			name:      "full batches go out without waiting for the delay",
			env:       map[string]string{"OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "10", "OTEL_BSP_SCHEDULE_DELAY": "3600000"},
			enqueue:   35,
			wantSizes: []int{10, 10, 10},
			afterShut: []int{5},
		},
		{
			name:      "partial batch goes out after the delay",
			env:       map[string]string{"OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "10", "OTEL_BSP_SCHEDULE_DELAY": "200"},
			enqueue:   4,
			wantSizes: []int{4},
		},
		{
			name:      "shutdown flushes everything queued",
			env:       map[string]string{"OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "3", "OTEL_BSP_SCHEDULE_DELAY": "3600000"},
			enqueue:   2,
			afterShut: []int{2},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rcv := otlptest.Start(t)
			tt.env["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://" + rcv.Endpoint()
			p, reg, _ := newPipeline(t, tt.env, nil)
			for i := range tt.enqueue {
				p.Enqueue(testSpan(i, nil))
			}
			want := sum(tt.wantSizes)
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			if _, err := rcv.WaitForSpans(ctx, want); err != nil {
				t.Fatal(err)
			}
			// Nothing more may arrive before Shutdown.
			time.Sleep(100 * time.Millisecond)
			if got := sizes(rcv.Requests()); !slices.Equal(got, tt.wantSizes) {
				t.Errorf("batch sizes before Shutdown = %v, want %v", got, tt.wantSizes)
			}
			if err := shutdown(t, p, 5*time.Second); err != nil {
				t.Fatalf("Shutdown: %v", err)
			}
			wantAll := append(append([]int(nil), tt.wantSizes...), tt.afterShut...)
			if got := sizes(rcv.Requests()); !slices.Equal(got, wantAll) {
				t.Errorf("batch sizes after Shutdown = %v, want %v", got, wantAll)
			}
			if c := readCounts(reg); c.exported != uint64(tt.enqueue) || c.dropped() != 0 {
				t.Errorf("counts = %+v, want %d exported, nothing dropped", c, tt.enqueue)
			}
		})
	}
}

func sizes(reqs []otlptest.Request) []int {
	var out []int
	for _, r := range reqs {
		out = append(out, r.Spans)
	}
	return out
}

func sum(xs []int) int {
	n := 0
	for _, x := range xs {
		n += x
	}
	return n
}

// TestQueueFullWhileCollectorSlow holds the collector's answer so the worker
// is stuck in an export, then overfills the queue.
func TestQueueFullWhileCollectorSlow(t *testing.T) {
	rcv := otlptest.Start(t)
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	var once sync.Once
	rcv.SetHook(func(ctx context.Context, _ *coltracev1.ExportTraceServiceRequest) error {
		select {
		case entered <- struct{}{}:
		default:
		}
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})

	p, reg, _ := newPipeline(t, map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT":    "http://" + rcv.Endpoint(),
		"OTEL_BSP_MAX_QUEUE_SIZE":        "20",
		"OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "5",
		"OTEL_BSP_SCHEDULE_DELAY":        "3600000", // only full batches: deterministic counts
	}, nil)
	for i := range 5 {
		p.Enqueue(testSpan(i, nil))
	}
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("first export never reached the collector")
	}

	start := time.Now()
	for i := 5; i < 105; i++ {
		p.Enqueue(testSpan(i, nil))
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("100 Enqueue calls took %v with a stalled collector; Enqueue must not block", d)
	}
	if c := readCounts(reg); c.queueFull != 80 {
		t.Errorf("queue_full = %d, want 80 (100 offered, 20 fit)", c.queueFull)
	}

	once.Do(func() { close(release) })
	if err := shutdown(t, p, 10*time.Second); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	c := readCounts(reg)
	if c.exported != 25 || c.queueFull != 80 || c.exportFailed+c.shutdown != 0 {
		t.Errorf("counts = %+v, want 25 exported and 80 queue_full", c)
	}
	if n := len(rcv.Spans()); n != 25 {
		t.Errorf("collector received %d spans, want 25", n)
	}
}

// stalledPipeline returns a pipeline (queue 20, batches of 5) whose worker
// is stuck in an export the collector holds until release, with a full
// queue.
func stalledPipeline(t *testing.T) (p *Pipeline, reg *metrics.Registry, release func()) {
	t.Helper()
	rcv := otlptest.Start(t)
	entered := make(chan struct{}, 10)
	held := make(chan struct{})
	rcv.SetHook(func(ctx context.Context, _ *coltracev1.ExportTraceServiceRequest) error {
		entered <- struct{}{}
		select {
		case <-held:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	p, reg, _ = newPipeline(t, map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT":    "http://" + rcv.Endpoint(),
		"OTEL_BSP_MAX_QUEUE_SIZE":        "20",
		"OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "5",
		"OTEL_BSP_SCHEDULE_DELAY":        "3600000",
	}, nil)
	for i := range 5 {
		p.Enqueue(testSpan(i, nil))
	}
	<-entered
	for i := 5; i < 25; i++ {
		p.Enqueue(testSpan(i, nil))
	}
	var once sync.Once
	release = func() { once.Do(func() { close(held) }) }
	t.Cleanup(release)
	return p, reg, release
}

// TestWaitForRoom: a producer waits while the queue is full until the
// worker takes spans, and a stuck exporter costs it one bounded wait.
func TestWaitForRoom(t *testing.T) {
	t.Run("exporter answers", func(t *testing.T) {
		p, reg, release := stalledPipeline(t)
		waited := make(chan time.Duration)
		go func() {
			start := time.Now()
			p.WaitForRoom(10 * time.Second)
			waited <- time.Since(start)
		}()
		time.Sleep(50 * time.Millisecond)
		release()
		if d := <-waited; d < 40*time.Millisecond || d > 5*time.Second {
			t.Errorf("WaitForRoom returned after %v, want soon after the exporter answered (50ms)", d)
		}
		if err := shutdown(t, p, 10*time.Second); err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		if c := readCounts(reg); c.exported != 25 || c.queueFull != 0 {
			t.Errorf("counts = %+v, want 25 exported, none dropped", c)
		}
	})
	t.Run("stuck exporter", func(t *testing.T) {
		p, _, _ := stalledPipeline(t)
		start := time.Now()
		p.WaitForRoom(200 * time.Millisecond)
		if d := time.Since(start); d < 150*time.Millisecond {
			t.Errorf("WaitForRoom returned after %v with a full queue and a stuck exporter, want about 200ms", d)
		}
		start = time.Now()
		p.WaitForRoom(10 * time.Second)
		if d := time.Since(start); d > 100*time.Millisecond {
			t.Errorf("second WaitForRoom took %v; after a wait ran out it must not wait again", d)
		}
	})
}

func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestUnreachableCollector(t *testing.T) {
	tests := []struct {
		name string
		env  func(addr string) map[string]string
	}{
		{"grpc", func(addr string) map[string]string {
			return map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://" + addr}
		}},
		{"http", func(addr string) map[string]string {
			return map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://" + addr}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := tt.env(closedPort(t))
			env["OTEL_EXPORTER_OTLP_TIMEOUT"] = "300"
			env["OTEL_BSP_EXPORT_TIMEOUT"] = "1000"
			env["OTEL_BSP_MAX_QUEUE_SIZE"] = "50"
			env["OTEL_BSP_MAX_EXPORT_BATCH_SIZE"] = "10"
			env["OTEL_BSP_SCHEDULE_DELAY"] = "20"
			p, reg, logs := newPipeline(t, env, nil)

			const total = 20000
			span := testSpan(0, nil)
			var ms runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&ms)
			heapBefore := ms.HeapAlloc
			start := time.Now()
			maxQueued := 0
			for i := range total {
				p.Enqueue(span)
				if i%100 == 0 {
					maxQueued = max(maxQueued, len(p.queue))
					time.Sleep(time.Millisecond) // let the worker fail a few batches
				}
			}
			elapsed := time.Since(start)
			runtime.GC()
			runtime.ReadMemStats(&ms)
			if maxQueued > 50 {
				t.Errorf("queue held %d spans, limit is 50", maxQueued)
			}
			// Spans are shared, so anything retained per Enqueue would show.
			if grew := int64(ms.HeapAlloc) - int64(heapBefore); grew > 4<<20 {
				t.Errorf("heap grew by %d bytes over %d drops", grew, total)
			}
			if elapsed > 10*time.Second {
				t.Errorf("Enqueue loop took %v; it must not wait for the collector", elapsed)
			}
			eventually(t, 10*time.Second, "a failed export", func() bool { return readCounts(reg).errors > 0 })

			shutStart := time.Now()
			err := shutdown(t, p, 5*time.Second)
			if d := time.Since(shutStart); d > 3*time.Second {
				t.Errorf("Shutdown took %v with an unreachable collector (timeouts are 300ms/1s)", d)
			}
			if err != nil {
				t.Errorf("Shutdown: %v (a dead collector is not a shutdown error)", err)
			}
			c := readCounts(reg)
			if c.exported != 0 {
				t.Errorf("exported = %d, want 0", c.exported)
			}
			if c.queueFull == 0 || c.exportFailed == 0 {
				t.Errorf("counts = %+v, want both queue_full and export_failed drops", c)
			}
			if c.dropped() != total {
				t.Errorf("dropped %d (%+v), want all %d accounted for", c.dropped(), c, total)
			}
			if n := strings.Count(logs.String(), "level=WARN"); n != 1 {
				t.Errorf("logged %d warnings, want 1 per outage:\n%s", n, logs.String())
			}
		})
	}
}

func TestCollectorComesBack(t *testing.T) {
	rcv := otlptest.Start(t)
	addr := rcv.Endpoint()
	rcv.Stop()

	p, reg, logs := newPipeline(t, map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT": "http://" + addr,
		"OTEL_EXPORTER_OTLP_TIMEOUT":  "300",
		"OTEL_BSP_SCHEDULE_DELAY":     "20",
	}, nil)
	p.Enqueue(testSpan(0, nil))
	eventually(t, 10*time.Second, "a failed export", func() bool { return readCounts(reg).errors > 0 })

	back := otlptest.StartAt(t, addr)
	i := 1
	eventually(t, 20*time.Second, "export to resume", func() bool {
		p.Enqueue(testSpan(i, nil))
		i++
		time.Sleep(50 * time.Millisecond)
		return len(back.Spans()) > 0
	})
	if err := shutdown(t, p, 5*time.Second); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	c := readCounts(reg)
	// A batch can reach the collector after the client gave up on it, so the
	// collector may hold more than the exported counter says, never fewer.
	if c.exported == 0 || c.exported > uint64(len(back.Spans())) {
		t.Errorf("exported = %d, collector has %d spans", c.exported, len(back.Spans()))
	}
	if c.exported+c.dropped() != uint64(i) {
		t.Errorf("exported+dropped = %d (%+v), want all %d spans accounted for", c.exported+c.dropped(), c, i)
	}
	if !logs.Contains("level=WARN msg=\"exporting spans\"") || !logs.Contains("msg=\"span export resumed\"") {
		t.Errorf("want one warning and one resumed line, logs:\n%s", logs.String())
	}
}

func TestShutdownDeadline(t *testing.T) {
	rcv := otlptest.Start(t)
	rcv.SetHook(func(ctx context.Context, _ *coltracev1.ExportTraceServiceRequest) error {
		<-ctx.Done() // never answers
		return ctx.Err()
	})
	p, reg, _ := newPipeline(t, map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT":    "http://" + rcv.Endpoint(),
		"OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "5",
		"OTEL_BSP_SCHEDULE_DELAY":        "3600000",
	}, nil)
	for i := range 12 {
		p.Enqueue(testSpan(i, nil))
	}
	start := time.Now()
	err := shutdown(t, p, 300*time.Millisecond)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Shutdown took %v with a 300ms deadline", d)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown error = %v, want context.DeadlineExceeded", err)
	}
	<-p.done // the worker must finish promptly too
	c := readCounts(reg)
	if c.exported != 0 || c.dropped() != 12 {
		t.Errorf("counts = %+v, want all 12 dropped", c)
	}
}

func TestEnqueueAfterShutdown(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
	}{
		{"console", map[string]string{"OTEL_TRACES_EXPORTER": "console"}},
		{"none", map[string]string{"OTEL_TRACES_EXPORTER": "none"}},
		{"otlp", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://" + closedPort(t)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, reg, _ := newPipeline(t, tt.env, nil)
			if err := shutdown(t, p, 5*time.Second); err != nil {
				t.Fatalf("Shutdown: %v", err)
			}
			p.Enqueue(testSpan(0, nil))
			p.Enqueue(testSpan(1, nil))
			if c := readCounts(reg); c.shutdown != 2 || c.exported != 0 {
				t.Errorf("counts = %+v, want 2 shutdown drops", c)
			}
			if err := shutdown(t, p, time.Second); err != nil {
				t.Errorf("second Shutdown = %v, want nil", err)
			}
		})
	}
}

func TestNoneExporter(t *testing.T) {
	p, reg, _ := newPipeline(t, map[string]string{"OTEL_TRACES_EXPORTER": "none"}, nil)
	for i := range 3 {
		p.Enqueue(testSpan(i, nil))
	}
	if c := readCounts(reg); c.disabled != 3 || c.exported != 0 {
		t.Errorf("counts = %+v, want 3 disabled", c)
	}
}

// TestConcurrentEnqueueAndShutdown checks that no span goes unaccounted when
// producers race with Shutdown.
func TestConcurrentEnqueueAndShutdown(t *testing.T) {
	out := &syncBuffer{}
	p, reg, _ := newPipeline(t, map[string]string{
		"OTEL_TRACES_EXPORTER":           "console",
		"OTEL_BSP_MAX_QUEUE_SIZE":        "64",
		"OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "8",
		"OTEL_BSP_SCHEDULE_DELAY":        "1",
	}, out)
	const producers, each = 4, 2000
	span := testSpan(0, nil)
	var wg sync.WaitGroup
	for range producers {
		wg.Go(func() {
			for range each {
				p.Enqueue(span)
			}
		})
	}
	time.Sleep(5 * time.Millisecond)
	if err := shutdown(t, p, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	c := readCounts(reg)
	if c.exported+c.dropped() != producers*each {
		t.Errorf("exported %d + dropped %d (%+v) != %d enqueued", c.exported, c.dropped(), c, producers*each)
	}
	if got := strings.Count(out.String(), "span \""); uint64(got) != c.exported {
		t.Errorf("console printed %d spans, exported counter says %d", got, c.exported)
	}
}

func TestMetricsExposed(t *testing.T) {
	p, reg, _ := newPipeline(t, map[string]string{"OTEL_TRACES_EXPORTER": "none"}, nil)
	p.Enqueue(testSpan(0, nil))
	var b strings.Builder
	if err := reg.WritePrometheus(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"# TYPE spanprobe_spans_dropped_total counter\n",
		`spanprobe_spans_dropped_total{reason="disabled"} 1` + "\n",
		`spanprobe_spans_dropped_total{reason="queue_full"} 0` + "\n",
		`spanprobe_spans_dropped_total{reason="export_failed"} 0` + "\n",
		`spanprobe_spans_dropped_total{reason="shutdown"} 0` + "\n",
		"spanprobe_spans_exported_total 0\n",
		"spanprobe_export_errors_total 0\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("exposition lacks %q:\n%s", want, b.String())
		}
	}
}

func TestEnqueueZeroAlloc(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
	}{
		{"queue path", map[string]string{"OTEL_TRACES_EXPORTER": "console", "OTEL_BSP_SCHEDULE_DELAY": "3600000",
			"OTEL_BSP_MAX_QUEUE_SIZE": "1", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "1"}},
		{"disabled", map[string]string{"OTEL_TRACES_EXPORTER": "none"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _, _ := newPipeline(t, tt.env, nil)
			span := testSpan(0, nil)
			if n := testing.AllocsPerRun(1000, func() { p.Enqueue(span) }); n != 0 {
				t.Errorf("Enqueue allocates %v times per call, want 0", n)
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		cfg  Config
		out  io.Writer
		want string
	}{
		{"console without writer", Config{Exporter: ExporterConsole}, nil, "no output writer"},
		{"unknown kind", Config{Exporter: "zipkin"}, io.Discard, `"zipkin"`},
		{"missing CA file", Config{Exporter: ExporterOTLP, Endpoint: "c:4317", Insecure: false, Certificate: dir + "/nope.pem"}, io.Discard, "nope.pem"},
		{"batch over queue", Config{Exporter: ExporterConsole, MaxQueueSize: 4, MaxExportBatchSize: 8}, io.Discard, "exceeds queue size"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := New(t.Context(), tt.cfg, metrics.NewRegistry(), nil, tt.out)
			if err == nil {
				_ = p.Shutdown(t.Context())
				t.Fatal("New succeeded, want error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func BenchmarkEnqueue(b *testing.B) {
	cfg := Config{Exporter: ExporterConsole, MaxQueueSize: 4096, MaxExportBatchSize: 512, ScheduleDelay: time.Millisecond}
	p, err := New(b.Context(), cfg, nil, nil, io.Discard)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Shutdown(context.Background())
	span := testSpan(0, resource.NewSchemaless(attribute.String("service.name", "bench")))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		p.Enqueue(span)
	}
}

func TestNoGoroutineLeak(t *testing.T) {
	rcv := otlptest.Start(t)
	tests := []struct {
		name string
		env  map[string]string
	}{
		{"console", map[string]string{"OTEL_TRACES_EXPORTER": "console"}},
		{"grpc", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://" + rcv.Endpoint()}},
		{"http unreachable", map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
			"OTEL_EXPORTER_OTLP_ENDPOINT": "http://" + closedPort(t), "OTEL_EXPORTER_OTLP_TIMEOUT": "200"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := runtime.NumGoroutine()
			cfg, err := ConfigFromEnv(lookupMap(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			p, err := New(t.Context(), cfg, nil, nil, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			p.Enqueue(testSpan(0, nil))
			if err := shutdown(t, p, 5*time.Second); err != nil {
				t.Fatal(err)
			}
			eventually(t, 5*time.Second, fmt.Sprintf("goroutines back to %d", before), func() bool {
				return runtime.NumGoroutine() <= before
			})
		})
	}
}
