package goexe

import (
	"debug/elf"
	"encoding/binary"
	"strings"
	"unicode/utf8"
)

// Layout of the runtime's type descriptors (internal/abi.Type and friends),
// the same on amd64 from Go 1.17 to 1.27.
const (
	typeSize          = 48 // abi.Type
	typeTFlag         = 20
	typeKind          = 23
	typeStr           = 40 // NameOff of the type's string
	ptrElem           = 48 // abi.PtrType.Elem
	tflagUncommon     = 1 << 0
	tflagExtraStar    = 1 << 1
	kindMask          = 1<<5 - 1
	kindChan          = 18
	kindPtr           = 22
	kindSlice         = 23
	kindString        = 24
	kindStruct        = 25
	kindUnsafePointer = 26
)

// maxTypeNames bounds the name cache: the types a program's errors and
// drivers have are few.
const maxTypeNames = 4096

// TypeName names the Go type whose descriptor is at addr in the file, with
// its package path: "*net.OpError", "*modernc.org/sqlite.Error",
// "database/sql.dsnConnector". Probes read such addresses from interface
// values (the itab's type); in a position-independent binary they are the
// process's, from which its LoadBias must be taken first. It works without
// a symbol table, reading the descriptor from the file; an address outside
// it gives "".
func (b *Binary) TypeName(addr uint64) string {
	if addr == 0 {
		return ""
	}
	b.typesMu.Lock()
	defer b.typesMu.Unlock()
	if name, ok := b.typeNames[addr]; ok {
		return name
	}
	var name string
	_ = b.read(func() error {
		return guard(func() error {
			name = b.typeName(addr)
			return nil
		})
	})
	if b.typeNames == nil {
		b.typeNames = make(map[uint64]string)
	}
	if len(b.typeNames) < maxTypeNames {
		b.typeNames[addr] = name
	}
	return name
}

func (b *Binary) typeName(addr uint64) string {
	t := b.bytesAt(addr, typeSize)
	if t == nil {
		return ""
	}
	name := b.name(int32(binary.LittleEndian.Uint32(t[typeStr:])))
	if t[typeTFlag]&tflagExtraStar != 0 && len(name) > 0 {
		name = name[1:]
	}
	// The string says "*sqlite.Error": the package's name, not its path,
	// which the named type's uncommon part holds (the element's, for a
	// pointer type).
	namedAddr, named := addr, t
	if t[typeKind]&kindMask == kindPtr {
		e := b.bytesAt(addr+ptrElem, 8)
		if e == nil {
			return name
		}
		namedAddr = binary.LittleEndian.Uint64(e)
		if named = b.bytesAt(namedAddr, typeSize); named == nil {
			return name
		}
	}
	path := b.pkgPath(named, namedAddr)
	star := strings.LastIndexByte(name, '*') + 1
	dot := strings.IndexByte(name[star:], '.')
	if path == "" || dot < 0 {
		return name
	}
	return name[:star] + path + name[star+dot:]
}

// uncommonOffsets is where a type's UncommonType starts, by kind: after the
// kind's descriptor. Kinds not listed give no package path.
var uncommonOffsets = func() (m [kindMask + 1]uint64) {
	for k := 1; k <= 16; k++ { // bool, ints, uints, floats, complexes
		m[k] = typeSize
	}
	m[kindString], m[kindUnsafePointer] = typeSize, typeSize
	m[kindPtr], m[kindSlice] = typeSize+8, typeSize+8 // Elem
	m[kindChan] = typeSize + 16                       // Elem, Dir
	m[kindStruct] = typeSize + 8 + 24                 // PkgPath, Fields
	return m
}()

// pkgPath reads the package path from the uncommon part of the type t at
// addr.
func (b *Binary) pkgPath(t []byte, addr uint64) string {
	off := uncommonOffsets[t[typeKind]&kindMask]
	if t[typeTFlag]&tflagUncommon == 0 || off == 0 {
		return ""
	}
	u := b.bytesAt(addr+off, 4)
	if u == nil {
		return ""
	}
	return b.name(int32(binary.LittleEndian.Uint32(u)))
}

// name reads an abi.Name at off from the start of the type descriptors:
// a flags byte, a varint length, the bytes.
func (b *Binary) name(off int32) string {
	base := b.typesBase()
	if base == 0 || off <= 0 {
		return ""
	}
	hdr := b.bytesAt(base+uint64(off), 1+binary.MaxVarintLen32)
	if hdr == nil {
		return ""
	}
	n, k := binary.Uvarint(hdr[1:])
	if k <= 0 || n > 1<<12 {
		return ""
	}
	s := b.bytesAt(base+uint64(off)+1+uint64(k), n)
	if s == nil || !printable(s) {
		return "" // not a name: the base or the descriptor was wrong
	}
	return string(s)
}

// printable reports whether s is UTF-8 without control characters, as
// every Go type's name is.
func printable(s []byte) bool {
	if !utf8.Valid(s) {
		return false
	}
	for _, c := range s {
		if c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

// typesBase is where the type descriptors start (moduledata.types), the
// base of their name offsets: the runtime.types symbol when the binary has
// one. Without it, Go's own linker puts them first in a known section: one
// of their own from Go 1.27, else the start of .rodata, or, in a
// position-independent binary, of .data.rel.ro (descriptors hold pointers,
// and those are relocated data there). Pointers in them hold their
// link-time address in the file either way (the linkers write each
// relocation's addend in place). A stripped binary linked by the C linker
// (it has .init) gives 0: its sections start with C's data, and a guess
// would name the wrong types.
func (b *Binary) typesBase() uint64 {
	b.typesBaseOnce.Do(func() { b.typesBaseAddr = b.findTypesBase() })
	return b.typesBaseAddr
}

func (b *Binary) findTypesBase() uint64 {
	if addr := b.labelValue("runtime.types"); addr != 0 {
		return addr
	}
	return b.sectionTypesBase()
}

// sectionTypesBase is typesBase without the symbol.
func (b *Binary) sectionTypesBase() uint64 {
	for _, name := range []string{".go.type", ".data.rel.ro.go.type"} {
		if s := b.elf.Section(name); s != nil {
			return s.Addr
		}
	}
	if b.elf.Section(".init") != nil {
		return 0
	}
	name := ".rodata"
	if b.PIE {
		name = ".data.rel.ro"
	}
	if s := b.elf.Section(name); s != nil {
		return s.Addr
	}
	return 0
}

// labelValue returns the address of the linker label called name (a data
// symbol of size 0, such as runtime.types), or 0. One pass over .symtab
// that reads the names of labels only: a few dozen of a table whose names
// run to megabytes.
func (b *Binary) labelValue(name string) uint64 {
	syms, strs, err := b.symtabData()
	if err != nil {
		return 0
	}
	for i := 0; i+sym64Size <= len(syms); i += sym64Size {
		e := syms[i : i+sym64Size]
		if elf.ST_TYPE(e[4]) != elf.STT_OBJECT || binary.LittleEndian.Uint64(e[16:]) != 0 {
			continue
		}
		if string(cstring(strs, uint64(binary.LittleEndian.Uint32(e)))) == name {
			return binary.LittleEndian.Uint64(syms[i+8:])
		}
	}
	return 0
}

// bytesAt returns n bytes of the file at virtual address addr, or nil.
func (b *Binary) bytesAt(addr, n uint64) []byte {
	off, err := b.fileOffset(addr, elf.PF_R)
	if err != nil || off+n > uint64(len(b.data)) || off+n < off {
		return nil
	}
	return b.data[off : off+n : off+n]
}
