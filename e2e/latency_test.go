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
// Each round sends 150 sequential requests in each of three modes: the
// agent attached (exporting over OTLP to a receiver that counts), no-op
// programs on the agent's probe sites (the floor: what the traps and the
// tracepoint dispatch cost whatever the programs do), and neither. 24
// rounds, the modes' order turning each round, so that the drift of a
// shared machine falls on every side. What a mode adds is the median over
// rounds of its median minus that round's median without probes, in
// microseconds.
func BenchmarkUnloadedLatency(b *testing.B) {
	requireBPF(b)
	const rounds, n = 24, 150
	a := startApp(b, bins.app, "-downstream", startDownstream(b).URL)
	sites := agentSites(b, a.pid())
	for _, route := range benchRoutes {
		b.Run(route[1:], func(b *testing.B) {
			url := "http://" + a.addr + route
			sequential(b, url, 200) // warm-up
			modes := []func() time.Duration{
				func() time.Duration { // the agent
					rcv := startSpanCounter(b)
					defer rcv.stop()
					agent := startAgent(b, otlpEnv(rcv.addr), "--pid", strconv.Itoa(a.pid()))
					defer agent.stop(b, 15*time.Second)
					waitAttached(b, agent)
					sequential(b, url, 50)
					return median(sequential(b, url, n))
				},
				func() time.Duration { // the floor
					defer attachNoop(b, a.pid(), sites)()
					sequential(b, url, 50)
					return median(sequential(b, url, n))
				},
				func() time.Duration { // no probes
					sequential(b, url, 50)
					return median(sequential(b, url, n))
				},
			}
			var added, floorAdded, without []time.Duration
			for r := range rounds {
				var med [3]time.Duration
				for i := range modes {
					m := (i + r) % len(modes)
					med[m] = modes[m]()
				}
				added = append(added, med[0]-med[2])
				floorAdded = append(floorAdded, med[1]-med[2])
				without = append(without, med[2])
			}
			b.Logf("%s unloaded p50: %v without probes; added %v by the agent, %v by the no-op floor (medians of %d rounds of %d requests per mode)",
				route, median(without), median(added), median(floorAdded), rounds, n)
			b.ReportMetric(float64(median(added))/float64(time.Microsecond), "added_p50_us")
			b.ReportMetric(float64(median(floorAdded))/float64(time.Microsecond), "noop_floor_added_p50_us")
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
