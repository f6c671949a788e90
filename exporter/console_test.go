package exporter

import (
	"errors"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

func TestConsoleOutput(t *testing.T) {
	res := Resource(Config{}, TargetInfo{PID: 77, ExePath: "/bin/shop", GoVersion: "go1.23.4"})
	plain := testSpan(0, res)

	stub := tracetest.SpanStubFromReadOnlySpan(testSpan(1, res))
	stub.Parent = trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: stub.SpanContext.TraceID(), SpanID: trace.SpanID{0xaa, 0xbb, 0xcc, 0xdd, 0, 0, 0, 1}, Remote: true,
	})
	stub.Status = sdktrace.Status{Code: codes.Error, Description: "upstream timeout"}
	stub.Attributes = []attribute.KeyValue{
		attribute.String("url.path", "/items/7"),
		attribute.Int("http.response.status_code", 504),
		attribute.String("http.request.method", "GET"),
	}
	stub.Events = []sdktrace.Event{{Name: "exception", Time: stub.StartTime.Add(500 * time.Microsecond),
		Attributes: []attribute.KeyValue{attribute.String("exception.message", "boom")}}}
	withParent := stub.Snapshot()

	out := &syncBuffer{}
	p, _, _ := newPipeline(t, map[string]string{"OTEL_TRACES_EXPORTER": "console"}, out)
	p.Enqueue(plain)
	p.Enqueue(withParent)
	if err := shutdown(t, p, 5*time.Second); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	got := out.String()

	blocks := strings.Split(got, "span \"")
	if len(blocks) != 3 {
		t.Fatalf("want 2 span blocks, got output:\n%s", got)
	}
	tests := []struct {
		name  string
		block string
		want  []string
	}{
		{"root span", blocks[1], []string{
			`GET /items/{id}"` + "\n",
			"  kind:      server\n",
			"  trace_id:  00000000000000000000000000000001\n",
			"  span_id:   0000000000000001\n",
			"  parent_id: none\n",
			"  start:     2026-01-02T03:04:05.000000006Z\n",
			"  duration:  1.5ms\n",
			"  status:    unset\n",
			"  scope:     " + testScope + " v0.1.0\n",
			`  resource:  service.name="shop" process.pid=77` + "\n",
			"  attributes:\n" +
				`    http.request.method="GET"` + "\n" +
				"    http.response.status_code=200\n" +
				"    test.index=0\n",
		}},
		{"child span", blocks[2], []string{
			"  trace_id:  00000000000000000000000000000002\n",
			"  span_id:   0000000000000002\n",
			"  parent_id: aabbccdd00000001 (remote)\n",
			`  status:    error "upstream timeout"` + "\n",
			"  attributes:\n" +
				`    http.request.method="GET"` + "\n" +
				"    http.response.status_code=504\n" +
				`    url.path="/items/7"` + "\n",
			"  events:\n" + `    +500µs exception exception.message="boom"` + "\n",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, w := range tt.want {
				if !strings.Contains(tt.block, w) {
					t.Errorf("block lacks %q:\n%s", w, tt.block)
				}
			}
		})
	}
}

type errWriter struct{}

var errBrokenPipe = errors.New("broken pipe")

func (errWriter) Write([]byte) (int, error) { return 0, errBrokenPipe }

func TestConsoleWriteErrorCounted(t *testing.T) {
	cfg, err := ConfigFromEnv(lookupMap(map[string]string{"OTEL_TRACES_EXPORTER": "console"}))
	if err != nil {
		t.Fatal(err)
	}
	exp := newConsoleExporter(errWriter{})
	if err := exp.ExportSpans(t.Context(), []sdktrace.ReadOnlySpan{testSpan(0, nil)}); !errors.Is(err, errBrokenPipe) {
		t.Errorf("ExportSpans error = %v, want %v", err, errBrokenPipe)
	}
	_ = exp.Shutdown(t.Context())
	if err := exp.ExportSpans(t.Context(), nil); !errors.Is(err, errExporterShutdown) {
		t.Errorf("ExportSpans after Shutdown = %v, want %v", err, errExporterShutdown)
	}

	p, err := New(t.Context(), cfg, nil, nil, errWriter{})
	if err != nil {
		t.Fatal(err)
	}
	reg := p.m
	p.Enqueue(testSpan(0, nil))
	if err := shutdown(t, p, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if got := reg.exportFailed.Load(); got != 1 {
		t.Errorf("export_failed = %d, want 1", got)
	}
}
