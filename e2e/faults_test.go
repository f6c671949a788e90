package e2e

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/spanprobe/spanprobe/internal/otlptest"
)

// What the agent counts (see README: everything that could be lost).
const (
	metricRead       = "spanprobe_ringbuf_records_read_total"
	metricLost       = "spanprobe_ringbuf_records_lost_total"
	metricExported   = "spanprobe_spans_exported_total"
	metricDropped    = "spanprobe_spans_dropped_total"
	metricProbeDrops = "spanprobe_probe_events_dropped_total"
)

// agentRSSLimit is the resident memory the agent must stay under whatever
// the collector does: its queue is bounded, so an outage costs drops, not
// memory. (Steady under load it is about half this; see make bench.)
const agentRSSLimit = 64 << 20

// serverDrop filters metricProbeDrops to the net/http server bundle's
// counts for reason.
func serverDrop(reason string) string { return `probe="nethttp/server",reason="` + reason + `"` }

// helloReq is GET /hello for every request of a load.
func helloReq(int) (string, string) { return "/hello", "hello" }

// fastFailEnv points the agent at an OTLP receiver that may be down, with
// export attempts that give up after a second.
func fastFailEnv(endpoint string) []string {
	return append(otlpEnv(endpoint), "OTEL_EXPORTER_OTLP_TIMEOUT=1000", "OTEL_BSP_EXPORT_TIMEOUT=1000")
}

// startTraced runs the sample app and an agent attached to it by PID, with
// env and a health endpoint, and returns both and the endpoint's address.
func startTraced(t *testing.T, env []string) (*app, *proc, string) {
	t.Helper()
	health := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	a := startApp(t, bins.app)
	agent := startAgent(t, env, "--pid", strconv.Itoa(a.pid()), "--health-addr", health)
	waitAttached(t, agent)
	return a, agent, health
}

// spansSettled holds once every record read has been exported or dropped
// with a reason: nothing is left in the agent's queue.
func spansSettled(m metrics) bool {
	return m.sum(metricExported, "")+m.sum(metricDropped, "") == m.sum(metricRead, "")
}

// TestFaultCollectorOutage runs load with the collector down at the
// agent's start, then up, then down again in the middle of the load (half
// of SPANPROBE_FAULT_DURATION: 5s by default, 30s in make bench), then up:
// the agent keeps running within bounded memory, counts what it drops on
// /metrics, and exports again each time the collector returns. At the end
// every request is accounted for: read from the ring, then exported or
// dropped with a reason.
func TestFaultCollectorOutage(t *testing.T) {
	requireBPF(t)
	outage := faultDuration(t) / 2
	endpoint := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	a, agent, health := startTraced(t, fastFailEnv(endpoint))
	rss := sampleRSS(t, agent.pid())
	l := startLoad(t, loadSpec{addr: a.addr, conns: 4, rate: 500, req: helloReq})

	m := waitMetrics(t, health, 30*time.Second, func(m metrics) bool { return m.sum(metricDropped, "") > 0 })
	if v := m.sum(metricExported, ""); v != 0 {
		t.Errorf("%s = %v with no collector, want 0", metricExported, v)
	}

	rcv := otlptest.StartAt(t, endpoint)
	if _, err := rcv.WaitForSpans(timeout(t, 30*time.Second), 1); err != nil {
		t.Fatalf("no export within 30s of the collector coming up: %v", err)
	}

	rcv.Stop()
	before := scrape(t, health)
	time.Sleep(outage)
	during := scrape(t, health)
	if agent.exited() {
		t.Fatalf("agent exited during the outage: %v", agent.err)
	}
	if d0, d1 := before.sum(metricDropped, ""), during.sum(metricDropped, ""); d1 <= d0 {
		t.Errorf("%s went from %v to %v during a %v outage under load, want it to grow", metricDropped, d0, d1, outage)
	}

	rcv = otlptest.StartAt(t, endpoint)
	if _, err := rcv.WaitForSpans(timeout(t, 30*time.Second), 1); err != nil {
		t.Fatalf("export did not resume within 30s of the collector's return: %v", err)
	}
	res := l.stop()
	checkLoad(t, res)
	n := float64(res.sent())
	m = waitMetrics(t, health, 30*time.Second, func(m metrics) bool { return m.sum(metricRead, "") == n && spansSettled(m) })
	steady, peak := rssStats(rss.stop())
	t.Logf("%d requests at %.0f/s, outage %v: exported %v, dropped %v (%v); agent RSS steady %s, peak %s",
		res.sent(), res.rate(), outage, m.sum(metricExported, ""), m.sum(metricDropped, ""), dropReasons(m), mib(steady), mib(peak))
	if peak > agentRSSLimit {
		t.Errorf("agent RSS reached %s, want at most %s", mib(peak), mib(agentRSSLimit))
	}
	agent.stop(t, 15*time.Second)
}

