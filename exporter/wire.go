package exporter

import (
	"math"

	coltracev1 "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonv1 "go.opentelemetry.io/proto/otlp/common/v1"
	resourcev1 "go.opentelemetry.io/proto/otlp/resource/v1"
	tracev1 "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protowire"
)

// The OTLP trace request in protobuf wire format, written field by field in
// one pass. protobuf-go's generic marshaller walks every message twice (once
// to measure, once to write) through its reflection tables; under load that
// was a quarter of the agent's CPU. The output is the same bytes as
// proto.Marshal's, fields in number order (TestWireMatchesProto checks it
// over every field of these messages, TestWireCoversEveryField that no
// field is left out when the OTLP module adds one).
//
// A nested message is written after a one-byte length; when it turns out
// longer than 127 bytes it is moved up to make room for the real length.
// Unknown fields are written after the known ones, as proto.Marshal does,
// for the request and its ResourceSpans: spanWriter's bytes travel there.

// AppendTraceRequest appends req in wire format to b: what the OTLP/gRPC
// exporter sends.
func AppendTraceRequest(b []byte, req *coltracev1.ExportTraceServiceRequest) []byte {
	for _, rs := range req.GetResourceSpans() {
		var at int
		b, at = beginMessage(b, 1)
		b = endMessage(appendResourceSpans(b, rs), at)
	}
	return append(b, req.ProtoReflect().GetUnknown()...)
}

// beginMessage writes the tag of message field num and a one-byte length,
// and returns where the message starts.
func beginMessage(b []byte, num protowire.Number) ([]byte, int) {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return append(b, 0), len(b) + 1
}

// endMessage writes the length of the message that starts at start.
func endMessage(b []byte, start int) []byte {
	n := len(b) - start
	if n < 0x80 {
		b[start-1] = byte(n)
		return b
	}
	w := protowire.SizeVarint(uint64(n))
	for range w - 1 {
		b = append(b, 0)
	}
	copy(b[start+w-1:], b[start:start+n])
	protowire.AppendVarint(b[start-1:start-1], uint64(n))
	return b
}

func appendString(b []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	return protowire.AppendString(protowire.AppendTag(b, num, protowire.BytesType), s)
}

func appendBytes(b []byte, num protowire.Number, v []byte) []byte {
	if len(v) == 0 {
		return b
	}
	return protowire.AppendBytes(protowire.AppendTag(b, num, protowire.BytesType), v)
}

func appendUint(b []byte, num protowire.Number, v uint64) []byte {
	if v == 0 {
		return b
	}
	return protowire.AppendVarint(protowire.AppendTag(b, num, protowire.VarintType), v)
}

// appendInt writes an int32 or int64 field (negative values take ten bytes).
func appendInt(b []byte, num protowire.Number, v int64) []byte {
	return appendUint(b, num, uint64(v))
}

func appendFixed64(b []byte, num protowire.Number, v uint64) []byte {
	if v == 0 {
		return b
	}
	return protowire.AppendFixed64(protowire.AppendTag(b, num, protowire.Fixed64Type), v)
}

func appendFixed32(b []byte, num protowire.Number, v uint32) []byte {
	if v == 0 {
		return b
	}
	return protowire.AppendFixed32(protowire.AppendTag(b, num, protowire.Fixed32Type), v)
}

func appendResourceSpans(b []byte, rs *tracev1.ResourceSpans) []byte {
	if r := rs.GetResource(); r != nil {
		var at int
		b, at = beginMessage(b, 1)
		b = endMessage(appendResource(b, r), at)
	}
	for _, ss := range rs.GetScopeSpans() {
		var at int
		b, at = beginMessage(b, 2)
		b = endMessage(appendScopeSpans(b, ss), at)
	}
	b = appendString(b, 3, rs.GetSchemaUrl())
	return append(b, rs.ProtoReflect().GetUnknown()...)
}

func appendResource(b []byte, r *resourcev1.Resource) []byte {
	b = appendKeyValues(b, 1, r.GetAttributes())
	b = appendUint(b, 2, uint64(r.GetDroppedAttributesCount()))
	for _, e := range r.GetEntityRefs() {
		var at int
		b, at = beginMessage(b, 3)
		b = appendString(b, 1, e.GetSchemaUrl())
		b = appendString(b, 2, e.GetType())
		for _, k := range e.GetIdKeys() {
			b = protowire.AppendString(protowire.AppendTag(b, 3, protowire.BytesType), k)
		}
		for _, k := range e.GetDescriptionKeys() {
			b = protowire.AppendString(protowire.AppendTag(b, 4, protowire.BytesType), k)
		}
		b = endMessage(b, at)
	}
	return b
}

func appendScopeSpans(b []byte, ss *tracev1.ScopeSpans) []byte {
	if sc := ss.GetScope(); sc != nil {
		var at int
		b, at = beginMessage(b, 1)
		b = appendString(b, 1, sc.GetName())
		b = appendString(b, 2, sc.GetVersion())
		b = appendKeyValues(b, 3, sc.GetAttributes())
		b = appendUint(b, 4, uint64(sc.GetDroppedAttributesCount()))
		b = endMessage(b, at)
	}
	for _, s := range ss.GetSpans() {
		var at int
		b, at = beginMessage(b, 2)
		b = endMessage(appendSpan(b, s), at)
	}
	return appendString(b, 3, ss.GetSchemaUrl())
}

