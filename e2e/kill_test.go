package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"

	"github.com/spanprobe/spanprobe/internal/otlptest"
)

// TestAgentSIGKILL kills the agent with SIGKILL under load: the target keeps
// serving every request, the probes are gone with the agent (they live on
// its file descriptors, nothing is pinned), and a new agent attaches
// cleanly and sees each request exactly once.
func TestAgentSIGKILL(t *testing.T) {
	requireBPF(t)
	a := startApp(t, bins.app)

	rcv1 := otlptest.Start(t)
	first := startAgent(t, otlpEnv(rcv1.Endpoint()), "--pid", strconv.Itoa(a.pid()))
	waitAttached(t, first)
	waitSpans(t, rcv1, len(sendAll(t, a.addr, hello(3))))
	progs := programIDs(t, first.pid())
	if len(progs) == 0 {
		t.Fatal("the agent holds no BPF program: the check below could not fail")
	}

	// Load runs across the kill and the probes' removal: the target must
	// not notice either.
	l := startLoad(t, loadSpec{addr: a.addr, conns: 4, rate: 1000, req: helloReq})
	for l.answered() < 200 {
		time.Sleep(10 * time.Millisecond)
	}
	if err := first.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	if _, ok := first.wait(5 * time.Second); !ok {
		t.Fatal("agent did not die on SIGKILL")
	}
	deadline := time.Now().Add(5 * time.Second)
	for n := loaded(progs); n > 0; n = loaded(progs) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of the agent's %d BPF programs still loaded 5s after it was killed", n, len(progs))
		}
		time.Sleep(50 * time.Millisecond)
	}
	sendAll(t, a.addr, hello(3)) // the target is unharmed
	res := l.stop()
	checkLoad(t, res)
	t.Logf("%d requests across the kill, none failed", res.sent())

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

// programIDs lists the BPF programs process pid holds file descriptors of:
// the agent's own, whatever else runs on the machine.
func programIDs(t *testing.T, pid int) []ebpf.ProgramID {
	t.Helper()
	dir := fmt.Sprintf("/proc/%d/fdinfo", pid)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var ids []ebpf.ProgramID
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			continue // closed meanwhile
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "prog_id:"); ok {
				if id, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32); err == nil {
					ids = append(ids, ebpf.ProgramID(id))
				}
			}
		}
	}
	return ids
}

// loaded counts the programs among ids the kernel still has.
func loaded(ids []ebpf.ProgramID) int {
	n := 0
	for _, id := range ids {
		if p, err := ebpf.NewProgramFromID(id); err == nil {
			p.Close()
			n++
		}
	}
	return n
}
