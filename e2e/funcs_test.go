package e2e

import (
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	tracev1 "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/spanprobe/spanprobe/internal/otlptest"
)

const funcsScope = "github.com/spanprobe/spanprobe/instrumentation/funcs"

// funcPatterns are the --func flags of the tests: exact names, a method
// glob, the objdump spelling of a generic function.
var funcPatterns = []string{
	"main.prepareAnswer", "main.(*Store).*", "main.Sum[...]", "main.fact", "main.many",
	"main.mixed", "main.floats16", "main.sleepy", "main.safeCall", "main.mustPositive",
}

// argsWarnRE is the one line a build without DWARF gets for --func-args.
var argsWarnRE = regexp.MustCompile(`level=WARN msg="function arguments need debug info`)

// TestFuncSpans runs funcapp under --func --func-args, plain and stripped,
// and checks every function span: name, code.function.name, parent,
// arguments (none when stripped), durations, recursion nesting and the
// call that a panic left.
func TestFuncSpans(t *testing.T) {
	requireBPF(t)
	for _, stripped := range []bool{false, true} {
		name := "plain"
		if stripped {
			name = "stripped"
		}
		t.Run(name, func(t *testing.T) {
			bin := buildFuncApp(t, "go", nil, stripped)
			runFuncApp(t, bin, stripped, true)
		})
	}
}

// TestFuncLimit checks that a pattern matching more functions than the
// limit is refused with the count, before anything is attached.
func TestFuncLimit(t *testing.T) {
	requireBPF(t)
	bin := buildFuncApp(t, "go", nil, false)
	a := startApp(t, bin)
	agent := startAgent(t, agentEnv("OTEL_TRACES_EXPORTER=none"), "--pid", strconv.Itoa(a.pid()), "--func", "main.sleepy", "--func", "net/http.*")
	code, ok := agent.wait(20 * time.Second)
	if !ok || code == 0 {
		t.Fatalf("agent: exited %v, code %d; want a refusal", ok, code)
	}
	re := regexp.MustCompile(`pattern net/http\.\* matches (\d+) functions, more than the limit of 64: narrow it`)
	m := re.FindStringSubmatch(agent.stderr.String())
	if n, _ := strconv.Atoi(m[1:][0]); m == nil || n <= 64 {
		t.Errorf("no refusal naming the count; stderr:\n%s", agent.stderr)
	}
	if attachedRE.MatchString(agent.stderr.String()) {
		t.Error("probes attached despite the refusal")
	}
}

// buildFuncApp builds testdata/funcapp with the go command goBin (and env).
func buildFuncApp(t *testing.T, goBin string, env []string, stripped bool) string {
	t.Helper()
	src, err := filepath.Abs("testdata/funcapp")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "funcapp")
	args := []string{"build", "-o", bin}
	if stripped {
		args = append(args, "-ldflags=-s -w")
	}
	cmd := exec.Command(goBin, append(args, ".")...)
	cmd.Dir = src
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building funcapp: %v\n%s", err, out)
	}
	return bin
}

// wantFunc is one function span expected in /work's trace.
type wantFunc struct {
	name   string
	args   map[string]any // with --func-args on an unstripped build
	parent string         // name of the parent span: "" for the server span
	minDur time.Duration
}

