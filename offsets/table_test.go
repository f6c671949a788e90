package offsets

import (
	"bytes"
	"math/rand"
	"strings"
	"testing"
)

type setOp struct {
	module, version, key string
	offset               uint64
	absent               bool
}

func apply(t *Table, ops []setOp) {
	for _, op := range ops {
		if op.absent {
			t.SetAbsent(op.module, op.version, op.key)
		} else {
			t.Set(op.module, op.version, op.key, op.offset)
		}
	}
}

var sampleOps = []setOp{
	{StdModule, "go1.17.13", "runtime.g.goid", 152, false},
	{StdModule, "go1.18.10", "runtime.g.goid", 152, false},
	{StdModule, "go1.20", "runtime.g.goid", 152, false},
	{StdModule, "go1.22.12", "runtime.g.goid", 160, false},
	{StdModule, "go1.23.12", "runtime.g.goid", 152, false},
	{StdModule, "go1.17.13", "net/http.Request.pat", 0, true},
	{StdModule, "go1.18.10", "net/http.Request.pat", 0, true},
	{StdModule, "go1.20", "net/http.Request.pat", 0, true},
	{StdModule, "go1.22.12", "net/http.Request.pat", 248, false},
	{StdModule, "go1.23.12", "net/http.Request.pat", 264, false},
	// measured before the key existed: go1.20 is not covered
	{StdModule, "go1.22.12", "bufio.Reader.r", 40, false},
	{StdModule, "go1.23.12", "bufio.Reader.r", 40, false},
	{StdModule, "go1.17.13", "bufio.Reader.r", 40, false},
	{"github.com/lib/pq", "v1.10.9", "github.com/lib/pq.conn.c", 0, false},
	{"github.com/lib/pq", "v1.2.0", "github.com/lib/pq.conn.c", 8, false},
}

// sampleEncoded is the canonical form of sampleOps; it pins the file format.
const sampleEncoded = `{"schema":1,"modules":{
"github.com/lib/pq":{"versions":["v1.2.0","v1.10.9"],"fields":{
"github.com/lib/pq.conn.c":[{"offset":8,"versions":["v1.2.0"]},{"offset":0,"versions":["v1.10.9"]}]
}},
"std":{"versions":["go1.17.13","go1.18.10","go1.20","go1.22.12","go1.23.12"],"fields":{
"bufio.Reader.r":[{"offset":40,"versions":["go1.17.13","go1.22.12..go1.23.12"]}],
"net/http.Request.pat":[{"absent":true,"versions":["go1.17.13..go1.20"]},{"offset":248,"versions":["go1.22.12"]},{"offset":264,"versions":["go1.23.12"]}],
"runtime.g.goid":[{"offset":152,"versions":["go1.17.13..go1.20","go1.23.12"]},{"offset":160,"versions":["go1.22.12"]}]
}}}}
`

func TestTableEncodeDeterministic(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 20; i++ {
		ops := append([]setOp(nil), sampleOps...)
		rng.Shuffle(len(ops), func(a, b int) { ops[a], ops[b] = ops[b], ops[a] })
		tab := NewTable()
		apply(tab, ops)
		var b bytes.Buffer
		if err := tab.Encode(&b); err != nil {
			t.Fatal(err)
		}
		if got := b.String(); got != sampleEncoded {
			t.Fatalf("insertion order %d encodes differently:\n%s\nwant:\n%s", i, got, sampleEncoded)
		}
	}
}

func TestTableRoundTrip(t *testing.T) {
	tab, err := ParseTable([]byte(sampleEncoded))
	if err != nil {
		t.Fatalf("ParseTable: %v", err)
	}
	var b bytes.Buffer
	if err := tab.Encode(&b); err != nil {
		t.Fatal(err)
	}
	if b.String() != sampleEncoded {
		t.Errorf("round trip changed the table:\n%s", b.String())
	}
	tests := []struct {
		name    string
		module  string
		version string
		key     string
		want    uint64
		status  lookupStatus
	}{
		{"inside a run", StdModule, "go1.18.10", "runtime.g.goid", 152, statusPresent},
		{"run end", StdModule, "go1.20", "runtime.g.goid", 152, statusPresent},
		{"other spelling of go1.20", StdModule, "go1.20.0", "runtime.g.goid", 152, statusPresent},
		{"experiment suffix", StdModule, "go1.22.12 X:boringcrypto", "runtime.g.goid", 160, statusPresent},
		{"absent", StdModule, "go1.18.10", "net/http.Request.pat", 0, statusAbsent},
		{"not measured for key", StdModule, "go1.20", "bufio.Reader.r", 0, statusUnknown},
		{"unlisted version inside a run", StdModule, "go1.19.13", "runtime.g.goid", 0, statusUnknown},
		{"unknown key", StdModule, "go1.20", "runtime.g.nope", 0, statusUnknown},
		{"other module", "github.com/lib/pq", "v1.10.9", "github.com/lib/pq.conn.c", 0, statusPresent},
		{"unknown module", "example.invalid/m", "v1.0.0", "x.T.f", 0, statusUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, st := tab.lookup(tt.module, tt.version, tt.key)
			if got != tt.want || st != tt.status {
				t.Errorf("lookup = %d, %v; want %d, %v", got, st, tt.want, tt.status)
			}
		})
	}
}