func appendSpan(b []byte, s *tracev1.Span) []byte {
	b = appendBytes(b, 1, s.GetTraceId())
	b = appendBytes(b, 2, s.GetSpanId())
	b = appendString(b, 3, s.GetTraceState())
	b = appendBytes(b, 4, s.GetParentSpanId())
	b = appendString(b, 5, s.GetName())
	b = appendInt(b, 6, int64(s.GetKind()))
	b = appendFixed64(b, 7, s.GetStartTimeUnixNano())
	b = appendFixed64(b, 8, s.GetEndTimeUnixNano())
	b = appendKeyValues(b, 9, s.GetAttributes())
	b = appendUint(b, 10, uint64(s.GetDroppedAttributesCount()))
	for _, e := range s.GetEvents() {
		var at int
		b, at = beginMessage(b, 11)
		b = appendFixed64(b, 1, e.GetTimeUnixNano())
		b = appendString(b, 2, e.GetName())
		b = appendKeyValues(b, 3, e.GetAttributes())
		b = appendUint(b, 4, uint64(e.GetDroppedAttributesCount()))
		b = endMessage(b, at)
	}
	b = appendUint(b, 12, uint64(s.GetDroppedEventsCount()))
	for _, l := range s.GetLinks() {
		var at int
		b, at = beginMessage(b, 13)
		b = appendBytes(b, 1, l.GetTraceId())
		b = appendBytes(b, 2, l.GetSpanId())
		b = appendString(b, 3, l.GetTraceState())
		b = appendKeyValues(b, 4, l.GetAttributes())
		b = appendUint(b, 5, uint64(l.GetDroppedAttributesCount()))
		b = appendFixed32(b, 6, l.GetFlags())
		b = endMessage(b, at)
	}
	b = appendUint(b, 14, uint64(s.GetDroppedLinksCount()))
	if st := s.GetStatus(); st != nil {
		var at int
		b, at = beginMessage(b, 15)
		b = appendString(b, 2, st.GetMessage())
		b = appendInt(b, 3, int64(st.GetCode()))
		b = endMessage(b, at)
	}
	return appendFixed32(b, 16, s.GetFlags())
}

func appendKeyValues(b []byte, num protowire.Number, kvs []*commonv1.KeyValue) []byte {
	for _, kv := range kvs {
		var at int
		b, at = beginMessage(b, num)
		b = endMessage(appendKeyValue(b, kv), at)
	}
	return b
}

func appendKeyValue(b []byte, kv *commonv1.KeyValue) []byte {
	b = appendString(b, 1, kv.GetKey())
	if v := kv.GetValue(); v != nil {
		var at int
		b, at = beginMessage(b, 2)
		b = endMessage(appendAnyValue(b, v), at)
	}
	return appendInt(b, 3, int64(kv.GetKeyStrindex()))
}

// appendAnyValue writes the one value set; a oneof field is written even
// when it holds its type's zero value.
func appendAnyValue(b []byte, v *commonv1.AnyValue) []byte {
	switch x := v.GetValue().(type) {
	case *commonv1.AnyValue_StringValue:
		return protowire.AppendString(protowire.AppendTag(b, 1, protowire.BytesType), x.StringValue)
	case *commonv1.AnyValue_BoolValue:
		return protowire.AppendVarint(protowire.AppendTag(b, 2, protowire.VarintType), protowire.EncodeBool(x.BoolValue))
	case *commonv1.AnyValue_IntValue:
		return protowire.AppendVarint(protowire.AppendTag(b, 3, protowire.VarintType), uint64(x.IntValue))
	case *commonv1.AnyValue_DoubleValue:
		return protowire.AppendFixed64(protowire.AppendTag(b, 4, protowire.Fixed64Type), math.Float64bits(x.DoubleValue))
	case *commonv1.AnyValue_ArrayValue:
		var at int
		b, at = beginMessage(b, 5)
		for _, e := range x.ArrayValue.GetValues() {
			var eat int
			b, eat = beginMessage(b, 1)
			b = endMessage(appendAnyValue(b, e), eat)
		}
		return endMessage(b, at)
	case *commonv1.AnyValue_KvlistValue:
		var at int
		b, at = beginMessage(b, 6)
		b = appendKeyValues(b, 1, x.KvlistValue.GetValues())
		return endMessage(b, at)
	case *commonv1.AnyValue_BytesValue:
		return protowire.AppendBytes(protowire.AppendTag(b, 7, protowire.BytesType), x.BytesValue)
	case *commonv1.AnyValue_StringValueStrindex:
		return protowire.AppendVarint(protowire.AppendTag(b, 8, protowire.VarintType), uint64(int64(x.StringValueStrindex)))
	}
	return b
}
