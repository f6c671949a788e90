package e2e

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spanprobe/spanprobe/instrumentation/probe"
	"github.com/spanprobe/spanprobe/internal/goexe"
	"github.com/spanprobe/spanprobe/internal/otlptest"
)

// TestNopSites: where the kernel makes a uprobe on a 5-byte NOP a call
// instead of a trap (x86-64 Linux 6.18+), the server's start and goroutine
// lineage go on the NOP that pads newproc's CALL runqput (Go 1.20 and
// 1.23+ have one; the sample app is built with the machine's Go). The
// kernel then maps its trampoline into the app, and the spans are the same
// as with the probe on the CALL, which --nop-sites=false keeps, mapping no
// trampoline.
func TestNopSites(t *testing.T) {
	requireBPF(t)
	if !probe.Nop5Calls() {
		t.Skip("the kernel does not make uprobes on 5-byte NOPs calls (x86-64 Linux 6.18+)")
	}
	call, nop := lineageSites(t, bins.app)
	for _, useNops := range []bool{true, false} {
		t.Run(fmt.Sprintf("nop-sites=%v", useNops), func(t *testing.T) {
			rcv := otlptest.Start(t)
			a := startApp(t, bins.app) // a fresh process: the trampoline stays once mapped
			agent := startAgent(t, otlpEnv(rcv.Endpoint()), "--pid", strconv.Itoa(a.pid()), "--log-level", "debug", "--nop-sites="+strconv.FormatBool(useNops))
			waitAttached(t, agent)
			want := call
			if useNops {
				want = nop
			}
			var got []string
			for _, l := range agent.stderr.lines() {
				if strings.Contains(l, `msg="uprobe attached"`) && strings.Contains(l, " callee=runtime.runqput ") {
					got = append(got, l)
					if !strings.Contains(l, fmt.Sprintf(" offset=%#x ", want.Offset)) || !strings.Contains(l, fmt.Sprintf("inst=%q", want.Inst)) {
						t.Errorf("lineage site: %s; want offset %#x, %s", l, want.Offset, want.Inst)
					}
				}
			}
			if len(got) != 2 { // the server's start and goroutine lineage
				t.Errorf("%d programs on newproc's runqput call, want 2:\n%s", len(got), strings.Join(got, "\n"))
			}

			calls := sendAll(t, a.addr, serverCalls[:4])
			maps, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", a.pid()))
			if err != nil {
				t.Fatal(err)
			}
			if has := strings.Contains(string(maps), "[uprobes-trampoline]"); has != useNops {
				t.Errorf("the app maps [uprobes-trampoline]: %v, want %v", has, useNops)
			}
			agent.stop(t, 15*time.Second)
			checkServerSpans(t, rcv.Spans(), calls, wantResource{pid: a.pid(), exePath: bins.app})
		})
	}
}

// lineageSites returns newproc's CALL runqput in the binary at path and the
// 5-byte NOP before it, failing the test if there is none.
func lineageSites(t *testing.T, path string) (call, nop goexe.Site) {
	t.Helper()
	b, err := goexe.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	f, err := b.Func("runtime.newproc.func1")
	if err != nil {
		t.Fatal(err)
	}
	callee, err := b.Func("runtime.runqput")
	if err != nil {
		t.Fatal(err)
	}
	sites, err := b.CallSites(f, callee)
	if err != nil || len(sites) != 1 {
		t.Fatalf("CallSites(newproc.func1, runqput) = %v, %v; want one", sites, err)
	}
	moved, err := b.Nop5Sites(f, sites)
	if err != nil {
		t.Fatal(err)
	}
	if moved[0] == sites[0] {
		t.Fatalf("%s (%s) has no 5-byte NOP before newproc's CALL runqput: the test needs a release that has one", path, b.GoVersion)
	}
	return sites[0], moved[0]
}
