// Command sampleapp is the net/http server the end-to-end tests trace. It uses
// only the standard library and Go 1.22 ServeMux patterns, so the agent has a
// route to report for every handler and none for unmatched paths.
//
// Usage:
//
//	sampleapp [-addr 127.0.0.1:8080]
//
// It prints "listening on ADDR" (the bound address, so -addr 127.0.0.1:0
// works) once the listener is open, and shuts down cleanly on SIGINT/SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"
)

func main() {
	var o options
	flag.StringVar(&o.addr, "addr", "127.0.0.1:8080", "listen address")
	flag.StringVar(&o.downstream, "downstream", "", "base URL of the outgoing calls (default: this server)")
	flag.StringVar(&o.dbDriver, "db-driver", "sqlite", `database/sql driver: "sqlite" or "pgx"`)
	flag.StringVar(&o.dbDSN, "db-dsn", "", "data source name (default: a new SQLite file in a temporary directory)")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintf(os.Stderr, "sampleapp: %v\n", err)
		os.Exit(1)
	}
}

type options struct {
	addr, downstream, dbDriver, dbDSN string
}

func run(o options) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	if o.dbDSN == "" && o.dbDriver == "sqlite" {
		dir, err := os.MkdirTemp("", "sampleapp")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		o.dbDSN = filepath.Join(dir, "items.db")
	}
	db, err := openDB(ctx, o.dbDriver, o.dbDSN)
	if err != nil {
		return err
	}
	defer db.Close()
	refused, err := closedPortURL()
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", o.addr, err)
	}
	if o.downstream == "" {
		o.downstream = "http://" + ln.Addr().String()
	}
	mux := newMux()
	newCalls(o.downstream, refused, db, o.dbDriver == "pgx", 4).register(mux)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	fmt.Printf("listening on %s\n", ln.Addr())

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutting down: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving: %w", err)
	}
	return nil
}

// closedPortURL is the URL of a loopback port that was free a moment ago:
// calls to it are refused.
func closedPortURL() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return "http://" + ln.Addr().String() + "/refused", nil
}

func newMux() *http.ServeMux {
	mux := http.NewServeMux()
	// Write without WriteHeader: net/http sends the 200 itself.
	mux.HandleFunc("GET /hello", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello")
	})
	// Neither Write nor WriteHeader: the status is only set when the server
	// finishes the request, which the probes must still see as 200.
	mux.HandleFunc("GET /empty", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("GET /fail", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "failing on purpose", http.StatusInternalServerError)
	})
	mux.HandleFunc("GET /sleep", func(w http.ResponseWriter, r *http.Request) {
		ms, err := strconv.Atoi(r.URL.Query().Get("ms"))
		if err != nil || ms < 0 || ms > 60_000 {
			http.Error(w, "ms must be an integer in [0, 60000]", http.StatusBadRequest)
			return
		}
		select {
		case <-time.After(time.Duration(ms) * time.Millisecond):
		case <-r.Context().Done():
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	mux.HandleFunc("GET /status/{code}", func(w http.ResponseWriter, r *http.Request) {
		code, err := strconv.Atoi(r.PathValue("code"))
		if err != nil || code < 200 || code > 599 {
			http.Error(w, "code must be an HTTP status in [200, 599]", http.StatusBadRequest)
			return
		}
		w.WriteHeader(code)
	})
	mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, "item "+r.PathValue("id"))
	})
	mux.HandleFunc("POST /echo", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "reading body", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", r.Header.Get("Content-Type"))
		w.WriteHeader(http.StatusOK)
		w.Write(body)
	})
	return mux
}
