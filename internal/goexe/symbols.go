package goexe

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
)

// Func is a function's code: virtual addresses [Addr, End) and the file
// offset of Addr, which is what uprobes are attached by.
type Func struct {
	Name      string
	Addr, End uint64
	Offset    uint64
}

// funcTable finds a function's address range by its exact symbol name, as in
// "net/http.(*response).finishRequest".
type funcTable interface {
	lookup(name string) (addr, end uint64, err error)
	// each calls fn for every function until it returns false.
	each(fn func(name []byte, addr, end uint64) bool)
}

// Func finds a function by its exact symbol name, in .symtab when the binary
// has one, else in .gopclntab (binaries linked with -s). A missing function
// gives an error wrapping ErrSymbolNotFound.
func (b *Binary) Func(name string) (Func, error) {
	var fn Func
	err := b.read(func() error {
		if err := b.loadFuncsOnce(); err != nil {
			return err
		}
		addr, end, err := b.funcs.lookup(name)
		if err != nil {
			return err
		}
		off, err := b.fileOffset(addr, elf.PF_X)
		if err != nil {
			return err
		}
		fn = Func{Name: name, Addr: addr, End: end, Offset: off}
		return nil
	})
	if err != nil {
		return Func{}, fmt.Errorf("finding function %s in %s: %w", name, b.Path, err)
	}
	return fn, nil
}

// loadFuncsOnce indexes the function table on first use; the caller holds
// the mapping (b.read).
func (b *Binary) loadFuncsOnce() error {
	b.funcsOnce.Do(func() {
		b.funcsErr = guard(func() (err error) {
			b.funcs, err = b.loadFuncs()
			return err
		})
	})
	return b.funcsErr
}

func (b *Binary) loadFuncs() (funcTable, error) {
	if b.HasSymtab {
		t, err := b.loadSymtab()
		if err != nil {
			return nil, fmt.Errorf("reading .symtab: %w", err)
		}
		return t, nil
	}
	t, err := b.loadPclntab()
	if err != nil {
		return nil, fmt.Errorf("reading .gopclntab: %w", err)
	}
	return t, nil
}

// nameIndex is an open-addressing hash set of entry ids keyed by the names
// they resolve to. It holds 4 bytes per slot and no strings: names stay in
// the mapped file, which keeps the index of a binary with hundreds of
// thousands of functions at a few megabytes.
type nameIndex struct {
	seed      maphash.Seed
	slots     []uint32 // id+1; 0 is empty
	name      func(id uint32) []byte
	ambiguous map[uint32]int // first id -> entries sharing its name, when more than one
}

func newNameIndex(n int, name func(id uint32) []byte) *nameIndex {
	size := 1
	for size < 2*n { // at most half full keeps probe sequences short
		size <<= 1
	}
	return &nameIndex{seed: maphash.MakeSeed(), slots: make([]uint32, size), name: name}
}

func (x *nameIndex) add(id uint32) {
	name := x.name(id)
	mask := uint64(len(x.slots) - 1)
	for i := maphash.Bytes(x.seed, name) & mask; ; i = (i + 1) & mask {
		s := x.slots[i]
		if s == 0 {
			x.slots[i] = id + 1
			return
		}
		if bytes.Equal(x.name(s-1), name) {
			if x.ambiguous == nil {
				x.ambiguous = make(map[uint32]int)
			}
			x.ambiguous[s-1] = max(x.ambiguous[s-1], 1) + 1
			return
		}
	}
}

// lookup returns the id named name. A name that several entries share is an
// error rather than a pick: in .gopclntab a function called from assembly
// and its ABI wrapper both carry the plain name, and only one of them takes
// arguments in registers.
func (x *nameIndex) lookup(name string) (uint32, error) {
	mask := uint64(len(x.slots) - 1)
	for i := maphash.String(x.seed, name) & mask; ; i = (i + 1) & mask {
		s := x.slots[i]
		if s == 0 {
			return 0, ErrSymbolNotFound
		}
		if string(x.name(s-1)) == name {
			if n := x.ambiguous[s-1]; n > 0 {
				return 0, fmt.Errorf("%d functions share the name (an ABI wrapper?)", n)
			}
			return s - 1, nil
		}
	}
}

