// Command matrixapp is the sample server of the Go version matrix: plain
// ServeMux paths and nothing newer than Go 1.17, so every release from 1.17
// on builds it; Go 1.22+ builds add one pattern route (patterns_go122.go).
//
// It prints "listening on ADDR" once listening and exits 0 on SIGTERM.
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// patterns registers Go 1.22 ServeMux patterns where the release has them.
var patterns func(*http.ServeMux)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	downstream := flag.String("downstream", "http://127.0.0.1:1", "base URL of /calls' outgoing calls")
	flag.Parse()
	db, err := sql.Open("mem", "")
	if err != nil {
		fmt.Fprintln(os.Stderr, "matrixapp:", err)
		os.Exit(1)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "matrixapp:", err)
		os.Exit(1)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") })
	mux.HandleFunc("/status/", func(w http.ResponseWriter, r *http.Request) {
		code, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/status/"))
		if err != nil || code < 200 || code > 599 {
			code = http.StatusBadRequest
		}
		w.WriteHeader(code)
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) { io.Copy(w, r.Body) })
	mux.HandleFunc("/sleep", func(w http.ResponseWriter, r *http.Request) {
		ms, _ := strconv.Atoi(r.URL.Query().Get("ms"))
		time.Sleep(time.Duration(ms) * time.Millisecond)
	})
	registerCalls(mux, *downstream, db)
	if patterns != nil {
		patterns(mux)
	}
	srv := &http.Server{Handler: mux}
	fmt.Printf("listening on %s\n", ln.Addr())
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	go srv.Serve(ln)
	<-ctx.Done()
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(shutdown)
}
