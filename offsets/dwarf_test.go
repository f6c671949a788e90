package offsets

import (
	"bufio"
	"debug/dwarf"
	"net/http"
	"net/url"
	"reflect"
	"testing"
	"unsafe"
)

func TestReadStructs(t *testing.T) {
	d := buildTestProgram(t)

	var s testSample
	// reflectOffset works for unexported fields of exported types too, in
	// this process built by the same toolchain as the test binary.
	reflectOffset := func(v any, field string) uint64 {
		f, ok := reflect.TypeOf(v).FieldByName(field)
		if !ok {
			t.Fatalf("%T has no field %s", v, field)
		}
		return uint64(f.Offset)
	}
	tests := []struct {
		name   string
		strukt string
		field  string
		want   uint64
	}{
		{"own struct first field", "main.sample", "A", uint64(unsafe.Offsetof(s.A))},
		{"own struct padded field", "main.sample", "B", uint64(unsafe.Offsetof(s.B))},
		{"own struct string", "main.sample", "C", uint64(unsafe.Offsetof(s.C))},
		{"own struct unexported array", "main.sample", "d", uint64(unsafe.Offsetof(s.d))},
		{"own struct pointer", "main.sample", "E", uint64(unsafe.Offsetof(s.E))},
		{"own struct unexported bool", "main.sample", "f", uint64(unsafe.Offsetof(s.f))},
		{"own struct slice", "main.sample", "G", uint64(unsafe.Offsetof(s.G))},
		{"bufio.Reader.buf by reflect", "bufio.Reader", "buf", reflectOffset(bufio.Reader{}, "buf")},
		{"bufio.Reader.r by reflect", "bufio.Reader", "r", reflectOffset(bufio.Reader{}, "r")},
		{"net/url.URL.Path by reflect", "net/url.URL", "Path", reflectOffset(url.URL{}, "Path")},
		{"net/http.Request.RemoteAddr by reflect", "net/http.Request", "RemoteAddr", reflectOffset(http.Request{}, "RemoteAddr")},
		{"net/http.Request.Host by reflect", "net/http.Request", "Host", reflectOffset(http.Request{}, "Host")},
		{"net/http.Request.ProtoMinor by reflect", "net/http.Request", "ProtoMinor", reflectOffset(http.Request{}, "ProtoMinor")},
		// Unexported types: facts that have held in every release.
		{"net/http.Request.Method is first", "net/http.Request", "Method", 0},
		{"net/http.Request.URL follows a string", "net/http.Request", "URL", 16},
		{"net/url.URL.Scheme is first", "net/url.URL", "Scheme", 0},
		{"net/http.response.conn is first", "net/http.response", "conn", 0},
		{"net/http.response.req follows a pointer", "net/http.response", "req", 8},
		{"net/http.conn.server is first", "net/http.conn", "server", 0},
		{"runtime.g.stack is first", "runtime.g", "stack", 0},
	}
	var names []string
	for _, tt := range tests {
		names = append(names, tt.strukt)
	}
	got, err := ReadStructs(d, names)
	if err != nil {
		t.Fatalf("ReadStructs: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, ok := got[tt.strukt]
			if !ok {
				t.Fatalf("struct %s not found", tt.strukt)
			}
			off, ok := l.Fields[tt.field]
			if !ok {
				t.Fatalf("%s has no field %s; fields: %v", tt.strukt, tt.field, l.Fields)
			}
			if off != tt.want {
				t.Errorf("%s.%s at %d, want %d", tt.strukt, tt.field, off, tt.want)
			}
		})
	}

	t.Run("struct size", func(t *testing.T) {
		if got, want := got["main.sample"].Size, int64(unsafe.Sizeof(s)); got != want {
			t.Errorf("main.sample size %d, want %d", got, want)
		}
		if got, want := got["bufio.Reader"].Size, int64(unsafe.Sizeof(bufio.Reader{})); got != want {
			t.Errorf("bufio.Reader size %d, want %d", got, want)
		}
	})
	t.Run("goid exists", func(t *testing.T) {
		if off, ok := got["runtime.g"].Fields["goid"]; !ok || off == 0 {
			t.Errorf("runtime.g.goid = %d, %v; want a non-zero offset", off, ok)
		}
	})
}

func TestReadStructsMissing(t *testing.T) {
	d := buildTestProgram(t)
	tests := []struct {
		name  string
		names []string
		want  []string
	}{
		{"none wanted", nil, nil},
		{"unknown struct", []string{"example.invalid/nope.T"}, nil},
		{"non-struct type", []string{"net/http.Header"}, nil},
		{"mixed", []string{"runtime.g", "example.invalid/nope.T", "runtime.g"}, []string{"runtime.g"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadStructs(d, tt.names)
			if err != nil {
				t.Fatalf("ReadStructs: %v", err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("found %d structs, want %d (%v)", len(got), len(tt.want), tt.want)
			}
			for _, n := range tt.want {
				if _, ok := got[n]; !ok {
					t.Errorf("struct %s not found", n)
				}
			}
		})
	}
	t.Run("nil DWARF", func(t *testing.T) {
		if _, err := ReadStructs(nil, []string{"runtime.g"}); err == nil {
			t.Error("ReadStructs(nil) succeeded, want an error")
		}
	})
}

func TestMemberOffsetForms(t *testing.T) {
	tests := []struct {
		name    string
		val     any
		want    uint64
		wantErr bool
	}{
		{"constant", int64(24), 24, false},
		{"plus_uconst one byte", []byte{0x23, 0x10}, 16, false},
		{"plus_uconst two bytes", []byte{0x23, 0x80, 0x01}, 128, false},
		{"truncated", []byte{0x23, 0x80}, 0, true},
		{"other op", []byte{0x10, 0x01}, 0, true},
		{"negative", int64(-1), 0, true},
		{"missing", nil, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &dwarf.Entry{Tag: dwarf.TagMember}
			if tt.val != nil {
				e.Field = []dwarf.Field{{Attr: dwarf.AttrDataMemberLoc, Val: tt.val}}
			}
			got, err := memberOffset(e)
			if (err != nil) != tt.wantErr {
				t.Fatalf("memberOffset error = %v, want error %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("memberOffset = %d, want %d", got, tt.want)
			}
		})
	}
}

// BenchmarkReadStructs compares ReadStructs with the baseline it replaces:
// decoding every DWARF entry once.
func BenchmarkReadStructs(b *testing.B) {
	d := buildTestProgram(b)
	var names []string
	for _, f := range Fields() {
		names = append(names, f.Struct())
	}
	b.Run("read_structs", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			got, err := ReadStructs(d, names)
			if err != nil || len(got) == 0 {
				b.Fatalf("ReadStructs: %d structs, %v", len(got), err)
			}
		}
	})
	b.Run("baseline_full_walk", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			r := d.Reader()
			for {
				e, err := r.Next()
				if err != nil {
					b.Fatal(err)
				}
				if e == nil {
					break
				}
			}
		}
	})
}
