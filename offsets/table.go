package offsets

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// tableSchema is bumped when the file format changes incompatibly.
const tableSchema = 1

// Table holds measured field offsets per module version. The zero value is
// not usable; use NewTable or ParseTable.
//
// For each module it knows a set of versions and, per key and version, either
// an offset or the fact that the field does not exist in that version. A
// (key, version) pair with neither was never measured.
type Table struct {
	modules map[string]*moduleTable
}

type moduleTable struct {
	// versions maps canonical version -> spelling as measured ("go1.20").
	versions map[string]string
	// entries maps key -> canonical version -> entry.
	entries map[string]map[string]entry
}

type entry struct {
	offset uint64
	absent bool
}

// NewTable returns an empty table.
func NewTable() *Table { return &Table{modules: make(map[string]*moduleTable)} }

func (t *Table) module(name string, create bool) *moduleTable {
	m := t.modules[name]
	if m == nil && create {
		m = &moduleTable{versions: make(map[string]string), entries: make(map[string]map[string]entry)}
		t.modules[name] = m
	}
	return m
}

// Set records the offset of key in version of module.
func (t *Table) Set(module, version, key string, offset uint64) {
	t.set(module, version, key, entry{offset: offset})
}

// SetAbsent records that key does not exist in version of module.
func (t *Table) SetAbsent(module, version, key string) {
	t.set(module, version, key, entry{absent: true})
}

func (t *Table) set(module, version, key string, e entry) {
	m := t.module(module, true)
	cv := canonicalVersion(version)
	if _, ok := m.versions[cv]; !ok {
		m.versions[cv] = version
	}
	byVersion := m.entries[key]
	if byVersion == nil {
		byVersion = make(map[string]entry)
		m.entries[key] = byVersion
	}
	byVersion[cv] = e
}

// RemoveVersion forgets everything measured for version of module.
func (t *Table) RemoveVersion(module, version string) {
	m := t.module(module, false)
	if m == nil {
		return
	}
	cv := canonicalVersion(version)
	delete(m.versions, cv)
	for key, byVersion := range m.entries {
		delete(byVersion, cv)
		if len(byVersion) == 0 {
			delete(m.entries, key)
		}
	}
	if len(m.versions) == 0 {
		delete(t.modules, module)
	}
}

// RemoveKey forgets every measurement of key in module.
func (t *Table) RemoveKey(module, key string) {
	if m := t.module(module, false); m != nil {
		delete(m.entries, key)
	}
}

// lookupStatus says what the table knows about one (key, version) pair.
type lookupStatus int

const (
	statusUnknown lookupStatus = iota // version or key not measured
	statusPresent
	statusAbsent // measured: the field does not exist in this version
)

func (t *Table) lookup(module, version, key string) (uint64, lookupStatus) {
	m := t.module(module, false)
	if m == nil {
		return 0, statusUnknown
	}
	e, ok := m.entries[key][canonicalVersion(version)]
	switch {
	case !ok:
		return 0, statusUnknown
	case e.absent:
		return 0, statusAbsent
	}
	return e.offset, statusPresent
}

// stablePatch returns the newest measured patch release of version's minor
// when version is a newer patch than every measured one and no key of the
// module changed across that minor's measured patches (at least two): the
// layout is then taken to carry over to the new patch. Otherwise "". Patch
// releases can change layouts (net/http.response did in go1.26.11), so one
// measured patch shows no history and is not enough.
func (t *Table) stablePatch(module, version string) string {
	m := t.module(module, false)
	v := parseVersion(version)
	if m == nil || !v.ok || v.pre != "" {
		return ""
	}
	var same []string
	for cv := range m.versions {
		pv := parseVersion(cv)
		if !pv.ok || pv.pre != "" || pv.nums[0] != v.nums[0] || pv.nums[1] != v.nums[1] {
			continue
		}
		if pv.nums[2] >= v.nums[2] {
			return "" // not newer than the table: a missing patch is not guessed
		}
		same = append(same, cv)
	}
	if len(same) < 2 {
		return ""
	}
	for _, byVersion := range m.entries {
		first, ok := byVersion[same[0]]
		for _, cv := range same[1:] {
			if e, ok2 := byVersion[cv]; ok2 != ok || e != first {
				return ""
			}
		}
	}
	slices.SortFunc(same, compareVersions)
	return same[len(same)-1]
}

