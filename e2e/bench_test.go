package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// benchRoutes are the sample app's routes BenchmarkAgentOverhead loads, one
// sub-benchmark each, each against its own baseline in the same run.
// /chain makes one outgoing call to a server outside the app (so only the
// app's own spans count), /db one SQLite query.
var benchRoutes = []string{"/hello", "/chain", "/db"}

// BenchmarkAgentOverhead measures what the agent costs the traced app: wrk
// (a separate process) loads a route (benchRoutes) for a fixed time without
// the agent (baseline), with `spanprobe --pid` exporting every span to an
// OTLP receiver in this process that only counts spans (agent; see
// spanCounter), with export disabled (agent-noexport: probes, ring
// buffer and span building only), exporting one trace in ten
// (agent-sampled10: OTEL_TRACES_SAMPLER=parentbased_traceidratio, 0.1),
// and with a program that does nothing on each of the agent's probe sites
// (noop-probes: the floor, see floor_test.go): benchRounds rounds of all
// five, the order turning each
// round, to spread the noise of a shared 2-core machine over all modes (a
// baseline run here moved by half between rounds). One iteration does
// everything;
// run it as
//
//	go test ./e2e -run '^$' -bench AgentOverhead -benchtime 1x
//
// SPANPROBE_BENCH_DURATION (default 5s) sets the length of each wrk run.
// Besides req/s and latency it reports the app's CPU per request, uprobe
// hits per request and BPF run time per hit (BPF statistics), the
// agent's CPU per span, its steady RSS under the load (median of the second
// half of the run) and peak RSS, and this process's CPU per span (the
// receiver competes for the same cores). It prints a table per route, the
// agent's drop reasons when it dropped spans, then one machine-readable line
// starting with "spanprobe_bench_summary".
func BenchmarkAgentOverhead(b *testing.B) {
	requireBPF(b)
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		b.Skip("wrk not installed (apt-get install wrk)")
	}
	dur := 5 * time.Second
	if v := os.Getenv("SPANPROBE_BENCH_DURATION"); v != "" {
		if dur, err = time.ParseDuration(v); err != nil {
			b.Fatalf("SPANPROBE_BENCH_DURATION=%q: %v", v, err)
		}
	}
	a := startApp(b, bins.app, "-downstream", startDownstream(b).URL)
	sites := agentSites(b, a.pid())
	for _, route := range benchRoutes {
		b.Run(strings.TrimPrefix(route, "/"), func(b *testing.B) {
			benchRoute(b, wrk, "http://"+a.addr+route, a.pid(), sites, dur)
		})
	}
}

// benchRounds: four rounds of 5 s take as long as two of 10 s did, and a
// drift of the machine meets each mode in each position.
const benchRounds = 4

func benchRoute(b *testing.B, wrk, url string, pid int, sites probeSites, dur time.Duration) {
	runWrk(b, wrk, url, pid, 2*time.Second) // warm-up: connections, page cache, CPU frequency
	modes := []func() benchRow{
		func() benchRow { return measureFloor(b, wrk, url, pid, sites, dur) },
		func() benchRow { return measureAgent(b, wrk, url, pid, dur, modeAgent) },
		func() benchRow { return measureAgent(b, wrk, url, pid, dur, modeNoExport) },
		func() benchRow { return measureAgent(b, wrk, url, pid, dur, modeSampled) },
	}
	var rows []benchRow
	for _, step := range benchOrder(benchRounds, len(modes)) {
		var r benchRow
		if step.mode < 0 {
			r = benchRow{mode: "baseline", wrkResult: runWrk(b, wrk, url, pid, dur)}
		} else {
			r = modes[step.mode]()
		}
		r.round = step.round
		rows = append(rows, r)
	}
	setBaseRates(rows)
	s := summarize(rows)
	fmt.Println(url)
	printBench(rows, s)
	b.ReportMetric(s[modeAgent.name].ThroughputRatio, "throughput_ratio")
	b.ReportMetric(s[modeNoExport.name].ThroughputRatio, "noexport_throughput_ratio")
	b.ReportMetric(s[modeSampled.name].ThroughputRatio, "sampled10_throughput_ratio")
	b.ReportMetric(s[modeFloor].ThroughputRatio, "noop_probes_throughput_ratio")
	b.ReportMetric(s[modeAgent.name].UprobeHitsPerRequest, "uprobe_hits/req")
	b.ReportMetric(s[modeAgent.name].AgentCPUPerSpanUS, "agent_cpu_us/span")
	b.ReportMetric(s[modeAgent.name].AgentCPUPerSpanUS/1000, "agent_cpu_s/1000spans")
	b.ReportMetric(s[modeAgent.name].AgentSteadyRSSMiB, "agent_rss_steady_MiB")
	b.ReportMetric(s[modeAgent.name].AgentMaxRSSMiB, "agent_rss_peak_MiB")
}

