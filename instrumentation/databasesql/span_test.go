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
	env := &probe.Env{Target: typeNames{0x10: "database/sql.dsnConnector", 0x20: "*github.com/mattn/go-sqlite3.SQLiteDriver"}, RawQueryText: true}
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
