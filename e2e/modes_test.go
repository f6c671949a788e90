package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spanprobe/spanprobe/internal/otlptest"
)

// TestLaunchModeFirstRequest starts the app under the agent and sends a
// request the instant the app accepts connections: the probes must already
// be in place, so that first request has its span. A second request right
// before SIGTERM checks that stopping (which the agent forwards to the app)
// still flushes the last span.
func TestLaunchModeFirstRequest(t *testing.T) {
	requireBPF(t)
	rcv := otlptest.Start(t)
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	begin := time.Now()
	agent := startAgent(t, otlpEnv(rcv.Endpoint()), "--", bins.app, "-addr", addr)

	conn := dialFirst(t, timeout(t, 30*time.Second), addr)
	first := sent{call: serverCalls[0], addr: addr, localPort: conn.LocalAddr().(*net.TCPAddr).Port, start: time.Now()}
	// Written by hand on the very connection that got through first.
	fmt.Fprintf(conn, "GET /hello HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\nConnection: close\r\n\r\n", addr, defaultUA)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading the first response: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	conn.Close()
	first.end = time.Now()
	if resp.StatusCode != 200 || string(body) != "hello" {
		t.Fatalf("first response %d %q, want 200 \"hello\"", resp.StatusCode, body)
	}
	t.Logf("first connection succeeded %v after starting the agent", first.start.Sub(begin).Round(time.Millisecond))

	appPID := waitAttached(t, agent)
	if processGone(appPID) {
		t.Fatalf("probes attached to pid %d, which is not running", appPID)
	}
	// The agent's threads sleep with 1 ms of timer slack; the program it
	// launched keeps the slack it would have had (this process's).
	own := threadSlacks(t, os.Getpid())[0]
	for _, s := range threadSlacks(t, agent.pid()) {
		if s != "1000000" {
			t.Errorf("an agent thread has timer slack %s ns, want 1000000", s)
		}
	}
	for _, s := range threadSlacks(t, appPID) {
		if s != own {
			t.Errorf("a thread of the launched app has timer slack %s ns, want %s like the process that started the agent", s, own)
		}
	}
	if _, err := rcv.WaitForSpans(timeout(t, 5*time.Second), 1); err != nil {
		t.Errorf("the first request has no span within 5s: %v", err)
	}

	last := sendAll(t, addr, serverCalls[3:4])
	// The agent forwards SIGTERM to the app, waits for it, flushes, exits 0.
	agent.stop(t, 20*time.Second)
	if !processGone(appPID) {
		t.Errorf("app pid %d still runs after the agent exited", appPID)
	}
	checkServerSpans(t, rcv.Spans(), append([]sent{first}, last...), wantResource{pid: appPID, exePath: bins.app})
}

// threadSlacks returns the timer slack (ns) of each thread of pid.
func threadSlacks(t *testing.T, pid int) []string {
	t.Helper()
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, task := range tasks {
		if b, err := os.ReadFile("/proc/" + task.Name() + "/timerslack_ns"); err == nil {
			out = append(out, strings.TrimSpace(string(b)))
		}
	}
	if len(out) == 0 {
		t.Fatalf("no thread of pid %d shows its timer slack", pid)
	}
	return out
}

// dialFirst connects to addr in a tight loop until it succeeds.
func dialFirst(t testing.TB, ctx context.Context, addr string) net.Conn {
	t.Helper()
	var d net.Dialer
	for attempts := 1; ; attempts++ {
		c, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			t.Logf("connected after %d attempts", attempts)
			return c
		}
		if ctx.Err() != nil {
			t.Fatalf("app never accepted a connection on %s (%d attempts): %v", addr, attempts, err)
		}
	}
}

// TestLaunchModeExitCode checks the agent exits with the launched program's
// exit code when the program ends on its own (here one without net/http).
func TestLaunchModeExitCode(t *testing.T) {
	requireBPF(t)
	agent := startAgent(t, agentEnv("OTEL_TRACES_EXPORTER=none"), "--", bins.noHTTP, "-sleep", "1s", "-exit", "7")
	code, ok := agent.wait(20 * time.Second)
	if !ok {
		t.Fatal("agent still runs 20s after launching a program that exits after 1s")
	}
	if code != 7 {
		t.Fatalf("agent exit code %d, want the program's 7", code)
	}
	if out := agent.stdout.String(); out != "started\n" {
		t.Errorf("program output through the agent %q, want %q", out, "started\n")
	}
}