// benchStep is one run of benchRoute: mode indexes its modes, -1 is the
// baseline.
type benchStep struct{ round, mode int }

// benchOrder runs every mode once a round, their order turning each round,
// with a baseline first and after every second mode: B m m B m m B m m
// B... Each mode's run so has a baseline at most one run away on either
// side: the machine's speed drifts within a minute here, and one slow
// baseline per round had moved a ratio by 5 points.
func benchOrder(rounds, modes int) []benchStep {
	steps := []benchStep{{1, -1}}
	for round := 1; round <= rounds; round++ {
		for i := range modes {
			steps = append(steps, benchStep{round, (i + round - 1) % modes})
			if i%2 == 1 || i == modes-1 {
				steps = append(steps, benchStep{round, -1})
			}
		}
	}
	return steps
}

// setBaseRates sets each mode run's baseRPS to the mean rate of the
// baseline runs just before and after it.
func setBaseRates(rows []benchRow) {
	// nearest returns the rate of the first baseline from row i on in
	// direction step (-1 or 1).
	nearest := func(i, step int) (float64, bool) {
		for j := i + step; j >= 0 && j < len(rows); j += step {
			if rows[j].mode == "baseline" {
				return rows[j].rps, true
			}
		}
		return 0, false
	}
	for i := range rows {
		if rows[i].mode == "baseline" {
			continue
		}
		var sum float64
		var n int
		for _, step := range []int{-1, 1} {
			if rps, ok := nearest(i, step); ok {
				sum, n = sum+rps, n+1
			}
		}
		if n > 0 {
			rows[i].baseRPS = sum / float64(n)
		}
	}
}

// ratio is the run's rate over its baselines' (setBaseRates), for the table.
func (r benchRow) ratio() string {
	if r.baseRPS <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.3f", r.rps/r.baseRPS)
}

// wrkResult is what one wrk run reports.
type wrkResult struct {
	requests int
	rps      float64
	p50, p99 time.Duration
	appCPU   time.Duration // the app's utime+stime during the run
}

func (r wrkResult) appCPUPerReq() time.Duration {
	if r.requests == 0 {
		return 0
	}
	return (r.appCPU / time.Duration(r.requests)).Round(10 * time.Nanosecond)
}

// benchRow is one measured phase.
type benchRow struct {
	round int
	mode  string // baseline | noop-probes (floor_test.go) | agent (OTLP export) | agent-noexport (OTEL_TRACES_EXPORTER=none)
	wrkResult
	baseRPS    float64 // the baselines' rate around this run (setBaseRates)
	spans      int     // spans the receiver got
	records    int     // spanprobe_ringbuf_records_read_total: spans built
	cpuRecords int     // of those, the ones read while cpu was measured
	// firstCPU and firstRecords are the agent's CPU and records read in the
	// load's first second (warmup), which cpu and cpuRecords leave out.
	firstCPU     time.Duration
	firstRecords int
	dropped      float64            // spanprobe_spans_dropped_total
	drops        map[string]float64 // the same by reason, non-zero only
	probeSample                     // the probes' hits and BPF time, from a run of their own
	cpu          time.Duration
	rcvCPU       time.Duration // this process (the OTLP receiver) over the same window
	maxRSS       int64         // bytes, VmHWM
	steadyRSS    int64         // bytes, VmRSS in the second half of the load (rssStats)
}

