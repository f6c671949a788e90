package exporter

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	coltracev1 "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracev1 "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// asSpan copies what a ReadOnlySpan holds into a Span.
func asSpan(s sdktrace.ReadOnlySpan) *Span {
	return &Span{Stub: tracetest.SpanStubFromReadOnlySpan(s)}
}

// TestSpanReadsLikeSnapshot: every field a Span gives an exporter is the
// one a snapshot of the same stub gives, for the direct encoder and for the
// console exporter.
func TestSpanReadsLikeSnapshot(t *testing.T) {
	cfg := Config{ServiceName: "svc"}
	res, _ := twoTargets(cfg)
	snaps := []sdktrace.ReadOnlySpan{testSpan(1, res), odd(res), odd(nil)}
	var spans []sdktrace.ReadOnlySpan
	for _, s := range snaps {
		spans = append(spans, asSpan(s))
	}
	var w1, w2 spanWriter
	want, err := proto.Marshal(&coltracev1.ExportTraceServiceRequest{ResourceSpans: w1.encode(snaps)})
	if err != nil {
		t.Fatal(err)
	}
	got, err := proto.Marshal(&coltracev1.ExportTraceServiceRequest{ResourceSpans: w2.encode(spans)})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("a Span encodes unlike the snapshot it was copied from")
	}
	var c1, c2 bytes.Buffer
	if err := newConsoleExporter(&c1).ExportSpans(t.Context(), snaps); err != nil {
		t.Fatal(err)
	}
	if err := newConsoleExporter(&c2).ExportSpans(t.Context(), spans); err != nil {
		t.Fatal(err)
	}
	if c1.String() != c2.String() {
		t.Errorf("console output differs:\n got %s\nwant %s", c2.String(), c1.String())
	}
	if s := spans[1].(*Span); s.InstrumentationLibrary().Name != s.InstrumentationScope().Name {
		t.Errorf("InstrumentationLibrary %v, want the scope %v", s.InstrumentationLibrary(), s.InstrumentationScope())
	}
}

// TestSpansComeBack: the pipeline hands out again the Spans it exported or
// dropped, emptied but for their attribute capacity, and only after the
// exporter is done with them: what reaches the collector is each span's own.
func TestSpansComeBack(t *testing.T) {
	client := &captureClient{}
	cfg := Config{MaxQueueSize: 64, MaxExportBatchSize: 8, ScheduleDelay: time.Hour}
	p, err := NewWithClient(t.Context(), cfg, client, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[*Span]bool{}
	const n = 200
	for i := range n {
		sp := p.NewSpan()
		if seen[sp] {
			if sp.Stub.Name != "" || len(sp.Stub.Attributes) != 0 || cap(sp.Stub.Attributes) < 2 {
				t.Fatalf("span %d: recycled span not emptied (name %q, %d attributes, capacity %d)", i, sp.Stub.Name, len(sp.Stub.Attributes), cap(sp.Stub.Attributes))
			}
		}
		seen[sp] = true
		sp.Stub.Name = fmt.Sprintf("span-%d", i)
		sp.Stub.Attributes = append(sp.Stub.Attributes, attribute.Int("i", i), attribute.String("s", fmt.Sprint("v", i)))
		sp.Stub.SpanContext = testSpan(i, nil).SpanContext()
		p.WaitForRoom(time.Second)
		p.Enqueue(sp)
	}
	if err := shutdown(t, p, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if len(seen) >= n {
		t.Errorf("%d distinct Spans for %d spans: none came back", len(seen), n)
	}
	got := 0
	for _, b := range client.reqs {
		var req coltracev1.ExportTraceServiceRequest
		if err := proto.Unmarshal(b, &req); err != nil {
			t.Fatal(err)
		}
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					checkOwnAttrs(t, s)
					got++
				}
			}
		}
	}
	if got != n {
		t.Errorf("collector got %d spans, want %d", got, n)
	}
}

func checkOwnAttrs(t *testing.T, s *tracev1.Span) {
	t.Helper()
	var i int64 = -1
	var str string
	for _, kv := range s.Attributes {
		switch kv.Key {
		case "i":
			i = kv.Value.GetIntValue()
		case "s":
			str = kv.Value.GetStringValue()
		}
	}
	if s.Name != fmt.Sprintf("span-%d", i) || str != fmt.Sprint("v", i) {
		t.Errorf("span %q carries attributes i=%d s=%q: another span's", s.Name, i, str)
	}
}

// TestDroppedSpansComeBack: a Span dropped at Enqueue goes back to the pool.
func TestDroppedSpansComeBack(t *testing.T) {
	p, err := NewWithClient(t.Context(), Config{}, &captureClient{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := shutdown(t, p, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	sp := p.NewSpan()
	sp.Stub.Attributes = append(sp.Stub.Attributes, attribute.Int("i", 1))
	p.Enqueue(sp) // after Shutdown: dropped
	if again := p.NewSpan(); again != sp || len(again.Stub.Attributes) != 0 || cap(again.Stub.Attributes) == 0 {
		t.Errorf("dropped span not taken back emptied with its capacity")
	}
}