// TestFaultRingBufferOverflow stops the agent (SIGSTOP) while load runs,
// so that about three times what the ring buffer holds finishes with no
// reader, then lets it go on: the records the probes could not write are
// counted as lost, every request is either read or lost, and afterwards
// each request has its span again.
func TestFaultRingBufferOverflow(t *testing.T) {
	requireBPF(t)
	rcv := startSpanCounter(t)
	a, agent, health := startTraced(t, otlpEnv(rcv.addr))
	l := startLoad(t, loadSpec{addr: a.addr, conns: 16, req: helloReq})

	// The ring is 4 MiB of /hello records of about 240 bytes (the fixed part
	// and the texts used): about 17,500.
	const unread = 52_000
	if err := agent.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	from := l.answered()
	for deadline := time.Now().Add(time.Minute); l.answered()-from < unread; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("only %d requests in a minute with the agent stopped, want %d", l.answered()-from, unread)
		}
	}
	if err := agent.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // the reader catches up while load goes on
	res := l.stop()
	checkLoad(t, res)

	n := float64(res.sent())
	m := waitMetrics(t, health, 30*time.Second, func(m metrics) bool {
		return m.sum(metricRead, "")+m.sum(metricLost, "") == n && spansSettled(m)
	})
	lost := m.sum(metricLost, "")
	t.Logf("%d requests, %d while the agent was stopped: read %v, lost %v, spans received %d, dropped %v",
		res.sent(), unread, m.sum(metricRead, ""), lost, rcv.spans.Load(), dropReasons(m))
	if lost == 0 {
		t.Fatalf("%s = 0 after %d requests with the reader stopped", metricLost, unread)
	}
	if v := m.sum(metricProbeDrops, serverDrop("ringbuf_full")); v != lost {
		t.Errorf("probe drops for ringbuf_full %v, want %v (the lost records)", v, lost)
	}

	// Nothing stuck: from now on every request has its span.
	base := rcv.spans.Load()
	calls := sendAll(t, a.addr, hello(50))
	waitCount(t, rcv, base+int64(len(calls)))
	m = waitMetrics(t, health, 15*time.Second, spansSettled)
	if got := m.sum(metricLost, ""); got != lost {
		t.Errorf("%v more records lost after recovery", got-lost)
	}
	agent.stop(t, 15*time.Second)
	if got := rcv.spans.Load(); got != base+int64(len(calls)) {
		t.Errorf("%d spans for %d requests after recovery", got-base, len(calls))
	}
}

// waitCount waits until c has counted n spans.
func waitCount(t testing.TB, c *spanCounter, n int64) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); c.spans.Load() < n; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("receiver counted %d spans within 30s, want %d", c.spans.Load(), n)
		}
	}
}

// TestFaultInFlightMapFull holds 10,000 requests in the app at once, more
// than the probes' in-flight map (active_requests, 8,192 entries) holds:
// the requests evicted from it are counted as unmatched exits, every
// request is accounted for exactly once, and each gets its right answer.
func TestFaultInFlightMapFull(t *testing.T) {
	requireBPF(t)
	const n, mapSize = 10_000, 8192
	a, agent, health := startTraced(t, agentEnv("OTEL_TRACES_EXPORTER=none"))

	client := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}, Timeout: 2 * time.Minute}
	url, want := fmt.Sprintf("http://%s/gather?n=%d", a.addr, n), fmt.Sprintf("gathered %d", n)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() { errs <- getExpect(client, url, want) })
	}
	wg.Wait()
	close(errs)
	failed := 0
	for err := range errs {
		if err != nil {
			if failed++; failed <= 3 {
				t.Error(err)
			}
		}
	}
	if failed > 0 {
		t.Fatalf("%d of %d requests failed", failed, n)
	}

	// Each request's exit was read, lost to a full ring, or found no entry.
	outcomes := func(m metrics) float64 {
		return m.sum(metricRead, "") + m.sum(metricLost, "") + m.sum(metricProbeDrops, serverDrop("unmatched_exit")) +
			m.sum(metricProbeDrops, serverDrop("mismatched_exit"))
	}
	waitMetrics(t, health, 30*time.Second, func(m metrics) bool { return outcomes(m) >= n })
	time.Sleep(1500 * time.Millisecond) // a second sync of the drop counters would show extras
	m := scrape(t, health)
	unmatched := m.sum(metricProbeDrops, serverDrop("unmatched_exit"))
	t.Logf("%d requests in flight: read %v, lost %v, unmatched exits %v", n, m.sum(metricRead, ""), m.sum(metricLost, ""), unmatched)
	if got := outcomes(m); got != n {
		t.Errorf("%v request exits accounted for, want %d", got, n)
	}
	if unmatched < n-mapSize {
		t.Errorf("unmatched exits %v, want at least %d: the in-flight map holds %d", unmatched, n-mapSize, mapSize)
	}
	if v := m.sum(metricProbeDrops, serverDrop("mismatched_exit")); v != 0 {
		t.Errorf("mismatched exits %v, want 0", v)
	}
	agent.stop(t, 15*time.Second)
}