var (
	wrkRequestsRE = regexp.MustCompile(`(\d+) requests in`)
	wrkRPSRE      = regexp.MustCompile(`Requests/sec:\s+([\d.]+)`)
	wrkPctRE      = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([\d.]+)(us|ms|s|m)\s*$`)
	wrkErrorsRE   = regexp.MustCompile(`Socket errors:.*|Non-2xx or 3xx responses:.*`)
)

func runWrk(b *testing.B, wrk, url string, appPID int, d time.Duration) wrkResult {
	b.Helper()
	cpu0 := procCPU(b, appPID)
	secs := max(1, int(d.Round(time.Second)/time.Second))
	cmd := exec.CommandContext(timeout(b, d+time.Minute), wrk, "-t1", "-c32", "-d"+strconv.Itoa(secs)+"s", "--latency", url)
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.Fatalf("wrk: %v\n%s", err, out)
	}
	text := string(out)
	if m := wrkErrorsRE.FindString(text); m != "" {
		b.Fatalf("wrk saw failures (%s):\n%s", m, text)
	}
	r := wrkResult{appCPU: procCPU(b, appPID) - cpu0}
	m := wrkRequestsRE.FindStringSubmatch(text)
	m2 := wrkRPSRE.FindStringSubmatch(text)
	if m == nil || m2 == nil {
		b.Fatalf("unexpected wrk output:\n%s", text)
	}
	r.requests, _ = strconv.Atoi(m[1])
	r.rps, _ = strconv.ParseFloat(m2[1], 64)
	for _, p := range wrkPctRE.FindAllStringSubmatch(text, -1) {
		d, err := time.ParseDuration(p[2] + p[3])
		if err != nil {
			b.Fatalf("wrk latency %q: %v", p[0], err)
		}
		if p[1] == "50" {
			r.p50 = d
		} else {
			r.p99 = d
		}
	}
	if r.p50 == 0 || r.p99 == 0 {
		b.Fatalf("no latency distribution in wrk output:\n%s", text)
	}
	return r
}

// agentMode is one way the benchmark runs the agent: a name for the
// table and its environment, given the receiver's address.
type agentMode struct {
	name string
	env  func(receiver string) []string
}

var (
	// modeAgent exports every span.
	modeAgent = agentMode{"agent", otlpEnv}
	// modeNoExport builds every span and drops it.
	modeNoExport = agentMode{"agent-noexport", func(string) []string { return agentEnv("OTEL_TRACES_EXPORTER=none") }}
	// modeSampled exports one trace in ten, as a busy service would be
	// set up: the other requests' spans are decided against in the probes.
	modeSampled = agentMode{"agent-sampled10", func(rcv string) []string {
		return append(otlpEnv(rcv), "OTEL_TRACES_SAMPLER=parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG=0.1")
	}}
)

// measureAgent attaches the agent to the app as am says, runs wrk and
// collects the agent's costs: CPU, peak RSS, uprobe hits, spans delivered.
// Without export (modeNoExport) it shows the cost of probes, ring buffer
// and span building alone.
func measureAgent(b *testing.B, wrk, url string, pid int, d time.Duration, am agentMode) benchRow {
	b.Helper()
	rcv := startSpanCounter(b)
	defer rcv.stop()
	health := fmt.Sprintf("127.0.0.1:%d", freePort(b))
	before := uprobeRunCounts(b)
	agent := startAgent(b, am.env(rcv.addr), "--pid", strconv.Itoa(pid), "--health-addr", health)
	waitAttached(b, agent)
	ours := newPrograms(b, before)

	// The agent's CPU per span is taken over the load alone, not the drain
	// below, where an idle agent waits out the last batch's delay: a
	// fixed cost that would weigh on a short run's figure. The first
	// second of load is kept apart: an agent just attached fills its span
	// pool, buffers and heap then, which cost it 10-50% more per span than
	// the rest of a 5 s run, a one-off that a short run would spread
	// over every span.
	at0 := agentUsage(b, agent.pid(), health)
	self0 := procCPU(b, os.Getpid())
	rss := sampleRSS(b, agent.pid())
	first := make(chan usageOrErr, 1)
	go func() {
		time.Sleep(min(warmup, d/2)) // a smoke run's load may be shorter
		u, err := readAgentUsage(agent.pid(), health)
		first <- usageOrErr{u, err}
	}()
	res := runWrk(b, wrk, url, pid, d)
	at2 := agentUsage(b, agent.pid(), health)
	f := <-first
	if f.err != nil {
		b.Fatalf("the agent's usage after the load's first second: %v", f.err)
	}
	at1 := f.agentUsageSample
	steady, _ := rssStats(rss.stop())
	// Let the export pipeline drain: the span count stops moving.
	last, still := int64(-1), 0
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline) && still < 5; {
		time.Sleep(200 * time.Millisecond)
		if n := rcv.spans.Load(); n == last {
			still++
		} else {
			last, still = n, 0
		}
	}
	rcvCPU := procCPU(b, os.Getpid()) - self0
	hwm := procHWM(b, agent.pid())
	m := scrape(b, health)
	spans := int(rcv.spans.Load())
	sample := sampleProbes(b, ours, func() int { return runWrk(b, wrk, url, pid, statsSample).requests })
	agent.stop(b, 30*time.Second)

	return benchRow{
		mode: am.name, wrkResult: res, spans: spans, records: int(m.sum("spanprobe_ringbuf_records_read_total", "")), cpuRecords: at2.records - at1.records,
		dropped: m.sum("spanprobe_spans_dropped_total", ""), drops: dropReasons(m), probeSample: sample, cpu: at2.cpu - at1.cpu,
		firstCPU: at1.cpu - at0.cpu, firstRecords: at1.records - at0.records, rcvCPU: rcvCPU, maxRSS: hwm, steadyRSS: steady,
	}
}

// dropReasons returns the non-zero spanprobe_spans_dropped_total series by
// their reason label, so that a run that lost spans says why.
func dropReasons(m metrics) map[string]float64 {
	drops := map[string]float64{}
	for k, v := range m.series {
		if labels, ok := strings.CutPrefix(k, "spanprobe_spans_dropped_total{"); ok && v > 0 {
			_, reason, _ := strings.Cut(labels, `reason="`)
			reason, _, _ = strings.Cut(reason, `"`)
			drops[reason] += v
		}
	}
	return drops
}