// Lookup returns the offset of key in version of module. ok is false when
// the table has no offset for it: not measured, or the field does not exist
// in that version.
func (t *Table) Lookup(module, version, key string) (offset uint64, ok bool) {
	off, st := t.lookup(module, version, key)
	return off, st == statusPresent
}

// HasVersion reports whether version of module was measured for every key in
// keys (for all keys ever measured when keys is empty).
func (t *Table) HasVersion(module, version string, keys ...string) bool {
	m := t.module(module, false)
	if m == nil {
		return false
	}
	cv := canonicalVersion(version)
	if _, ok := m.versions[cv]; !ok {
		return false
	}
	for _, k := range keys {
		if _, ok := m.entries[k][cv]; !ok {
			return false
		}
	}
	return true
}

// Modules returns the modules in the table, sorted.
func (t *Table) Modules() []string {
	out := make([]string, 0, len(t.modules))
	for name := range t.modules {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// Versions returns the measured versions of module, oldest first, spelled as
// measured.
func (t *Table) Versions(module string) []string {
	m := t.module(module, false)
	if m == nil {
		return nil
	}
	return m.sortedVersions()
}

// Keys returns the keys measured for module, sorted.
func (t *Table) Keys(module string) []string {
	m := t.module(module, false)
	if m == nil {
		return nil
	}
	out := make([]string, 0, len(m.entries))
	for k := range m.entries {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (m *moduleTable) sortedVersions() []string {
	out := make([]string, 0, len(m.versions))
	for _, v := range m.versions {
		out = append(out, v)
	}
	slices.SortFunc(out, compareVersions)
	return out
}

// File format
//
// One line per key keeps diffs readable. Each key lists its distinct values
// (an offset, or "absent") in order of the first version having them, and
// for each value the versions as runs over the module's sorted version list:
// "go1.22.0..go1.22.12" means every *listed* version from go1.22.0 to
// go1.22.12, never a version the table does not list. A version missing from
// every run of a key was not measured for it.
//
//	{"schema":1,"modules":{
//	"std":{"versions":["go1.17.13",...],"fields":{
//	"bufio.Reader.buf":[{"offset":0,"versions":["go1.17.13..go1.27.4"]}],
//	...
//	}}}}

type fileTable struct {
	Schema  int                   `json:"schema"`
	Modules map[string]fileModule `json:"modules"`
}

type fileModule struct {
	Versions []string               `json:"versions"`
	Fields   map[string][]fileValue `json:"fields"`
}

type fileValue struct {
	Offset   *uint64  `json:"offset,omitempty"`
	Absent   bool     `json:"absent,omitempty"`
	Versions []string `json:"versions"`
}

const rangeSep = ".."

// Encode writes the table in its canonical form: the same table always
// gives the same bytes, whatever order it was filled in.
func (t *Table) Encode(w io.Writer) error {
	var b bytes.Buffer
	b.WriteString(`{"schema":` + strconv.Itoa(tableSchema) + `,"modules":{`)
	for i, name := range t.Modules() {
		m := t.modules[name]
		if i > 0 {
			b.WriteString(",")
		}
		versions := m.sortedVersions()
		b.WriteString("\n")
		writeJSONString(&b, name)
		b.WriteString(`:{"versions":[`)
		for j, v := range versions {
			if j > 0 {
				b.WriteString(",")
			}
			writeJSONString(&b, v)
		}
		b.WriteString(`],"fields":{`)
		for j, key := range t.Keys(name) {
			if j > 0 {
				b.WriteString(",")
			}
			b.WriteString("\n")
			writeJSONString(&b, key)
			b.WriteString(":[")
			for k, val := range m.runs(key, versions) {
				if k > 0 {
					b.WriteString(",")
				}
				if val.e.absent {
					b.WriteString(`{"absent":true,"versions":[`)
				} else {
					b.WriteString(`{"offset":` + strconv.FormatUint(val.e.offset, 10) + `,"versions":[`)
				}
				for l, r := range val.runs {
					if l > 0 {
						b.WriteString(",")
					}
					writeJSONString(&b, r)
				}
				b.WriteString("]}")
			}
			b.WriteString("]")
		}
		b.WriteString("\n}}")
	}
	b.WriteString("}}\n")
	_, err := w.Write(b.Bytes())
	return err
}

func writeJSONString(b *bytes.Buffer, s string) {
	q, _ := json.Marshal(s) // a string always marshals
	b.Write(q)
}

type valueRuns struct {
	e    entry
	runs []string
}

// runs groups the versions of key by value, as runs of consecutive listed
// versions, values ordered by their first version.
func (m *moduleTable) runs(key string, versions []string) []valueRuns {
	byVersion := m.entries[key]
	var out []valueRuns
	index := make(map[entry]int)
	for i := 0; i < len(versions); {
		e, ok := byVersion[canonicalVersion(versions[i])]
		if !ok {
			i++
			continue
		}
		j := i
		for j+1 < len(versions) {
			next, ok := byVersion[canonicalVersion(versions[j+1])]
			if !ok || next != e {
				break
			}
			j++
		}
		run := versions[i]
		if j > i {
			run += rangeSep + versions[j]
		}
		n, ok := index[e]
		if !ok {
			n = len(out)
			index[e] = n
			out = append(out, valueRuns{e: e})
		}
		out[n].runs = append(out[n].runs, run)
		i = j + 1
	}
	return out
}

// ParseTable reads a table written by Encode.
func ParseTable(data []byte) (*Table, error) {
	var f fileTable
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("decoding offsets table: %w", err)
	}
	if f.Schema != tableSchema {
		return nil, fmt.Errorf("decoding offsets table: schema %d, want %d", f.Schema, tableSchema)
	}
	t := NewTable()
	for name, fm := range f.Modules {
		if err := t.addModule(name, fm); err != nil {
			return nil, fmt.Errorf("decoding offsets table module %s: %w", name, err)
		}
	}
	return t, nil
}

func (t *Table) addModule(name string, fm fileModule) error {
	versions := slices.Clone(fm.Versions)
	slices.SortFunc(versions, compareVersions)
	index := make(map[string]int, len(versions))
	for i, v := range versions {
		cv := canonicalVersion(v)
		if _, dup := index[cv]; dup {
			return fmt.Errorf("version %s listed twice", v)
		}
		index[cv] = i
	}
	m := t.module(name, true)
	for _, v := range versions {
		m.versions[canonicalVersion(v)] = v
	}
	for key, values := range fm.Fields {
		byVersion := make(map[string]entry)
		for _, val := range values {
			if (val.Offset == nil) == !val.Absent {
				return fmt.Errorf("key %s: a value needs exactly one of offset and absent", key)
			}
			e := entry{absent: val.Absent}
			if val.Offset != nil {
				e.offset = *val.Offset
			}
			for _, run := range val.Versions {
				from, to, isRange := strings.Cut(run, rangeSep)
				if !isRange {
					to = from
				}
				i, ok1 := index[canonicalVersion(from)]
				j, ok2 := index[canonicalVersion(to)]
				if !ok1 || !ok2 || i > j {
					return fmt.Errorf("key %s: run %q is not over listed versions", key, run)
				}
				for _, v := range versions[i : j+1] {
					cv := canonicalVersion(v)
					if _, dup := byVersion[cv]; dup {
						return fmt.Errorf("key %s: version %s has two values", key, v)
					}
					byVersion[cv] = e
				}
			}
		}
		if len(byVersion) > 0 {
			m.entries[key] = byVersion
		}
	}
	return nil
}
