package e2e

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/features"
	"github.com/cilium/ebpf/link"
)

// The probe floor: what the agent's probe sites cost the app with programs
// that do nothing. A uprobe hit traps into the kernel whatever its program
// does, so the floor's throughput ratio is the best any agent probing the
// same sites could reach on this machine; the agent's own programs, ring
// buffer and export are the gap between the floor and the agent's row.

// siteRE matches the agent's debug line for each attached site.
var siteRE = regexp.MustCompile(`msg="uprobe attached" .*\boffset=(0x[0-9a-f]+)`)

// agentSites attaches the agent to pid once, with debug logging, and returns
// the file offsets of the uprobe sites it attached, each once.
func agentSites(b *testing.B, pid int) []uint64 {
	b.Helper()
	agent := startAgent(b, agentEnv("OTEL_TRACES_EXPORTER=none"), "--pid", strconv.Itoa(pid), "--log-level", "debug")
	waitAttached(b, agent)
	agent.stop(b, 30*time.Second)
	var offs []uint64
	for _, l := range agent.stderr.lines() {
		if m := siteRE.FindStringSubmatch(l); m != nil {
			off, err := strconv.ParseUint(m[1], 0, 64)
			if err != nil {
				b.Fatalf("agent logged site %q: %v", l, err)
			}
			offs = append(offs, off)
		}
	}
	// Programs that share a site share its trap: one no-op program there.
	slices.Sort(offs)
	offs = slices.Compact(offs)
	if len(offs) == 0 {
		b.Fatalf("the agent logged no uprobe site at debug level; stderr:\n%s", agent.stderr)
	}
	return offs
}

// attachNoop puts a program that returns at once on the sites of pid's
// executable, by the agent's method (one uprobe_multi link where the kernel
// has them, else a perf-event uprobe per site). The returned func detaches.
func attachNoop(b *testing.B, pid int, offs []uint64) (detach func()) {
	b.Helper()
	multi := features.HaveBPFLinkUprobeMulti() == nil
	spec := &ebpf.ProgramSpec{
		Name:         "uprobe_noop",
		Type:         ebpf.Kprobe,
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()},
		License:      "GPL",
	}
	if multi {
		spec.AttachType = ebpf.AttachTraceUprobeMulti
	}
	prog, err := ebpf.NewProgram(spec)
	if err != nil {
		b.Fatalf("loading the no-op program: %v", err)
	}
	ex, err := link.OpenExecutable(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		b.Fatal(err)
	}
	var links []link.Link
	if multi {
		l, err := ex.UprobeMulti(nil, prog, &link.UprobeMultiOptions{Addresses: offs, PID: uint32(pid)})
		if err != nil {
			b.Fatalf("attaching the no-op program at %d sites: %v", len(offs), err)
		}
		links = append(links, l)
	} else {
		for _, off := range offs {
			l, err := ex.Uprobe("", prog, &link.UprobeOptions{Address: off, PID: pid})
			if err != nil {
				b.Fatalf("attaching the no-op program at %#x: %v", off, err)
			}
			links = append(links, l)
		}
	}
	return func() {
		var errs []error
		for _, l := range links {
			errs = append(errs, l.Close())
		}
		errs = append(errs, prog.Close())
		if err := errors.Join(errs...); err != nil {
			b.Errorf("detaching the no-op program: %v", err)
		}
	}
}

// measureFloor runs wrk with the no-op program on the agent's sites.
func measureFloor(b *testing.B, wrk, url string, pid int, offs []uint64, d time.Duration, stats bool) benchRow {
	b.Helper()
	before := uprobeRunCounts(b)
	detach := attachNoop(b, pid, offs)
	ours := newPrograms(b, before)
	res := runWrk(b, wrk, url, pid, d)
	after := uprobeRunCounts(b)
	detach()
	row := benchRow{mode: modeFloor, wrkResult: res, uprobeHits: -1}
	if stats && len(ours) > 0 {
		row.uprobeHits, row.bpfTime = probeCost(ours, after)
	}
	return row
}

const modeFloor = "noop-probes"
