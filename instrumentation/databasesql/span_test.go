package databasesql

import (
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/spanprobe/spanprobe/instrumentation/probe"
)

type typeNames map[uint64]string

func (m typeNames) TypeName(addr uint64) string { return m[addr] }

// TestDecode reads the statement from the text after the fixed part, and
// refuses a record whose length runs past its end.
func TestDecode(t *testing.T) {
	const q = "SELECT name FROM users WHERE id = 42"
	ev := databasesqlDbEvent{Call: uint32(databasesqlDbCallDB_CALL_QUERY), ConnType: 0x10, DriverType: 0x20, QueryLen: uint16(len(q)), TextLen: uint16(len(q))}
	env := &probe.Env{Target: typeNames{0x10: "database/sql.dsnConnector", 0x20: "*github.com/mattn/go-sqlite3.SQLiteDriver"}, QueryText: probe.QueryTextRaw}
	var s tracetest.SpanStub
	raw := probe.RecordBytes(&ev, q)
	if err := decode(raw, &s, env); err != nil {
		t.Fatal(err)
	}
	got := map[attribute.Key]string{}
	for _, kv := range s.Attributes {
		got[kv.Key] = kv.Value.Emit()
	}
	if got["db.query.text"] != q || got["db.operation.name"] != "SELECT" || got["db.collection.name"] != "users" {
		t.Errorf("attributes %v, want the statement %q, SELECT on users", got, q)
	}
	if s.Name != "SELECT users" {
		t.Errorf("name %q, want %q", s.Name, "SELECT users")
	}
	if err := decode(raw[:len(raw)-1], &s, env); err == nil {
		t.Error("decode accepted a record one byte shorter than its statement")
	}
	if err := decode(raw[:eventSize-1], &s, env); err == nil {
		t.Error("decode accepted a record shorter than its fixed part")
	}
}

// TestQueryTextModes: sanitized replaces the literal, off leaves the
// statement out but still names the operation and the collection.
func TestQueryTextModes(t *testing.T) {
	const q = "SELECT name FROM users WHERE id = 42"
	ev := databasesqlDbEvent{Call: uint32(databasesqlDbCallDB_CALL_QUERY), ConnType: 0x10, DriverType: 0x20, QueryLen: uint16(len(q)), TextLen: uint16(len(q))}
	names := typeNames{0x10: "database/sql.dsnConnector", 0x20: "*github.com/mattn/go-sqlite3.SQLiteDriver"}
	for _, tt := range []struct {
		mode probe.QueryText
		want string // db.query.text; "" for none
	}{
		{"", "SELECT name FROM users WHERE id = ?"},
		{probe.QueryTextSanitized, "SELECT name FROM users WHERE id = ?"},
		{probe.QueryTextOff, ""},
	} {
		var s tracetest.SpanStub
		if err := decode(probe.RecordBytes(&ev, q), &s, &probe.Env{Target: names, QueryText: tt.mode}); err != nil {
			t.Fatal(err)
		}
		got := map[attribute.Key]string{}
		for _, kv := range s.Attributes {
			got[kv.Key] = kv.Value.Emit()
		}
		if text, ok := got["db.query.text"]; text != tt.want || ok != (tt.want != "") {
			t.Errorf("%q: db.query.text %q (set %v), want %q", tt.mode, text, ok, tt.want)
		}
		if got["db.operation.name"] != "SELECT" || got["db.collection.name"] != "users" || s.Name != "SELECT users" {
			t.Errorf("%q: name %q, attributes %v, want SELECT on users", tt.mode, s.Name, got)
		}
	}
}