// cstring returns the NUL-terminated string at off, or nil when off is out
// of range.
func cstring(b []byte, off uint64) []byte {
	if off >= uint64(len(b)) {
		return nil
	}
	b = b[off:]
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return b[:i]
	}
	return b
}

// symtab indexes the STT_FUNC entries of .symtab (ELF64 little endian).
type symtab struct {
	syms, strs []byte
	index      *nameIndex
}

const sym64Size = 24 // Elf64_Sym

func (b *Binary) loadSymtab() (*symtab, error) {
	syms, strs, err := b.symtabData()
	if err != nil {
		return nil, err
	}
	t := &symtab{syms: syms, strs: strs}
	// Size 0 marks labels such as runtime.text, not code that can be
	// decoded; .gopclntab has no such entries either.
	isFunc := func(i uint32) bool {
		e := syms[i*sym64Size:]
		return elf.ST_TYPE(e[4]) == elf.STT_FUNC &&
			elf.SectionIndex(binary.LittleEndian.Uint16(e[6:])) != elf.SHN_UNDEF &&
			binary.LittleEndian.Uint64(e[16:]) != 0
	}
	n := uint32(len(syms) / sym64Size)
	count := 0
	for i := range n {
		if isFunc(i) {
			count++
		}
	}
	t.index = newNameIndex(count, func(i uint32) []byte {
		return cstring(strs, uint64(binary.LittleEndian.Uint32(syms[i*sym64Size:])))
	})
	for i := range n {
		if isFunc(i) {
			t.index.add(i)
		}
	}
	return t, nil
}

// symtabData returns .symtab's entries and the string table their names
// are in.
func (b *Binary) symtabData() (syms, strs []byte, err error) {
	s := b.elf.Section(".symtab")
	if s == nil {
		return nil, nil, errors.New("no .symtab")
	}
	if s.Link >= uint32(len(b.elf.Sections)) {
		return nil, nil, fmt.Errorf("string table section %d does not exist", s.Link)
	}
	if syms, err = b.sectionData(s); err != nil {
		return nil, nil, err
	}
	if strs, err = b.sectionData(b.elf.Sections[s.Link]); err != nil {
		return nil, nil, err
	}
	return syms, strs, nil
}

func (t *symtab) lookup(name string) (addr, end uint64, err error) {
	i, err := t.index.lookup(name)
	if err != nil {
		return 0, 0, err
	}
	e := t.syms[i*sym64Size:]
	addr = binary.LittleEndian.Uint64(e[8:])
	return addr, addr + binary.LittleEndian.Uint64(e[16:]), nil
}

// pclntab reads the function table the Go runtime keeps for stack traces:
// https://go.dev/s/go12symtab, with the header and functab layouts of
// runtime/symtab.go (pcHeader, functab) for Go 1.16-1.17 and 1.18+. It reads
// only entry addresses and names, so a lookup touches the functab and the
// name table, never the line tables that make up most of it.
//
// debug/gosym reads the same table but materialises every function, which
// costs about a second and a gigabyte of heap on a 700 MB binary.
type pclntab struct {
	functab   []byte // nfunc+1 (entry, funcoff) pairs, then the _func records
	funcnames []byte
	nfunc     uint32
	fieldSize uint64 // functab field: a pointer before Go 1.18, uint32 from 1.18
	textStart uint64 // entries are offsets from here from Go 1.18 on
	index     *nameIndex
}

const (
	pcln116Magic = 0xfffffffa // Go 1.16, 1.17
	pcln118Magic = 0xfffffff0 // Go 1.18, 1.19
	pcln120Magic = 0xfffffff1 // Go 1.20+
)

var errBadPclntab = errors.New("malformed function table")

