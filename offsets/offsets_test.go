package offsets

import (
	"errors"
	"runtime"
	"sort"
	"strings"
	"testing"
)

func TestFieldsRegistry(t *testing.T) {
	fs := Fields()
	keys := make([]string, len(fs))
	for i, f := range fs {
		keys[i] = f.Key()
		if f.Module == "" || f.Package == "" || f.Type == "" || f.Name == "" || strings.Contains(f.Name, ".") {
			t.Errorf("field %+v is incomplete", f)
		}
		s, name, ok := structOfKey(f.Key())
		if !ok || s != f.Struct() || name != f.Name {
			t.Errorf("structOfKey(%s) = %s, %s, %v", f.Key(), s, name, ok)
		}
	}
	if !sort.StringsAreSorted(keys) {
		t.Errorf("fields are not sorted by key: %v", keys)
	}
	for i := 1; i < len(keys); i++ {
		if keys[i] == keys[i-1] {
			t.Errorf("key %s registered twice", keys[i])
		}
	}
	// The contract's keys, spelled out so that renaming one fails here.
	for _, k := range []string{
		"runtime.g.goid", "net/http.Request.Method", "net/http.Request.URL",
		"net/http.Request.ProtoMajor", "net/http.Request.ProtoMinor", "net/http.Request.Host",
		"net/http.Request.RemoteAddr", "net/http.Request.TLS", "net/http.Request.pat", "net/http.Request.Pattern",
		"net/http.pattern.str", "net/url.URL.Scheme", "net/url.URL.Path",
		"net/http.response.conn", "net/http.response.req", "net/http.response.status",
		"net/http.response.wroteHeader", "net/http.conn.bufr", "bufio.Reader.buf", "bufio.Reader.r",
	} {
		if _, ok := FieldByKey(k); !ok {
			t.Errorf("key %s is not registered", k)
		}
	}
}

func TestResolverErrors(t *testing.T) {
	tab, err := ParseTable([]byte(sampleEncoded))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		version    string
		key        string
		wantAbsent bool
		wantText   []string
	}{
		{"version not in table, no DWARF", "go1.19.2", "runtime.g.goid", false,
			[]string{"runtime.g.goid", "go1.19.2", "make offsets", "no DWARF"}},
		{"key not measured, no DWARF", "go1.20", "bufio.Reader.r", false,
			[]string{"bufio.Reader.r", "go1.20", "make offsets"}},
		{"unregistered key", "go1.22.12", "net/http.Request.nope", false,
			[]string{"net/http.Request.nope", "go1.22.12", "make offsets"}},
		{"malformed key", "go1.22.12", "nodots", false, []string{"nodots", "malformed"}},
		{"pre-release", "go1.23rc1", "runtime.g.goid", false, []string{"go1.23rc1", "make offsets"}},
		{"field absent in version", "go1.18.10", "net/http.Request.pat", true,
			[]string{"net/http.Request.pat", "go1.18.10", "does not exist"}},
		{"module version unknown", "go1.22.12", "github.com/lib/pq.conn.c", false,
			[]string{"github.com/lib/pq of unknown version", "make offsets"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewResolver(tab, map[string]string{StdModule: tt.version}, nil)
			off, src, err := r.Lookup(tt.key)
			if !errors.Is(err, ErrUnknownOffset) {
				t.Fatalf("Lookup(%s) = %d, %q, %v; want an error wrapping ErrUnknownOffset", tt.key, off, src, err)
			}
			if got := errors.Is(err, ErrFieldAbsent); got != tt.wantAbsent {
				t.Errorf("errors.Is(err, ErrFieldAbsent) = %v, want %v (err: %v)", got, tt.wantAbsent, err)
			}
			for _, s := range tt.wantText {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
			if _, err2 := r.Offset(tt.key); err2 == nil || err2.Error() != err.Error() {
				t.Errorf("Offset error %v differs from Lookup error %v", err2, err)
			}
			if s := r.Source(tt.key); s != SourceNone {
				t.Errorf("Source = %q, want none", s)
			}
		})
	}
}

func TestResolverTableHit(t *testing.T) {
	tab, err := ParseTable([]byte(sampleEncoded))
	if err != nil {
		t.Fatal(err)
	}
	r := NewResolver(tab, map[string]string{StdModule: "go1.22.12", "github.com/lib/pq": "v1.2.0"}, nil)
	tests := []struct {
		key  string
		want uint64
	}{
		{"runtime.g.goid", 160},
		{"net/http.Request.pat", 248},
		{"github.com/lib/pq.conn.c", 8},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			off, src, err := r.Lookup(tt.key)
			if err != nil || off != tt.want || src != SourceTable {
				t.Errorf("Lookup = %d, %q, %v; want %d from the table", off, src, err, tt.want)
			}
			if s := SourceOf(r, tt.key); s != SourceTable {
				t.Errorf("SourceOf = %q, want table", s)
			}
		})
	}
}

