package e2e

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"time"
)

// BenchmarkUnloadedLatency measures the latency the agent adds to one
// request at a time (no concurrency, one keep-alive connection, a client
// process of its own: seqClient), per route,
// in five modes: the agent attached (exporting over OTLP to a receiver that
// counts); no-op programs on the agent's probe sites (the floor: what the
// traps and the tracepoint dispatch cost whatever the programs do); the
// floor's uprobes alone and its tracepoints alone, which split it; and a
// control, a no-op program on a tracepoint the requests never fire, which
// goes through the same attach and detach and so shows the method's own
// error. Each mode is measured between two runs without probes (A-B-A: 150
// sequential requests each, after 50 unmeasured), and adds its median minus
// the mean of theirs: the latency of an idle request here drifts by tens
// of microseconds within seconds, and a mode measured against a baseline
// taken at another point of the round took on its drift and its
// predecessor's teardown (the control then added up to 10 us). 24 rounds,
// the modes in a new random order each round; a figure is the median over
// rounds, in microseconds. BPF run-time statistics are off in the measured
// runs: they cost each program run two clock reads (sampleProbes).
func BenchmarkUnloadedLatency(b *testing.B) {
	requireBPF(b)
	const rounds, n = 24, 150
	const sampleN = 50 // requests with BPF statistics on, after the agent's measured ones
	a := startApp(b, bins.app, "-downstream", startDownstream(b).URL)
	sites := agentSites(b, a.pid())
	uprobesOnly, tracepointsOnly := sites, sites
	uprobesOnly.tracepoints, tracepointsOnly.offs = nil, nil
	control := probeSites{tracepoints: []string{"sched_kthread_stop"}}
	for _, route := range benchRoutes {
		b.Run(route[1:], func(b *testing.B) {
			client := startSeqClient(b, "http://"+a.addr+route)
			client.median(b, 200) // warm-up
			run := func() time.Duration {
				client.median(b, 50)
				return client.median(b, n)
			}
			floor := func(s probeSites) func() time.Duration {
				return func() time.Duration {
					defer attachNoop(b, a.pid(), s)()
					return run()
				}
			}
			// The agent's BPF time, from a run of sampleN more requests with
			// statistics on after each measured one (sampleProbes).
			var bpfTime time.Duration
			var bpfRequests int
			agent := func() time.Duration {
				rcv := startSpanCounter(b)
				defer rcv.stop()
				before := uprobeRunCounts(b)
				agent := startAgent(b, otlpEnv(rcv.addr), "--pid", strconv.Itoa(a.pid()))
				defer agent.stop(b, 15*time.Second)
				waitAttached(b, agent)
				ours := newPrograms(b, before)
				client.median(b, 50)
				d := client.median(b, n)
				s := sampleProbes(b, ours, func() int { client.median(b, sampleN); return sampleN })
				bpfTime += s.bpfTime
				bpfRequests += s.hitRequests
				return d
			}
			modes := []struct {
				metric, what string
				run          func() time.Duration
			}{
				{"added_p50_us", "the agent", agent},
				{"noop_floor_added_p50_us", "the no-op floor", floor(sites)},
				{"noop_uprobes_added_p50_us", "its uprobes alone", floor(uprobesOnly)},
				{"noop_tracepoints_added_p50_us", "its tracepoints alone", floor(tracepointsOnly)},
				{"control_added_p50_us", "the control", floor(control)},
			}
			added, without := make([][]time.Duration, len(modes)), []time.Duration{}
			for r := range rounds {
				order := rand.New(rand.NewPCG(1, uint64(r))).Perm(len(modes))
				for _, m := range order {
					x := run()
					y := modes[m].run()
					z := run()
					added[m] = append(added[m], y-(x+z)/2)
					without = append(without, x, z)
				}
			}
			msg := fmt.Sprintf("%s unloaded p50: %v without probes; added", route, median(without))
			for m, mode := range modes {
				msg += fmt.Sprintf(" %v by %s,", median(added[m]), mode.what)
				b.ReportMetric(float64(median(added[m]))/float64(time.Microsecond), mode.metric)
			}
			if bpfRequests > 0 {
				perReq := bpfTime / time.Duration(bpfRequests)
				msg += fmt.Sprintf(" the agent's BPF programs ran %v a request,", perReq)
				b.ReportMetric(float64(perReq)/float64(time.Microsecond), "agent_bpf_us/req")
			}
			b.Logf("%s (medians of %d rounds, each mode between two runs without probes, %d requests a run)", msg[:len(msg)-1], rounds, n)
		})
	}
}

func median(d []time.Duration) time.Duration {
	s := slices.Sorted(slices.Values(d))
	return s[len(s)/2]
}
