// Command sampleapp is the net/http server the end-to-end tests trace. It uses
// only the standard library and Go 1.22 ServeMux patterns, so the agent has a
// route to report for every handler and none for unmatched paths.
//
// Usage:
//
//	sampleapp [-addr 127.0.0.1:8080] [-tls]
//
// -tls serves HTTPS (HTTP/1.1 only) with a self-signed certificate made at
// start; the outgoing calls then need -downstream.
//
// It prints "listening on ADDR" (the bound address, so -addr 127.0.0.1:0
// works) once the listener is open, and shuts down cleanly on SIGINT/SIGTERM.
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
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
	flag.BoolVar(&o.tls, "tls", false, "serve HTTPS (HTTP/1.1) with a self-signed certificate")
	flag.StringVar(&o.downstreamCA, "downstream-ca", "", "PEM file of the CA an HTTPS downstream's certificate comes from (HTTP/2 when it offers it)")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintf(os.Stderr, "sampleapp: %v\n", err)
		os.Exit(1)
	}
}

type options struct {
	addr, downstream, dbDriver, dbDSN string
	downstreamCA                      string
	tls                               bool
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
	if o.downstreamCA != "" {
		pem, err := os.ReadFile(o.downstreamCA)
		if err != nil {
			return err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("%s: no PEM certificate", o.downstreamCA)
		}
		// The default transport, which the calls use, tries HTTP/2 over TLS.
		http.DefaultTransport.(*http.Transport).TLSClientConfig = &tls.Config{RootCAs: pool}
	}
	mux := newMux()
	newCalls(o.downstream, refused, db, o.dbDriver == "pgx", 4).register(mux)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	if o.tls {
		cert, err := selfSigned()
		if err != nil {
			return err
		}
		// HTTP/1.1 only: an empty TLSNextProto turns HTTP/2 off.
		srv.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"http/1.1"}})
	}
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

// selfSigned makes a certificate for 127.0.0.1, valid for a day.
func selfSigned() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "sampleapp"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
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
	// The whole response on the wire before the handler returns: the
	// server has nothing left to write when it finishes the request. ms
	// keeps the handler running that long after the flush.
	mux.HandleFunc("GET /flushed", func(w http.ResponseWriter, r *http.Request) {
		ms, _ := strconv.Atoi(r.URL.Query().Get("ms"))
		w.Header().Set("Content-Length", "7")
		io.WriteString(w, "flushed")
		w.(http.Flusher).Flush()
		time.Sleep(time.Duration(min(max(ms, 0), 60_000)) * time.Millisecond)
	})
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
	// Stack growth under the probes: deep recursion in the handler's
	// goroutine, and many goroutines that each recurse. The bodies are
	// checksums the tests recompute.
	mux.HandleFunc("GET /recurse", func(w http.ResponseWriter, r *http.Request) {
		depth, ok := intParam(w, r, "depth", 0, maxDepth)
		if ok {
			io.WriteString(w, strconv.FormatUint(recurse(depth), 10))
		}
	})
	mux.HandleFunc("GET /fanout", func(w http.ResponseWriter, r *http.Request) {
		n, ok := intParam(w, r, "n", 1, 10_000)
		if !ok {
			return
		}
		depth, ok := intParam(w, r, "depth", 0, maxDepth)
		if !ok {
			return
		}
		var sum atomic.Uint64
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() { sum.Add(recurse(depth)) })
		}
		wg.Wait()
		io.WriteString(w, strconv.FormatUint(sum.Load(), 10))
	})
	// Holds every request until n of them are in this handler at once, so
	// a test knows exactly how many are in flight; 503 after a minute.
	mux.HandleFunc("GET /gather", func(w http.ResponseWriter, r *http.Request) {
		n, ok := intParam(w, r, "n", 1, 100_000)
		if !ok {
			return
		}
		done := gather.join(n)
		select {
		case <-done:
			io.WriteString(w, "gathered "+strconv.Itoa(n))
		case <-time.After(time.Minute):
			gather.leave(done)
			http.Error(w, "not enough requests gathered", http.StatusServiceUnavailable)
		case <-r.Context().Done():
			gather.leave(done)
		}
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

// maxDepth bounds /recurse: about 1 KiB of stack a level.
const maxDepth = 20_000

// intParam reads the integer query parameter name in [lo, hi], answering
// 400 itself when it is not one.
func intParam(w http.ResponseWriter, r *http.Request, name string, lo, hi int) (int, bool) {
	v, err := strconv.Atoi(r.URL.Query().Get(name))
	if err != nil || v < lo || v > hi {
		http.Error(w, fmt.Sprintf("%s must be an integer in [%d, %d]", name, lo, hi), http.StatusBadRequest)
		return 0, false
	}
	return v, true
}

// recurse returns 1 + depth(depth+1)/2 the slow way: each level keeps a
// 1 KiB frame, so the goroutine's stack grows, and is copied, as it goes.
//
//go:noinline
func recurse(depth int) uint64 {
	var frame [128]uint64
	frame[depth%len(frame)] = uint64(depth)
	if depth == 0 {
		return 1
	}
	return recurse(depth-1) + frame[depth%len(frame)]
}

// barrier releases its waiters once n have joined.
type barrier struct {
	mu    sync.Mutex
	count int
	done  chan struct{}
}

var gather barrier

func (b *barrier) join(n int) <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.done == nil {
		b.done = make(chan struct{})
	}
	done := b.done
	if b.count++; b.count >= n {
		close(done)
		b.done, b.count = nil, 0
	}
	return done
}

// leave withdraws a waiter that gave up before its group was complete.
func (b *barrier) leave(done <-chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.done != nil && (<-chan struct{})(b.done) == done {
		b.count--
	}
}
