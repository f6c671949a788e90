package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"
)

// calls are the handlers that make outgoing HTTP calls and SQL statements:
// one per way a call can be tied to the request that caused it.
type calls struct {
	downstream string // base URL the outgoing calls go to
	refused    string // a URL nothing listens on
	db         *sql.DB
	dollar     bool     // the driver wants $1 placeholders (PostgreSQL)
	jobs       chan job // the worker pool, started before any request
}

// job is work handed to the pool with the request's context: the pool's
// goroutines were not started by the handler, only the context links them.
type job struct {
	ctx  context.Context
	url  string
	done chan error
}

func newCalls(downstream, refused string, db *sql.DB, dollar bool, workers int) *calls {
	c := &calls{downstream: strings.TrimSuffix(downstream, "/"), refused: refused, db: db, dollar: dollar, jobs: make(chan job)}
	for range workers {
		go c.worker()
	}
	return c
}

func (c *calls) worker() {
	for j := range c.jobs {
		j.done <- get(j.ctx, j.url)
	}
}

func (c *calls) register(mux *http.ServeMux) {
	// One outgoing call on the handler's goroutine, with its context.
	mux.HandleFunc("GET /chain", func(w http.ResponseWriter, r *http.Request) {
		reply(w, get(r.Context(), c.downstream+"/hello"))
	})
	// Two calls in a row: the second reuses the first's connection.
	mux.HandleFunc("GET /calls/twice", func(w http.ResponseWriter, r *http.Request) {
		err := get(r.Context(), c.downstream+"/hello")
		if err == nil {
			err = get(r.Context(), c.downstream+"/hello")
		}
		reply(w, err)
	})
	// http.Get from goroutines the handler starts, and from one started by
	// such a goroutine: no context, only goroutine lineage links them.
	mux.HandleFunc("GET /calls/goroutines", func(w http.ResponseWriter, r *http.Request) {
		var wg sync.WaitGroup
		errs := make([]error, 3)
		for i := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = plainGet(c.downstream + "/hello")
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			inner := make(chan error)
			go func() { inner <- plainGet(c.downstream + "/hello") }()
			errs[2] = <-inner
		}()
		wg.Wait()
		reply(w, errors.Join(errs...))
	})
	// errgroup with the request's context.
	mux.HandleFunc("GET /calls/errgroup", func(w http.ResponseWriter, r *http.Request) {
		g, ctx := errgroup.WithContext(r.Context())
		for range 3 {
			g.Go(func() error { return get(ctx, c.downstream+"/hello") })
		}
		reply(w, g.Wait())
	})
	// A worker pool started at boot, fed through a channel: the context is
	// the only link.
	mux.HandleFunc("GET /calls/pool", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithCancel(context.WithValue(r.Context(), poolKey{}, "pool"))
		defer cancel()
		done := make(chan error, 1)
		c.jobs <- job{ctx: ctx, url: c.downstream + "/hello", done: done}
		reply(w, <-done)
	})
	// An outgoing call that fails: nothing listens there.
	mux.HandleFunc("GET /calls/refused", func(w http.ResponseWriter, r *http.Request) {
		if err := get(r.Context(), c.refused); err == nil {
			http.Error(w, "the call to a closed port succeeded", http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "refused as expected")
	})
	// Requests whose bytes are hard to change safely: the outgoing
	// traceparent tests compare what the downstream receives.
	mux.HandleFunc("GET /calls/tricky", func(w http.ResponseWriter, r *http.Request) {
		reply(w, c.tricky(r.Context()))
	})
	// One query.
	mux.HandleFunc("GET /db", func(w http.ResponseWriter, r *http.Request) {
		var n int
		err := c.db.QueryRowContext(r.Context(), c.q("SELECT count(*) FROM items WHERE id > ?"), 0).Scan(&n)
		if err == nil {
			fmt.Fprintf(w, "%d items", n)
			return
		}
		reply(w, err)
	})
	// Every kind of database/sql call: exec, query, prepared statement,
	// transaction, on *DB, *Conn and *Tx, with and without a context.
	mux.HandleFunc("GET /calls/db", func(w http.ResponseWriter, r *http.Request) {
		reply(w, c.everyDBCall(r.Context()))
	})
	// A query that fails: the table does not exist.
	mux.HandleFunc("GET /calls/dbfail", func(w http.ResponseWriter, r *http.Request) {
		if _, err := c.db.ExecContext(r.Context(), "UPDATE missing_table SET name = 'x' WHERE id = 1"); err == nil {
			http.Error(w, "the query on a missing table succeeded", http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "failed as expected")
	})
}

type poolKey struct{}

// tricky sends, one after another: three requests on one keep-alive
// connection, one with 8 KB of headers, a chunked body written in pieces,
// a body with a length, and one that already carries a traceparent.
func (c *calls) tricky(ctx context.Context) error {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	defer client.CloseIdleConnections()
	send := func(method, path string, body io.Reader, header http.Header) error {
		req, err := http.NewRequestWithContext(ctx, method, c.downstream+path, body)
		if err != nil {
			return err
		}
		for k, v := range header {
			req.Header[k] = v
		}
		return drain(client.Do(req))
	}
	for i := range 3 {
		if err := send("GET", fmt.Sprintf("/tricky/keepalive/%d", i), nil, nil); err != nil {
			return err
		}
	}
	big := http.Header{"X-Big": {strings.Repeat("b", 8<<10)}}
	if err := send("GET", "/tricky/bigheader", nil, big); err != nil {
		return err
	}
	pr, pw := io.Pipe()
	go func() {
		for i := range 5 {
			fmt.Fprintf(pw, "piece %d of a chunked body\n", i)
		}
		pw.Close()
	}()
	if err := send("POST", "/tricky/chunked", pr, nil); err != nil {
		return err
	}
	if err := send("POST", "/tricky/length", strings.NewReader(`{"a": 1}`), http.Header{"Content-Type": {"application/json"}}); err != nil {
		return err
	}
	// Set by the app (say, an OpenTelemetry SDK): it must stay the only one.
	own := http.Header{"Traceparent": {"00-11111111111111111111111111111111-2222222222222222-01"}}
	return send("GET", "/tricky/present", nil, own)
}

func (c *calls) everyDBCall(ctx context.Context) error {
	if _, err := c.db.Exec("INSERT INTO items (name) VALUES ('plain')"); err != nil {
		return err
	}
	rows, err := c.db.QueryContext(ctx, "SELECT id, name FROM items WHERE name = 'plain' LIMIT 2")
	if err != nil {
		return err
	}
	rows.Close()
	stmt, err := c.db.PrepareContext(ctx, c.q("SELECT name FROM items WHERE id = ?"))
	if err != nil {
		return err
	}
	defer stmt.Close()
	var name string
	if err := stmt.QueryRowContext(ctx, 1).Scan(&name); err != nil {
		return err
	}
	conn, err := c.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "UPDATE items SET name = 'conn' WHERE id = 1"); err != nil {
		return err
	}
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM items WHERE name = 'plain'"); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// q writes the placeholders of query as the driver wants them.
func (c *calls) q(query string) string {
	if !c.dollar {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// openDB opens the database and creates the items table with one row.
// SQLite (pure Go, no cgo) by default; "pgx" with a PostgreSQL URL.
func openDB(ctx context.Context, driver, dsn string) (*sql.DB, error) {
	db, err := sql.Open(driver, dsn)
	if err != nil {
		return nil, fmt.Errorf("opening %s database: %w", driver, err)
	}
	id := "INTEGER PRIMARY KEY"
	if driver == "pgx" {
		id = "SERIAL PRIMARY KEY"
	}
	for _, stmt := range []string{
		"CREATE TABLE IF NOT EXISTS items (id " + id + ", name TEXT NOT NULL)",
		"INSERT INTO items (name) VALUES ('first')",
	} {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			db.Close()
			return nil, fmt.Errorf("preparing %s database: %w", driver, err)
		}
	}
	return db, nil
}

// get sends GET url with ctx and drains the response.
func get(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	return drain(http.DefaultClient.Do(req))
}

// plainGet is http.Get: no context of the caller's.
func plainGet(url string) error { return drain(http.Get(url)) }

func drain(resp *http.Response, err error) error {
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %s", resp.Status)
	}
	return nil
}

func reply(w http.ResponseWriter, err error) {
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	io.WriteString(w, "ok")
}
