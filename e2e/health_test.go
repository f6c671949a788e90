package e2e

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/spanprobe/spanprobe/internal/otlptest"
)

// TestHealth checks /readyz and that /metrics counts exactly one ring-buffer
// record and one exported span per request.
func TestHealth(t *testing.T) {
	requireBPF(t)
	rcv := otlptest.Start(t)
	health := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	a := startApp(t, bins.app)
	agent := startAgent(t, otlpEnv(rcv.Endpoint()), "--pid", strconv.Itoa(a.pid()), "--health-addr", health)

	// Readiness before the attach is a race the test cannot always win; log
	// what it saw and insist only on answers that are allowed.
	seen := map[int]int{}
	for !attachedRE.MatchString(agent.stderr.String()) && !agent.exited() {
		if code, body, err := httpGet("http://" + health + "/readyz"); err == nil {
			seen[code]++
			if code != 200 && !(code == 503 && body == "not ready") {
				t.Errorf("/readyz before attach: %d %q, want 503 \"not ready\"", code, body)
			}
			if code == 200 && !attachedRE.MatchString(agent.stderr.String()) {
				t.Logf("/readyz said 200 before the \"probes attached\" line was read (allowed: the line may still be in flight)")
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Logf("/readyz answers before attach: %v", seen)
	waitAttached(t, agent)
	if code, body, err := httpGet("http://" + health + "/readyz"); err != nil || code != 200 || body != "ok" {
		t.Fatalf("/readyz after attach: %d %q %v, want 200 \"ok\"", code, body, err)
	}

	calls := sendAll(t, a.addr, serverCalls)
	n := float64(len(calls))
	waitMetrics(t, health, 15*time.Second, func(m metrics) bool {
		return m.sum("spanprobe_spans_exported_total", "") >= n
	})
	time.Sleep(500 * time.Millisecond) // anything extra would show up now
	m := scrape(t, health)
	for _, c := range []struct {
		name, filter string
		want         float64
	}{
		{"spanprobe_ringbuf_records_read_total", "", n},
		{"spanprobe_ringbuf_records_lost_total", "", 0},
		{"spanprobe_spans_exported_total", "", n},
		{"spanprobe_spans_dropped_total", "", 0},
		{"spanprobe_export_errors_total", "", 0},
		{"spanprobe_probe_events_dropped_total", "", 0},
		{"spanprobe_targets_attached", "", 1},
	} {
		if v := m.sum(c.name, c.filter); v != c.want {
			t.Errorf("%s = %v, want %v", c.name, v, c.want)
		}
	}
	for _, name := range []string{"spanprobe_ringbuf_records_read_total", "spanprobe_spans_exported_total", "spanprobe_targets_attached"} {
		if !m.has(name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", m.text)
	}
	agent.stop(t, 15*time.Second)
	if len(rcv.Spans()) != len(calls) {
		t.Errorf("receiver got %d spans, want %d", len(rcv.Spans()), len(calls))
	}
	if _, _, err := httpGet("http://" + health + "/readyz"); err == nil {
		t.Errorf("health endpoint still answers after the agent exited")
	}
}
