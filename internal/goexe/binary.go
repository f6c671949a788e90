package goexe

import (
	"bytes"
	"debug/buildinfo"
	"debug/dwarf"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
	"runtime/debug"
	"sync"
	"syscall"
)

// Errors a caller can act on; check them with errors.Is.
var (
	ErrNotELF               = errors.New("not an ELF file")
	ErrUnsupportedArch      = errors.New("unsupported architecture")
	ErrNotGoBinary          = errors.New("not a Go binary")
	ErrUnsupportedGoVersion = errors.New("unsupported Go version")
	ErrSymbolNotFound       = errors.New("symbol not found")
	ErrNoDWARF              = errors.New("no DWARF debug info")
)

var errClosed = errors.New("binary is closed")

// Binary is an opened Go executable. Its methods are safe for concurrent use.
type Binary struct {
	Path      string
	GoVersion Version
	Modules   map[string]string // module path -> version, from build info (main module + deps)
	MainPath  string            // main package path from build info
	HasSymtab bool              // .symtab present (not linked with -s)
	HasDWARF  bool              // .debug_info or .zdebug_info present (not linked with -w)
	PIE       bool              // position-independent (-buildmode=pie): loaded at an address of the kernel's choosing

	// mu guards data: readers hold it while they touch the mapping, so
	// Close cannot unmap memory under them.
	mu   sync.RWMutex
	data []byte // the whole file, mapped read-only
	elf  *elf.File

	funcsOnce sync.Once
	funcs     funcTable
	funcsErr  error

	typesMu   sync.Mutex
	typeNames map[uint64]string // TypeName's answers

	typesBaseOnce sync.Once
	typesBaseAddr uint64 // typesBase's answer

	dwarfOnce sync.Once
	dwarf     *dwarf.Data
	dwarfErr  error
}

// Open maps the executable at path and checks that spanprobe can trace it:
// an amd64 ELF file carrying Go build info from Go 1.17 or newer. Otherwise
// the error wraps ErrNotELF, ErrUnsupportedArch, ErrNotGoBinary or
// ErrUnsupportedGoVersion and says what to do.
func Open(path string) (*Binary, error) {
	data, err := mapFile(path)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	b := &Binary{Path: path, data: data}
	if err := guard(b.init); err != nil {
		return nil, errors.Join(fmt.Errorf("opening %s: %w", path, err), b.Close())
	}
	return b, nil
}

// mapFile maps a file read-only. A mapping instead of reads keeps large
// binaries cheap: symbol lookups touch a few pages of a table that may be
// hundreds of megabytes, and page-cache pages cost no heap.
func mapFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // Open names the path already
		}
		return nil, err
	}
	defer f.Close()
	var magic [len(elf.ELFMAG)]byte
	if _, err := f.ReadAt(magic[:], 0); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: point spanprobe at a Go executable", ErrNotELF)
		}
		return nil, err
	}
	if string(magic[:]) != elf.ELFMAG {
		return nil, fmt.Errorf("%w: point spanprobe at a Go executable", ErrNotELF)
	}
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() != int64(int(st.Size())) {
		return nil, fmt.Errorf("mapping %d bytes: file too large", st.Size())
	}
	data, err := syscall.Mmap(int(f.Fd()), 0, int(st.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mapping: %w", err)
	}
	return data, nil
}

func (b *Binary) init() error {
	f, err := elf.NewFile(bytes.NewReader(b.data))
	if err != nil {
		return fmt.Errorf("%w (%v): point spanprobe at a Go executable", ErrNotELF, err)
	}
	b.elf = f
	// Everything below reads amd64 layouts: ELF64 little endian, and the
	// register ABI that probes read arguments from.
	if f.Machine != elf.EM_X86_64 {
		return fmt.Errorf("%w %v: rebuild with GOARCH=amd64", ErrUnsupportedArch, f.Machine)
	}
	if f.Class != elf.ELFCLASS64 || f.Data != elf.ELFDATA2LSB {
		return fmt.Errorf("%w %v %v %v: rebuild with GOARCH=amd64", ErrUnsupportedArch, f.Machine, f.Class, f.Data)
	}
	bi, err := buildinfo.Read(bytes.NewReader(b.data))
	if err != nil {
		return fmt.Errorf("%w (no Go build info): spanprobe traces programs built with Go 1.17 or newer", ErrNotGoBinary)
	}
	if b.GoVersion, err = checkVersion(bi.GoVersion); err != nil {
		return err
	}
	b.MainPath = bi.Path
	b.Modules = modules(bi)
	b.HasSymtab = f.Section(".symtab") != nil
	b.HasDWARF = f.Section(".debug_info") != nil || f.Section(".zdebug_info") != nil
	b.PIE = f.Type == elf.ET_DYN
	return nil
}

