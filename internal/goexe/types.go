package goexe

import (
	"debug/elf"
	"encoding/binary"
	"strings"
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

// TypeName names the Go type whose runtime descriptor is at addr, with its
// package path: "*net.OpError", "*modernc.org/sqlite.Error",
// "database/sql.dsnConnector". Probes read such addresses from interface
// values (the itab's type). It works without a symbol table, reading the
// descriptor from the file; descriptors outside it (position-independent
// binaries, whose addresses move) give "".
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
	if b.elf.Type != elf.ET_EXEC {
		return ""
	}
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
	if s == nil {
		return ""
	}
	return string(s)
}

// typesBase is where the type descriptors start (moduledata.types): the
// .go.type section from Go 1.27, else the start of .rodata, where the linker
// puts them first.
func (b *Binary) typesBase() uint64 {
	if s := b.elf.Section(".go.type"); s != nil {
		return s.Addr
	}
	if s := b.elf.Section(".rodata"); s != nil {
		return s.Addr
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
