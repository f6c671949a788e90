package exporter

import (
	"context"
	"fmt"
	"math"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	commonv1 "go.opentelemetry.io/proto/otlp/common/v1"
	resourcev1 "go.opentelemetry.io/proto/otlp/resource/v1"
	tracev1 "go.opentelemetry.io/proto/otlp/trace/v1"
)

// otlpExporter sends spans through an OTLP client (the gRPC or HTTP client
// of the OpenTelemetry OTLP exporters, which bring retries, TLS, headers and
// compression) with a conversion of its own. otlptrace.Exporter converts
// every attribute into three new protobuf objects, most of the agent's
// allocations per span. Here spanWriter writes the spans' wire format
// directly, and for JSON batchEncoder builds messages that the next batch
// reuses. Both are safe because UploadTraces has serialised the request by
// the time it returns.
type otlpExporter struct {
	client otlptrace.Client

	mu     sync.Mutex // the encoders serve one export at a time
	direct bool       // client serialises with protobuf: spanWriter
	w      spanWriter
	enc    batchEncoder

	stopOnce sync.Once
	stopErr  error
}

// newOTLPExporter starts client and returns an exporter over it. direct
// says the client serialises its messages in protobuf's wire format (not
// JSON), so spanWriter's messages can be handed to it.
func newOTLPExporter(ctx context.Context, client otlptrace.Client, direct bool) (*otlpExporter, error) {
	if err := client.Start(ctx); err != nil {
		return nil, err
	}
	return &otlpExporter{client: client, direct: direct}, nil
}