// probeSample is what a mode's programs did over a load of their own.
type probeSample struct {
	uprobeHits int64 // run_cnt delta of the uprobe_ programs; -1 unknown
	// steppedHits are the hits on single-stepped sites (noop-probes, whose
	// sites are the agent's); -1 unknown.
	steppedHits int64
	bpfTime     time.Duration // run_time_ns delta of the uprobe_ and tp_ programs
	hitRequests int           // the requests of that load
}

// statsSample is the length of the wrk run that sampleProbes measures.
const statsSample = time.Second

// sampleProbes runs load (which returns its request count) with BPF
// run-time statistics on, and returns what the programs ours (by ID) did
// meanwhile. Statistics cost every program run two clock reads: about
// 1 us of app CPU and 2-3% of /hello's throughput here, which a
// production agent does not pay. So the measured runs go without, and
// only this extra run pays. BPF_ENABLE_STATS rather than writing
// kernel.bpf_stats_enabled: the kernel counts the holders of the
// descriptor, so concurrent users cannot switch statistics off under
// each other and nothing is left on if the benchmark dies.
func sampleProbes(b *testing.B, ours map[int]progStats, load func() int) probeSample {
	b.Helper()
	s := probeSample{uprobeHits: -1, steppedHits: -1}
	if len(ours) == 0 {
		return s
	}
	stats, err := ebpf.EnableStats(unix.BPF_STATS_RUN_TIME)
	if err != nil {
		b.Logf("enabling BPF statistics: %v", err)
		return s
	}
	defer stats.Close()
	start := uprobeRunCounts(b)
	maps.DeleteFunc(start, func(id int, _ progStats) bool { _, ok := ours[id]; return !ok })
	s.hitRequests = load()
	end := uprobeRunCounts(b)
	s.uprobeHits, s.bpfTime = probeCost(start, end)
	s.steppedHits = 0
	for id, c0 := range start {
		if c0.name == noopStepped {
			s.steppedHits += end[id].runs - c0.runs
		}
	}
	return s
}

