package health

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spanprobe/spanprobe/internal/metrics"
)

func get(t *testing.T, url string) (int, string, http.Header) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading body of %s: %v", url, err)
	}
	return resp.StatusCode, string(body), resp.Header
}

func TestServe(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()

	reg := metrics.NewRegistry()
	reg.Counter("spanprobe_spans_exported_total", "Spans exported.").Add(5)
	reg.Gauge("spanprobe_targets_attached", "Targets.", func() float64 { return 1 })
	var ready atomic.Bool

	addr, err := Serve(ctx, "127.0.0.1:0", reg, ready.Load, nil)
	if err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if tcp, ok := addr.(*net.TCPAddr); !ok || tcp.Port == 0 {
		t.Fatalf("Serve returned %v, want a bound TCP address", addr)
	}
	base := "http://" + addr.String()

	steps := []struct {
		name       string
		ready      bool
		path       string
		wantCode   int
		wantBody   string
		wantInBody []string
	}{
		{name: "not ready yet", path: "/readyz", wantCode: 503, wantBody: "not ready"},
		{name: "ready", ready: true, path: "/readyz", wantCode: 200, wantBody: "ok"},
		{name: "not ready again", path: "/readyz", wantCode: 503, wantBody: "not ready"},
		{name: "metrics", path: "/metrics", wantCode: 200, wantInBody: []string{
			"# TYPE spanprobe_spans_exported_total counter\nspanprobe_spans_exported_total 5\n",
			"spanprobe_targets_attached 1\n",
		}},
		{name: "unknown path", path: "/nope", wantCode: 404},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			ready.Store(st.ready)
			code, body, hdr := get(t, base+st.path)
			if code != st.wantCode {
				t.Errorf("status = %d, want %d", code, st.wantCode)
			}
			if st.wantBody != "" && body != st.wantBody {
				t.Errorf("body = %q, want %q", body, st.wantBody)
			}
			for _, s := range st.wantInBody {
				if !strings.Contains(body, s) {
					t.Errorf("body lacks %q:\n%s", s, body)
				}
			}
			if st.path == "/metrics" {
				if ct := hdr.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
					t.Errorf("Content-Type = %q", ct)
				}
			}
		})
	}

	cancel()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr.String(), 200*time.Millisecond)
		if err != nil {
			break // listener closed: the server stopped
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("server still accepting connections 5s after ctx was cancelled")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestServeListenError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()

	tests := []struct{ name, addr string }{
		{"port in use", ln.Addr().String()},
		{"bad address", "not-an-address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Serve(t.Context(), tt.addr, nil, nil, nil)
			if err == nil {
				t.Fatalf("Serve(%q) succeeded, want error", tt.addr)
			}
			if !strings.Contains(err.Error(), tt.addr) {
				t.Errorf("error %q does not name the address %q", err, tt.addr)
			}
		})
	}
}

func TestNilDefaults(t *testing.T) {
	addr, err := Serve(t.Context(), "127.0.0.1:0", nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if code, body, _ := get(t, "http://"+addr.String()+"/readyz"); code != 200 || body != "ok" {
		t.Errorf("nil ready: got %d %q, want 200 \"ok\"", code, body)
	}
	if code, body, _ := get(t, "http://"+addr.String()+"/metrics"); code != 200 || body != "" {
		t.Errorf("nil registry: got %d %q, want 200 and empty body", code, body)
	}
}
