package funcs

import (
	"debug/dwarf"
	"fmt"
	"strings"

	"go.opentelemetry.io/otel/attribute"
)

// Limits of argument capture, as in funcs.bpf.c.
const (
	maxArgs = 16 // MAX_ARGS
	strArgs = 4  // STR_ARGS
	// StrMax is how many bytes of a string argument are kept.
	StrMax = 64
)

// Go kinds (reflect.Kind), as DWARF's DW_AT_go_kind gives them.
const (
	kindBool    = 1
	kindInt     = 2
	kindInt64   = 6
	kindUint    = 7
	kindUintptr = 12
	kindFloat32 = 13
	kindFloat64 = 14
	kindSlice   = 23
	kindString  = 24
)

const attrGoKind = dwarf.Attr(0x2900) // DW_AT_go_kind

type argKind uint8

const (
	argInt argKind = iota
	argUint
	argBool
	argFloat
	argString
	argSliceLen
)

// argSpec is how one captured argument becomes an attribute.
type argSpec struct {
	key  attribute.Key
	kind argKind
	size int64 // bytes of the value (ints, floats)
	slot int   // string slot
}

// param is one input parameter of a function, from DWARF.
type param struct {
	name string
	typ  dwarf.Type
	kind int64 // Go kind, 0 when DWARF does not say
}

// dwarfParams finds the input parameters, in order, of each function whose
// code starts at one of addrs. A function that is also inlined elsewhere
// has its names and types on an abstract entry its concrete one points to.
func dwarfParams(d *dwarf.Data, addrs map[uint64]bool) (map[uint64][]param, error) {
	out := map[uint64][]param{}
	r, other := d.Reader(), d.Reader()
	for len(out) < len(addrs) {
		e, err := r.Next()
		if err != nil {
			return nil, fmt.Errorf("reading DWARF: %w", err)
		}
		if e == nil {
			break
		}
		if e.Tag == dwarf.TagCompileUnit || !e.Children {
			continue
		}
		low, _ := e.Val(dwarf.AttrLowpc).(uint64)
		if e.Tag != dwarf.TagSubprogram || !addrs[low] {
			r.SkipChildren()
			continue
		}
		entry, rd := e, r
		if origin, ok := e.Val(dwarf.AttrAbstractOrigin).(dwarf.Offset); ok {
			r.SkipChildren()
			other.Seek(origin)
			if entry, err = other.Next(); err != nil || entry == nil {
				return nil, fmt.Errorf("reading DWARF at %#x: %v", origin, err)
			}
			rd = other
		}
		ps, err := readParams(d, rd)
		if err != nil {
			return nil, err
		}
		if name, _ := entry.Val(dwarf.AttrName).(string); strings.Contains(name, "go.shape.") {
			// Shaped generic code takes its dictionary first; DWARF
			// does not list it.
			ps = append([]param{{name: ".dict", typ: &dwarf.PtrType{}}}, ps...)
		}
		out[low] = ps
	}
	return out, nil
}

// readParams reads the formal parameters among the children of the entry
// rd just returned, skipping results (DW_AT_variable_parameter).
func readParams(d *dwarf.Data, rd *dwarf.Reader) ([]param, error) {
	var ps []param
	for {
		e, err := rd.Next()
		if err != nil {
			return nil, fmt.Errorf("reading DWARF: %w", err)
		}
		if e == nil || e.Tag == 0 {
			return ps, nil
		}
		if e.Tag == dwarf.TagFormalParameter {
			if out, _ := e.Val(dwarf.AttrVarParam).(bool); !out {
				off, ok := e.Val(dwarf.AttrType).(dwarf.Offset)
				if !ok {
					return nil, fmt.Errorf("parameter at %#x has no type", e.Offset)
				}
				t, err := d.Type(off)
				if err != nil {
					return nil, fmt.Errorf("reading type of parameter at %#x: %w", e.Offset, err)
				}
				name, _ := e.Val(dwarf.AttrName).(string)
				ps = append(ps, param{name: name, typ: t, kind: goKind(d, off)})
			}
		}
		if e.Children {
			rd.SkipChildren()
		}
	}
}

