package funcs

import (
	"errors"
	"math"
	"strconv"
	"unsafe"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/spanprobe/spanprobe/instrumentation/probe"
)

var (
	errShortRecord = errors.New("decoding function event: record shorter than its lengths")
	errUnknownFunc = errors.New("decoding function event: unknown function id")
)

var eventSize = int(unsafe.Sizeof(funcsFuncEvent{}))

// decoder names the records of one attachment's functions.
func decoder(fns []function) func(raw []byte, s *tracetest.SpanStub, env *probe.Env) error {
	return func(raw []byte, s *tracetest.SpanStub, _ *probe.Env) error {
		if len(raw) < eventSize {
			return errShortRecord
		}
		ev := (*funcsFuncEvent)(unsafe.Pointer(&raw[0]))
		if int(ev.FuncId) >= len(fns) {
			return errUnknownFunc
		}
		var strs stringArgs
		t := probe.TextsAfter(raw, eventSize)
		for i := range strs {
			strs[i] = t.Next(ev.StrLen[i])
		}
		if t.Short() {
			return errShortRecord
		}
		fillSpan(ev, &strs, &fns[ev.FuncId], s)
		return nil
	}
}

// stringArgs are a record's string arguments by slot: they follow its
// fixed part back to back, in slot order.
type stringArgs [strArgs][]byte

// fillSpan makes an INTERNAL span named after the function, with
// code.function.name and the captured arguments.
func fillSpan(ev *funcsFuncEvent, strs *stringArgs, f *function, s *tracetest.SpanStub) {
	attrs := probe.Attrs(s, 1+len(f.args))
	attrs = append(attrs, semconv.CodeFunctionName(f.name))
	for i, a := range f.args {
		attrs = append(attrs, a.value(strs, ev.Vals[i]))
	}
	s.Name = f.name
	s.SpanKind = trace.SpanKindInternal
	s.Attributes = attrs
}

// value converts a raw word: registers hold values narrower than 8 bytes
// with undefined upper bits, so the value is cut to its size first.
func (a argSpec) value(strs *stringArgs, w uint64) attribute.KeyValue {
	if a.size > 0 && a.size < 8 {
		w &= 1<<(8*a.size) - 1
	}
	switch a.kind {
	case argInt:
		shift := 64 - 8*min(a.size, 8)
		return a.key.Int64(int64(w<<shift) >> shift) // sign-extend
	case argUint:
		if w > math.MaxInt64 {
			return a.key.String(strconv.FormatUint(w, 10))
		}
		return a.key.Int64(int64(w))
	case argBool:
		return a.key.Bool(w&1 != 0)
	case argFloat:
		if a.size == 4 {
			return a.key.Float64(float64(math.Float32frombits(uint32(w))))
		}
		return a.key.Float64(math.Float64frombits(w))
	case argString:
		return a.key.String(string(strs[a.slot]))
	}
	return a.key.Int64(int64(w)) // argSliceLen: the length word
}