type progStats struct {
	name string
	runs int64
	time time.Duration
}

// sharesTrap names the programs attached to a site another program is on,
// run by the same trap: their runs are not uprobe hits.
var sharesTrap = map[string]bool{
	"uprobe_server_spawn": true, // the goroutine lineage site (server.bpf.c)
}

// newPrograms returns the uprobe programs loaded since the snapshot before:
// the ones just attached, not someone else's (their counts are 0 but for
// statistics someone else turned on).
func newPrograms(b *testing.B, before map[int]progStats) map[int]progStats {
	b.Helper()
	progs := uprobeRunCounts(b)
	for id := range before {
		delete(progs, id)
	}
	return progs
}

// probeCost returns the uprobe hits and the BPF run time of the programs of
// start between the snapshots start and end.
func probeCost(start, end map[int]progStats) (hits int64, bpfTime time.Duration) {
	for id, c0 := range start {
		if !sharesTrap[c0.name] && strings.HasPrefix(c0.name, "uprobe_") {
			hits += end[id].runs - c0.runs
		}
		bpfTime += end[id].time - c0.time
	}
	return hits, bpfTime
}

// uprobeRunCounts returns run_cnt and run_time_ns by program ID for programs
// named uprobe_* and tp_* (the tracepoint programs, whose runs are not
// uprobe hits but whose time is the agent's too). It reads them in this
// process: running bpftool for them cost the unloaded benchmark's next
// requests some 15 us each.
func uprobeRunCounts(b *testing.B) map[int]progStats {
	b.Helper()
	m := map[int]progStats{}
	for id := ebpf.ProgramID(0); ; {
		next, err := ebpf.ProgramGetNextID(id)
		if errors.Is(err, os.ErrNotExist) {
			return m
		}
		if err != nil {
			b.Fatalf("listing BPF programs: %v", err)
		}
		id = next
		prog, err := ebpf.NewProgramFromID(id)
		if err != nil {
			continue // unloaded since
		}
		if info, err := prog.Info(); err == nil && (strings.HasPrefix(info.Name, "uprobe_") || strings.HasPrefix(info.Name, "tp_")) {
			if st, err := prog.Stats(); err == nil {
				m[int(id)] = progStats{name: info.Name, runs: int64(st.RunCount), time: st.Runtime}
			}
		}
		prog.Close()
	}
}

// warmup is the part of the load the agent's steady CPU per span leaves out.
const warmup = time.Second

// agentUsageSample is the agent's CPU so far and the records it has read.
type agentUsageSample struct {
	cpu     time.Duration
	records int
}

type usageOrErr struct {
	agentUsageSample
	err error
}

