package e2e

import (
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strconv"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/spanprobe/spanprobe/internal/otlptest"
)

// outgoingRE matches the traceparent the agent adds to an outgoing request,
// whatever its sampled flag.
var outgoingRE = regexp.MustCompile(`traceparent: 00-([0-9a-f]{32})-[0-9a-f]{16}-(0[01])\r\n`)

// randomTraceID draws a trace id from rng.
func randomTraceID(rng *rand.Rand) trace.TraceID {
	var id trace.TraceID
	for i := range id {
		id[i] = byte(rng.Uint32())
	}
	return id
}

// traceparentFor is a version 00 traceparent in trace id, from a random
// parent span, with the sampled flag set or not.
func traceparentFor(rng *rand.Rand, id trace.TraceID, sampled bool) string {
	flags := 0
	if sampled {
		flags = 1
	}
	return fmt.Sprintf("00-%s-%016x-%02x", id, rng.Uint64()|1, flags)
}

// scopesByTrace counts the received spans by trace id (hex) and scope.
func scopesByTrace(spans []otlptest.Span) map[string]map[string]int {
	byTrace := map[string]map[string]int{}
	for _, s := range spans {
		id := hex.EncodeToString(s.Span.GetTraceId())
		if byTrace[id] == nil {
			byTrace[id] = map[string]int{}
		}
		byTrace[id][s.Scope]++
	}
	return byTrace
}

