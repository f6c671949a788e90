package main

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net/http"
	"strings"
)

// registerCalls adds /calls: outgoing HTTP calls (with the request's
// context, and without one from a goroutine) and database/sql calls through
// memDriver, a driver that stores nothing. Together they exercise the
// client, database/sql and goroutine probes of every release.
func registerCalls(mux *http.ServeMux, downstream string, db *sql.DB) {
	mux.HandleFunc("/calls", func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		err := get(ctx, downstream+"/hello")
		done := make(chan error, 1)
		go func() { done <- get(context.Background(), downstream+"/hello") }()
		if e := <-done; err == nil {
			err = e
		}
		if err == nil {
			err = dbCalls(ctx, db)
		}
		if _, e := db.ExecContext(ctx, "UPDATE missing SET a = 1"); e == nil && err == nil {
			err = errors.New("the statement on a missing table succeeded")
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		io.WriteString(w, "ok")
	})
}

func dbCalls(ctx context.Context, db *sql.DB) error {
	rows, err := db.QueryContext(ctx, "SELECT a FROM t WHERE b = 'x'")
	if err != nil {
		return err
	}
	rows.Close()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO t (a) VALUES (1)"); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

func get(ctx context.Context, url string) error {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return nil
}

// memDriver accepts every statement and returns no rows, except that a
// statement naming the table "missing" fails with a *queryError.
type memDriver struct{}

type memConn struct{}

type memStmt struct{ query string }

type queryError struct{ query string }

func (e *queryError) Error() string { return "no such table in: " + e.query }

func (memDriver) Open(string) (driver.Conn, error)    { return memConn{}, nil }
func (memConn) Prepare(q string) (driver.Stmt, error) { return memStmt{q}, nil }
func (memConn) Close() error                          { return nil }
func (memConn) Begin() (driver.Tx, error)             { return memConn{}, nil }
func (memConn) Commit() error                         { return nil }
func (memConn) Rollback() error                       { return nil }
func (s memStmt) Close() error                        { return nil }
func (s memStmt) NumInput() int                       { return -1 }
func (s memStmt) Exec([]driver.Value) (driver.Result, error) {
	if strings.Contains(s.query, "missing") {
		return nil, &queryError{s.query}
	}
	return driver.RowsAffected(1), nil
}
func (s memStmt) Query([]driver.Value) (driver.Rows, error) { return memRows{}, nil }

type memRows struct{}

func (memRows) Columns() []string         { return []string{"a"} }
func (memRows) Close() error              { return nil }
func (memRows) Next([]driver.Value) error { return io.EOF }

func init() { sql.Register("mem", memDriver{}) }
