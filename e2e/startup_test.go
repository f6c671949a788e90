package e2e

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"
)

// startupTarget is a program the agent starts on.
type startupTarget struct {
	name string
	bin  func(testing.TB) string
	// args returns the agent's target arguments for bin, starting what
	// must run first.
	args func(t testing.TB, bin string) []string
}

var (
	launchSampleApp = startupTarget{
		name: "launch sampleapp",
		bin:  func(testing.TB) string { return bins.app },
		args: func(_ testing.TB, bin string) []string { return []string{"--", bin, "-addr", "127.0.0.1:0"} },
	}
	// Jaeger is the large binary at hand (over 100 MB): agents that index a
	// whole symbol table or DWARF to start are known to be OOM-killed on
	// binaries like it.
	pidJaeger = startupTarget{
		name: "pid jaeger",
		bin:  jaegerBinary,
		args: func(t testing.TB, bin string) []string {
			return []string{"--pid", strconv.Itoa(startJaeger(t, bin).pid())}
		},
	}
)

// startup is one start of the agent.
type startup struct {
	ready   time.Duration // from starting the agent to /readyz 200: probes attached
	peakRSS int64         // the agent's VmHWM at that moment
}

// measureStartup starts the agent with the target arguments args, waits
// until /readyz says 200 and stops the agent.
func measureStartup(t testing.TB, args []string) startup {
	t.Helper()
	health := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	start := time.Now()
	agent := startAgent(t, agentEnv("OTEL_TRACES_EXPORTER=none"), append([]string{"--health-addr", health}, args...)...)
	for deadline := start.Add(30 * time.Second); ; time.Sleep(time.Millisecond) {
		if code, _, err := httpGet("http://" + health + "/readyz"); err == nil && code == 200 {
			break
		}
		if agent.exited() {
			t.Fatalf("agent exited before it was ready: %v\n%s", agent.err, agent.stderr)
		}
		if time.Now().After(deadline) {
			t.Fatalf("agent not ready within 30s:\n%s", agent.stderr)
		}
	}
	s := startup{ready: time.Since(start), peakRSS: procHWM(t, agent.pid())}
	agent.stop(t, 15*time.Second)
	return s
}

// Startup limits the tests hold the agent to, a few times what it needs
// (see BenchmarkStartup) so that a loaded machine does not fail them but a
// start that reads the whole binary into memory does.
const (
	startupTimeLimit = 5 * time.Second
	startupRSSLimit  = 64 << 20
)

// TestStartupLargeBinary attaches to Jaeger, a Go binary over 100 MB: the
// agent must be ready quickly and within bounded memory.
func TestStartupLargeBinary(t *testing.T) {
	requireBPF(t)
	bin := pidJaeger.bin(t)
	s := measureStartup(t, pidJaeger.args(t, bin))
	t.Logf("%s (%s): ready in %v, peak RSS %s", pidJaeger.name, mib(fileSize(t, bin)), s.ready.Round(time.Millisecond), mib(s.peakRSS))
	if s.ready > startupTimeLimit {
		t.Errorf("ready after %v, want under %v", s.ready, startupTimeLimit)
	}
	if s.peakRSS > startupRSSLimit {
		t.Errorf("peak RSS %s, want at most %s", mib(s.peakRSS), mib(startupRSSLimit))
	}
}

// BenchmarkStartup measures launch to ready (/readyz 200, probes attached)
// and the agent's peak RSS by then, starting five times on each target:
// the sample app launched by the agent (spanprobe -- app), and Jaeger (over
// 100 MB; SPANPROBE_JAEGER_BIN or built by e2e/jaeger/install.sh) attached
// by PID. The target is under 1s.
func BenchmarkStartup(b *testing.B) {
	requireBPF(b)
	const runs = 5
	for _, tt := range []startupTarget{launchSampleApp, pidJaeger} {
		b.Run(tt.name, func(b *testing.B) {
			bin := tt.bin(b)
			args := tt.args(b, bin)
			var ready []time.Duration
			var peak int64
			for range runs {
				s := measureStartup(b, args)
				ready = append(ready, s.ready)
				peak = max(peak, s.peakRSS)
			}
			slices.Sort(ready)
			median, slowest := ready[len(ready)/2], ready[len(ready)-1]
			fmt.Printf("startup %s (%s): ready median %v, slowest %v of %d; agent peak RSS %s\n",
				tt.name, mib(fileSize(b, bin)), median.Round(time.Millisecond), slowest.Round(time.Millisecond), runs, mib(peak))
			b.ReportMetric(float64(median)/float64(time.Millisecond), "ready_ms")
			b.ReportMetric(float64(slowest)/float64(time.Millisecond), "slowest_ready_ms")
			b.ReportMetric(float64(peak)/(1<<20), "peak_rss_MiB")
		})
	}
}

func fileSize(t testing.TB, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}
