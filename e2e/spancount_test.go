package e2e

import (
	"context"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	coltracev1 "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonv1 "go.opentelemetry.io/proto/otlp/common/v1"
	resourcev1 "go.opentelemetry.io/proto/otlp/resource/v1"
	tracev1 "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// spanCounter is an OTLP/gRPC trace receiver that only counts spans. The
// overhead benchmark uses it instead of internal/otlptest, whose decoding and
// storage cost ~30us of CPU per span on the cores the app under test needs,
// while a production collector runs on other cores or hosts.
type spanCounter struct {
	srv   *grpc.Server
	addr  string
	spans atomic.Int64
}

// startSpanCounter runs a spanCounter on a free loopback port until stop or
// the end of the test.
func startSpanCounter(t testing.TB) *spanCounter {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listening for OTLP/gRPC: %v", err)
	}
	c := &spanCounter{srv: grpc.NewServer(grpc.ForceServerCodec(rawCodec{})), addr: ln.Addr().String()}
	c.srv.RegisterService(&traceServiceDesc, c)
	go func() { _ = c.srv.Serve(ln) }()
	t.Cleanup(c.stop)
	return c
}

// stop closes the listener and all connections. It is idempotent.
func (c *spanCounter) stop() { c.srv.Stop() }

// traceServiceDesc stands in for the generated TraceService descriptor so
// that requests reach the handler as bytes (see rawCodec).
var traceServiceDesc = grpc.ServiceDesc{
	ServiceName: "opentelemetry.proto.collector.trace.v1.TraceService",
	HandlerType: (*any)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Export",
		Handler: func(srv any, _ context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
			var req []byte
			if err := dec(&req); err != nil {
				return nil, err
			}
			n, err := countSpans(req)
			if err != nil {
				return nil, status.Error(codes.InvalidArgument, err.Error())
			}
			srv.(*spanCounter).spans.Add(int64(n))
			return []byte(nil), nil // an empty ExportTraceServiceResponse
		},
	}},
}

// rawCodec passes messages through as []byte, skipping protobuf decoding.
// gRPC hands a v1 codec a copy of the message, so keeping it is safe.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error)      { return v.([]byte), nil }
func (rawCodec) Unmarshal(data []byte, v any) error { *v.(*[]byte) = data; return nil }
func (rawCodec) Name() string                       { return "proto" }

// countSpans counts the spans of an encoded ExportTraceServiceRequest by
// walking the wire format: request field 1 is ResourceSpans, its field 2
// ScopeSpans, whose field 2 is Span. Spans themselves are not parsed.
func countSpans(req []byte) (int, error) {
	n := 0
	err := eachBytesField(req, 1, func(rs []byte) error {
		return eachBytesField(rs, 2, func(ss []byte) error {
			return eachBytesField(ss, 2, func([]byte) error { n++; return nil })
		})
	})
	if err != nil {
		return 0, fmt.Errorf("counting spans: %w", err)
	}
	return n, nil
}

// eachBytesField calls f with the contents of every occurrence of the
// length-delimited field num of message msg, skipping other fields.
func eachBytesField(msg []byte, num protowire.Number, f func([]byte) error) error {
	for len(msg) > 0 {
		fn, typ, l := protowire.ConsumeTag(msg)
		if l < 0 {
			return protowire.ParseError(l)
		}
		msg = msg[l:]
		l = protowire.ConsumeFieldValue(fn, typ, msg)
		if l < 0 {
			return fmt.Errorf("field %d: %w", fn, protowire.ParseError(l))
		}
		if fn == num {
			if typ != protowire.BytesType {
				return fmt.Errorf("field %d: wire type %d, want bytes", fn, typ)
			}
			v, _ := protowire.ConsumeBytes(msg[:l])
			if err := f(v); err != nil {
				return err
			}
		}
		msg = msg[l:]
	}
	return nil
}

// exportRequest builds a request of resources x scopes x spans spans, with
// the other fields an exporter fills in so that skipping them is tested.
func exportRequest(resources, scopes, spans int) *coltracev1.ExportTraceServiceRequest {
	req := &coltracev1.ExportTraceServiceRequest{}
	for range resources {
		rs := &tracev1.ResourceSpans{
			Resource:  &resourcev1.Resource{Attributes: []*commonv1.KeyValue{{Key: "service.name", Value: &commonv1.AnyValue{Value: &commonv1.AnyValue_StringValue{StringValue: "app"}}}}},
			SchemaUrl: "https://opentelemetry.io/schemas/1.26.0",
		}
		for range scopes {
			ss := &tracev1.ScopeSpans{Scope: &commonv1.InstrumentationScope{Name: "net/http"}}
			for range spans {
				ss.Spans = append(ss.Spans, &tracev1.Span{Name: "GET /hello", TraceId: make([]byte, 16), SpanId: make([]byte, 8)})
			}
			rs.ScopeSpans = append(rs.ScopeSpans, ss)
		}
		req.ResourceSpans = append(req.ResourceSpans, rs)
	}
	return req
}

func TestCountSpans(t *testing.T) {
	valid, err := proto.Marshal(exportRequest(2, 2, 3))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		req     []byte
		want    int
		wantErr bool
	}{
		{name: "2 resources x 2 scopes x 3 spans", req: valid, want: 12},
		{name: "empty request", req: nil, want: 0},
		{name: "truncated", req: valid[:len(valid)-1], wantErr: true},
		{name: "nested length past the end", req: []byte{0x0a, 0x02, 0x12, 0x05}, wantErr: true},
		{name: "tag without value", req: []byte{0x0a}, wantErr: true},
		{name: "unterminated varint", req: []byte{0xff}, wantErr: true},
		{name: "resource spans as varint", req: []byte{0x08, 0x01}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := countSpans(tt.req)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("countSpans() = %d, %v; want %d, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

// TestSpanCounter checks the gRPC wiring: service and method name, raw codec
// and an empty reply that a generated client accepts.
func TestSpanCounter(t *testing.T) {
	c := startSpanCounter(t)
	conn, err := grpc.NewClient(c.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := coltracev1.NewTraceServiceClient(conn)
	for range 2 {
		if _, err := client.Export(timeout(t, 10*time.Second), exportRequest(2, 2, 3)); err != nil {
			t.Fatalf("Export: %v", err)
		}
	}
	if got := c.spans.Load(); got != 24 {
		t.Errorf("counted %d spans, want 24", got)
	}
}
