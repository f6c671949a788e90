package exporter

import (
	"bytes"
	"context"
	"encoding/binary"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/spanprobe/spanprobe/internal/metrics"
)

const testScope = "github.com/spanprobe/spanprobe/instrumentation/nethttp/server"

// testSpan returns a server span whose ids encode i, so receivers can tell
// spans apart.
func testSpan(i int, res *resource.Resource) sdktrace.ReadOnlySpan {
	var tid trace.TraceID
	var sid trace.SpanID
	binary.BigEndian.PutUint64(tid[8:], uint64(i)+1)
	binary.BigEndian.PutUint64(sid[:], uint64(i)+1)
	start := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	return tracetest.SpanStub{
		Name: "GET /items/{id}",
		SpanContext: trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled,
		}),
		SpanKind:  trace.SpanKindServer,
		StartTime: start,
		EndTime:   start.Add(1500 * time.Microsecond),
		Attributes: []attribute.KeyValue{
			attribute.String("http.request.method", "GET"),
			attribute.Int("http.response.status_code", 200),
			attribute.Int("test.index", i),
		},
		Resource:             res,
		InstrumentationScope: instrumentation.Scope{Name: testScope, Version: "v0.1.0"},
	}.Snapshot()
}

func newPipeline(t *testing.T, env map[string]string, out *syncBuffer) (*Pipeline, *metrics.Registry, *syncBuffer) {
	t.Helper()
	cfg, err := ConfigFromEnv(lookupMap(env))
	if err != nil {
		t.Fatalf("ConfigFromEnv: %v", err)
	}
	reg := metrics.NewRegistry()
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if out == nil {
		out = &syncBuffer{}
	}
	p, err := New(t.Context(), cfg, reg, log, out)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = p.Shutdown(ctx)
	})
	return p, reg, logs
}

type counts struct {
	exported, errors, queueFull, exportFailed, disabled, shutdown uint64
}

func (c counts) dropped() uint64 { return c.queueFull + c.exportFailed + c.disabled + c.shutdown }

func readCounts(reg *metrics.Registry) counts {
	d := func(reason string) uint64 { return reg.Counter(MetricSpansDropped, "", "reason", reason).Load() }
	return counts{
		exported:     reg.Counter(MetricSpansExported, "").Load(),
		errors:       reg.Counter(MetricExportErrors, "").Load(),
		queueFull:    d(DropQueueFull),
		exportFailed: d(DropExportFailed),
		disabled:     d(DropDisabled),
		shutdown:     d(DropShutdown),
	}
}

func shutdown(t *testing.T, p *Pipeline, timeout time.Duration) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return p.Shutdown(ctx)
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// syncBuffer is a bytes.Buffer safe for the pipeline goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *syncBuffer) Contains(sub string) bool { return strings.Contains(s.String(), sub) }