// TestSampling runs /chain under OTEL_TRACES_SAMPLER with a ratio of 0.25,
// calling a server that records the bytes of each outgoing request. Its
// traceparent shows each trace's decision, exported or not, so each one
// is checked: the flag must be the one the SDK's TraceIDRatioBased gives
// the trace id (or, parent-based, the incoming traceparent's flag), a
// sampled trace must arrive whole (server and client span) and an
// unsampled one not at all, and /metrics must count the spans left out.
// Requests come without a traceparent, with a sampled one whose trace id
// the ratio would not keep, and with an unsampled one whose id it would.
func TestSampling(t *testing.T) {
	requireBPF(t)
	const ratio = 0.25
	sdk := sdktrace.TraceIDRatioBased(ratio)
	kept := func(id trace.TraceID) bool {
		return sdk.ShouldSample(sdktrace.SamplingParameters{TraceID: id}).Decision == sdktrace.RecordAndSample
	}
	rng := rand.New(rand.NewPCG(7, 11))
	traceIDFor := func(keep bool) trace.TraceID {
		for {
			if id := randomTraceID(rng); kept(id) == keep {
				return id
			}
		}
	}

	raw := startRawServer(t)
	a := startApp(t, bins.app, "-downstream", raw.url)
	for _, tc := range []struct {
		sampler     string
		parentBased bool
	}{{"parentbased_traceidratio", true}, {"traceidratio", false}} {
		t.Run(tc.sampler, func(t *testing.T) {
			rcv := otlptest.Start(t)
			health := fmt.Sprintf("127.0.0.1:%d", freePort(t))
			env := append(otlpEnv(rcv.Endpoint()), "OTEL_TRACES_SAMPLER="+tc.sampler, "OTEL_TRACES_SAMPLER_ARG="+strconv.FormatFloat(ratio, 'g', -1, 64))
			agent := startAgent(t, env, "--pid", strconv.Itoa(a.pid()), "--propagation", "sk_msg", "--health-addr", health)
			waitAttached(t, agent)
			raw.take()

			chain := call{method: "GET", target: "/chain", status: 200, name: "GET /chain", route: "/chain"}
			type parent struct {
				id      trace.TraceID
				sampled bool
			}
			var calls []call
			var parents []*parent // nil: no traceparent sent
			for range 200 {
				calls, parents = append(calls, chain), append(parents, nil)
			}
			for i := range 40 {
				p := &parent{sampled: i%2 == 0}
				p.id = traceIDFor(!p.sampled) // the ratio disagrees with the caller
				c := chain
				c.traceparent = traceparentFor(rng, p.id, p.sampled)
				calls, parents = append(calls, c), append(parents, p)
			}
			rng.Shuffle(len(calls), func(i, j int) {
				calls[i], calls[j] = calls[j], calls[i]
				parents[i], parents[j] = parents[j], parents[i]
			})
			sendAll(t, a.addr, calls)

			got := raw.take()["/hello"]
			if len(got) != len(calls) {
				t.Fatalf("the downstream got %d requests, want %d", len(got), len(calls))
			}
			want := map[string]bool{} // trace id -> sampled
			roots, rootsKept, unsampled := 0, 0, 0
			for i, b := range got {
				m := outgoingRE.FindSubmatch(b)
				if m == nil {
					t.Fatalf("request %d (%s) reached the downstream without a traceparent:\n%q", i, calls[i].traceparent, b)
				}
				id, err := trace.TraceIDFromHex(string(m[1]))
				if err != nil {
					t.Fatal(err)
				}
				sampled := string(m[2]) == "01"
				var wantSampled bool
				switch p := parents[i]; {
				case p == nil:
					wantSampled = kept(id)
					roots++
					if sampled {
						rootsKept++
					}
				case id != p.id:
					t.Fatalf("request %d came with trace %s, went on in trace %s", i, p.id, id)
				case tc.parentBased:
					wantSampled = p.sampled
				default:
					wantSampled = kept(id)
				}
				if sampled != wantSampled {
					t.Errorf("request %d (traceparent %q): trace %s went on with sampled=%v, want %v", i, calls[i].traceparent, id, sampled, wantSampled)
				}
				want[id.String()] = wantSampled
				if !wantSampled {
					unsampled++
				}
			}
			if rootsKept == 0 || rootsKept == roots {
				t.Errorf("%d of %d new traces sampled at ratio %v: the test needs both kinds", rootsKept, roots, ratio)
			}

			// Each request has a server and a client span. An unsampled one
			// must not even reach the ring buffer: that is what sampling saves.
			sampledSpans := 2 * (len(calls) - unsampled)
			m := waitMetrics(t, health, 30*time.Second, func(m metrics) bool {
				return m.sum("spanprobe_spans_unsampled_total", "") >= float64(2*unsampled) &&
					m.sum("spanprobe_ringbuf_records_read_total", "") >= float64(sampledSpans)
			})
			if n := m.sum("spanprobe_spans_unsampled_total", ""); n != float64(2*unsampled) {
				t.Errorf("spanprobe_spans_unsampled_total = %v, want %d (2 spans for each of %d unsampled requests)", n, 2*unsampled, unsampled)
			}
			if n := m.sum("spanprobe_ringbuf_records_read_total", ""); n != float64(sampledSpans) {
				t.Errorf("spanprobe_ringbuf_records_read_total = %v, want %d: the sampled spans' records only", n, sampledSpans)
			}
			agent.stop(t, 15*time.Second)

			spans := scopesByTrace(rcv.Spans())
			for id, sampled := range want {
				got := spans[id]
				switch {
				case sampled && (got[serverScope] != 1 || got[clientScope] != 1 || len(got) != 2):
					t.Errorf("sampled trace %s arrived as %v, want one server and one client span", id, got)
				case !sampled && len(got) != 0:
					t.Errorf("unsampled trace %s arrived as %v, want nothing", id, got)
				}
			}
			for id := range spans {
				if _, ok := want[id]; !ok {
					t.Errorf("trace %s arrived, but no request of the test went on in it", id)
				}
			}
			t.Logf("%s %v: %d of %d new traces sampled; %d of %d requests unsampled, %d spans received",
				tc.sampler, ratio, rootsKept, roots, unsampled, len(calls), len(rcv.Spans()))
		})
	}
}

