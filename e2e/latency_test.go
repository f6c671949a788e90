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
// request at a time (no concurrency, one keep-alive connection), per route.
// Rounds alternate: 500 sequential requests with the agent attached
// (exporting over OTLP to a receiver that counts), 500 with no-op programs
// on the agent's probe sites (the floor: what the traps and tracepoint
// dispatch cost whatever the programs do), then 500 with neither, four
// times, so that the drift of a shared machine falls on every side. The
// added latency is the median of all requests with the agent minus the
// median of all without, in microseconds; the floor's the same for the
// no-op programs.
func BenchmarkUnloadedLatency(b *testing.B) {
	requireBPF(b)
	const rounds, n = 4, 500
	a := startApp(b, bins.app, "-downstream", startDownstream(b).URL)
	sites := agentSites(b, a.pid())
	for _, route := range benchRoutes {
		b.Run(route[1:], func(b *testing.B) {
			url := "http://" + a.addr + route
			sequential(b, url, 200) // warm-up
			var with, floor, without []time.Duration
			for range rounds {
				rcv := startSpanCounter(b)
				agent := startAgent(b, otlpEnv(rcv.addr), "--pid", strconv.Itoa(a.pid()))
				waitAttached(b, agent)
				sequential(b, url, 50)
				with = append(with, sequential(b, url, n)...)
				agent.stop(b, 15*time.Second)
				rcv.stop()

				detach := attachNoop(b, a.pid(), sites)
				sequential(b, url, 50)
				floor = append(floor, sequential(b, url, n)...)
				detach()

				sequential(b, url, 50)
				without = append(without, sequential(b, url, n)...)
			}
			added, floorAdded := median(with)-median(without), median(floor)-median(without)
			b.Logf("%s unloaded p50: %v without the agent, %v with it: %v added, of which the no-op floor %v (%d requests each, %d alternating rounds)",
				route, median(without), median(with), added, floorAdded, len(with), rounds)
			b.ReportMetric(float64(added)/float64(time.Microsecond), "added_p50_us")
			b.ReportMetric(float64(floorAdded)/float64(time.Microsecond), "noop_floor_added_p50_us")
		})
	}
}

func median(d []time.Duration) time.Duration {
	s := slices.Sorted(slices.Values(d))
	return s[len(s)/2]
}

// sequential sends n GETs one after another on one connection and returns
// their latencies.
func sequential(b *testing.B, url string, n int) []time.Duration {
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
	return d
}
