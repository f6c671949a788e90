package exporter

import (
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	coltracev1 "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc/encoding"
	_ "google.golang.org/grpc/encoding/proto" // gRPC's own codec, the reference
	"google.golang.org/protobuf/proto"
)

// exportRequest is one batch of n spans as the exporter sends it.
func exportRequest(n int) *coltracev1.ExportTraceServiceRequest {
	res, _ := twoTargets(Config{ServiceName: "svc"})
	spans := make([]sdktrace.ReadOnlySpan, n)
	for i := range spans {
		spans[i] = testSpan(i, res)
	}
	spans = append(spans, odd(res))
	var e batchEncoder
	return &coltracev1.ExportTraceServiceRequest{ResourceSpans: e.encode(spans)}
}

func TestExportCodecMatchesGRPC(t *testing.T) {
	c := newExportCodec()
	ref := encoding.GetCodecV2("proto")
	for _, n := range []int{0, 1, 512} {
		req := exportRequest(n)
		want, err := ref.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		for round := range 3 { // the second and third reuse a kept buffer
			got, err := c.Marshal(req)
			if err != nil {
				t.Fatal(err)
			}
			if string(got.Materialize()) != string(want.Materialize()) {
				t.Fatalf("%d spans, round %d: %d bytes differ from gRPC's codec (%d bytes)", n, round, got.Len(), want.Len())
			}
			var back coltracev1.ExportTraceServiceRequest
			if err := c.Unmarshal(got, &back); err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(&back, req) {
				t.Fatalf("%d spans, round %d: the request does not read back", n, round)
			}
			got.Free()
		}
		want.Free()
	}
	if _, err := c.Marshal("not a message"); err == nil {
		t.Error("marshalled a string")
	}
}

func TestKeptBuffersReuse(t *testing.T) {
	p := &keptBuffers{}
	a := p.Get(1000)
	if len(*a) != 1000 {
		t.Fatalf("Get(1000) gave %d bytes", len(*a))
	}
	p.Put(a)
	if b := p.Get(900); &(*b)[:1][0] != &(*a)[:1][0] {
		t.Error("a smaller request did not reuse the kept buffer")
	} else {
		p.Put(b)
	}
	big := p.Get(5000) // nothing kept is large enough
	small := p.Get(10)
	p.Put(big)
	p.Put(small)
	p.Put(p.Get(20000)) // the largest two stay
	if len(p.free) != keptBuffersMax {
		t.Fatalf("%d buffers kept, want %d", len(p.free), keptBuffersMax)
	}
	for _, f := range p.free {
		if cap(*f) < 5000 {
			t.Errorf("kept a %d-byte buffer over larger ones", cap(*f))
		}
	}
	huge := p.Get(keptBufferMaxSize + 1)
	p.Put(huge)
	for _, f := range p.free {
		if f == huge {
			t.Error("kept a buffer over the size limit")
		}
	}
}

// BenchmarkExportCodec compares serialising one full batch (512 spans)
// with gRPC's own proto codec and with the exporter's.
func BenchmarkExportCodec(b *testing.B) {
	req := exportRequest(511)
	for _, c := range []struct {
		name  string
		codec encoding.CodecV2
	}{{"grpc", encoding.GetCodecV2("proto")}, {"spanprobe", newExportCodec()}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			var bytes int
			for b.Loop() {
				out, err := c.codec.Marshal(req)
				if err != nil {
					b.Fatal(err)
				}
				bytes = out.Len()
				out.Free()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/512, "ns/span")
			b.SetBytes(int64(bytes))
		})
	}
}