// runFuncApp checks one build of funcapp; generics says whether its Go has them.
func runFuncApp(t *testing.T, bin string, stripped, generics bool) {
	rcv := otlptest.Start(t)
	a := startApp(t, bin)
	health := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	args := []string{"--pid", strconv.Itoa(a.pid()), "--func-args", "--health-addr", health}
	for _, p := range funcPatterns {
		args = append(args, "--func", p)
	}
	agent := startAgent(t, otlpEnv(rcv.Endpoint()), args...)
	waitAttached(t, agent)
	if stripped != argsWarnRE.MatchString(agent.stderr.String()) {
		t.Errorf("warning about debug info: got %v, want %v", !stripped, stripped)
	}
	for _, path := range []string{"/work", "/background"} {
		if code, body, err := httpGet("http://" + a.addr + path); err != nil || code != 200 {
			t.Fatalf("GET %s: %d %q %v", path, code, body, err)
		}
	}
	m := waitMetrics(t, health, 10*time.Second, func(m metrics) bool {
		return m.sum("spanprobe_func_calls_total", `function="main.fact"`) == 4
	})
	for fn, n := range map[string]float64{"main.prepareAnswer": 2, "main.(*Store).Get": 1, "main.safeCall": 1, "main.mustPositive": 1} {
		if got := m.sum("spanprobe_func_calls_total", `function="`+fn+`"`); got != n {
			t.Errorf("spanprobe_func_calls_total{function=%q} = %v, want %v", fn, got, n)
		}
	}
	if got := m.sum("spanprobe_probe_events_dropped_total", `reason="abandoned_frame"`); got != 1 {
		t.Errorf("abandoned_frame drops = %v, want 1 (mustPositive's panic)", got)
	}
	agent.stop(t, 15*time.Second)

	want := []wantFunc{
		{name: "main.prepareAnswer", args: map[string]any{"arg.n": int64(7), "arg.name": "seven"}},
		{name: "main.(*Store).Get", args: map[string]any{"arg.key": "answer"}},
		{name: "main.fact", args: map[string]any{"arg.n": int64(4)}},
		{name: "main.fact", args: map[string]any{"arg.n": int64(3)}, parent: "main.fact"},
		{name: "main.fact", args: map[string]any{"arg.n": int64(2)}, parent: "main.fact"},
		{name: "main.fact", args: map[string]any{"arg.n": int64(1)}, parent: "main.fact"},
		{name: "main.many", args: map[string]any{
			"arg.a1": int64(1), "arg.a2": int64(-2), "arg.a3": int64(3), "arg.a4": int64(-4), "arg.a5": int64(5), "arg.a6": int64(-6),
			"arg.a7": int64(7), "arg.a8": int64(-8), "arg.a9": int64(9), "arg.a10": int64(-10), "arg.a11": int64(11), "arg.a12": int64(-12),
		}},
		// ratio travels in X0: not captured.
		{name: "main.mixed", args: map[string]any{"arg.label": "ratio", "arg.ok": true, "arg.delta": int64(-3), "arg.ids.len": int64(3)}},
		// f0-f14 travel in X0-X14, f15 on the stack.
		{name: "main.floats16", args: map[string]any{"arg.f15": 15.5}},
		{name: "main.sleepy", args: map[string]any{"arg.ms": int64(30)}, minDur: 30 * time.Millisecond},
		// mustPositive panics inside: its call is dropped (counted above).
		{name: "main.safeCall", args: map[string]any{"arg.n": int64(-5)}},
	}
	if generics {
		want = append(want, wantFunc{name: "main.Sum[...]", args: map[string]any{"arg.xs.len": int64(3)}})
	}
	checkFuncSpans(t, rcv.Spans(), want, stripped)
}

