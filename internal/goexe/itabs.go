package goexe

import (
	"debug/elf"
	"encoding/binary"
	"slices"
	"strings"
)

// itab symbols are named "go:itab.<type>,<interface>" (Go 1.20+) or
// "go.itab.<type>,<interface>" (before).
var itabPrefixes = []string{"go:itab.", "go.itab."}

type itab struct {
	addr uint64
	typ  string
}

// ItabType names the dynamic type of the itab at addr, e.g. "*net.OpError"
// for the itab of an error returned by a dial. The linker emits one symbol
// per itab known at build time, so this needs .symtab; itabs the runtime
// builds on the fly, stripped and position-independent binaries (whose
// addresses move) give "".
func (b *Binary) ItabType(addr uint64) string {
	b.itabsOnce.Do(func() {
		_ = b.read(func() error {
			return guard(func() error {
				b.itabs = b.loadItabs()
				return nil
			})
		})
	})
	i, ok := slices.BinarySearchFunc(b.itabs, addr, func(t itab, a uint64) int {
		switch {
		case t.addr < a:
			return -1
		case t.addr > a:
			return 1
		}
		return 0
	})
	if !ok {
		return ""
	}
	return b.itabs[i].typ
}

func (b *Binary) loadItabs() []itab {
	if !b.HasSymtab || b.elf.Type != elf.ET_EXEC {
		return nil
	}
	s := b.elf.Section(".symtab")
	syms, err := b.section(".symtab")
	if err != nil || s.Link >= uint32(len(b.elf.Sections)) {
		return nil
	}
	strs, err := b.sectionData(b.elf.Sections[s.Link])
	if err != nil {
		return nil
	}
	var out []itab
	for off := 0; off+sym64Size <= len(syms); off += sym64Size {
		e := syms[off:]
		if elf.ST_TYPE(e[4]) != elf.STT_OBJECT {
			continue
		}
		name := cstring(strs, uint64(binary.LittleEndian.Uint32(e)))
		for _, p := range itabPrefixes {
			if len(name) > len(p) && string(name[:len(p)]) == p {
				typ, _, _ := strings.Cut(string(name[len(p):]), ",")
				out = append(out, itab{addr: binary.LittleEndian.Uint64(e[8:]), typ: typ})
				break
			}
		}
	}
	slices.SortFunc(out, func(a, b itab) int {
		switch {
		case a.addr < b.addr:
			return -1
		case a.addr > b.addr:
			return 1
		}
		return 0
	})
	return out
}
