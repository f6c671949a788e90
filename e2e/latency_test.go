package e2e

import (
	"io"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"
)

// BenchmarkUnloadedLatency measures the latency the agent adds to one
// request at a time (no concurrency, one keep-alive connection), per route:
// the median of 2,000 sequential requests without the agent, with it
// (exporting over OTLP to a receiver that counts), and without it again,
// in the same run. It reports the added median in microseconds.
func BenchmarkUnloadedLatency(b *testing.B) {
	requireBPF(b)
	const n = 2000
	a := startApp(b, bins.app, "-downstream", startDownstream(b).URL)
	for _, route := range benchRoutes {
		b.Run(route[1:], func(b *testing.B) {
			url := "http://" + a.addr + route
			sequential(b, url, 200) // warm-up
			before := sequential(b, url, n)
			rcv := startSpanCounter(b)
			agent := startAgent(b, otlpEnv(rcv.addr), "--pid", strconv.Itoa(a.pid()))
			waitAttached(b, agent)
			sequential(b, url, 200)
			with := sequential(b, url, n)
			agent.stop(b, 15*time.Second)
			rcv.stop()
			after := sequential(b, url, n)
			base := (before + after) / 2
			added := with - base
			b.Logf("%s unloaded p50: %v without the agent (%v before, %v after), %v with it: %v added",
				route, base, before, after, with, added)
			b.ReportMetric(float64(added)/float64(time.Microsecond), "added_p50_us")
		})
	}
}

// sequential sends n GETs one after another on one connection and returns
// their median latency.
func sequential(b *testing.B, url string, n int) time.Duration {
	b.Helper()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}, Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	d := make([]time.Duration, n)
	for i := range d {
		start := time.Now()
		resp, err := client.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		d[i] = time.Since(start)
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("GET %s: %s", url, resp.Status)
		}
	}
	slices.Sort(d)
	return d[n/2]
}