// readAgentUsage samples the agent of pid through its health endpoint; it
// may run off the benchmark's goroutine.
func readAgentUsage(pid int, health string) (agentUsageSample, error) {
	cpu, err := readProcCPU(pid)
	if err != nil {
		return agentUsageSample{}, err
	}
	m, err := fetchMetrics(health)
	if err != nil {
		return agentUsageSample{}, err
	}
	return agentUsageSample{cpu, int(m.sum("spanprobe_ringbuf_records_read_total", ""))}, nil
}

func agentUsage(b testing.TB, pid int, health string) agentUsageSample {
	b.Helper()
	u, err := readAgentUsage(pid, health)
	if err != nil {
		b.Fatalf("the agent's usage: %v", err)
	}
	return u
}

// procCPU returns utime+stime of pid from /proc/PID/stat.
func procCPU(b testing.TB, pid int) time.Duration {
	b.Helper()
	d, err := readProcCPU(pid)
	if err != nil {
		b.Fatal(err)
	}
	return d
}

func readProcCPU(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(data)
	// Fields after the parenthesised comm; utime and stime are fields 14 and 15.
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	const clkTck = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / clkTck, nil
}

// procHWM returns the peak resident set size of pid.
func procHWM(b testing.TB, pid int) int64 {
	b.Helper()
	v, err := procStatus(pid, "VmHWM")
	if err != nil {
		b.Fatal(err)
	}
	return v
}

// procStatus returns a size field of /proc/PID/status (VmRSS, VmHWM, ...)
// in bytes.
func procStatus(pid int, field string) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("reading %s of process %d: %w", field, pid, errNoField)
}

// modeSummary averages the rounds of one mode.
type modeSummary struct {
	RPS   float64 `json:"rps"`
	P50MS float64 `json:"p50_ms"`
	P99MS float64 `json:"p99_ms"`
	// ThroughputRatio is the median over the mode's runs of their rate
	// over the baselines' around them (benchOrder).
	ThroughputRatio float64 `json:"throughput_ratio,omitempty"`
	Requests        int     `json:"requests"`
	AppCPUPerReqUS  float64 `json:"app_cpu_us_per_request"`
	Spans           int     `json:"spans_received,omitempty"`
	Dropped         float64 `json:"spans_dropped,omitempty"`
	// UprobeHitsPerRequest is -1 when not measured.
	UprobeHitsPerRequest float64 `json:"uprobe_hits_per_request,omitempty"`
	// SteppedHitsPerRequest: of those, on sites the kernel single-steps
	// (noop-probes only; -1 when not measured).
	SteppedHitsPerRequest float64 `json:"single_stepped_hits_per_request,omitempty"`
	// AgentCPUPerSpanUS leaves out the load's first second after attach;
	// AgentCPUPerSpanAllUS counts it too.
	AgentCPUPerSpanUS    float64 `json:"agent_cpu_us_per_span,omitempty"`
	AgentCPUPerSpanAllUS float64 `json:"agent_cpu_us_per_span_with_warmup,omitempty"`
	AgentMaxRSSMiB       float64 `json:"agent_max_rss_mib,omitempty"`
	AgentSteadyRSSMiB    float64 `json:"agent_steady_rss_mib,omitempty"` // the highest of the rounds
}

// benchSummary is the machine-readable result, keyed by mode.
type benchSummary map[string]*modeSummary