// TestSamplingParentOnly runs /db under parentbased_always_off: only
// requests that come with a sampled traceparent are traced, whole (server
// and database span, in the caller's trace); the others, with no
// traceparent or an unsampled one, leave nothing but their count.
func TestSamplingParentOnly(t *testing.T) {
	requireBPF(t)
	a := startApp(t, bins.app)
	rcv := otlptest.Start(t)
	health := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	agent := startAgent(t, append(otlpEnv(rcv.Endpoint()), "OTEL_TRACES_SAMPLER=parentbased_always_off"), "--pid", strconv.Itoa(a.pid()), "--health-addr", health)
	waitAttached(t, agent)

	rng := rand.New(rand.NewPCG(3, 5))
	db := call{method: "GET", target: "/db", status: 200, name: "GET /db", route: "/db"}
	var calls []call
	want := map[string]bool{} // trace ids sent sampled
	for i := range 30 {
		c := db
		switch i % 3 {
		case 1, 2:
			id, sampled := randomTraceID(rng), i%3 == 2
			c.traceparent = traceparentFor(rng, id, sampled)
			if sampled {
				want[id.String()] = true
			}
		}
		calls = append(calls, c)
	}
	sendAll(t, a.addr, calls)
	unsampled := 2 * (len(calls) - len(want)) // a server and a database span each
	m := waitMetrics(t, health, 30*time.Second, func(m metrics) bool {
		return m.sum("spanprobe_spans_unsampled_total", "") >= float64(unsampled)
	})
	if n := m.sum("spanprobe_spans_unsampled_total", ""); n != float64(unsampled) {
		t.Errorf("spanprobe_spans_unsampled_total = %v, want %d", n, unsampled)
	}
	agent.stop(t, 15*time.Second)

	got := scopesByTrace(rcv.Spans())
	for id := range want {
		if g := got[id]; g[serverScope] != 1 || g[dbScope] != 1 || len(g) != 2 {
			t.Errorf("sampled trace %s arrived as %v, want one server and one database span", id, g)
		}
	}
	for id, g := range got {
		if !want[id] {
			t.Errorf("trace %s arrived as %v; only the %d traces sent sampled should", id, g, len(want))
		}
	}
}

// TestSamplingFuncs runs funcapp's /work under always_off with --func
// main.fact: the calls are still counted by function, but no span and no
// record leaves the probes; the server span and the four recursive calls
// are counted as unsampled.
func TestSamplingFuncs(t *testing.T) {
	requireBPF(t)
	a := startApp(t, buildFuncApp(t, "go", nil, false))
	rcv := otlptest.Start(t)
	health := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	agent := startAgent(t, append(otlpEnv(rcv.Endpoint()), "OTEL_TRACES_SAMPLER=always_off"),
		"--pid", strconv.Itoa(a.pid()), "--func", "main.fact", "--func-args", "--health-addr", health)
	waitAttached(t, agent)
	if code, body, err := httpGet("http://" + a.addr + "/work"); err != nil || code != 200 {
		t.Fatalf("GET /work: %d %q %v", code, body, err)
	}
	m := waitMetrics(t, health, 10*time.Second, func(m metrics) bool {
		return m.sum("spanprobe_spans_unsampled_total", "") >= 5 && m.sum("spanprobe_func_calls_total", `function="main.fact"`) >= 4
	})
	if got := m.sum("spanprobe_spans_unsampled_total", ""); got != 5 {
		t.Errorf("spanprobe_spans_unsampled_total = %v, want 5 (the server span and four calls of main.fact)", got)
	}
	if got := m.sum("spanprobe_ringbuf_records_read_total", ""); got != 0 {
		t.Errorf("spanprobe_ringbuf_records_read_total = %v, want 0 under always_off", got)
	}
	agent.stop(t, 15*time.Second)
	if n := len(rcv.Spans()); n != 0 {
		t.Errorf("%d spans arrived under always_off, want none", n)
	}
}
