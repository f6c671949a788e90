package e2e

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"

	"github.com/spanprobe/spanprobe/internal/otlptest"
)

// TestAgentSIGKILL kills the agent with SIGKILL mid-run: the target keeps
// serving, the probes are gone with the agent (they live on its file
// descriptors, nothing is pinned), and a new agent attaches cleanly and
// sees each request exactly once.
func TestAgentSIGKILL(t *testing.T) {
	requireBPF(t)
	a := startApp(t, bins.app)

	rcv1 := otlptest.Start(t)
	first := startAgent(t, otlpEnv(rcv1.Endpoint()), "--pid", strconv.Itoa(a.pid()))
	waitAttached(t, first)
	waitSpans(t, rcv1, len(sendAll(t, a.addr, hello(3))))
	if n := liveProbePrograms(t); n == 0 {
		t.Fatal("no spanprobe BPF programs loaded while the agent runs: the check below could not fail")
	}

	if err := first.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	if _, ok := first.wait(5 * time.Second); !ok {
		t.Fatal("agent did not die on SIGKILL")
	}
	deadline := time.Now().Add(5 * time.Second)
	for liveProbePrograms(t) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d spanprobe BPF programs still loaded 5s after the agent was killed", liveProbePrograms(t))
		}
		time.Sleep(50 * time.Millisecond)
	}
	sendAll(t, a.addr, hello(3)) // the target is unharmed

	rcv2 := otlptest.Start(t)
	second := startAgent(t, otlpEnv(rcv2.Endpoint()), "--pid", strconv.Itoa(a.pid()))
	waitAttached(t, second)
	calls := sendAll(t, a.addr, hello(4))
	waitSpans(t, rcv2, len(calls))
	second.stop(t, 15*time.Second)
	if got := len(rcv2.Spans()); got != len(calls) {
		t.Fatalf("new agent exported %d spans for %d requests", got, len(calls))
	}
}

// liveProbePrograms counts loaded BPF programs named like the net/http
// server bundle's (the kernel keeps the first 15 bytes of a name).
func liveProbePrograms(t *testing.T) int {
	t.Helper()
	n := 0
	for id := ebpf.ProgramID(0); ; {
		next, err := ebpf.ProgramGetNextID(id)
		if err != nil { // ENOENT past the last id
			return n
		}
		id = next
		p, err := ebpf.NewProgramFromID(id)
		if err != nil {
			continue // freed meanwhile
		}
		info, err := p.Info()
		p.Close()
		if err == nil && (strings.HasPrefix(info.Name, "uprobe_serverHa") || strings.HasPrefix(info.Name, "uprobe_response")) {
			n++
		}
	}
}
