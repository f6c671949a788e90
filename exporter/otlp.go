package exporter

import (
	"context"
	"fmt"
	"math"
	"sync"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	tracev1 "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// otlpExporter sends spans through an OTLP client (the gRPC or HTTP client
// of the OpenTelemetry OTLP exporters, which bring retries, TLS, headers and
// compression) with a conversion of its own. otlptrace.Exporter converts
// every attribute into three new protobuf objects, most of the agent's
// allocations per span. Here spanWriter writes the spans' wire format
// directly into a buffer the next batch reuses, which is safe because
// UploadTraces has serialised the request by the time it returns.
type otlpExporter struct {
	client otlptrace.Client

	mu   sync.Mutex // the writer serves one export at a time
	wire bool       // the client serialises in protobuf's wire format
	w    spanWriter

	stopOnce sync.Once
	stopErr  error
}

// newOTLPExporter starts client and returns an exporter over it. wire says
// the client serialises its messages in protobuf's wire format (not JSON),
// so spanWriter's carriers can be handed to it as they are.
func newOTLPExporter(ctx context.Context, client otlptrace.Client, wire bool) (*otlpExporter, error) {
	if err := client.Start(ctx); err != nil {
		return nil, err
	}
	return &otlpExporter{client: client, wire: wire}, nil
}

func (e *otlpExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	rs := e.w.encode(spans)
	if len(rs) == 0 {
		return nil
	}
	if !e.wire {
		var err error
		if rs, err = parsed(rs); err != nil {
			return fmt.Errorf("exporting traces: %w", err)
		}
	}
	if err := e.client.UploadTraces(ctx, rs); err != nil {
		return fmt.Errorf("exporting traces: %w", err)
	}
	return nil
}

func (e *otlpExporter) Shutdown(ctx context.Context) error {
	e.stopOnce.Do(func() { e.stopErr = e.client.Stop(ctx) })
	return e.stopErr
}

// parsed returns the messages spanWriter's carriers stand for, for a
// client that serialises otherwise than in protobuf's wire format
// (protojson drops unknown fields). Export as JSON is rare; its cost is
// this one parse.
func parsed(carriers []*tracev1.ResourceSpans) ([]*tracev1.ResourceSpans, error) {
	out := make([]*tracev1.ResourceSpans, len(carriers))
	for i, c := range carriers {
		out[i] = new(tracev1.ResourceSpans)
		if err := proto.Unmarshal(c.ProtoReflect().GetUnknown(), out[i]); err != nil {
			return nil, fmt.Errorf("parsing encoded spans: %w", err)
		}
	}
	return out, nil
}

func spanFlags(tf trace.TraceFlags, parent trace.SpanContext) uint32 {
	// The low 8 bits are the W3C trace flags; the exporter always knows
	// whether the parent is remote.
	flags := uint32(tf) | uint32(tracev1.SpanFlags_SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK)
	if parent.IsRemote() {
		flags |= uint32(tracev1.SpanFlags_SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK)
	}
	return flags
}

func spanKind(k trace.SpanKind) tracev1.Span_SpanKind {
	switch k {
	case trace.SpanKindInternal:
		return tracev1.Span_SPAN_KIND_INTERNAL
	case trace.SpanKindClient:
		return tracev1.Span_SPAN_KIND_CLIENT
	case trace.SpanKindServer:
		return tracev1.Span_SPAN_KIND_SERVER
	case trace.SpanKindProducer:
		return tracev1.Span_SPAN_KIND_PRODUCER
	case trace.SpanKindConsumer:
		return tracev1.Span_SPAN_KIND_CONSUMER
	}
	return tracev1.Span_SPAN_KIND_UNSPECIFIED
}

func statusCode(c codes.Code) tracev1.Status_StatusCode {
	switch c {
	case codes.Ok:
		return tracev1.Status_STATUS_CODE_OK
	case codes.Error:
		return tracev1.Status_STATUS_CODE_ERROR
	}
	return tracev1.Status_STATUS_CODE_UNSET
}

func clampUint32(v int) uint32 {
	return uint32(min(max(v, 0), math.MaxUint32))
}
