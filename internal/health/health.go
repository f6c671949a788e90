package health

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/spanprobe/spanprobe/internal/metrics"
)

// shutdownGrace bounds how long in-flight scrapes may take once ctx is done.
const shutdownGrace = 2 * time.Second

// Serve starts an HTTP server on addr (e.g. "127.0.0.1:0") with:
//
//	/readyz   200 "ok" when ready() reports true, else 503 "not ready"
//	/metrics  reg rendered in the Prometheus text exposition format
//
// A nil ready means always ready; a nil reg serves an empty exposition. The
// server stops when ctx is done. The returned address is the bound one.
func Serve(ctx context.Context, addr string, reg *metrics.Registry, ready func() bool, log *slog.Logger) (net.Addr, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if reg == nil {
		reg = metrics.NewRegistry()
	}
	if ready == nil {
		ready = func() bool { return true }
	}

	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening for health endpoints on %s: %w", addr, err)
	}

	srv := &http.Server{
		Handler:           Handler(reg, ready),
		ReadHeaderTimeout: 5 * time.Second,
		// Tie request contexts to ctx so a slow gauge callback cannot hold
		// shutdown beyond the grace period.
		BaseContext: func(net.Listener) context.Context { return ctx },
		ErrorLog:    slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}

	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("serving health endpoints", "addr", ln.Addr().String(), "error", err)
		}
	}()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			// Grace period over: drop remaining connections.
			_ = srv.Close()
		}
	}()

	log.Debug("serving health endpoints", "addr", ln.Addr().String())
	return ln.Addr(), nil
}

// Handler returns the mux Serve uses, for callers that mount it on a server
// of their own.
func Handler(reg *metrics.Registry, ready func() bool) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if !ready() {
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, "not ready")
			return
		}
		io.WriteString(w, "ok")
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		// A write error means the scraper went away; nothing to report to it.
		_ = reg.WritePrometheus(w)
	})
	return mux
}