// recurseSum is what the sample app's recurse(depth) returns.
func recurseSum(depth int) uint64 { return 1 + uint64(depth)*uint64(depth+1)/2 }

// TestFaultStackGrowth traces handlers that grow their goroutine's stack
// to megabytes and spawn hundreds of goroutines that grow theirs, for
// SPANPROBE_FAULT_DURATION (10s by default, 60s in make bench): every
// response stays right, the app stays up, and every request has its span.
// Go copies a stack to grow it; probes that kept addresses into it (as
// uretprobes do) would crash the app or lose the request.
func TestFaultStackGrowth(t *testing.T) {
	requireBPF(t)
	rcv := startSpanCounter(t)
	a, agent, health := startTraced(t, otlpEnv(rcv.addr))
	req := func(i int) (string, string) {
		switch i % 3 {
		case 0:
			d := i * 7919 % 20_000
			return fmt.Sprintf("/recurse?depth=%d", d), strconv.FormatUint(recurseSum(d), 10)
		case 1:
			n, d := 100+i%400, 32+i%96
			return fmt.Sprintf("/fanout?n=%d&depth=%d", n, d), strconv.FormatUint(uint64(n)*recurseSum(d), 10)
		}
		return helloReq(i)
	}
	l := startLoad(t, loadSpec{addr: a.addr, conns: 8, req: req})
	time.Sleep(faultDuration(t))
	res := l.stop()
	checkLoad(t, res)
	if a.exited() {
		t.Fatalf("app exited under load: %v", a.err)
	}
	waitCount(t, rcv, int64(res.sent()))
	m := waitMetrics(t, health, 15*time.Second, spansSettled)
	t.Logf("%d requests in %v (%.0f/s): %d spans", res.sent(), res.elapsed.Round(time.Millisecond), res.rate(), rcv.spans.Load())
	for _, name := range []string{metricDropped, metricLost, metricProbeDrops} {
		if v := m.sum(name, ""); v != 0 {
			t.Errorf("%s = %v, want 0", name, v)
		}
	}
	agent.stop(t, 15*time.Second)
	if got := rcv.spans.Load(); got != int64(res.sent()) {
		t.Errorf("%d spans for %d requests", got, res.sent())
	}
}

// TestFaultHundredThousandRequests sends 100,000 requests at 5,000 a
// second over 32 keep-alive connections (or as fast as the machine goes,
// which it prints) and wants exactly one span for each.
func TestFaultHundredThousandRequests(t *testing.T) {
	requireBPF(t)
	const total, rate = 100_000, 5000
	rcv := startSpanCounter(t)
	a, agent, health := startTraced(t, otlpEnv(rcv.addr))
	res := startLoad(t, loadSpec{addr: a.addr, conns: 32, rate: rate, total: total, req: helloReq}).wait()
	checkLoad(t, res)
	waitCount(t, rcv, int64(res.sent()))
	m := waitMetrics(t, health, 15*time.Second, spansSettled)
	agent.stop(t, 15*time.Second)
	t.Logf("requests sent %d at %.0f/s (target %d/s), spans received %d, dropped %v, lost %v",
		res.sent(), res.rate(), rate, rcv.spans.Load(), m.sum(metricDropped, ""), m.sum(metricLost, ""))
	if got := rcv.spans.Load(); got != total || res.sent() != total {
		t.Errorf("spans received %d for %d requests sent, want %d each", got, res.sent(), total)
	}
	if res.rate() < rate*0.9 {
		t.Logf("the machine sustained %.0f requests/s, short of %d", res.rate(), rate)
	}
}