// TestResolverDWARFFallback resolves with an empty table so every answer
// must come from the binary's DWARF.
func TestResolverDWARFFallback(t *testing.T) {
	d := buildTestProgram(t)
	r := NewResolver(NewTable(), map[string]string{StdModule: runtime.Version()}, d)
	tests := []struct {
		name       string
		key        string
		want       uint64
		wantErr    bool
		wantAbsent bool
	}{
		{"registered key", "net/http.Request.Method", 0, false, false},
		{"registered key, non-zero", "net/http.response.req", 8, false, false},
		{"unregistered key", "main.sample.A", 0, false, false},
		{"field missing from struct", "net/url.URL.Nope", 0, true, true},
		{"struct missing", "example.invalid/x.T.f", 0, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			off, src, err := r.Lookup(tt.key)
			if tt.wantErr {
				if !errors.Is(err, ErrUnknownOffset) || errors.Is(err, ErrFieldAbsent) != tt.wantAbsent {
					t.Fatalf("Lookup(%s) error = %v; want ErrUnknownOffset (absent: %v)", tt.key, err, tt.wantAbsent)
				}
				return
			}
			if err != nil || off != tt.want || src != SourceDWARF {
				t.Errorf("Lookup(%s) = %d, %q, %v; want %d from DWARF", tt.key, off, src, err, tt.want)
			}
		})
	}
}

// TestEmbeddedTableMatchesLocalToolchain checks the generator's output
// against a binary built now by the toolchain running the test.
func TestEmbeddedTableMatchesLocalToolchain(t *testing.T) {
	v := runtime.Version()
	tab, err := EmbeddedTable()
	if err != nil {
		t.Fatalf("embedded table: %v", err)
	}
	if !tab.HasVersion(StdModule, v) {
		t.Skipf("the embedded table has no entry for the local toolchain %s (has %v)", v, tab.Versions(StdModule))
	}
	d := buildTestProgram(t)
	fromDWARF := NewResolver(NewTable(), map[string]string{StdModule: v}, d)
	fromTable := ForBinary(v, nil)
	for _, f := range Fields() {
		if f.Module != StdModule {
			continue
		}
		t.Run(f.Key(), func(t *testing.T) {
			want, werr := fromDWARF.Offset(f.Key())
			got, gerr := fromTable.Offset(f.Key())
			switch {
			case werr != nil && errors.Is(werr, ErrFieldAbsent):
				if !errors.Is(gerr, ErrFieldAbsent) {
					t.Errorf("table says %d, %v; DWARF says the field does not exist", got, gerr)
				}
			case werr != nil:
				t.Fatalf("DWARF lookup: %v", werr)
			case gerr != nil || got != want:
				t.Errorf("table says %d, %v; DWARF says %d", got, gerr, want)
			}
		})
	}
}

func TestForBinaryPrefersTable(t *testing.T) {
	versions := KnownVersions(StdModule)
	if len(versions) == 0 {
		t.Fatal("the embedded table knows no Go versions")
	}
	// A binary's DWARF would also do, but the table answers first.
	r := ForBinary(versions[len(versions)-1], nil)
	off, err := r.Offset("net/http.Request.Method")
	if err != nil || off != 0 {
		t.Fatalf("Offset(net/http.Request.Method) = %d, %v; want 0", off, err)
	}
	if s := SourceOf(r, "net/http.Request.Method"); s != SourceTable {
		t.Errorf("source %q, want table", s)
	}
}

func TestCanonicalVersion(t *testing.T) {
	tests := []struct{ in, want string }{
		{"go1.20", "go1.20.0"},
		{"go1.22.3", "go1.22.3"},
		{"go1.23.4 X:boringcrypto", "go1.23.4"},
		{"go1.21rc2", "go1.21.0rc2"},
		{"v1.10.9", "v1.10.9"},
		{"v1.2.3+incompatible", "v1.2.3"},
		{"devel go1.27-abc", "devel go1.27-abc"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := canonicalVersion(tt.in); got != tt.want {
				t.Errorf("canonicalVersion(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// TestContextParentsAgree backs the context walk in bpf/include/common.h,
// which reads every context's parent at cancelCtx's offset: valueCtx must
// keep its parent at the same place in every release.
func TestContextParentsAgree(t *testing.T) {
	tab, err := EmbeddedTable()
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range tab.Versions(StdModule) {
		c, okC := tab.Lookup(StdModule, v, "context.cancelCtx.Context")
		val, okV := tab.Lookup(StdModule, v, "context.valueCtx.Context")
		if !okC || !okV || c != val {
			t.Errorf("%s: cancelCtx.Context at %d (%v), valueCtx.Context at %d (%v): want both, equal", v, c, okC, val, okV)
		}
	}
}
