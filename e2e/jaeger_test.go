package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// jaegerConfig is a minimal Jaeger v2 configuration: OTLP/gRPC in, memory
// storage, query API out, each on a port the test picks. Without arguments
// Jaeger would bind a dozen fixed ports (4317, 16686, 8888, 13133, ...), so
// any other Jaeger on the machine, or a parallel run, would make it fail.
// Jaeger would also trace its own queries to localhost:4317, where nothing
// listens, and its shutdown would wait on those exports' timeouts.
const jaegerConfig = `service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
extensions:
  jaeger_query:
    enable_tracing: false
    storage:
      traces: mem
    http:
      endpoint: %s
    grpc:
      endpoint: %s
  jaeger_storage:
    backends:
      mem:
        memory:
          max_traces: 100000
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: %s
processors:
  batch:
exporters:
  jaeger_storage_exporter:
    trace_storage: mem
`

// jaegerBinary returns SPANPROBE_JAEGER_BIN or builds (and caches) Jaeger
// with e2e/jaeger/install.sh. A failed build skips the test, except in CI
// (CI=true), where a missing backend must not pass silently.
func jaegerBinary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("SPANPROBE_JAEGER_BIN"); p != "" {
		return p
	}
	ctx := t.Context()
	// A benchmark has no deadline of its own.
	if dl, ok := deadline(t); ok {
		// Leave time for the test itself after a cold build.
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl.Add(-2*time.Minute))
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, "bash", "jaeger/install.sh")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	lines := strings.Fields(string(out))
	if err == nil && len(lines) == 0 {
		err = fmt.Errorf("install.sh printed no path")
	}
	if err != nil {
		tail := stderr.String()
		if len(tail) > 4000 {
			tail = tail[len(tail)-4000:]
		}
		msg := fmt.Sprintf("building Jaeger with e2e/jaeger/install.sh (set SPANPROBE_JAEGER_BIN to use a prebuilt one): %v\n%s", err, tail)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return lines[len(lines)-1]
}

// deadline is t.Deadline for a *testing.T.
func deadline(t testing.TB) (time.Time, bool) {
	if d, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		return d.Deadline()
	}
	return time.Time{}, false
}

type jaeger struct {
	*proc
	otlpAddr  string // OTLP/gRPC receiver
	queryAddr string // HTTP query API
}

// startJaeger runs Jaeger on free loopback ports and waits until both the
// OTLP port accepts connections and the query API answers.
func startJaeger(t testing.TB, bin string) *jaeger {
	t.Helper()
	loopback := func() string { return fmt.Sprintf("127.0.0.1:%d", freePort(t)) }
	j := &jaeger{otlpAddr: loopback(), queryAddr: loopback()}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "jaeger.yaml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, jaegerConfig, j.queryAddr, loopback(), j.otlpAddr), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config", cfg)
	cmd.Dir = dir
	j.proc = startProc(t, "jaeger", cmd)
	// No SIGTERM at the end: Jaeger's shutdown then waits 10s for an
	// internal gRPC channel; startProc's SIGKILL loses nothing held in
	// memory storage.
	ctx := timeout(t, 60*time.Second)
	for {
		if j.exited() {
			t.Fatalf("jaeger exited while starting: %v", j.err)
		}
		if c, err := net.DialTimeout("tcp", j.otlpAddr, time.Second); err == nil {
			c.Close()
			var services struct{ Data []string }
			if err := j.get(ctx, "/api/services", nil, &services); err == nil {
				return j
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("jaeger not ready within 60s: %v", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (j *jaeger) get(ctx context.Context, path string, q url.Values, v any) error {
	u := "http://" + j.queryAddr + path
	if q != nil {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	dec := json.NewDecoder(resp.Body)
	dec.UseNumber()
	return dec.Decode(v)
}

// jaegerKV is a tag in the query API's JSON.
type jaegerKV struct {
	Key   string `json:"key"`
	Type  string `json:"type"`
	Value any    `json:"value"`
}

type jaegerProcess struct {
	ServiceName string     `json:"serviceName"`
	Tags        []jaegerKV `json:"tags"`
}

type jaegerSpan struct {
	TraceID       string      `json:"traceID"`
	SpanID        string      `json:"spanID"`
	OperationName string      `json:"operationName"`
	References    []jaegerRef `json:"references"`
	StartTime     uint64      `json:"startTime"` // µs since the epoch
	Duration      uint64      `json:"duration"`  // µs
	Tags          []jaegerKV  `json:"tags"`
	ProcessID     string      `json:"processID"`
	Process       jaegerProcess
}

// jaegerRef is a span reference: CHILD_OF its parent.
type jaegerRef struct {
	RefType string `json:"refType"`
	TraceID string `json:"traceID"`
	SpanID  string `json:"spanID"`
}

// tag returns a tag's value as text, "" when absent.
func (s jaegerSpan) tag(key string) string { return kvText(s.Tags, key) }

func (p jaegerProcess) tag(key string) string { return kvText(p.Tags, key) }

func kvText(kvs []jaegerKV, key string) string {
	for _, kv := range kvs {
		if kv.Key == key {
			return fmt.Sprint(kv.Value)
		}
	}
	return ""
}

// spans returns every span of service that started in [from, to].
func (j *jaeger) spans(ctx context.Context, service string, from, to time.Time) ([]jaegerSpan, error) {
	q := url.Values{
		"service": {service},
		"limit":   {"10000"},
		"start":   {fmt.Sprint(from.UnixMicro())},
		"end":     {fmt.Sprint(to.UnixMicro())},
	}
	var resp struct {
		Data []struct {
			Spans     []jaegerSpan             `json:"spans"`
			Processes map[string]jaegerProcess `json:"processes"`
		} `json:"data"`
	}
	if err := j.get(ctx, "/api/traces", q, &resp); err != nil {
		return nil, err
	}
	var out []jaegerSpan
	for _, tr := range resp.Data {
		for _, s := range tr.Spans {
			s.Process = tr.Processes[s.ProcessID]
			out = append(out, s)
		}
	}
	return out, nil
}

// waitSpans polls until n spans are stored, then checks the count stays n.
func (j *jaeger) waitSpans(t *testing.T, service string, from, to time.Time, n int) []jaegerSpan {
	t.Helper()
	return j.waitSpansOfKind(t, service, "", from, to, n)
}

// waitSpansOfKind is waitSpans for the spans of one span.kind ("server",
// "client", ...; "" for all).
func (j *jaeger) waitSpansOfKind(t *testing.T, service, kind string, from, to time.Time, n int) []jaegerSpan {
	t.Helper()
	ctx := timeout(t, 30*time.Second)
	get := func() ([]jaegerSpan, error) {
		all, err := j.spans(ctx, service, from, to)
		if kind == "" {
			return all, err
		}
		return slices.DeleteFunc(all, func(s jaegerSpan) bool { return s.tag("span.kind") != kind }), err
	}
	var got []jaegerSpan
	var err error
	for {
		got, err = get()
		if err == nil && len(got) >= n {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("jaeger holds %d %s spans of %s, want %d (last error: %v)", len(got), kind, service, n, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
	// Storage is asynchronous: give stragglers a moment to show up.
	time.Sleep(time.Second)
	if got, err = get(); err != nil {
		t.Fatal(err)
	}
	if len(got) != n {
		t.Fatalf("jaeger holds %d %s spans of %s, want exactly %d", len(got), kind, service, n)
	}
	return got
}