func checkFuncSpans(t *testing.T, spans []otlptest.Span, want []wantFunc, stripped bool) {
	t.Helper()
	var server *otlptest.Span
	var funcs []otlptest.Span
	for i, s := range spans {
		switch {
		case s.Scope == funcsScope:
			funcs = append(funcs, s)
		case s.Span.GetKind() == tracev1.Span_SPAN_KIND_SERVER && s.Attrs()["url.path"] == "/work":
			server = &spans[i]
		}
	}
	if server == nil {
		t.Fatalf("no server span for /work among %d spans", len(spans))
	}
	byID := map[string]otlptest.Span{}
	for _, s := range funcs {
		byID[hex.EncodeToString(s.Span.GetSpanId())] = s
	}
	parentName := func(s otlptest.Span) string {
		id := hex.EncodeToString(s.Span.GetParentSpanId())
		if id == hex.EncodeToString(server.Span.GetSpanId()) {
			return ""
		}
		if p, ok := byID[id]; ok {
			return p.Span.GetName()
		}
		return "unknown span " + id
	}
	// The background call: outside every request, a trace of its own.
	var background []otlptest.Span
	inRequest := funcs[:0]
	for _, s := range funcs {
		if string(s.Span.GetTraceId()) != string(server.Span.GetTraceId()) {
			background = append(background, s)
		} else {
			inRequest = append(inRequest, s)
		}
	}
	funcs = inRequest
	if len(background) != 1 || background[0].Span.GetName() != "main.prepareAnswer" || len(background[0].Span.GetParentSpanId()) != 0 {
		t.Errorf("outside requests: %d spans, want one main.prepareAnswer without parent", len(background))
	} else if !stripped && background[0].Attrs()["arg.name"] != "background" {
		t.Errorf("background prepareAnswer: arguments %v", background[0].Attrs())
	}
	// Recursion: fact(4) under the request, each deeper call under the
	// one that made it.
	depths := map[int]int{}
	for _, s := range funcs {
		if s.Span.GetName() != "main.fact" {
			continue
		}
		d := 0
		for p := s; parentName(p) == "main.fact"; d++ {
			p = byID[hex.EncodeToString(p.Span.GetParentSpanId())]
		}
		depths[d]++
		if n, ok := s.Attrs()["arg.n"]; !stripped && (!ok || n != int64(4-d)) {
			t.Errorf("main.fact at depth %d has arg.n %v, want %d", d, n, 4-d)
		}
	}
	if len(depths) != 4 || depths[0] != 1 || depths[1] != 1 || depths[2] != 1 || depths[3] != 1 {
		t.Errorf("main.fact spans by nesting depth: %v, want one each at 0-3", depths)
	}

	used := make([]bool, len(funcs))
	for _, w := range want {
		found := false
		for i, s := range funcs {
			if used[i] || s.Span.GetName() != w.name || parentName(s) != w.parent {
				continue
			}
			attrs := s.Attrs()
			if !stripped && !sameArgs(attrs, w.args) {
				continue
			}
			used[i], found = true, true
			if string(s.Span.GetTraceId()) != string(server.Span.GetTraceId()) {
				t.Errorf("%s: not in the request's trace", w.name)
			}
			if s.Span.GetKind() != tracev1.Span_SPAN_KIND_INTERNAL || attrs["code.function.name"] != w.name {
				t.Errorf("%s: kind %v, code.function.name %v", w.name, s.Span.GetKind(), attrs["code.function.name"])
			}
			if stripped && len(attrs) != 1 {
				t.Errorf("%s: stripped build has attributes %v, want code.function.name only", w.name, attrs)
			}
			dur := time.Duration(s.Span.GetEndTimeUnixNano() - s.Span.GetStartTimeUnixNano())
			if dur <= 0 || dur < w.minDur || dur > 5*time.Second {
				t.Errorf("%s: duration %v, want at least %v", w.name, dur, w.minDur)
			}
			break
		}
		if !found {
			t.Errorf("no span %s (parent %q) with arguments %v", w.name, w.parent, w.args)
		}
	}
	for i, s := range funcs {
		if !used[i] {
			t.Errorf("unexpected span %s (parent %q) %v", s.Span.GetName(), parentName(s), s.Attrs())
		}
	}
	if t.Failed() {
		for _, s := range funcs {
			t.Logf("got %s parent %q %v", s.Span.GetName(), parentName(s), s.Attrs())
		}
	}
}

// sameArgs reports whether the arg.* attributes are exactly want.
func sameArgs(attrs, want map[string]any) bool {
	n := 0
	for k, v := range attrs {
		if !strings.HasPrefix(k, "arg.") {
			continue
		}
		n++
		if want[k] != v {
			return false
		}
	}
	return n == len(want)
}

// TestFuncSpansMatrix runs TestFuncSpans' checks on funcapp built with
// every Go release of the version matrix (SPANPROBE_TOOLCHAIN_VERSIONS,
// see TestGoVersionMatrix), plain and stripped: entry sites, the register
// ABI and DWARF differ between releases.
func TestFuncSpansMatrix(t *testing.T) {
	requireBPF(t)
	dir, list := toolchains(t)
	for _, v := range strings.Split(list, ",") {
		var minor int
		fmt.Sscanf(v, "go1.%d", &minor)
		for _, stripped := range []bool{false, true} {
			name := v
			if stripped {
				name += "-stripped"
			}
			t.Run(name, func(t *testing.T) {
				goroot := filepath.Join(dir, v)
				bin := buildFuncApp(t, filepath.Join(goroot, "bin", "go"), toolchainEnv(goroot), stripped)
				runFuncApp(t, bin, stripped, minor >= 18)
			})
		}
	}
}
