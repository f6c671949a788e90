package databasesql

import (
	"go.opentelemetry.io/otel/sdk/instrumentation"

	"github.com/spanprobe/spanprobe/instrumentation/probe"
	"github.com/spanprobe/spanprobe/internal/goexe"
)

// Exit programs by result shape: the error's itab register follows the
// results before it.
const (
	retPtrError   = "uprobe_db_ret_ptr_error"   // (*Rows, error), (*Tx, error)
	retIfaceError = "uprobe_db_ret_iface_error" // (Result, error)
	retError      = "uprobe_db_ret_error"       // error
)

// probed lists every function with its entry program and exit shape, and
// whether it runs its statement through DB.retry (Go 1.20+). All keep
// their names and registers from Go 1.17 to 1.27 (TestGoVersionMatrix
// checks every minor).
var probed = []struct {
	symbol, entry, exit string
	retry               bool
}{
	{"database/sql.(*DB).QueryContext", "uprobe_DB_QueryContext", retPtrError, true},
	{"database/sql.(*DB).ExecContext", "uprobe_DB_ExecContext", retIfaceError, true},
	{"database/sql.(*DB).BeginTx", "uprobe_DB_BeginTx", retPtrError, true},
	{"database/sql.(*Conn).QueryContext", "uprobe_Conn_QueryContext", retPtrError, false},
	{"database/sql.(*Conn).ExecContext", "uprobe_Conn_ExecContext", retIfaceError, false},
	{"database/sql.(*Conn).BeginTx", "uprobe_Conn_BeginTx", retPtrError, false},
	{"database/sql.(*Tx).QueryContext", "uprobe_Tx_QueryContext", retPtrError, false},
	{"database/sql.(*Tx).ExecContext", "uprobe_Tx_ExecContext", retIfaceError, false},
	{"database/sql.(*Tx).Commit", "uprobe_Tx_Commit", retError, false},
	{"database/sql.(*Tx).Rollback", "uprobe_Tx_Rollback", retError, false},
	{"database/sql.(*Stmt).QueryContext", "uprobe_Stmt_QueryContext", retPtrError, true},
	{"database/sql.(*Stmt).ExecContext", "uprobe_Stmt_ExecContext", retIfaceError, true},
}

const retry = "database/sql.(*DB).retry"

var go117 = probe.GoRange{From: goexe.Version{Major: 1, Minor: 17}}

// probes pairs each function's entry with its exit: the test of the
// statement's error inside DB.retry for the calls that run through it (an
// emulated Jcc shared by all of them), else the function's RETs
// (single-stepped). A function the linker dropped (the program never calls
// it) is optional: it costs its spans only.
func probes() []probe.Probe {
	var ps []probe.Probe
	for _, p := range probed {
		exit := probe.Probe{Symbol: p.symbol, Program: p.exit, At: probe.AtReturns, Optional: true, Go: go117}
		if p.retry {
			rets := exit
			exit = probe.Probe{Symbol: p.symbol, Callee: retry, Program: "uprobe_db_retry_result", At: probe.AtResultTests,
				Cheap: true, Optional: true, Go: go117, Fallback: &rets}
		}
		ps = append(ps, probe.Probe{Symbol: p.symbol, Program: p.entry, At: probe.AtEntry, Optional: true, Go: go117}, exit)
	}
	return ps
}

// Bundle is the database/sql probe bundle.
var Bundle = &probe.Bundle{
	Name:    "databasesql",
	Scope:   instrumentation.Scope{Name: "github.com/spanprobe/spanprobe/instrumentation/databasesql"},
	Library: "database/sql.(*DB).conn",
	Load:    loadDatabasesql,
	Offsets: []probe.Offset{
		{Var: "off_db_connector", Key: "database/sql.DB.connector"},
		{Var: "off_dsnconnector_driver", Key: "database/sql.dsnConnector.driver"},
		{Var: "off_conn_db", Key: "database/sql.Conn.db"},
		{Var: "off_tx_db", Key: "database/sql.Tx.db"},
		{Var: "off_tx_ctx", Key: "database/sql.Tx.ctx"},
		{Var: "off_stmt_db", Key: "database/sql.Stmt.db"},
		{Var: "off_stmt_query", Key: "database/sql.Stmt.query"},
	},
	Probes:    probes(),
	EventKind: probe.KindDB,
	Decode:    decode,
}