// goKind reads DW_AT_go_kind of the type at off, through typedefs (the
// type parameters of generic code are typedefs without a kind).
func goKind(d *dwarf.Data, off dwarf.Offset) int64 {
	r := d.Reader()
	for range 8 {
		r.Seek(off)
		e, err := r.Next()
		if err != nil || e == nil {
			return 0
		}
		if k, ok := e.Val(attrGoKind).(int64); ok {
			return k
		}
		next, ok := e.Val(dwarf.AttrType).(dwarf.Offset)
		if e.Tag != dwarf.TagTypedef || !ok {
			return 0
		}
		off = next
	}
	return 0
}

// layoutArgs decides which parameters of a function are captured and
// where each lives at its entry. notes lists the parameters left out and
// why, for the log.
func layoutArgs(ps []param) (specs []argSpec, info funcsFuncInfo, notes []string, err error) {
	types := make([]abiType, len(ps))
	for i, p := range ps {
		if types[i], err = abiOf(p.typ); err != nil {
			return nil, info, nil, fmt.Errorf("parameter %s: %w", p.name, err)
		}
	}
	as := assign(types)
	reg := func(i int) wordLoc { return wordLoc{kind: uint8(funcsLocKindLOC_REG), reg: uint8(i)} }
	stack := func(off int64) wordLoc { return wordLoc{kind: uint8(funcsLocKindLOC_STACK), off: uint16(off)} }
	for i, p := range ps {
		if p.name == "" || strings.HasPrefix(p.name, ".") || strings.HasPrefix(p.name, "~") || p.name == "_" {
			continue // the dictionary, unnamed parameters
		}
		if int(info.Nargs) == maxArgs {
			notes = append(notes, p.name+" (after 16 arguments)")
			continue
		}
		a := as[i]
		if a.Stack > 1<<16-16 {
			notes = append(notes, p.name+" (stack offset too large)")
			continue
		}
		spec := argSpec{key: attribute.Key("arg." + p.name), size: types[i].size}
		var w [2]wordLoc
		switch k := p.kind; {
		case k == kindBool, k >= kindInt && k <= kindUintptr:
			spec.kind = argInt
			if k == kindBool {
				spec.kind = argBool
			} else if k >= kindUint {
				spec.kind = argUint
			}
			if a.OnStack() {
				w[0] = stack(a.Stack)
			} else {
				w[0] = reg(a.Ints[0])
			}
		case k == kindFloat32 || k == kindFloat64:
			if !a.OnStack() {
				notes = append(notes, p.name+" (float in an X register)")
				continue
			}
			spec.kind, w[0] = argFloat, stack(a.Stack)
		case k == kindString:
			if spec.slot = countKind(specs, argString); spec.slot == strArgs {
				notes = append(notes, p.name+" (after 4 strings)")
				continue
			}
			spec.kind = argString
			if a.OnStack() {
				w[0], w[1] = stack(a.Stack), stack(a.Stack+8)
			} else {
				w[0], w[1] = reg(a.Ints[0]), reg(a.Ints[1])
			}
		case k == kindSlice:
			spec.kind, spec.key = argSliceLen, spec.key+".len"
			if a.OnStack() {
				w[0] = stack(a.Stack + 8)
			} else {
				w[0] = reg(a.Ints[1])
			}
		default:
			continue // pointers, structs, maps, interfaces...: not basic
		}
		n := info.Nargs
		for j := range w {
			info.Args[n].W[j].Kind, info.Args[n].W[j].Reg, info.Args[n].W[j].Off = w[j].kind, w[j].reg, w[j].off
		}
		if spec.kind == argString {
			info.Args[n].Str = uint8(spec.slot + 1)
		}
		info.Nargs++
		specs = append(specs, spec)
	}
	return specs, info, notes, nil
}

type wordLoc struct {
	kind, reg uint8
	off       uint16
}

func countKind(specs []argSpec, k argKind) int {
	n := 0
	for _, s := range specs {
		if s.kind == k {
			n++
		}
	}
	return n
}
