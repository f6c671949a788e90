package offsets

import (
	"bytes"
	"debug/dwarf"
	_ "embed"
	"errors"
	"fmt"
	"sync"
)

// ErrUnknownOffset is wrapped by every lookup that found no offset.
var ErrUnknownOffset = errors.New("unknown struct field offset")

// ErrFieldAbsent is wrapped by lookups of a field that is known not to exist
// in the target's version (net/http.Request.Pattern before go1.23). It wraps
// ErrUnknownOffset, so probes that only care whether they got an offset test
// for that; probes choosing between a field and its replacement test this.
var ErrFieldAbsent = fmt.Errorf("%w: field does not exist in this version", ErrUnknownOffset)

// Resolver returns field offsets for one target.
type Resolver interface {
	// Offset returns the offset of key ("net/http.Request.Method"). A
	// missing offset is an error wrapping ErrUnknownOffset.
	Offset(key string) (uint64, error)
}

// Source says where an offset came from.
type Source string

const (
	SourceNone  Source = ""      // no offset
	SourceTable Source = "table" // the embedded table, by exact version
	SourceDWARF Source = "dwarf" // the target's own DWARF
	// SourceNearestPatch is the table's newest patch of the same minor, for
	// a newer patch release whose minor never changed layout.
	SourceNearestPatch Source = "table-nearest-patch"
)

//go:embed table.json
var tableJSON []byte

var embedded = sync.OnceValues(func() (*Table, error) {
	return ParseTable(tableJSON)
})

// EmbeddedTable returns the table compiled into the agent. Callers must not
// modify it.
func EmbeddedTable() (*Table, error) { return embedded() }

// EmbeddedTableJSON returns the embedded table file, as generated.
func EmbeddedTableJSON() []byte { return bytes.Clone(tableJSON) }

// KnownVersions returns the versions of module (StdModule for Go versions)
// that the embedded table covers, oldest first.
func KnownVersions(module string) []string {
	t, err := embedded()
	if err != nil {
		return nil
	}
	return t.Versions(module)
}

// ForBinary returns the resolver for a Go binary built with goVersion
// ("go1.22.3", as in its build info) whose DWARF is d (nil when stripped).
// Lookups try the embedded table for the exact version first, then d, then,
// for a patch release newer than the table, the newest measured patch of the
// same minor when no patch of that minor changed any offset (NearestPatch
// tells when that happened, for a warning). The result is a *BinaryResolver.
func ForBinary(goVersion string, d *dwarf.Data) Resolver {
	t, err := embedded()
	r := NewResolver(t, map[string]string{StdModule: goVersion}, d)
	r.tableErr = err
	return r
}

// BinaryResolver resolves offsets from a table and a binary's DWARF. It is
// safe for concurrent use.
type BinaryResolver struct {
	table    *Table
	tableErr error
	versions map[string]string
	dwarf    *dwarf.Data

	mu       sync.Mutex
	nearest  string          // the stand-in version last used, see NearestPatch
	scanned  map[string]bool // struct names looked for in DWARF
	layouts  map[string]StructLayout
	dwarfErr error
}

// NewResolver returns a resolver using t (nil for none) for the module
// versions in versions (module path, or StdModule, -> version) and d (nil
// for none).
func NewResolver(t *Table, versions map[string]string, d *dwarf.Data) *BinaryResolver {
	if t == nil {
		t = NewTable()
	}
	v := make(map[string]string, len(versions))
	for m, ver := range versions {
		v[m] = ver
	}
	return &BinaryResolver{table: t, versions: v, dwarf: d}
}

func (r *BinaryResolver) noteNearest(v string) {
	r.mu.Lock()
	r.nearest = v
	r.mu.Unlock()
}

// NearestPatch names the measured release whose offsets stood in for the
// binary's unmeasured patch release, or "" when none did: the caller warns.
func (r *BinaryResolver) NearestPatch() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.nearest
}

// Offset implements Resolver.
func (r *BinaryResolver) Offset(key string) (uint64, error) {
	off, _, err := r.Lookup(key)
	return off, err
}

