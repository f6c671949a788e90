// Package databasesql is the database/sql probe bundle: a CLIENT span for
// every query and exec through *DB, *Conn, *Tx and prepared *Stmt (with or
// without a Context: the plain methods call the Context ones) and for
// BeginTx, Commit and Rollback, a child of the request span open in the
// call's context or on its goroutine.
//
// Probed: the entries of those methods' Context variants, Go 1.17 and
// later, and their exits: for *DB and *Stmt calls on Go 1.20+, the test of
// the statement's error inside DB.retry, which they all run through (an
// emulated Jcc, one site for all of them); for the others, their RETs
// (single-stepped). The statement text is read up to 1024 bytes and its literals
// are replaced by "?" unless raw text is turned on
// (SPANPROBE_DB_QUERY_TEXT=raw); with off, db.query.text is left out and the
// text only names the operation and table. db.system.name comes from the Go type of
// the driver (or its connector), named from the binary's type descriptors,
// stripped or not; an unknown driver is "other_sql".
package databasesql