func (b *Binary) loadPclntab() (*pclntab, error) {
	data, err := b.section(".gopclntab")
	if err != nil {
		return nil, err
	}
	if len(data) < 8 || data[7] != 8 {
		return nil, fmt.Errorf("%w: no 64-bit header", errBadPclntab)
	}
	le := binary.LittleEndian
	word := func(i int) uint64 {
		if 8+8*i+8 > len(data) {
			return 0
		}
		return le.Uint64(data[8+8*i:])
	}
	t := &pclntab{nfunc: uint32(word(0))}
	var nameOff, funcOff uint64
	switch le.Uint32(data) {
	case pcln116Magic:
		t.fieldSize = 8
		nameOff, funcOff = word(2), word(6)
	case pcln118Magic, pcln120Magic:
		t.fieldSize = 4
		nameOff, funcOff = word(3), word(7)
		pcln := b.elf.Section(".gopclntab").Addr
		if t.textStart, err = b.runtimeText(pcln, pcln+nameOff); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("%w: unknown magic %#x", errBadPclntab, le.Uint32(data))
	}
	if nameOff == 0 || nameOff >= uint64(len(data)) || funcOff >= uint64(len(data)) ||
		(2*uint64(t.nfunc)+1)*t.fieldSize > uint64(len(data))-funcOff {
		return nil, fmt.Errorf("%w: header out of range", errBadPclntab)
	}
	t.funcnames = data[nameOff:]
	t.functab = data[funcOff:]
	t.index = newNameIndex(int(t.nfunc), t.name)
	for i := range t.nfunc {
		t.index.add(i)
	}
	return t, nil
}

func (t *pclntab) field(i uint64) uint64 {
	if t.fieldSize == 4 {
		return uint64(binary.LittleEndian.Uint32(t.functab[i*4:]))
	}
	return binary.LittleEndian.Uint64(t.functab[i*8:])
}

// entry is the address of function i; entry(nfunc) is the end of the last.
func (t *pclntab) entry(i uint32) uint64 { return t.textStart + t.field(2*uint64(i)) }

// name reads _func.nameOff, the int32 after the entry field.
func (t *pclntab) name(i uint32) []byte {
	off := t.field(2*uint64(i)+1) + t.fieldSize
	if off+4 > uint64(len(t.functab)) {
		return nil
	}
	return cstring(t.funcnames, uint64(binary.LittleEndian.Uint32(t.functab[off:])))
}

// lookup gives [entry, next entry): the range includes the INT3 padding up to
// the next function, which decodes as whole instructions.
func (t *pclntab) lookup(name string) (addr, end uint64, err error) {
	i, err := t.index.lookup(name)
	if err != nil {
		return 0, 0, err
	}
	return t.entry(i), t.entry(i + 1), nil
}

// runtimeText finds runtime.text, which Go 1.18+ function entries are offsets
// from. It is not always where .text starts (debug/gosym's assumption): an
// external linker puts C start-up code first, and the pclntab header's copy
// is left zero. The runtime reads it from its moduledata, so do the same:
// find the moduledata by its first two words, pointers to the pclntab header
// and to the function name table, and read its text field.
// See moduledata in runtime/symtab.go.
func (b *Binary) runtimeText(pcln, names uint64) (uint64, error) {
	const textWord = 22 // moduledata.text, Go 1.16 to 1.27 at least
	words := b.pointerWords()
	for _, at := range words.find(pcln) {
		if v, ok := words.at(at + 8); ok && v == names {
			if text, ok := words.at(at + 8*textWord); ok && text != 0 {
				return text, nil
			}
		}
	}
	return 0, errors.New("locating runtime.text: no moduledata found")
}

// pointerWords reads pointer-sized words of initialised data as they are at
// run time: in a position-independent executable a pointer is the addend of
// an R_X86_64_RELATIVE relocation, and the file holds zero.
type pointerWords struct {
	b    *Binary
	rela []byte // Elf64_Rela entries of .rela.dyn
}