// Lookup is Offset that also tells where the answer came from, for logs.
func (r *BinaryResolver) Lookup(key string) (uint64, Source, error) {
	structName, fieldName, ok := structOfKey(key)
	if !ok {
		return 0, SourceNone, fmt.Errorf("looking up offset %q: %w: malformed key, want <import path>.<Type>.<field>", key, ErrUnknownOffset)
	}
	module := r.moduleOf(key)
	version := r.versions[module]
	where := describe(module, version)

	if version != "" {
		switch off, st := r.table.lookup(module, version, key); st {
		case statusPresent:
			return off, SourceTable, nil
		case statusAbsent:
			return 0, SourceTable, fmt.Errorf("looking up offset of %s in %s: %w", key, where, ErrFieldAbsent)
		}
	}

	if r.dwarf != nil {
		l, found, err := r.structLayout(structName)
		switch {
		case err != nil:
			return 0, SourceNone, fmt.Errorf("looking up offset of %s in %s: %w: not in the embedded table, and reading DWARF: %w (regenerate with make offsets)", key, where, ErrUnknownOffset, err)
		case found:
			if off, ok := l.Fields[fieldName]; ok {
				return off, SourceDWARF, nil
			}
			return 0, SourceDWARF, fmt.Errorf("looking up offset of %s in %s: %w (struct %s in DWARF has no such field)", key, where, ErrFieldAbsent, structName)
		}
	}

	if near := r.table.stablePatch(module, version); near != "" {
		switch off, st := r.table.lookup(module, near, key); st {
		case statusPresent:
			r.noteNearest(near)
			return off, SourceNearestPatch, nil
		case statusAbsent:
			r.noteNearest(near)
			return 0, SourceNearestPatch, fmt.Errorf("looking up offset of %s in %s (as %s): %w", key, where, near, ErrFieldAbsent)
		}
	}

	reason := "the binary has no DWARF"
	if r.dwarf != nil {
		reason = "its DWARF has no struct " + structName
	}
	if r.tableErr != nil {
		reason += ", and the embedded table is unreadable: " + r.tableErr.Error()
	}
	return 0, SourceNone, fmt.Errorf("looking up offset of %s in %s: %w: not in the embedded table and %s (regenerate with make offsets)", key, where, ErrUnknownOffset, reason)
}

// Source returns where the offset of key comes from, or SourceNone.
func (r *BinaryResolver) Source(key string) Source {
	_, src, err := r.Lookup(key)
	if err != nil {
		return SourceNone
	}
	return src
}

// SourceOf returns where r takes the offset of key from; SourceNone when it
// has none or r is not a *BinaryResolver.
func SourceOf(r Resolver, key string) Source {
	br, ok := r.(*BinaryResolver)
	if !ok {
		return SourceNone
	}
	return br.Source(key)
}

func describe(module, version string) string {
	switch {
	case version == "":
		return module + " of unknown version"
	case module == StdModule:
		return version
	}
	return module + " " + version
}

// moduleOf returns the module defining key: the registered field's, else
// the first table module that measured it, else the standard library.
func (r *BinaryResolver) moduleOf(key string) string {
	if f, ok := FieldByKey(key); ok {
		return f.Module
	}
	for _, m := range r.table.Modules() {
		if _, ok := r.table.module(m, false).entries[key]; ok {
			return m
		}
	}
	return StdModule
}

// structLayout reads DWARF on first use, for every registered struct at
// once plus the one asked for, so that a target needs one pass over its
// DWARF however many keys miss the table.
func (r *BinaryResolver) structLayout(name string) (StructLayout, bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.dwarfErr != nil {
		return StructLayout{}, false, r.dwarfErr
	}
	if !r.scanned[name] {
		names := []string{name}
		if r.scanned == nil {
			r.scanned = make(map[string]bool)
			r.layouts = make(map[string]StructLayout)
			for _, f := range fields {
				names = append(names, f.Struct())
			}
		}
		got, err := ReadStructs(r.dwarf, names)
		if err != nil {
			r.dwarfErr = err
			return StructLayout{}, false, err
		}
		for _, n := range names {
			r.scanned[n] = true
		}
		for n, l := range got {
			r.layouts[n] = l
		}
	}
	l, ok := r.layouts[name]
	return l, ok, nil
}