func (e *otlpExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	var rs []*tracev1.ResourceSpans
	if e.direct {
		rs = e.w.encode(spans)
	} else {
		defer e.enc.reset()
		rs = e.enc.encode(spans)
	}
	if len(rs) == 0 {
		return nil
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

// batchEncoder converts batches of spans into OTLP messages, grouped by
// resource and instrumentation scope as otlptrace does. Its messages stay
// valid until reset, which clears them for the next batch; the pools keep
// their memory, so a steady stream of batches allocates nothing per span.
type batchEncoder struct {
	spans    pool[tracev1.Span]
	statuses pool[tracev1.Status]
	kvs      pool[commonv1.KeyValue]
	values   pool[commonv1.AnyValue]
	strs     pool[commonv1.AnyValue_StringValue]
	ints     pool[commonv1.AnyValue_IntValue]
	bools    pool[commonv1.AnyValue_BoolValue]
	doubles  pool[commonv1.AnyValue_DoubleValue]
	kvPtrs   slicePool[*commonv1.KeyValue]
	ids      slicePool[byte]

	resources map[attribute.Distinct]*tracev1.ResourceSpans
	scopes    map[scopeKey]*tracev1.ScopeSpans
	out       []*tracev1.ResourceSpans
}

type scopeKey struct {
	res   attribute.Distinct
	scope instrumentation.Scope
}

// encode returns the batch as OTLP messages, valid until reset.
func (e *batchEncoder) encode(batch []sdktrace.ReadOnlySpan) []*tracev1.ResourceSpans {
	if e.resources == nil {
		e.resources = map[attribute.Distinct]*tracev1.ResourceSpans{}
		e.scopes = map[scopeKey]*tracev1.ScopeSpans{}
	}
	// Consecutive spans mostly share resource and scope: comparing with the
	// last span's is cheaper than hashing a resource's attribute set.
	var lastRes *resource.Resource
	var lastScope instrumentation.Scope
	var ss *tracev1.ScopeSpans
	for _, s := range batch {
		if s == nil {
			continue
		}
		res, scope := s.Resource(), s.InstrumentationScope()
		if ss != nil && res == lastRes && scope == lastScope {
			ss.Spans = append(ss.Spans, e.span(s))
			continue
		}
		lastRes, lastScope = res, scope
		k := scopeKey{res: res.Equivalent(), scope: scope}
		ss = e.scopes[k]
		if ss == nil {
			ss = &tracev1.ScopeSpans{Scope: e.scope(k.scope), SchemaUrl: k.scope.SchemaURL}
			e.scopes[k] = ss
			rs := e.resources[k.res]
			if rs == nil {
				rs = &tracev1.ResourceSpans{SchemaUrl: res.SchemaURL()}
				if res != nil {
					rs.Resource = &resourcev1.Resource{Attributes: e.keyValues(res.Attributes())}
				}
				e.resources[k.res] = rs
				e.out = append(e.out, rs)
			}
			rs.ScopeSpans = append(rs.ScopeSpans, ss)
		}
		ss.Spans = append(ss.Spans, e.span(s))
	}
	return e.out
}

// reset clears the last batch's messages for reuse.
func (e *batchEncoder) reset() {
	e.spans.reset()
	e.statuses.reset()
	e.kvs.reset()
	e.values.reset()
	e.strs.reset()
	e.ints.reset()
	e.bools.reset()
	e.doubles.reset()
	e.kvPtrs.reset()
	e.ids.reset()
	clear(e.resources)
	clear(e.scopes)
	clear(e.out)
	e.out = e.out[:0]
}

func (e *batchEncoder) scope(s instrumentation.Scope) *commonv1.InstrumentationScope {
	if s == (instrumentation.Scope{}) {
		return nil
	}
	return &commonv1.InstrumentationScope{Name: s.Name, Version: s.Version, Attributes: e.keyValues(s.Attributes.ToSlice())}
}

func (e *batchEncoder) span(s sdktrace.ReadOnlySpan) *tracev1.Span {
	sc := s.SpanContext()
	tid, sid := sc.TraceID(), sc.SpanID()
	p := e.spans.get()
	p.TraceId = e.ids.copy(tid[:])
	p.SpanId = e.ids.copy(sid[:])
	p.TraceState = sc.TraceState().String()
	if psid := s.Parent().SpanID(); psid.IsValid() {
		p.ParentSpanId = e.ids.copy(psid[:])
	}
	p.Flags = spanFlags(sc.TraceFlags(), s.Parent())
	p.Name = s.Name()
	p.Kind = spanKind(s.SpanKind())
	p.StartTimeUnixNano = uint64(max(0, s.StartTime().UnixNano()))
	p.EndTimeUnixNano = uint64(max(0, s.EndTime().UnixNano()))
	p.Attributes = e.keyValues(s.Attributes())
	p.DroppedAttributesCount = clampUint32(s.DroppedAttributes())
	p.Events = e.events(s.Events())
	p.DroppedEventsCount = clampUint32(s.DroppedEvents())
	p.Links = e.links(s.Links())
	p.DroppedLinksCount = clampUint32(s.DroppedLinks())
	st := s.Status()
	p.Status = e.statuses.get()
	p.Status.Code = statusCode(st.Code)
	p.Status.Message = st.Description
	return p
}

// events and links are rare in the agent's spans: plainly allocated. A
// link's trace state is left out, as otlptrace leaves it out: the tests
// hold the output to be otlptrace's.
func (e *batchEncoder) events(es []sdktrace.Event) []*tracev1.Span_Event {
	if len(es) == 0 {
		return nil
	}
	out := make([]*tracev1.Span_Event, len(es))
	for i, ev := range es {
		out[i] = &tracev1.Span_Event{
			Name:                   ev.Name,
			TimeUnixNano:           uint64(max(0, ev.Time.UnixNano())),
			Attributes:             e.keyValues(ev.Attributes),
			DroppedAttributesCount: clampUint32(ev.DroppedAttributeCount),
		}
	}
	return out
}

func (e *batchEncoder) links(ls []sdktrace.Link) []*tracev1.Span_Link {
	if len(ls) == 0 {
		return nil
	}
	out := make([]*tracev1.Span_Link, len(ls))
	for i, l := range ls {
		tid, sid := l.SpanContext.TraceID(), l.SpanContext.SpanID()
		out[i] = &tracev1.Span_Link{
			TraceId:                e.ids.copy(tid[:]),
			SpanId:                 e.ids.copy(sid[:]),
			Attributes:             e.keyValues(l.Attributes),
			DroppedAttributesCount: clampUint32(l.DroppedAttributeCount),
			Flags:                  spanFlags(l.SpanContext.TraceFlags(), l.SpanContext),
		}
	}
	return out
}

func (e *batchEncoder) keyValues(attrs []attribute.KeyValue) []*commonv1.KeyValue {
	if len(attrs) == 0 {
		return nil
	}
	out := e.kvPtrs.take(len(attrs))
	for i, a := range attrs {
		kv := e.kvs.get()
		kv.Key = string(a.Key)
		kv.Value = e.value(a.Value)
		out[i] = kv
	}
	return out
}

// value converts an attribute value as otlptrace does: scalars from the
// pools, the rarer slices and maps plainly allocated.
func (e *batchEncoder) value(v attribute.Value) *commonv1.AnyValue {
	av := e.values.get()
	switch v.Type() {
	case attribute.STRING:
		w := e.strs.get()
		w.StringValue = v.AsString()
		av.Value = w
	case attribute.INT64:
		w := e.ints.get()
		w.IntValue = v.AsInt64()
		av.Value = w
	case attribute.BOOL:
		w := e.bools.get()
		w.BoolValue = v.AsBool()
		av.Value = w
	case attribute.FLOAT64:
		w := e.doubles.get()
		w.DoubleValue = v.AsFloat64()
		av.Value = w
	case attribute.BYTESLICE:
		av.Value = &commonv1.AnyValue_BytesValue{BytesValue: v.AsByteSlice()}
	case attribute.BOOLSLICE:
		av.Value = arrayOf(e, v.AsBoolSlice(), attribute.BoolValue)
	case attribute.INT64SLICE:
		av.Value = arrayOf(e, v.AsInt64Slice(), attribute.Int64Value)
	case attribute.FLOAT64SLICE:
		av.Value = arrayOf(e, v.AsFloat64Slice(), attribute.Float64Value)
	case attribute.STRINGSLICE:
		av.Value = arrayOf(e, v.AsStringSlice(), attribute.StringValue)
	case attribute.SLICE:
		av.Value = arrayOf(e, v.AsSlice(), func(v attribute.Value) attribute.Value { return v })
	case attribute.MAP:
		av.Value = &commonv1.AnyValue_KvlistValue{KvlistValue: &commonv1.KeyValueList{Values: e.keyValues(v.AsMap())}}
	case attribute.EMPTY:
	default:
		w := e.strs.get()
		w.StringValue = "INVALID"
		av.Value = w
	}
	return av
}

func arrayOf[T any](e *batchEncoder, vs []T, conv func(T) attribute.Value) *commonv1.AnyValue_ArrayValue {
	out := make([]*commonv1.AnyValue, len(vs))
	for i, v := range vs {
		out[i] = e.value(conv(v))
	}
	return &commonv1.AnyValue_ArrayValue{ArrayValue: &commonv1.ArrayValue{Values: out}}
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

// poolChunk is how many values a pool allocates at a time.
const poolChunk = 256

// pool hands out zeroed values of T from chunks it keeps across resets.
type pool[T any] struct {
	chunks [][]T
	c, n   int // chunks[c][n] is the next free value
}

func (p *pool[T]) get() *T {
	for p.c < len(p.chunks) && p.n == len(p.chunks[p.c]) {
		p.c, p.n = p.c+1, 0
	}
	if p.c == len(p.chunks) {
		p.chunks = append(p.chunks, make([]T, poolChunk))
	}
	p.n++
	return &p.chunks[p.c][p.n-1]
}

// reset zeroes the values handed out since the last reset and takes them
// back.
func (p *pool[T]) reset() {
	for i := 0; i < p.c && i < len(p.chunks); i++ {
		clear(p.chunks[i])
	}
	if p.c < len(p.chunks) {
		clear(p.chunks[p.c][:p.n])
	}
	p.c, p.n = 0, 0
}

// slicePool hands out slices cut from one buffer it keeps across resets.
type slicePool[T any] struct {
	buf []T
	n   int
}

// take returns a zeroed slice of length n.
func (p *slicePool[T]) take(n int) []T {
	if p.n+n > len(p.buf) {
		// The slices already handed out keep the old buffer alive until
		// reset; the new one is sized for the whole batch next time.
		p.buf = make([]T, max(2*len(p.buf), n, poolChunk))
		p.n = 0
	}
	s := p.buf[p.n : p.n+n : p.n+n]
	p.n += n
	return s
}

func (p *slicePool[T]) copy(v []T) []T {
	s := p.take(len(v))
	copy(s, v)
	return s
}

func (p *slicePool[T]) reset() {
	clear(p.buf[:p.n])
	p.n = 0
}
