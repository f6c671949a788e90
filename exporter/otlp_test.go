package exporter

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	coltracev1 "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracev1 "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// captureClient is an otlptrace.Client that keeps each request serialised,
// as it would have gone on the wire, and checks that AppendTraceRequest
// writes the same bytes as proto.Marshal.
type captureClient struct{ reqs [][]byte }

func (*captureClient) Start(context.Context) error { return nil }
func (*captureClient) Stop(context.Context) error  { return nil }

func (c *captureClient) UploadTraces(_ context.Context, rs []*tracev1.ResourceSpans) error {
	req := &coltracev1.ExportTraceServiceRequest{ResourceSpans: rs}
	b, err := proto.Marshal(req)
	if err != nil {
		return err
	}
	if w, err := AppendTraceRequest(nil, req); err != nil || !bytes.Equal(w, b) {
		return fmt.Errorf("AppendTraceRequest wrote %d bytes unlike proto.Marshal's %d (%v)", len(w), len(b), err)
	}
	c.reqs = append(c.reqs, b)
	return nil
}

// odd is a span that uses what the agent's spans do not: every attribute
// type, events, links, a remote parent, trace state, status text.
func odd(res *resource.Resource) sdktrace.ReadOnlySpan {
	ts, _ := trace.ParseTraceState("k=v")
	sc := func(b byte, remote bool) trace.SpanContext {
		return trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: trace.TraceID{b, 1}, SpanID: trace.SpanID{b, 2}, TraceFlags: trace.FlagsSampled, TraceState: ts, Remote: remote,
		})
	}
	start := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	all := []attribute.KeyValue{
		attribute.Bool("b", true), attribute.Int64("i", -3), attribute.Float64("f", 1.5), attribute.String("s", "x"),
		attribute.BoolSlice("bs", []bool{true, false}), attribute.Int64Slice("is", []int64{1, 2}),
		attribute.Float64Slice("fs", []float64{0.5}), attribute.StringSlice("ss", []string{"a", "b"}),
		{Key: "empty"},
	}
	return tracetest.SpanStub{
		Name:              "odd",
		SpanContext:       sc(7, false),
		Parent:            sc(8, true),
		SpanKind:          trace.SpanKindConsumer,
		StartTime:         start,
		EndTime:           start.Add(time.Millisecond),
		Attributes:        all,
		Events:            []sdktrace.Event{{Name: "e", Time: start.Add(time.Microsecond), Attributes: all[:2], DroppedAttributeCount: 1}},
		Links:             []sdktrace.Link{{SpanContext: sc(9, true), Attributes: all[2:4], DroppedAttributeCount: 2}},
		Status:            sdktrace.Status{Code: codes.Error, Description: "broken"},
		DroppedAttributes: 3, DroppedEvents: 4, DroppedLinks: 5, ChildSpanCount: 6,
		Resource:             res,
		InstrumentationScope: instrumentation.Scope{Name: "other", Version: "v2", SchemaURL: "https://example.com/s", Attributes: attribute.NewSet(attribute.String("sa", "1"))},
	}.Snapshot()
}

// TestOTLPConversion checks the exporter's own conversion against
// otlptrace's on the same batches, batch after batch (its buffers are
// reused), by comparing the decoded requests with resources in a fixed
// order (otlptrace's comes from a map): as the wire-format clients get it,
// and parsed into messages as the JSON client gets it.
func TestOTLPConversion(t *testing.T) {
	for _, wire := range []bool{true, false} {
		t.Run(fmt.Sprintf("wire=%v", wire), func(t *testing.T) { testOTLPConversion(t, wire) })
	}
}

func testOTLPConversion(t *testing.T, wire bool) {
	cfg := Config{ServiceName: "svc"}
	resA, resB := twoTargets(cfg)
	batches := []struct {
		name  string
		spans []sdktrace.ReadOnlySpan
	}{
		{"one span", []sdktrace.ReadOnlySpan{testSpan(0, resA)}},
		{"two resources interleaved", []sdktrace.ReadOnlySpan{testSpan(1, resA), testSpan(2, resB), testSpan(3, resA), testSpan(4, resB)}},
		{"other scope and every field", []sdktrace.ReadOnlySpan{testSpan(5, resA), odd(resA), testSpan(6, resA), odd(nil)}},
		{"after a larger batch", []sdktrace.ReadOnlySpan{testSpan(7, resB)}},
		{"empty", nil},
	}
	var big []sdktrace.ReadOnlySpan
	for i := range 768 { // a buffer grown several times
		big = append(big, testSpan(100+i, []*resource.Resource{resA, resB}[i%2]))
	}
	batches = slices.Insert(batches, 3, struct {
		name  string
		spans []sdktrace.ReadOnlySpan
	}{"a large batch", big})

	ours, theirs := &captureClient{}, &captureClient{}
	exp, err := newOTLPExporter(t.Context(), ours, wire)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := otlptrace.New(t.Context(), theirs)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range batches {
		t.Run(b.name, func(t *testing.T) {
			n := len(ours.reqs)
			if err := exp.ExportSpans(t.Context(), b.spans); err != nil {
				t.Fatal(err)
			}
			if err := ref.ExportSpans(t.Context(), b.spans); err != nil {
				t.Fatal(err)
			}
			if len(ours.reqs) != len(theirs.reqs) {
				t.Fatalf("%d requests, otlptrace sent %d", len(ours.reqs), len(theirs.reqs))
			}
			if len(ours.reqs) == n {
				return // nothing to send, like otlptrace
			}
			got, want := decodeSorted(t, ours.reqs[n]), decodeSorted(t, theirs.reqs[n])
			if !proto.Equal(got, want) {
				t.Errorf("request differs from otlptrace's:\n got %v\nwant %v", got, want)
			}
		})
	}
}

// decodeSorted parses a request and orders its resources by their
// attributes, and each resource's scopes by name.
func decodeSorted(t *testing.T, b []byte) *coltracev1.ExportTraceServiceRequest {
	t.Helper()
	var req coltracev1.ExportTraceServiceRequest
	if err := proto.Unmarshal(b, &req); err != nil {
		t.Fatal(err)
	}
	key := func(rs *tracev1.ResourceSpans) string { return rs.GetResource().String() }
	slices.SortFunc(req.ResourceSpans, func(a, b *tracev1.ResourceSpans) int { return strings.Compare(key(a), key(b)) })
	for _, rs := range req.ResourceSpans {
		slices.SortFunc(rs.ScopeSpans, func(a, b *tracev1.ScopeSpans) int {
			return strings.Compare(a.GetScope().GetName(), b.GetScope().GetName())
		})
	}
	return &req
}

// TestOTLPConversionAllocs checks a steady stream of batches costs no
// allocation per span once the writer's buffers have grown.
func TestOTLPConversionAllocs(t *testing.T) {
	res, _ := twoTargets(Config{ServiceName: "svc"})
	small, large := make([]sdktrace.ReadOnlySpan, 16), make([]sdktrace.ReadOnlySpan, 512)
	for i := range large {
		large[i] = testSpan(i, res)
	}
	copy(small, large)
	var w spanWriter
	perBatch := func(batch []sdktrace.ReadOnlySpan) float64 {
		return testing.AllocsPerRun(20, func() { w.encode(batch) })
	}
	perBatch(large) // grow the buffers
	a, b := perBatch(small), perBatch(large)
	if b > a+8 {
		t.Errorf("%v allocations for 512 spans, %v for 16: the conversion allocates per span", b, a)
	}
}
