package offsets

import (
	"debug/dwarf"
	"errors"
	"fmt"
)

// StructLayout is what DWARF says about one struct type.
type StructLayout struct {
	Name string
	Size int64
	// Fields maps member names to byte offsets from the start of the struct.
	Fields map[string]uint64
}

// ReadStructs reads the layouts of the named struct types ("net/http.Request",
// "runtime.g") from d. Names not found in d are missing from the result; it
// is not an error, because a binary only carries the types it uses.
//
// Big binaries have hundreds of thousands of DWARF entries, and the agent
// reads them while the target waits to be instrumented. The Go linker moves
// every type entry into the compile unit of package runtime (movetomodule in
// cmd/link/internal/ld/dwarf.go), so the first pass reads only that unit and
// jumps over the others without decoding them (Reader.SkipChildren on a unit
// seeks to the next one). Only when that unit holds no struct at all, as in
// binaries from other producers, does a second pass read every unit. Within
// a unit, the children of everything but the wanted structs are skipped, and
// the scan stops as soon as every wanted struct is found.
func ReadStructs(d *dwarf.Data, names []string) (map[string]StructLayout, error) {
	if d == nil {
		return nil, errors.New("reading struct layouts: no DWARF data")
	}
	want := make(map[string]bool, len(names))
	for _, n := range names {
		want[n] = true
	}
	found := make(map[string]StructLayout, len(want))
	if len(want) == 0 {
		return found, nil
	}
	sawStruct, err := scanStructs(d, want, found, func(unit string) bool { return unit == "runtime" })
	if err != nil || sawStruct || len(found) == len(want) {
		return found, err
	}
	_, err = scanStructs(d, want, found, func(unit string) bool { return unit != "runtime" })
	return found, err
}

// scanStructs adds the wanted structs found in the units for which
// inUnit(name) is true to found, and reports whether those units hold any
// struct type at all.
func scanStructs(d *dwarf.Data, want map[string]bool, found map[string]StructLayout, inUnit func(string) bool) (sawStruct bool, err error) {
	r := d.Reader()
	for len(found) < len(want) {
		e, err := r.Next()
		if err != nil {
			return sawStruct, fmt.Errorf("reading DWARF entries: %w", err)
		}
		if e == nil {
			break
		}
		switch e.Tag {
		case 0:
			continue // end of a list of children
		case dwarf.TagCompileUnit, dwarf.TagPartialUnit:
			if name, _ := e.Val(dwarf.AttrName).(string); inUnit(name) {
				continue // descend: the types are children of the unit
			}
		case dwarf.TagStructType:
			sawStruct = true
			name, _ := e.Val(dwarf.AttrName).(string)
			if _, dup := found[name]; !want[name] || dup || !e.Children {
				break
			}
			l, err := readMembers(r, name)
			if err != nil {
				return sawStruct, err
			}
			if sz, ok := e.Val(dwarf.AttrByteSize).(int64); ok {
				l.Size = sz
			}
			found[name] = l
			continue // readMembers consumed the children
		}
		if e.Children {
			r.SkipChildren()
		}
	}
	return sawStruct, nil
}

// readMembers reads the children of the struct entry just returned by r, up
// to and including the entry that ends them.
func readMembers(r *dwarf.Reader, name string) (StructLayout, error) {
	l := StructLayout{Name: name, Fields: make(map[string]uint64)}
	for {
		e, err := r.Next()
		if err != nil {
			return l, fmt.Errorf("reading members of %s: %w", name, err)
		}
		if e == nil || e.Tag == 0 {
			return l, nil
		}
		if e.Tag != dwarf.TagMember {
			if e.Children {
				r.SkipChildren()
			}
			continue
		}
		member, _ := e.Val(dwarf.AttrName).(string)
		off, err := memberOffset(e)
		if err != nil {
			return l, fmt.Errorf("reading offset of %s.%s: %w", name, member, err)
		}
		l.Fields[member] = off
		if e.Children {
			r.SkipChildren()
		}
	}
}

// memberOffset decodes DW_AT_data_member_location. Go writes a constant;
// other producers may write the DWARF 2 form, a location expression
// DW_OP_plus_uconst <uleb128>.
func memberOffset(e *dwarf.Entry) (uint64, error) {
	switch v := e.Val(dwarf.AttrDataMemberLoc).(type) {
	case int64:
		if v < 0 {
			return 0, fmt.Errorf("negative member offset %d", v)
		}
		return uint64(v), nil
	case []byte:
		const opPlusUconst = 0x23
		if len(v) < 2 || v[0] != opPlusUconst {
			return 0, fmt.Errorf("unsupported member location expression % x", v)
		}
		var x uint64
		var shift uint
		for _, b := range v[1:] {
			x |= uint64(b&0x7f) << shift
			if b&0x80 == 0 {
				return x, nil
			}
			shift += 7
		}
		return 0, fmt.Errorf("truncated member location expression % x", v)
	case nil:
		// Unions and DWARF 4 bit fields may omit it; Go does not.
		return 0, errors.New("no data member location")
	default:
		return 0, fmt.Errorf("unsupported member location of type %T", v)
	}
}
