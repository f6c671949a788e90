package exporter

import (
	"math"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	tracev1 "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// spanWriter writes a batch of spans straight into OTLP wire format,
// grouped by resource and scope as otlptrace groups them, with the same
// field values (TestOTLPConversion holds it to otlptrace's conversion).
// Building pooled OTLP messages first and serialising them after cost a
// third of the agent's pipeline, and the pooled messages were pointers for
// every garbage collection to scan.
//
// The OTLP clients take messages, so each resource's bytes travel as the
// unknown fields of an otherwise empty ResourceSpans: protobuf writes
// unknown fields out as they are, so proto.Marshal and AppendTraceRequest
// send exactly what the fields would have given. protojson drops them:
// for http/json they are parsed into messages first (parsed).
type spanWriter struct {
	groups []spanGroup      // by resource and scope, in order of first span
	byKey  map[scopeKey]int // index in groups
	res    []resourceGroup  // in order of first span
	resIdx map[attribute.Distinct]int
	buf    []byte
	ends   []int // where each resource's bytes end in buf
	msgs   []tracev1.ResourceSpans
	out    []*tracev1.ResourceSpans
}

type scopeKey struct {
	res   attribute.Distinct
	scope instrumentation.Scope
}

type spanGroup struct {
	scope instrumentation.Scope
	spans []sdktrace.ReadOnlySpan
}

type resourceGroup struct {
	res    *resource.Resource
	groups []int
}

// encode returns the batch as ResourceSpans carrying their fields as
// bytes, valid until the next encode.
func (w *spanWriter) encode(batch []sdktrace.ReadOnlySpan) []*tracev1.ResourceSpans {
	w.group(batch)
	if len(w.res) == 0 {
		return nil
	}
	w.buf, w.ends = w.buf[:0], w.ends[:0]
	for _, rg := range w.res {
		w.buf = w.appendResourceSpans(w.buf, rg)
		w.ends = append(w.ends, len(w.buf))
	}
	if cap(w.msgs) < len(w.res) {
		w.msgs = make([]tracev1.ResourceSpans, len(w.res))
	}
	w.msgs = w.msgs[:len(w.res)]
	w.out = w.out[:0]
	start := 0
	for i, end := range w.ends {
		m := &w.msgs[i]
		m.ProtoReflect().SetUnknown(protoreflect.RawFields(w.buf[start:end:end]))
		w.out = append(w.out, m)
		start = end
	}
	return w.out
}

// group sorts the batch's spans into groups, reusing the last batch's.
func (w *spanWriter) group(batch []sdktrace.ReadOnlySpan) {
	if w.byKey == nil {
		w.byKey = map[scopeKey]int{}
		w.resIdx = map[attribute.Distinct]int{}
	}
	for i := range w.groups {
		clear(w.groups[i].spans)
		w.groups[i].spans = w.groups[i].spans[:0]
	}
	for i := range w.res {
		w.res[i].groups = w.res[i].groups[:0]
	}
	clear(w.byKey)
	clear(w.resIdx)
	nGroups, nRes := 0, 0
	// Consecutive spans mostly share resource and scope: comparing with the
	// last span's is cheaper than hashing a resource's attribute set.
	var lastRes *resource.Resource
	var lastScope instrumentation.Scope
	g := -1
	for _, s := range batch {
		if s == nil {
			continue
		}
		res, scope := s.Resource(), s.InstrumentationScope()
		if g < 0 || res != lastRes || scope != lastScope {
			lastRes, lastScope = res, scope
			k := scopeKey{res: res.Equivalent(), scope: scope}
			var ok bool
			if g, ok = w.byKey[k]; !ok {
				g = nGroups
				nGroups++
				if g == len(w.groups) {
					w.groups = append(w.groups, spanGroup{})
				}
				w.groups[g].scope = scope
				w.byKey[k] = g
				r, ok := w.resIdx[k.res]
				if !ok {
					r = nRes
					nRes++
					if r == len(w.res) {
						w.res = append(w.res, resourceGroup{})
					}
					w.res[r].res = res
					w.resIdx[k.res] = r
				}
				w.res[r].groups = append(w.res[r].groups, g)
			}
		}
		w.groups[g].spans = append(w.groups[g].spans, s)
	}
	for i := nRes; i < len(w.res); i++ {
		w.res[i].res = nil
	}
	w.res = w.res[:nRes]
}

// appendResourceSpans writes the fields of one ResourceSpans.
func (w *spanWriter) appendResourceSpans(b []byte, rg resourceGroup) []byte {
	if rg.res != nil {
		var at int
		b, at = beginMessage(b, 1)
		b = endMessage(appendAttrs(b, 1, rg.res.Attributes()), at)
	}
	for _, g := range rg.groups {
		sg := &w.groups[g]
		var at int
		b, at = beginMessage(b, 2)
		if sg.scope != (instrumentation.Scope{}) {
			var sat int
			b, sat = beginMessage(b, 1)
			b = appendString(b, 1, sg.scope.Name)
			b = appendString(b, 2, sg.scope.Version)
			b = appendAttrs(b, 3, sg.scope.Attributes.ToSlice())
			b = endMessage(b, sat)
		}
		for _, s := range sg.spans {
			var spanAt int
			b, spanAt = beginMessage(b, 2)
			b = endMessage(appendReadOnlySpan(b, s), spanAt)
		}
		b = endMessage(appendString(b, 3, sg.scope.SchemaURL), at)
	}
	return appendString(b, 3, rg.res.SchemaURL())
}

// appendReadOnlySpan writes the fields of one Span. A link's trace state
// is left out, as otlptrace leaves it out.
func appendReadOnlySpan(b []byte, s sdktrace.ReadOnlySpan) []byte {
	sc := s.SpanContext()
	tid, sid := sc.TraceID(), sc.SpanID()
	b = appendBytes(b, 1, tid[:])
	b = appendBytes(b, 2, sid[:])
	b = appendString(b, 3, sc.TraceState().String())
	parent := s.Parent()
	if psid := parent.SpanID(); psid.IsValid() {
		b = appendBytes(b, 4, psid[:])
	}
	b = appendString(b, 5, s.Name())
	b = appendInt(b, 6, int64(spanKind(s.SpanKind())))
	b = appendFixed64(b, 7, uint64(max(0, s.StartTime().UnixNano())))
	b = appendFixed64(b, 8, uint64(max(0, s.EndTime().UnixNano())))
	b = appendAttrs(b, 9, s.Attributes())
	b = appendUint(b, 10, uint64(clampUint32(s.DroppedAttributes())))
	for _, e := range s.Events() {
		var at int
		b, at = beginMessage(b, 11)
		b = appendFixed64(b, 1, uint64(max(0, e.Time.UnixNano())))
		b = appendString(b, 2, e.Name)
		b = appendAttrs(b, 3, e.Attributes)
		b = appendUint(b, 4, uint64(clampUint32(e.DroppedAttributeCount)))
		b = endMessage(b, at)
	}
	b = appendUint(b, 12, uint64(clampUint32(s.DroppedEvents())))
	for _, l := range s.Links() {
		ltid, lsid := l.SpanContext.TraceID(), l.SpanContext.SpanID()
		var at int
		b, at = beginMessage(b, 13)
		b = appendBytes(b, 1, ltid[:])
		b = appendBytes(b, 2, lsid[:])
		b = appendAttrs(b, 4, l.Attributes)
		b = appendUint(b, 5, uint64(clampUint32(l.DroppedAttributeCount)))
		b = appendFixed32(b, 6, spanFlags(l.SpanContext.TraceFlags(), l.SpanContext))
		b = endMessage(b, at)
	}
	b = appendUint(b, 14, uint64(clampUint32(s.DroppedLinks())))
	st := s.Status()
	var at int
	b, at = beginMessage(b, 15)
	b = appendString(b, 2, st.Description)
	b = appendInt(b, 3, int64(statusCode(st.Code)))
	b = endMessage(b, at)
	return appendFixed32(b, 16, spanFlags(sc.TraceFlags(), parent))
}

// appendAttrs writes attrs as the KeyValue messages of field num.
func appendAttrs(b []byte, num protowire.Number, attrs []attribute.KeyValue) []byte {
	for _, a := range attrs {
		var at, vat int
		b, at = beginMessage(b, num)
		b = appendString(b, 1, string(a.Key))
		b, vat = beginMessage(b, 2)
		b = endMessage(appendAttrValue(b, a.Value), vat)
		b = endMessage(b, at)
	}
	return b
}

// appendAttrValue writes the fields of the AnyValue otlptrace makes of v.
func appendAttrValue(b []byte, v attribute.Value) []byte {
	switch v.Type() {
	case attribute.STRING:
		return protowire.AppendString(protowire.AppendTag(b, 1, protowire.BytesType), v.AsString())
	case attribute.BOOL:
		return protowire.AppendVarint(protowire.AppendTag(b, 2, protowire.VarintType), protowire.EncodeBool(v.AsBool()))
	case attribute.INT64:
		return protowire.AppendVarint(protowire.AppendTag(b, 3, protowire.VarintType), uint64(v.AsInt64()))
	case attribute.FLOAT64:
		return protowire.AppendFixed64(protowire.AppendTag(b, 4, protowire.Fixed64Type), math.Float64bits(v.AsFloat64()))
	case attribute.BYTESLICE:
		return protowire.AppendBytes(protowire.AppendTag(b, 7, protowire.BytesType), v.AsByteSlice())
	case attribute.BOOLSLICE:
		return appendArray(b, v.AsBoolSlice(), attribute.BoolValue)
	case attribute.INT64SLICE:
		return appendArray(b, v.AsInt64Slice(), attribute.Int64Value)
	case attribute.FLOAT64SLICE:
		return appendArray(b, v.AsFloat64Slice(), attribute.Float64Value)
	case attribute.STRINGSLICE:
		return appendArray(b, v.AsStringSlice(), attribute.StringValue)
	case attribute.SLICE:
		return appendArray(b, v.AsSlice(), func(v attribute.Value) attribute.Value { return v })
	case attribute.MAP:
		var at int
		b, at = beginMessage(b, 6)
		return endMessage(appendAttrs(b, 1, v.AsMap()), at)
	case attribute.EMPTY:
		return b
	}
	return protowire.AppendString(protowire.AppendTag(b, 1, protowire.BytesType), "INVALID")
}

func appendArray[T any](b []byte, vs []T, conv func(T) attribute.Value) []byte {
	var at int
	b, at = beginMessage(b, 5)
	for _, v := range vs {
		var vat int
		b, vat = beginMessage(b, 1)
		b = endMessage(appendAttrValue(b, conv(v)), vat)
	}
	return endMessage(b, at)
}