// TestExeModeRestart follows an executable by path: a process started after
// the agent gets probes, and after kill -9 in the middle of requests its
// successor (new PID, same file) is traced from its first request with its
// own process.pid.
func TestExeModeRestart(t *testing.T) {
	requireBPF(t)
	rcv := otlptest.Start(t)
	agent := startAgent(t, otlpEnv(rcv.Endpoint()), "--exe", bins.app, "--scan-interval", "100ms")

	first := startApp(t, bins.app)
	waitAttached(t, agent)
	calls := sendAll(t, first.addr, serverCalls[:5])
	waitSpans(t, rcv, len(calls))
	// Killed mid-request: the requests in flight fail, leave no span, and
	// the agent carries on.
	slow := startLoad(t, loadSpec{addr: first.addr, conns: 8, req: func(int) (string, string) { return "/sleep?ms=60000", "" }})
	time.Sleep(300 * time.Millisecond)
	first.kill9(t)
	if r := slow.stop(); r.ok > 0 || r.failed == 0 {
		t.Errorf("requests in flight at the kill: %d answered, %d failed; want all failed", r.ok, r.failed)
	}
	if agent.exited() {
		t.Fatalf("agent exited after its target was killed: %v", agent.err)
	}

	second := startApp(t, bins.app)
	if second.pid() == first.pid() {
		t.Fatalf("restarted app reuses pid %d", first.pid())
	}
	// No wait: the probes sit on the file, so they are there before the
	// process's first instruction.
	calls2 := sendAll(t, second.addr, serverCalls[5:])
	waitSpans(t, rcv, len(calls)+len(calls2))
	agent.stop(t, 15*time.Second)

	spans := serverSpans(rcv.Spans())
	if len(spans) != len(calls)+len(calls2) {
		t.Fatalf("got %d spans, want %d", len(spans), len(calls)+len(calls2))
	}
	t.Run("before restart", func(t *testing.T) {
		checkServerSpans(t, spansOfPID(spans, first.pid()), calls, wantResource{pid: first.pid(), exePath: bins.app})
	})
	t.Run("after restart", func(t *testing.T) {
		checkServerSpans(t, spansOfPID(spans, second.pid()), calls2, wantResource{pid: second.pid(), exePath: bins.app})
	})
}

// TestExeModeTwoProcesses attaches by path to two processes already running
// the app: both are traced and each span names its own process.
func TestExeModeTwoProcesses(t *testing.T) {
	requireBPF(t)
	rcv := otlptest.Start(t)
	apps := []*app{startApp(t, bins.app), startApp(t, bins.app)}
	agent := startAgent(t, otlpEnv(rcv.Endpoint()), "--exe", bins.app)
	waitAttached(t, agent)

	// Interleaved, so each process's spans come from both halves of the run.
	var calls [2][]sent
	for i := range 3 {
		for k, a := range apps {
			calls[k] = append(calls[k], sendAll(t, a.addr, serverCalls[i*2+k:i*2+k+1])...)
		}
	}
	total := len(calls[0]) + len(calls[1])
	waitSpans(t, rcv, total)
	agent.stop(t, 15*time.Second)
	spans := serverSpans(rcv.Spans())
	if len(spans) != total {
		t.Fatalf("got %d spans, want %d", len(spans), total)
	}
	for k, a := range apps {
		t.Run("app"+strconv.Itoa(k), func(t *testing.T) {
			checkServerSpans(t, spansOfPID(spans, a.pid()), calls[k], wantResource{pid: a.pid(), exePath: bins.app})
		})
	}
}

// TestExeModeConcurrentProcesses keeps requests in flight in two processes
// of one executable at the same moments. Both number their goroutines alike
// and share the attachment's in-flight maps, so this fails if those maps
// were keyed by goroutine id alone.
func TestExeModeConcurrentProcesses(t *testing.T) {
	requireBPF(t)
	rcv := otlptest.Start(t)
	apps := []*app{startApp(t, bins.app), startApp(t, bins.app)}
	agent := startAgent(t, otlpEnv(rcv.Endpoint()), "--exe", bins.app)
	waitAttached(t, agent)

	// 40 connections at once in each process: each gets a goroutine, from
	// goroutine id ranges the two processes allocate alike.
	const rounds, width = 3, 40
	sleep := call{method: "GET", target: "/sleep?ms=100", status: 200, name: "GET /sleep", route: "/sleep", minDur: 100 * time.Millisecond}
	var mu sync.Mutex
	var calls [2][]sent
	for range rounds {
		var wg sync.WaitGroup
		for k, a := range apps {
			for range width {
				wg.Add(1)
				go func() {
					defer wg.Done()
					s := sendAll(t, a.addr, []call{sleep})
					mu.Lock()
					calls[k] = append(calls[k], s...)
					mu.Unlock()
				}()
			}
		}
		wg.Wait()
	}
	agent.stop(t, 15*time.Second)
	spans := serverSpans(rcv.Spans())
	// Concurrent calls cannot be matched by start time: match by peer port.
	for k, a := range apps {
		var want, got []int
		for _, c := range calls[k] {
			want = append(want, c.localPort)
		}
		for _, s := range spansOfPID(spans, a.pid()) {
			got = append(got, int(s.Attrs()["network.peer.port"].(int64)))
			if d := time.Duration(s.Span.GetEndTimeUnixNano() - s.Span.GetStartTimeUnixNano()); d < sleep.minDur {
				t.Errorf("app %d: span of %v, want at least %v", k, d, sleep.minDur)
			}
		}
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("app %d: %d spans with peer ports %v, want %d with %v", k, len(got), got, len(want), want)
		}
	}
}