// modules maps each module path to the version that was compiled in. A
// replaced module keeps its own path (that is the import path in symbol
// names) with the replacement's version; a replacement by a local directory
// has no version and is reported as "(devel)", like a main module built from
// source.
func modules(bi *debug.BuildInfo) map[string]string {
	m := make(map[string]string, len(bi.Deps)+1)
	if bi.Main.Path != "" {
		m[bi.Main.Path] = bi.Main.Version
	}
	for _, d := range bi.Deps {
		v := d.Version
		if d.Replace != nil {
			v = d.Replace.Version
			if v == "" {
				v = "(devel)"
			}
		}
		m[d.Path] = v
	}
	return m
}

// Close unmaps the file. It is idempotent; later calls of other methods fail.
func (b *Binary) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.data == nil {
		return nil
	}
	err := syscall.Munmap(b.data)
	b.data = nil
	b.elf = nil
	if err != nil {
		return fmt.Errorf("unmapping %s: %w", b.Path, err)
	}
	return nil
}

// ReleasePages gives back the pages of the file that reading it made
// resident; they stay in the page cache, and a later read faults them in
// again. Finding probe sites reads tables spread over the whole binary
// (12 MB of a 116 MB one); afterwards only a type name is looked up now
// and then. Where type names live is settled first: finding it may read
// the symbol table, which should not come back into memory later.
func (b *Binary) ReleasePages() error {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.data == nil {
		return nil
	}
	if err := guard(func() error { b.typesBase(); return nil }); err != nil {
		return fmt.Errorf("reading %s: %w", b.Path, err)
	}
	if err := syscall.Madvise(b.data, syscall.MADV_DONTNEED); err != nil {
		return fmt.Errorf("releasing pages of %s: %w", b.Path, err)
	}
	return nil
}

// DWARF loads the debug info on first use. Stripped binaries (-w) give an
// error wrapping ErrNoDWARF.
func (b *Binary) DWARF() (*dwarf.Data, error) {
	b.dwarfOnce.Do(func() {
		if !b.HasDWARF {
			b.dwarfErr = fmt.Errorf("loading DWARF of %s: %w (linked with -w)", b.Path, ErrNoDWARF)
			return
		}
		b.dwarfErr = b.read(func() error {
			// debug/elf copies the sections out of the mapping, so the
			// result stays valid after Close.
			d, err := b.elf.DWARF()
			if err != nil {
				return fmt.Errorf("loading DWARF of %s: %w", b.Path, err)
			}
			b.dwarf = d
			return nil
		})
	})
	return b.dwarf, b.dwarfErr
}

// read runs fn while the mapping cannot go away.
func (b *Binary) read(fn func() error) error {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.data == nil {
		return fmt.Errorf("reading %s: %w", b.Path, errClosed)
	}
	return guard(fn)
}

// guard turns a fault on the mapping into an error. The file can be
// truncated while mapped (an in-place `cp` over a binary that is not
// running); touching a page past the new end raises SIGBUS, which would
// otherwise kill the agent.
func guard(fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			re, ok := r.(runtime.Error)
			if !ok {
				panic(r)
			}
			err = fmt.Errorf("reading mapped file (changed on disk?): %w", re)
		}
	}()
	return fn()
}

// section returns the bytes of the named section in the mapping, or nil if
// there is no such section.
func (b *Binary) section(name string) ([]byte, error) {
	s := b.elf.Section(name)
	if s == nil {
		return nil, nil
	}
	return b.sectionData(s)
}

func (b *Binary) sectionData(s *elf.Section) ([]byte, error) {
	if s.Type == elf.SHT_NOBITS || s.Flags&elf.SHF_COMPRESSED != 0 {
		return nil, fmt.Errorf("section %s has no plain file contents", s.Name)
	}
	end := s.Offset + s.Size
	if end < s.Offset || end > uint64(len(b.data)) {
		return nil, fmt.Errorf("section %s [%#x,%#x) is outside the file", s.Name, s.Offset, end)
	}
	return b.data[s.Offset:end:end], nil
}

// fileOffset maps a virtual address to its offset in the file, which is what
// uprobes are attached by. The loadable segment holding it must have flags
// set: code is probed only where it is mapped executable.
func (b *Binary) fileOffset(addr uint64, flags elf.ProgFlag) (uint64, error) {
	for _, p := range b.elf.Progs {
		if p.Type == elf.PT_LOAD && addr >= p.Vaddr && addr-p.Vaddr < p.Filesz {
			if p.Flags&flags != flags {
				return 0, fmt.Errorf("address %#x is in a segment mapped %v, want %v", addr, p.Flags, flags)
			}
			return addr - p.Vaddr + p.Off, nil
		}
	}
	return 0, fmt.Errorf("address %#x is in no loadable segment", addr)
}