func summarize(rows []benchRow) benchSummary {
	s := benchSummary{}
	n := map[string]int{}
	hits := map[string]int64{}
	hitReqs := map[string]int{} // the requests those hits were counted over
	stepped := int64(0)         // of the floor's hits; -1 unknown
	records, allRecords := map[string]int{}, map[string]int{}
	cpu, allCPU := map[string]time.Duration{}, map[string]time.Duration{}
	appCPU := map[string]time.Duration{}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	for _, r := range rows {
		m := s[r.mode]
		if m == nil {
			m = &modeSummary{}
			s[r.mode] = m
		}
		n[r.mode]++
		m.RPS += r.rps
		m.P50MS += ms(r.p50)
		m.P99MS += ms(r.p99)
		m.Requests += r.requests
		appCPU[r.mode] += r.appCPU
		if r.mode == "baseline" {
			continue
		}
		if r.uprobeHits < 0 || hits[r.mode] < 0 {
			hits[r.mode] = -1
		} else {
			hits[r.mode] += r.uprobeHits
			hitReqs[r.mode] += r.hitRequests
		}
		if r.mode == modeFloor {
			if r.steppedHits < 0 || stepped < 0 {
				stepped = -1
			} else {
				stepped += r.steppedHits
			}
			continue
		}
		m.Spans += r.spans
		m.Dropped += r.dropped
		records[r.mode] += r.cpuRecords
		cpu[r.mode] += r.cpu
		allRecords[r.mode] += r.cpuRecords + r.firstRecords
		allCPU[r.mode] += r.cpu + r.firstCPU
		m.AgentMaxRSSMiB = max(m.AgentMaxRSSMiB, float64(r.maxRSS)/(1<<20))
		m.AgentSteadyRSSMiB = max(m.AgentSteadyRSSMiB, float64(r.steadyRSS)/(1<<20))
	}
	for mode, m := range s {
		k := float64(n[mode])
		m.RPS /= k
		m.P50MS /= k
		m.P99MS /= k
		if m.Requests > 0 {
			m.AppCPUPerReqUS = float64(appCPU[mode]) / float64(time.Microsecond) / float64(m.Requests)
		}
		if mode == "baseline" {
			continue
		}
		m.UprobeHitsPerRequest = -1
		if hits[mode] >= 0 && hitReqs[mode] > 0 {
			m.UprobeHitsPerRequest = float64(hits[mode]) / float64(hitReqs[mode])
		}
		if mode == modeFloor {
			m.SteppedHitsPerRequest = -1
			if stepped >= 0 && hitReqs[mode] > 0 {
				m.SteppedHitsPerRequest = float64(stepped) / float64(hitReqs[mode])
			}
		}
		if records[mode] > 0 {
			m.AgentCPUPerSpanUS = float64(cpu[mode]) / float64(time.Microsecond) / float64(records[mode])
		}
		if allRecords[mode] > 0 {
			m.AgentCPUPerSpanAllUS = float64(allCPU[mode]) / float64(time.Microsecond) / float64(allRecords[mode])
		}
	}
	ratios := map[string][]float64{}
	for _, r := range rows {
		if r.mode != "baseline" && r.baseRPS > 0 {
			ratios[r.mode] = append(ratios[r.mode], r.rps/r.baseRPS)
		}
	}
	for mode, rs := range ratios {
		s[mode].ThroughputRatio = medianFloat(rs)
	}
	return s
}

// medianFloat returns the median of v, the mean of the middle two when
// there is an even number; v must not be empty.
func medianFloat(v []float64) float64 {
	v = slices.Sorted(slices.Values(v))
	if n := len(v); n%2 == 0 {
		return (v[n/2-1] + v[n/2]) / 2
	}
	return v[len(v)/2]
}

// perHitCost is the app CPU a uprobe hit adds, trap included: the growth of
// the app's CPU per request over the baseline, divided by hits per request.
func perHitCost(base, m *modeSummary) float64 {
	if m.UprobeHitsPerRequest <= 0 {
		return 0
	}
	return (m.AppCPUPerReqUS - base.AppCPUPerReqUS) / m.UprobeHitsPerRequest
}