const rela64Size = 24

func (b *Binary) pointerWords() pointerWords {
	w := pointerWords{b: b}
	if b.elf.Type == elf.ET_DYN {
		w.rela, _ = b.section(".rela.dyn")
	}
	return w
}

func (w pointerWords) relative(fn func(off, addend uint64) bool) {
	le := binary.LittleEndian
	for e := w.rela; len(e) >= rela64Size; e = e[rela64Size:] {
		if elf.R_X86_64(le.Uint64(e[8:])&0xffffffff) == elf.R_X86_64_RELATIVE &&
			!fn(le.Uint64(e), le.Uint64(e[16:])) {
			return
		}
	}
}

// find returns the addresses of words holding v.
func (w pointerWords) find(v uint64) []uint64 {
	var addrs []uint64
	w.relative(func(off, addend uint64) bool {
		if addend == v {
			addrs = append(addrs, off)
		}
		return true
	})
	for _, s := range w.b.elf.Sections {
		if s.Type != elf.SHT_PROGBITS || s.Flags&elf.SHF_WRITE == 0 {
			continue
		}
		data, err := w.b.sectionData(s)
		if err != nil {
			continue
		}
		for i := 0; i+8 <= len(data); i += 8 {
			if binary.LittleEndian.Uint64(data[i:]) == v {
				addrs = append(addrs, s.Addr+uint64(i))
			}
		}
	}
	return addrs
}

// at reads the word at addr.
func (w pointerWords) at(addr uint64) (uint64, bool) {
	var v uint64
	found := false
	w.relative(func(off, addend uint64) bool {
		if off == addr {
			v, found = addend, true
		}
		return !found
	})
	if found {
		return v, true
	}
	off, err := w.b.fileOffset(addr, 0)
	if err != nil || off+8 > uint64(len(w.b.data)) {
		return 0, false
	}
	return binary.LittleEndian.Uint64(w.b.data[off:]), true
}

// Funcs lists the functions whose symbol name satisfies match, from the
// same table Func reads. Names are as that table spells them: .symtab has
// the full names of generic instances ("main.Sum[go.shape.int]"),
// .gopclntab (stripped binaries) shortens their type arguments to "[...]",
// so several instances may share a name there. A name that several
// non-generic entries share (a function and its ABI wrapper, see
// nameIndex.lookup) is left out: only one of them takes its arguments in
// registers, and the table cannot tell which.
func (b *Binary) Funcs(match func(name string) bool) ([]Func, error) {
	var fns []Func
	err := b.read(func() error {
		if err := b.loadFuncsOnce(); err != nil {
			return err
		}
		var err error
		b.funcs.each(func(name []byte, addr, end uint64) bool {
			s := string(name)
			if !match(s) {
				return true
			}
			if !bytes.Contains(name, []byte("[...]")) {
				if _, _, lerr := b.funcs.lookup(s); lerr != nil {
					return true // ambiguous
				}
			}
			off, ferr := b.fileOffset(addr, elf.PF_X)
			if ferr != nil {
				err = fmt.Errorf("function %s: %w", s, ferr)
				return false
			}
			fns = append(fns, Func{Name: s, Addr: addr, End: end, Offset: off})
			return true
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("listing functions of %s: %w", b.Path, err)
	}
	return fns, nil
}

func (t *symtab) each(fn func(name []byte, addr, end uint64) bool) {
	for _, s := range t.index.slots {
		if s == 0 {
			continue
		}
		e := t.syms[(s-1)*sym64Size:]
		addr := binary.LittleEndian.Uint64(e[8:])
		if !fn(t.index.name(s-1), addr, addr+binary.LittleEndian.Uint64(e[16:])) {
			return
		}
	}
}

func (t *pclntab) each(fn func(name []byte, addr, end uint64) bool) {
	for i := range t.nfunc {
		if !fn(t.name(i), t.entry(i), t.entry(i+1)) {
			return
		}
	}
}
