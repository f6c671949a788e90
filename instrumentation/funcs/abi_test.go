package funcs

import (
	"reflect"
	"testing"
)

func TestAssign(t *testing.T) {
	i64 := abiType{size: 8, align: 8, words: []bool{false}, regOK: true}
	i8 := abiType{size: 1, align: 1, words: []bool{false}, regOK: true}
	f64 := abiType{size: 8, align: 8, words: []bool{true}, regOK: true}
	str := abiType{size: 16, align: 8, words: []bool{false, false}, regOK: true}
	slice := abiType{size: 24, align: 8, words: []bool{false, false, false}, regOK: true}
	arr2 := abiType{size: 16, align: 8} // [2]int: never in registers
	reg := func(ints ...int) Assignment { return Assignment{Ints: ints, Stack: -1} }
	freg := func(fs ...int) Assignment { return Assignment{Floats: fs, Stack: -1} }
	stack := func(off int64) Assignment { return Assignment{Stack: off} }
	tests := []struct {
		name string
		args []abiType
		want []Assignment
	}{
		{"ints", []abiType{i64, i64}, []Assignment{reg(0), reg(1)}},
		{"string takes two", []abiType{i64, str, i64}, []Assignment{reg(0), reg(1, 2), reg(3)}},
		{"twelve ints: three spill", repeat(i64, 12), append(regs(9), stack(0), stack(8), stack(16))},
		{"string does not fit in the last register",
			append(repeat(i64, 8), str, i64),
			append(regs(8), stack(0), reg(8))},
		{"slice after seven", append(repeat(i64, 7), slice), append(regs(7), stack(0))},
		{"floats use their own registers", []abiType{f64, i64, f64}, []Assignment{freg(0), reg(0), freg(1)}},
		{"sixteen floats: one spills", repeat(f64, 16), append(fregs(15), stack(0))},
		{"stack alignment", append(repeat(i64, 9), i8, i64, i8, str),
			append(regs(9), stack(0), stack(8), stack(16), stack(24))},
		{"array of two goes on the stack", []abiType{arr2, i64}, []Assignment{stack(0), reg(0)}},
		{"mixed", []abiType{str, f64, {size: 1, align: 1, words: []bool{false}, regOK: true}, i8, slice},
			[]Assignment{reg(0, 1), freg(0), reg(2), reg(3), reg(4, 5, 6)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := assign(tt.args); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("assign = %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func repeat(t abiType, n int) []abiType {
	out := make([]abiType, n)
	for i := range out {
		out[i] = t
	}
	return out
}

func regs(n int) []Assignment {
	out := make([]Assignment, n)
	for i := range out {
		out[i] = Assignment{Ints: []int{i}, Stack: -1}
	}
	return out
}

func fregs(n int) []Assignment {
	out := make([]Assignment, n)
	for i := range out {
		out[i] = Assignment{Floats: []int{i}, Stack: -1}
	}
	return out
}
