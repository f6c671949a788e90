package server

import (
	"context"
	"runtime"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"
	coltracev1 "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracev1 "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/spanprobe/spanprobe/exporter"
	"github.com/spanprobe/spanprobe/instrumentation/probe"
	"github.com/spanprobe/spanprobe/internal/metrics"
)

// BenchmarkPipeline measures the agent's user-space cost of one span: from a
// ring-buffer record to its share of a serialised OTLP export request. Each
// op decodes a real http_server_event record (probe.Decoder and this
// bundle's decode), attaches the resource and snapshots the span as the
// agent does, and enqueues it on the exporter's bounded batcher, whose
// goroutine converts batches to OTLP messages and hands them to a client
// that serialises each request as the gRPC client does and discards it
// instead of sending it. The time includes the final flush, and
// the run fails if any span is dropped. This bundle's package holds it
// because only it has the record layout (bpf2go's generated struct).
//
// One op is one span; `make bench` runs it on one core:
//
//	go test ./instrumentation/nethttp/server -run '^$' -bench Pipeline -cpu 1
func BenchmarkPipeline(b *testing.B) {
	records := benchRecords()
	reg := metrics.NewRegistry()
	sink := &nullClient{}
	cfg := exporter.Config{
		ScheduleDelay:      time.Second,
		MaxQueueSize:       exporter.DefaultMaxQueueSize,
		MaxExportBatchSize: exporter.DefaultMaxExportBatchSize,
	}
	p, err := exporter.NewWithClient(b.Context(), cfg, sink, reg, nil)
	if err != nil {
		b.Fatal(err)
	}
	dec := probe.NewDecoder([]*probe.Bundle{Bundle}, probe.NewClock(), nil, reg)
	res := exporter.Resource(cfg, exporter.TargetInfo{PID: 4242, ExePath: "/usr/local/bin/app", GoVersion: "go1.26.8"})
	exported := reg.Counter(exporter.MetricSpansExported, "")
	// The agent drops spans when the queue is full; here the producer lets
	// the batcher catch up instead, so that every span is measured through
	// to its serialised request.
	backlog := uint64(cfg.MaxQueueSize - cfg.MaxExportBatchSize)

	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU(b)
	for i := range b.N {
		sp := p.NewSpan() // as the agent does: spans come back after export
		if _, ok := dec.Decode(records[i%len(records)], &sp.Stub); !ok {
			b.Fatalf("record %d not decoded", i%len(records))
		}
		sp.Stub.Resource = res
		p.Enqueue(sp)
		for uint64(i+1)-exported.Load() > backlog {
			runtime.Gosched()
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := p.Shutdown(ctx); err != nil {
		b.Fatalf("flushing: %v", err)
	}
	b.StopTimer()
	cpu := processCPU(b) - cpu0
	if got := exported.Load(); got != uint64(b.N) {
		b.Fatalf("exported %d spans of %d", got, b.N)
	}
	// Wall time counts whatever else runs on the machine; CPU time does
	// not, so spans per CPU second is the figure to compare between runs.
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "spans/s")
	b.ReportMetric(float64(b.N)/cpu.Seconds(), "spans/cpu-s")
	b.ReportMetric(float64(sink.bytes)/float64(b.N), "otlp_bytes/span")
}

// processCPU returns the user and system time this process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatalf("reading CPU time: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchRecords returns ring-buffer records of a few requests unlike each
// other: routes, statuses, user agents, peers.
func benchRecords() [][]byte {
	reqs := []req{
		{method: "GET", path: "/hello", host: "127.0.0.1:8080", remote: "127.0.0.1:51234", route: "GET /hello", major: 1, minor: 1,
			ua: " Go-http-client/1.1\r"},
		{method: "GET", path: "/items/42", host: "api.example.com", remote: "10.1.2.3:40000", route: "GET /items/{id}", major: 1, minor: 1,
			ua: " curl/8.5.0\r"},
		{method: "POST", path: "/nope", host: "127.0.0.1:8080", remote: "[::1]:4000", status: 404, major: 1, minor: 0},
		{method: "GET", path: "/status/503", host: "127.0.0.1:8080", remote: "127.0.0.1:51240", route: "GET /status/{code}", status: 503, major: 1, minor: 1},
	}
	out := make([][]byte, len(reqs))
	for i, r := range reqs {
		out[i] = record(r, func(ev *serverHttpServerEvent) {
			ev.Hdr.Kind = probe.KindHTTPServer
			ev.Hdr.Pid = 4242
			ev.Hdr.Goid = uint64(100 + i)
			ev.Hdr.StartNs = uint64(time.Second) * uint64(i+1)
			ev.Hdr.EndNs = ev.Hdr.StartNs + uint64(150*time.Microsecond)
			ev.Hdr.Sc.TraceId[15] = byte(i + 1)
			ev.Hdr.Sc.SpanId[7] = byte(i + 1)
			ev.Hdr.Sc.Flags = byte(trace.FlagsSampled)
		})
	}
	return out
}

// nullClient is an otlptrace.Client that serialises every export request
// as the agent's gRPC codec does (exporter.AppendTraceRequest into a buffer
// kept between exports) and sends nothing.
type nullClient struct {
	buf   []byte
	bytes int
}

func (*nullClient) Start(context.Context) error { return nil }
func (*nullClient) Stop(context.Context) error  { return nil }

func (c *nullClient) UploadTraces(_ context.Context, rs []*tracev1.ResourceSpans) error {
	var err error
	c.buf, err = exporter.AppendTraceRequest(c.buf[:0], &coltracev1.ExportTraceServiceRequest{ResourceSpans: rs})
	c.bytes += len(c.buf)
	return err
}
