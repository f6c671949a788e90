package funcs

import (
	"math"
	"testing"

	"go.opentelemetry.io/otel/attribute"
)

// TestArgValue checks the conversion of raw words: registers hold values
// narrower than a word with undefined upper bits.
func TestArgValue(t *testing.T) {
	var ev funcsFuncEvent
	copy(ev.Str[1][:], []int8{'h', 'i', '!'})
	ev.StrLen[1] = 2
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
		{"string cut at its copied length", argSpec{kind: argString, size: 16, slot: 1}, 3, attribute.StringValue("hi")},
		{"slice length", argSpec{kind: argSliceLen, size: 24}, 3, attribute.Int64Value(3)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.spec.key = "arg.x"
			if got := tt.spec.value(&ev, tt.word); got.Value != tt.want {
				t.Errorf("value = %v (%v), want %v (%v)", got.Value.Emit(), got.Value.Type(), tt.want.Emit(), tt.want.Type())
			}
		})
	}
}
