package e2e

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"
)

// BenchmarkUnloadedLatency measures the latency the agent adds to one
// request at a time (no concurrency, one keep-alive connection), per route.
// Each round sends 150 sequential requests in each of five modes: the agent
// attached (exporting over OTLP to a receiver that counts); no-op programs
// on the agent's probe sites (the floor: what the traps and the tracepoint
// dispatch cost whatever the programs do); the floor's uprobes alone and its
// tracepoints alone, which split it; and no probes. 24 rounds, the modes'
// order turning each round, so that the drift of a shared machine falls on
// every side. What a mode adds is the median over rounds of its median minus
// that round's median without probes, in microseconds.
func BenchmarkUnloadedLatency(b *testing.B) {
	requireBPF(b)
	const rounds, n = 24, 150
	a := startApp(b, bins.app, "-downstream", startDownstream(b).URL)
	sites := agentSites(b, a.pid())
	uprobesOnly, tracepointsOnly := sites, sites
	uprobesOnly.tracepoints, tracepointsOnly.offs = nil, nil
	for _, route := range benchRoutes {
		b.Run(route[1:], func(b *testing.B) {
			url := "http://" + a.addr + route
			sequential(b, url, 200) // warm-up
			run := func() time.Duration {
				sequential(b, url, 50)
				return median(sequential(b, url, n))
			}
			floor := func(s probeSites) func() time.Duration {
				return func() time.Duration {
					defer attachNoop(b, a.pid(), s)()
					return run()
				}
			}
			modes := []struct {
				metric, what string
				run          func() time.Duration
			}{
				{"added_p50_us", "the agent", func() time.Duration {
					rcv := startSpanCounter(b)
					defer rcv.stop()
					agent := startAgent(b, otlpEnv(rcv.addr), "--pid", strconv.Itoa(a.pid()))
					defer agent.stop(b, 15*time.Second)
					waitAttached(b, agent)
					return run()
				}},
				{"noop_floor_added_p50_us", "the no-op floor", floor(sites)},
				{"noop_uprobes_added_p50_us", "its uprobes alone", floor(uprobesOnly)},
				{"noop_tracepoints_added_p50_us", "its tracepoints alone", floor(tracepointsOnly)},
				{"", "", run}, // no probes: the last
			}
			none := len(modes) - 1
			added, without := make([][]time.Duration, none), []time.Duration{}
			for r := range rounds {
				med := make([]time.Duration, len(modes))
				for i := range modes {
					m := (i + r) % len(modes)
					med[m] = modes[m].run()
				}
				for m := range none {
					added[m] = append(added[m], med[m]-med[none])
				}
				without = append(without, med[none])
			}
			msg := fmt.Sprintf("%s unloaded p50: %v without probes; added", route, median(without))
			for m, mode := range modes[:none] {
				msg += fmt.Sprintf(" %v by %s,", median(added[m]), mode.what)
				b.ReportMetric(float64(median(added[m]))/float64(time.Microsecond), mode.metric)
			}
			b.Logf("%s (medians of %d rounds of %d requests per mode)", msg[:len(msg)-1], rounds, n)
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
