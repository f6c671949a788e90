package funcs

import (
	"math"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/spanprobe/spanprobe/instrumentation/probe"
)

// TestArgValue checks the conversion of raw words: registers hold values
// narrower than a word with undefined upper bits.
func TestArgValue(t *testing.T) {
	strs := stringArgs{1: []byte("hi")}
	tests := []struct {
		name string
		spec argSpec
		word uint64
		want attribute.Value
	}{
		{"int64", argSpec{kind: argInt, size: 8}, uint64(math.MaxUint64 - 11), attribute.Int64Value(-12)},
		{"int8 with garbage above", argSpec{kind: argInt, size: 1}, 0xdeadbe00 | 0xfd, attribute.Int64Value(-3)},
		{"int32", argSpec{kind: argInt, size: 4}, 0xffff_ffff_8000_0000, attribute.Int64Value(math.MinInt32)},
		{"uint16", argSpec{kind: argUint, size: 2}, 0x1234_ffff, attribute.Int64Value(0xffff)},
		{"uint64 above int64", argSpec{kind: argUint, size: 8}, math.MaxUint64, attribute.StringValue("18446744073709551615")},
		{"bool", argSpec{kind: argBool, size: 1}, 0xff01, attribute.BoolValue(true)},
		{"bool false with garbage", argSpec{kind: argBool, size: 1}, 0xff00, attribute.BoolValue(false)},
		{"float64", argSpec{kind: argFloat, size: 8}, math.Float64bits(15.5), attribute.Float64Value(15.5)},
		{"float32", argSpec{kind: argFloat, size: 4}, 0xabcd_0000_0000_0000 | uint64(math.Float32bits(0.25)), attribute.Float64Value(0.25)},
		{"string as copied, whatever its length word", argSpec{kind: argString, size: 16, slot: 1}, 3, attribute.StringValue("hi")},
		{"slice length", argSpec{kind: argSliceLen, size: 24}, 3, attribute.Int64Value(3)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.spec.key = "arg.x"
			if got := tt.spec.value(&strs, tt.word); got.Value != tt.want {
				t.Errorf("value = %v (%v), want %v (%v)", got.Value.Emit(), got.Value.Type(), tt.want.Emit(), tt.want.Type())
			}
		})
	}
}

// TestDecodeStrings: string arguments follow the fixed part back to back in
// slot order, and a record shorter than its lengths is refused.
func TestDecodeStrings(t *testing.T) {
	fns := []function{{name: "main.f", args: []argSpec{
		{key: "arg.a", kind: argString, size: 16, slot: 0},
		{key: "arg.n", kind: argInt, size: 8},
		{key: "arg.b", kind: argString, size: 16, slot: 1},
	}}}
	ev := funcsFuncEvent{StrLen: [strArgs]uint16{2, 3}, TextLen: 5}
	ev.Vals[1] = 7
	raw := probe.RecordBytes(&ev, "ab", "xyz")
	var s tracetest.SpanStub
	if err := decoder(fns)(raw, &s, nil); err != nil {
		t.Fatal(err)
	}
	got := map[attribute.Key]string{}
	for _, kv := range s.Attributes {
		got[kv.Key] = kv.Value.Emit()
	}
	if got["arg.a"] != "ab" || got["arg.n"] != "7" || got["arg.b"] != "xyz" || s.Name != "main.f" {
		t.Errorf("span %q attributes %v, want arg.a=ab arg.n=7 arg.b=xyz", s.Name, got)
	}
	if err := decoder(fns)(raw[:len(raw)-1], &s, nil); err == nil {
		t.Error("decoded a record one byte shorter than its strings")
	}
}
