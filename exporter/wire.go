package exporter

import (
	"fmt"

	coltracev1 "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// Protobuf wire format, written field by field in one pass: spanWriter
// (direct.go) writes spans with these, and the gRPC codec frames its output
// into the request. A nested message is written after a one-byte length;
// when it turns out longer than 127 bytes it is moved up to make room for
// the real length.

// AppendTraceRequest appends req in wire format to b: the same bytes as
// proto.Marshal's, which is what the OTLP/gRPC exporter sends. The
// exporter's ResourceSpans carry spanWriter's bytes as unknown fields,
// which protobuf copies out as they are, so no span is walked here again.
func AppendTraceRequest(b []byte, req *coltracev1.ExportTraceServiceRequest) ([]byte, error) {
	for _, rs := range req.GetResourceSpans() {
		var at int
		var err error
		b, at = beginMessage(b, 1)
		if b, err = (proto.MarshalOptions{}).MarshalAppend(b, rs); err != nil {
			return nil, fmt.Errorf("encoding resource spans: %w", err)
		}
		b = endMessage(b, at)
	}
	return append(b, req.ProtoReflect().GetUnknown()...), nil
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
