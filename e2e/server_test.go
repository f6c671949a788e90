package e2e

import (
	"fmt"
	"net"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spanprobe/spanprobe/internal/otlptest"
)

// TestServerSpansOTLP attaches to a running app by PID and checks every
// field of every server span that reaches an OTLP receiver, for a binary
// with a symbol table and for a stripped one (functions found through
// .gopclntab, offsets from the table since there is no DWARF), and with the
// request's end caught by each kind of exit site: kernel socket tracepoints
// (the default where the kernel has them), finishRequest's entry, and every
// RET of ServeHTTP. Each request kind leaves by its own path, so all of
// them must be covered.
func TestServerSpansOTLP(t *testing.T) {
	requireBPF(t)
	tests := []struct {
		name  string
		bin   string
		flags []string
	}{
		{"plain", bins.app, nil},
		{"stripped", bins.appStripped, nil},
		{"uprobe exits", bins.app, []string{"--exit-probes", "uprobe", "--log-level", "debug"}},
		{"ret probes", bins.app, []string{"--ret-probes", "--log-level", "debug"}},
		{"ret probes stripped", bins.appStripped, []string{"--ret-probes", "--log-level", "debug"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rcv := otlptest.Start(t)
			a := startApp(t, tt.bin)
			agent := startAgent(t, otlpEnv(rcv.Endpoint()), append([]string{"--pid", strconv.Itoa(a.pid())}, tt.flags...)...)
			if pid := waitAttached(t, agent); pid != a.pid() {
				t.Fatalf("probes attached to pid %d, want %d", pid, a.pid())
			}

			checkExitSites(t, agent, tt.flags)
			calls := sendAll(t, a.addr, serverCalls)
			agent.stop(t, 15*time.Second)
			checkServerSpans(t, rcv.Spans(), calls, wantResource{pid: a.pid(), exePath: tt.bin})

			// Detaching must leave the app serving, without new spans.
			sendAll(t, a.addr, hello(1))
			if a.exited() {
				t.Fatalf("app exited after the agent detached: %v", a.err)
			}
			if n := len(rcv.Spans()); n != len(calls) {
				t.Errorf("%d spans after the agent exited, want %d", n, len(calls))
			}
			a.stop(t, 10*time.Second) // the sample app itself shuts down cleanly
		})
	}
}

// TestServerSpansJaeger sends the same requests with a real Jaeger as the
// collector and checks what its query API returns.
func TestServerSpansJaeger(t *testing.T) {
	requireBPF(t)
	j := startJaeger(t, jaegerBinary(t))
	a := startApp(t, bins.app)
	env := agentEnv(
		"OTEL_EXPORTER_OTLP_ENDPOINT=http://"+j.otlpAddr,
		"OTEL_EXPORTER_OTLP_INSECURE=true",
		"OTEL_BSP_SCHEDULE_DELAY=200",
	)
	agent := startAgent(t, env, "--pid", strconv.Itoa(a.pid()))
	waitAttached(t, agent)
	begin := time.Now()
	calls := sendAll(t, a.addr, serverCalls)
	agent.stop(t, 15*time.Second)

	service := filepathBase(bins.app)
	spans := j.waitSpans(t, service, begin.Add(-time.Minute), time.Now().Add(time.Minute), len(calls))
	checkJaegerServerSpans(t, spans, calls, service, wantResource{pid: a.pid(), exePath: bins.app})
}

// checkJaegerServerSpans checks the spans the query API returned against
// the calls, in order of start time, and the process they name.
func checkJaegerServerSpans(t *testing.T, spans []jaegerSpan, calls []sent, service string, res wantResource) {
	t.Helper()
	if len(spans) != len(calls) {
		t.Fatalf("jaeger holds %d spans, want %d (one per request)", len(spans), len(calls))
	}
	sort.Slice(spans, func(i, k int) bool { return spans[i].StartTime < spans[k].StartTime })
	for i, s := range spans {
		c := calls[i]
		what := fmt.Sprintf("jaeger span %d (%s %s)", i, c.method, c.target)
		if s.OperationName != c.name {
			t.Errorf("%s: operation %q, want %q", what, s.OperationName, c.name)
		}
		if len(s.References) != 0 {
			t.Errorf("%s: references %v, want none", what, s.References)
		}
		if s.Process.ServiceName != service {
			t.Errorf("%s: service %q, want %q", what, s.Process.ServiceName, service)
		}
		for k, w := range map[string]string{"process.pid": strconv.Itoa(res.pid), "process.executable.path": res.exePath} {
			if got := s.Process.tag(k); got != w {
				t.Errorf("%s: process tag %s=%q, want %q", what, k, got, w)
			}
		}
		path, _, _ := strings.Cut(c.target, "?")
		_, port, _ := net.SplitHostPort(c.addr)
		want := map[string]string{
			"span.kind":                 "server",
			"http.request.method":       c.method,
			"url.path":                  path,
			"url.scheme":                "http",
			"http.response.status_code": strconv.Itoa(c.status),
			"http.route":                c.route,
			"server.port":               port,
			"network.peer.port":         strconv.Itoa(c.localPort),
			"otel.scope.name":           serverScope,
			"error":                     "",
			"otel.status_code":          "",
		}
		if c.status >= 500 {
			want["error"], want["otel.status_code"] = "true", "ERROR"
		}
		for k, w := range want {
			if got := s.tag(k); got != w {
				t.Errorf("%s: tag %s=%q, want %q (empty: absent)", what, k, got, w)
			}
		}
		d := time.Duration(s.Duration) * time.Microsecond
		if d < c.minDur || d >= time.Second {
			t.Errorf("%s: duration %v, want in [%v, 1s)", what, d, c.minDur)
		}
	}
	if t.Failed() {
		for i, s := range spans {
			t.Logf("jaeger span %d: %+v", i, s)
		}
	}
}

// checkExitSites makes sure the agent ended requests where its flags say:
// kernel socket tracepoints by default (this kernel has them), else the
// uprobe exit sites asked for.
func checkExitSites(t *testing.T, agent *proc, flags []string) {
	t.Helper()
	log := agent.stderr.String()
	switch {
	case slices.Contains(flags, "--ret-probes"):
		if !strings.Contains(log, "inst=RET") {
			t.Fatal("--ret-probes attached no probe on a RET instruction")
		}
	case slices.Contains(flags, "uprobe"):
		if !strings.Contains(log, "symbol=net/http.(*response).finishRequest ") || !strings.Contains(log, "tracepoints=0") {
			t.Fatal("--exit-probes=uprobe did not end requests at finishRequest's entry, or attached tracepoints")
		}
	default:
		requireSocketTracepoints(t)
		if !strings.Contains(log, "tracepoints=3") {
			t.Fatalf("the agent did not end requests on the kernel's socket tracepoints; stderr:\n%s", log)
		}
	}
}

// requireSocketTracepoints fails a test that counts on the kernel's socket
// send and receive tracepoints (Linux 6.3+) on a kernel without them.
func requireSocketTracepoints(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		t.Fatalf("the socket tracepoint exit needs kernel BTF: %v", err)
	}
	syms, err := os.ReadFile("/proc/kallsyms")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(syms), "__traceiter_sock_send_length") {
		t.Fatal("this kernel has no sock_send_length tracepoint (Linux 6.3+): the test expects the tracepoint exit")
	}
}
