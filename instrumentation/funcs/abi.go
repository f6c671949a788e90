package funcs

import (
	"debug/dwarf"
	"errors"
	"fmt"
)

// The Go internal ABI on amd64 (https://go.dev/s/regabi): nine integer
// argument registers (RAX, RBX, RCX, RDI, RSI, R8, R9, R10, R11) and
// fifteen floating-point ones (X0-X14).
const (
	intRegs   = 9
	floatRegs = 15
	ptrSize   = 8
)

// abiType is what the register assignment needs of a Go type: its size,
// alignment and the machine words it would take in registers.
type abiType struct {
	size, align int64
	// words lists, in order, whether each register-sized part is a float;
	// nil with regOK false means the type never goes in registers (an
	// array of more than one element, or a type we cannot decompose).
	words []bool
	regOK bool
}

// Assignment says where one argument lives at the function's entry.
type Assignment struct {
	Ints   []int // integer register indexes (0: RAX ... 8: R11), in order
	Floats []int // X register indexes
	// Stack is the offset in the stack argument area (right above the
	// return address) when the argument is not in registers; -1 otherwise.
	Stack int64
}

// OnStack reports whether the argument was assigned to the stack.
func (a Assignment) OnStack() bool { return a.Stack >= 0 }

// assign runs the register assignment algorithm of the Go ABI over the
// arguments in order (receiver first): each goes entirely in the remaining
// integer and float registers if it fits, else on the stack at the next
// offset aligned for it, and the registers it would have used stay free for
// the arguments after it.
func assign(args []abiType) []Assignment {
	out := make([]Assignment, len(args))
	ni, nf := 0, 0
	var stack int64
	for i, t := range args {
		ints, floats := 0, 0
		for _, f := range t.words {
			if f {
				floats++
			} else {
				ints++
			}
		}
		if t.regOK && ni+ints <= intRegs && nf+floats <= floatRegs {
			a := Assignment{Stack: -1}
			for _, f := range t.words {
				if f {
					a.Floats = append(a.Floats, nf)
					nf++
				} else {
					a.Ints = append(a.Ints, ni)
					ni++
				}
			}
			out[i] = a
			continue
		}
		stack = alignUp(stack, t.align)
		out[i] = Assignment{Stack: stack}
		stack += t.size
	}
	return out
}

func alignUp(n, a int64) int64 {
	if a <= 1 {
		return n
	}
	return (n + a - 1) / a * a
}

var errUnknownType = errors.New("type not understood")

// abiOf describes a DWARF type. Go's DWARF gives strings, slices and
// interfaces as structs of their words, so they decompose like structs.
func abiOf(t dwarf.Type) (abiType, error) {
	switch t := t.(type) {
	case *dwarf.TypedefType:
		return abiOf(t.Type)
	case *dwarf.QualType:
		return abiOf(t.Type)
	case *dwarf.IntType, *dwarf.UintType, *dwarf.BoolType, *dwarf.CharType, *dwarf.UcharType:
		s := t.Size()
		if s < 1 || s > ptrSize {
			return abiType{}, fmt.Errorf("%w: %s of %d bytes", errUnknownType, t, s)
		}
		return abiType{size: s, align: s, words: []bool{false}, regOK: true}, nil
	case *dwarf.PtrType, *dwarf.FuncType, *dwarf.UnspecifiedType:
		return abiType{size: ptrSize, align: ptrSize, words: []bool{false}, regOK: true}, nil
	case *dwarf.FloatType:
		s := t.Size()
		return abiType{size: s, align: s, words: []bool{true}, regOK: true}, nil
	case *dwarf.ComplexType:
		s := t.Size()
		return abiType{size: s, align: s / 2, words: []bool{true, true}, regOK: true}, nil
	case *dwarf.StructType:
		r := abiType{size: t.Size(), align: 1, regOK: true}
		for _, f := range t.Field {
			ft, err := abiOf(f.Type)
			if err != nil {
				return abiType{}, err
			}
			r.align = max(r.align, ft.align)
			r.regOK = r.regOK && ft.regOK
			r.words = append(r.words, ft.words...)
		}
		if !r.regOK {
			r.words = nil
		}
		return r, nil
	case *dwarf.ArrayType:
		et, err := abiOf(t.Type)
		if err != nil {
			return abiType{}, err
		}
		r := abiType{size: t.Size(), align: et.align}
		switch t.Count {
		case 0:
			r.regOK = true
		case 1:
			r.regOK, r.words = et.regOK, et.words
		}
		return r, nil
	}
	return abiType{}, fmt.Errorf("%w: %s (%T)", errUnknownType, t, t)
}
