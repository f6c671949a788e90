package exporter

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	coltracev1 "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracev1 "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc/encoding"
	_ "google.golang.org/grpc/encoding/proto" // gRPC's own codec, the reference
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// exportRequest is one batch of n spans as the exporter sends it
// (spanWriter's carriers), or, parsed, as messages with their fields set.
func exportRequest(n int, parse bool) *coltracev1.ExportTraceServiceRequest {
	res, _ := twoTargets(Config{ServiceName: "svc"})
	spans := make([]sdktrace.ReadOnlySpan, n)
	for i := range spans {
		spans[i] = testSpan(i, res)
	}
	spans = append(spans, odd(res))
	var w spanWriter
	rs := w.encode(spans)
	if parse {
		var err error
		if rs, err = parsed(rs); err != nil {
			panic(err)
		}
	}
	return &coltracev1.ExportTraceServiceRequest{ResourceSpans: rs}
}

func TestExportCodecMatchesGRPC(t *testing.T) {
	c := newExportCodec()
	ref := encoding.GetCodecV2("proto")
	for _, tc := range []struct {
		n     int
		parse bool
	}{{0, false}, {1, false}, {512, false}, {1, true}, {512, true}} {
		n, req := tc.n, exportRequest(tc.n, tc.parse)
		fields := exportRequest(tc.n, true) // what the request reads back as
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
			if !proto.Equal(&back, fields) {
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

// BenchmarkExportCodec compares serialising one full batch (512 spans),
// as the exporter hands it over, with gRPC's own proto codec and with the
// exporter's.
func BenchmarkExportCodec(b *testing.B) {
	req := exportRequest(511, false)
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

// filled sets every field of m, recursively down to depth: repeated fields
// get three elements, each filled from its own seed so that their oneofs
// differ; some strings are long enough to need multi-byte lengths at
// every level, so AppendTraceRequest's framing of them is checked against
// proto.Marshal.
func filled(m protoreflect.Message, seed, depth int) {
	fields := m.Descriptor().Fields()
	oneofDone := map[protoreflect.FullName]bool{}
	for i := range fields.Len() {
		fd := fields.Get(i)
		if o := fd.ContainingOneof(); o != nil && !o.IsSynthetic() {
			// One member a message: the seed picks which.
			if oneofDone[o.FullName()] || o.Fields().Get(seed%o.Fields().Len()) != fd {
				continue
			}
			oneofDone[o.FullName()] = true
		}
		if fd.Kind() == protoreflect.MessageKind && depth == 0 {
			continue
		}
		if fd.IsList() {
			l := m.Mutable(fd).List()
			for j := range 3 {
				if fd.Kind() == protoreflect.MessageKind {
					e := l.NewElement()
					filled(e.Message(), seed*7+j+1, depth-1)
					l.Append(e)
				} else {
					l.Append(scalar(fd, seed*7+j+1))
				}
			}
			continue
		}
		if fd.Kind() == protoreflect.MessageKind {
			filled(m.Mutable(fd).Message(), seed*3+i+1, depth-1)
			continue
		}
		m.Set(fd, scalar(fd, seed+i))
	}
}

func scalar(fd protoreflect.FieldDescriptor, seed int) protoreflect.Value {
	switch fd.Kind() {
	case protoreflect.StringKind:
		n := []int{0, 5, 200, 20000}[seed%4] // "" is written only in a oneof
		return protoreflect.ValueOfString(strings.Repeat(string(rune('a'+seed%26)), n))
	case protoreflect.BytesKind:
		return protoreflect.ValueOfBytes([]byte{byte(seed), 0, byte(seed >> 8)}[:seed%4])
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(seed%3 != 0)
	case protoreflect.Int32Kind:
		return protoreflect.ValueOfInt32(int32(seed%5 - 2)) // negative, zero, positive
	case protoreflect.Int64Kind:
		return protoreflect.ValueOfInt64(int64(seed%5-2) << 40)
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return protoreflect.ValueOfUint32(uint32(seed % 3 * 300))
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return protoreflect.ValueOfUint64(uint64(seed%3) << 50)
	case protoreflect.DoubleKind:
		return protoreflect.ValueOfFloat64(float64(seed%3) - 0.5)
	case protoreflect.EnumKind:
		vals := fd.Enum().Values()
		return protoreflect.ValueOfEnum(vals.Get(seed % vals.Len()).Number())
	}
	panic(fmt.Sprintf("field %s: kind %s not covered by the test", fd.FullName(), fd.Kind()))
}

func TestWireMatchesProto(t *testing.T) {
	for seed := range 12 {
		req := &coltracev1.ExportTraceServiceRequest{}
		filled(req.ProtoReflect(), seed, 7)
		want, err := proto.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		got, err := AppendTraceRequest(nil, req)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		if !bytes.Equal(got, want) {
			var back coltracev1.ExportTraceServiceRequest
			err := proto.Unmarshal(got, &back)
			t.Fatalf("seed %d: %d bytes, proto.Marshal %d (read back: %v, equal: %v)", seed, len(got), len(want), err, proto.Equal(&back, req))
		}
	}
}

// TestExportCodecSizeLimit: the OTLP client's own size check is off (it
// measured every request), so the codec refuses what the check would have.
func TestExportCodecSizeLimit(t *testing.T) {
	c := newExportCodec()
	big := &coltracev1.ExportTraceServiceRequest{ResourceSpans: []*tracev1.ResourceSpans{{SchemaUrl: strings.Repeat("x", maxRequestSize)}}}
	if _, err := c.Marshal(big); err == nil || !strings.Contains(err.Error(), "too large") {
		t.Fatalf("a request over %d bytes: error %v, want one saying it is too large", maxRequestSize, err)
	}
	if _, err := c.Marshal(exportRequest(1, false)); err != nil {
		t.Fatalf("a small request after a refused one: %v", err)
	}
}