func TestParseTableRejects(t *testing.T) {
	tests := []struct {
		name string
		data string
		want string
	}{
		{"not json", `{`, "decoding"},
		{"wrong schema", `{"schema":2,"modules":{}}`, "schema 2"},
		{"unknown field", `{"schema":1,"modules":{},"extra":1}`, "unknown field"},
		{"run over unlisted version", `{"schema":1,"modules":{"std":{"versions":["go1.20"],"fields":{"a.T.f":[{"offset":1,"versions":["go1.21.0"]}]}}}}`, "not over listed versions"},
		{"reversed run", `{"schema":1,"modules":{"std":{"versions":["go1.20","go1.21.0"],"fields":{"a.T.f":[{"offset":1,"versions":["go1.21.0..go1.20"]}]}}}}`, "not over listed versions"},
		{"two values for a version", `{"schema":1,"modules":{"std":{"versions":["go1.20"],"fields":{"a.T.f":[{"offset":1,"versions":["go1.20"]},{"offset":2,"versions":["go1.20"]}]}}}}`, "two values"},
		{"offset and absent", `{"schema":1,"modules":{"std":{"versions":["go1.20"],"fields":{"a.T.f":[{"offset":1,"absent":true,"versions":["go1.20"]}]}}}}`, "exactly one"},
		{"duplicate version", `{"schema":1,"modules":{"std":{"versions":["go1.20","go1.20.0"],"fields":{}}}}`, "listed twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseTable([]byte(tt.data))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseTable error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestTableRemove(t *testing.T) {
	tab := NewTable()
	apply(tab, sampleOps)
	tab.RemoveVersion(StdModule, "go1.22.12")
	tab.RemoveKey(StdModule, "bufio.Reader.r")
	tab.RemoveVersion("github.com/lib/pq", "v1.2.0")
	tab.RemoveVersion("github.com/lib/pq", "v1.10.9")
	var b bytes.Buffer
	if err := tab.Encode(&b); err != nil {
		t.Fatal(err)
	}
	want := `{"schema":1,"modules":{
"std":{"versions":["go1.17.13","go1.18.10","go1.20","go1.23.12"],"fields":{
"net/http.Request.pat":[{"absent":true,"versions":["go1.17.13..go1.20"]},{"offset":264,"versions":["go1.23.12"]}],
"runtime.g.goid":[{"offset":152,"versions":["go1.17.13..go1.23.12"]}]
}}}}
`
	if b.String() != want {
		t.Errorf("after removals:\n%s\nwant:\n%s", b.String(), want)
	}
}

// The committed table must be in canonical form, so that regenerating an
// unchanged table gives no diff.
func TestEmbeddedTableCanonical(t *testing.T) {
	tab, err := EmbeddedTable()
	if err != nil {
		t.Fatalf("embedded table: %v", err)
	}
	var b bytes.Buffer
	if err := tab.Encode(&b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b.Bytes(), tableJSON) {
		t.Error("table.json is not in canonical form: regenerate with make offsets")
	}
	if len(tab.Versions(StdModule)) == 0 {
		t.Error("embedded table has no Go versions")
	}
}

func TestVersionOrder(t *testing.T) {
	ordered := []string{"go1.17.13", "go1.20rc1", "go1.20", "go1.20.1", "go1.21rc2", "go1.21rc10", "go1.21.0", "go1.22.3", "go1.100.0", "junk"}
	for i := range ordered {
		for j := range ordered {
			got := compareVersions(ordered[i], ordered[j])
			want := 0
			switch {
			case i < j:
				want = -1
			case i > j:
				want = 1
			}
			if got != want {
				t.Errorf("compareVersions(%s, %s) = %d, want %d", ordered[i], ordered[j], got, want)
			}
		}
	}
}