func printBench(rows []benchRow, s benchSummary) {
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "round\tmode\treq/s\tvs. baselines around\tp50\tp99\trequests\tapp CPU/req\tspans built\tspans received\tdropped\tuprobe hits/req\tBPF time/hit\tagent CPU/span\t(1st s)\tagent RSS steady\tagent max RSS\treceiver CPU/span\t")
	for _, r := range rows {
		if r.mode == "baseline" {
			fmt.Fprintf(w, "%d\t%s\t%.0f\t-\t%v\t%v\t%d\t%v\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t\n", r.round, r.mode, r.rps, r.p50, r.p99, r.requests, r.appCPUPerReq())
			continue
		}
		hits, perHit := "n/a", "n/a"
		if r.uprobeHits >= 0 && r.hitRequests > 0 {
			hits = fmt.Sprintf("%.2f", float64(r.uprobeHits)/float64(r.hitRequests))
		}
		if r.uprobeHits > 0 {
			perHit = (r.bpfTime / time.Duration(r.uprobeHits)).String()
		}
		if r.mode == modeFloor {
			fmt.Fprintf(w, "%d\t%s\t%.0f\t%s\t%v\t%v\t%d\t%v\t-\t-\t-\t%s\t%s\t-\t-\t-\t-\t-\t\n", r.round, r.mode, r.rps, r.ratio(), r.p50, r.p99, r.requests, r.appCPUPerReq(), hits, perHit)
			continue
		}
		perSpan, firstPerSpan, rcvPerSpan := "n/a", "n/a", "-"
		if r.cpuRecords > 0 {
			perSpan = (r.cpu / time.Duration(r.cpuRecords)).Round(10 * time.Nanosecond).String()
		}
		if r.firstRecords > 0 {
			firstPerSpan = (r.firstCPU / time.Duration(r.firstRecords)).Round(10 * time.Nanosecond).String()
		}
		if r.spans > 0 {
			rcvPerSpan = (r.rcvCPU / time.Duration(r.spans)).Round(10 * time.Nanosecond).String()
		}
		fmt.Fprintf(w, "%d\t%s\t%.0f\t%s\t%v\t%v\t%d\t%v\t%d\t%d\t%.0f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", r.round, r.mode, r.rps, r.ratio(), r.p50, r.p99,
			r.requests, r.appCPUPerReq(), r.records, r.spans, r.dropped, hits, perHit, perSpan, firstPerSpan, mib(r.steadyRSS), mib(r.maxRSS), rcvPerSpan)
	}
	w.Flush()
	for _, r := range rows {
		if len(r.drops) > 0 {
			fmt.Printf("round %d %s dropped:", r.round, r.mode)
			for _, reason := range slices.Sorted(maps.Keys(r.drops)) {
				fmt.Printf(" %s=%.0f", reason, r.drops[reason])
			}
			fmt.Println()
		}
	}
	base := s["baseline"]
	if m := s[modeFloor]; m != nil && base != nil {
		fmt.Printf("%s/baseline: throughput %.3f (the ceiling of any agent on these probe sites); app CPU/request %.1fus -> %.1fus, %.1fus per uprobe hit\n",
			modeFloor, m.ThroughputRatio, base.AppCPUPerReqUS, m.AppCPUPerReqUS, perHitCost(base, m))
		if m.UprobeHitsPerRequest >= 0 && m.SteppedHitsPerRequest >= 0 {
			fmt.Printf("uprobe hits per request on the agent's sites: %.2f emulated, %.2f single-stepped\n",
				m.UprobeHitsPerRequest-m.SteppedHitsPerRequest, m.SteppedHitsPerRequest)
		}
	}
	for _, mode := range []string{modeAgent.name, modeNoExport.name, modeSampled.name} {
		if m := s[mode]; m != nil && base != nil {
			fmt.Printf("%s/baseline: throughput %.3f; p50 %.3fms -> %.3fms; p99 %.3fms -> %.3fms; agent CPU %.4fs per 1,000 spans (%.4fs counting the first second after attach), RSS steady %.1f MiB\n",
				mode, m.ThroughputRatio, base.P50MS, m.P50MS, base.P99MS, m.P99MS, m.AgentCPUPerSpanUS/1000, m.AgentCPUPerSpanAllUS/1000, m.AgentSteadyRSSMiB)
		}
	}
	j, _ := json.Marshal(s)
	fmt.Printf("spanprobe_bench_summary %s\n", j)
}
