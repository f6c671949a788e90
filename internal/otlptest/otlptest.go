package otlptest

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"

	coltracev1 "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonv1 "go.opentelemetry.io/proto/otlp/common/v1"
	tracev1 "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// Span is one received span with the context it arrived in.
type Span struct {
	// Resource holds the attributes of the span's resource, converted with
	// Value (so ints are int64, e.g. Resource["process.pid"].(int64)).
	Resource map[string]any
	// Scope is the instrumentation scope name.
	Scope string
	// Span is the span as received.
	Span *tracev1.Span
}

// Attrs returns the span's own attributes converted with Value.
func (s Span) Attrs() map[string]any { return attrMap(s.Span.GetAttributes()) }

// Request describes one Export call the receiver answered.
type Request struct {
	// Metadata is the incoming gRPC metadata (keys are lower case), which is
	// where OTEL_EXPORTER_OTLP_HEADERS end up.
	Metadata metadata.MD
	// Spans is the number of spans in the request.
	Spans int
}

// Hook runs at the start of every Export call, before anything is recorded.
// A non-nil error is returned to the client and the request is not recorded:
// return status.Error(codes.Unavailable, ...) for an error exporters retry.
// Blocking in the hook simulates a slow collector; it must return when ctx is
// done.
type Hook func(ctx context.Context, req *coltracev1.ExportTraceServiceRequest) error

// Receiver is an OTLP/gRPC trace receiver. Its methods are safe for concurrent
// use.
type Receiver struct {
	coltracev1.UnimplementedTraceServiceServer

	srv      *grpc.Server
	addr     string
	stopOnce sync.Once

	mu       sync.Mutex
	hook     Hook
	spans    []Span
	requests []Request
	arrived  chan struct{} // closed and replaced whenever spans arrive
}

// Start runs a receiver on 127.0.0.1 with a free port. It is stopped by
// t.Cleanup; a listen error fails the test.
func Start(t testing.TB) *Receiver {
	t.Helper()
	return StartAt(t, "127.0.0.1:0")
}

// StartAt runs a receiver on addr, e.g. the Endpoint of a stopped receiver to
// simulate a collector coming back.
func StartAt(t testing.TB, addr string) *Receiver {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listening for OTLP/gRPC on %s: %v", addr, err)
	}
	r := &Receiver{
		srv:     grpc.NewServer(),
		addr:    ln.Addr().String(),
		arrived: make(chan struct{}),
	}
	coltracev1.RegisterTraceServiceServer(r.srv, r)
	go func() { _ = r.srv.Serve(ln) }()
	t.Cleanup(r.Stop)
	return r
}

// Endpoint returns the "127.0.0.1:PORT" the receiver listens on.
func (r *Receiver) Endpoint() string { return r.addr }

// Stop closes the listener and all connections. It is idempotent.
func (r *Receiver) Stop() { r.stopOnce.Do(r.srv.Stop) }

// SetHook installs h for later Export calls; nil removes it.
func (r *Receiver) SetHook(h Hook) {
	r.mu.Lock()
	r.hook = h
	r.mu.Unlock()
}

// Export implements the OTLP TraceService.
func (r *Receiver) Export(ctx context.Context, req *coltracev1.ExportTraceServiceRequest) (*coltracev1.ExportTraceServiceResponse, error) {
	r.mu.Lock()
	hook := r.hook
	r.mu.Unlock()
	if hook != nil {
		if err := hook(ctx, req); err != nil {
			return nil, err
		}
	}

	spans := Flatten(req.GetResourceSpans())
	md, _ := metadata.FromIncomingContext(ctx)

	r.mu.Lock()
	r.spans = append(r.spans, spans...)
	r.requests = append(r.requests, Request{Metadata: md.Copy(), Spans: len(spans)})
	close(r.arrived)
	r.arrived = make(chan struct{})
	r.mu.Unlock()
	return &coltracev1.ExportTraceServiceResponse{}, nil
}

// Spans returns a copy of every span received so far, in arrival order.
func (r *Receiver) Spans() []Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Span(nil), r.spans...)
}

// Requests returns a copy of every recorded Export call, in arrival order.
func (r *Receiver) Requests() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Request(nil), r.requests...)
}

// WaitForSpans waits until at least n spans have arrived and returns all of
// them. When ctx ends first it returns what arrived and an error saying how
// many were missing.
func (r *Receiver) WaitForSpans(ctx context.Context, n int) ([]Span, error) {
	for {
		r.mu.Lock()
		got := len(r.spans)
		arrived := r.arrived
		r.mu.Unlock()
		if got >= n {
			return r.Spans(), nil
		}
		select {
		case <-arrived:
		case <-ctx.Done():
			return r.Spans(), fmt.Errorf("waiting for %d spans, got %d: %w", n, got, ctx.Err())
		}
	}
}

// Flatten turns the nested OTLP layout into one Span per span. It serves
// receivers of other transports too (e.g. an OTLP/HTTP handler in a test).
func Flatten(rss []*tracev1.ResourceSpans) []Span {
	var out []Span
	for _, rs := range rss {
		res := attrMap(rs.GetResource().GetAttributes())
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				out = append(out, Span{Resource: res, Scope: ss.GetScope().GetName(), Span: s})
			}
		}
	}
	return out
}

// Value converts an OTLP attribute value to Go: string, bool, int64, float64,
// []byte, []any or map[string]any; nil for an empty value.
func Value(v *commonv1.AnyValue) any {
	switch x := v.GetValue().(type) {
	case *commonv1.AnyValue_StringValue:
		return x.StringValue
	case *commonv1.AnyValue_BoolValue:
		return x.BoolValue
	case *commonv1.AnyValue_IntValue:
		return x.IntValue
	case *commonv1.AnyValue_DoubleValue:
		return x.DoubleValue
	case *commonv1.AnyValue_BytesValue:
		return x.BytesValue
	case *commonv1.AnyValue_ArrayValue:
		vals := x.ArrayValue.GetValues()
		out := make([]any, len(vals))
		for i, e := range vals {
			out[i] = Value(e)
		}
		return out
	case *commonv1.AnyValue_KvlistValue:
		return attrMap(x.KvlistValue.GetValues())
	}
	return nil
}

func attrMap(kvs []*commonv1.KeyValue) map[string]any {
	m := make(map[string]any, len(kvs))
	for _, kv := range kvs {
		m[kv.GetKey()] = Value(kv.GetValue())
	}
	return m
}
