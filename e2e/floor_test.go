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
// does, and a tracepoint with a program costs its callers the dispatch, so
// the floor's throughput ratio is the best any agent probing the same sites
// could reach on this machine; the agent's own programs, ring buffer and
// export are the gap between the floor and the agent's row.

// siteRE and tracepointRE match the agent's debug lines for each attached
// uprobe site and kernel tracepoint.
var (
	siteRE       = regexp.MustCompile(`msg="uprobe attached" .*\boffset=(0x[0-9a-f]+) .*\bemulated=(true|false)`)
	tracepointRE = regexp.MustCompile(`msg="tracepoint attached" .*\btracepoint=(\S+)`)
)

// probeSites are where the agent puts its programs in one target.
type probeSites struct {
	offs        []uint64        // uprobe sites: file offsets in the executable
	stepped     map[uint64]bool // those the kernel single-steps (the rest it emulates)
	tracepoints []string        // kernel raw tracepoints
}

// agentSites attaches the agent to pid once, with debug logging, and returns
// the uprobe sites and tracepoints it attached, each once.
func agentSites(b *testing.B, pid int) probeSites {
	b.Helper()
	agent := startAgent(b, agentEnv("OTEL_TRACES_EXPORTER=none"), "--pid", strconv.Itoa(pid), "--log-level", "debug")
	waitAttached(b, agent)
	agent.stop(b, 30*time.Second)
	s := probeSites{stepped: map[uint64]bool{}}
	for _, l := range agent.stderr.lines() {
		if m := siteRE.FindStringSubmatch(l); m != nil {
			off, err := strconv.ParseUint(m[1], 0, 64)
			if err != nil {
				b.Fatalf("agent logged site %q: %v", l, err)
			}
			s.offs = append(s.offs, off)
			if m[2] == "false" {
				s.stepped[off] = true
			}
		}
		if m := tracepointRE.FindStringSubmatch(l); m != nil {
			s.tracepoints = append(s.tracepoints, m[1])
		}
	}
	// Programs that share a site share its trap: one no-op program there.
	slices.Sort(s.offs)
	s.offs = slices.Compact(s.offs)
	slices.Sort(s.tracepoints)
	s.tracepoints = slices.Compact(s.tracepoints)
	if len(s.offs) == 0 {
		b.Fatalf("the agent logged no uprobe site at debug level; stderr:\n%s", agent.stderr)
	}
	return s
}

// attachNoop puts a program that returns at once on the sites of pid's
// executable, by the agent's method (one uprobe_multi link where the kernel
// has them, else a perf-event uprobe per site), and on its tracepoints: one
// program on the sites the kernel emulates (uprobe_emulated), another on
// those it single-steps (uprobe_stepped), whose runs are then the hits of
// each kind. The returned func detaches.
func attachNoop(b *testing.B, pid int, sites probeSites) (detach func()) {
	b.Helper()
	multi := features.HaveBPFLinkUprobeMulti() == nil
	ex, err := link.OpenExecutable(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		b.Fatal(err)
	}
	var links []link.Link
	var progs []*ebpf.Program
	for _, kind := range []struct {
		name    string
		stepped bool
	}{{noopEmulated, false}, {noopStepped, true}} {
		offs := slices.DeleteFunc(slices.Clone(sites.offs), func(off uint64) bool { return sites.stepped[off] != kind.stepped })
		if len(offs) == 0 {
			continue
		}
		spec := &ebpf.ProgramSpec{
			Name:         kind.name,
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
		progs = append(progs, prog)
		if multi {
			l, err := ex.UprobeMulti(nil, prog, &link.UprobeMultiOptions{Addresses: offs, PID: uint32(pid)})
			if err != nil {
				b.Fatalf("attaching the no-op program at %d sites: %v", len(offs), err)
			}
			links = append(links, l)
			continue
		}
		for _, off := range offs {
			l, err := ex.Uprobe("", prog, &link.UprobeOptions{Address: off, PID: pid})
			if err != nil {
				b.Fatalf("attaching the no-op program at %#x: %v", off, err)
			}
			links = append(links, l)
		}
	}
	var tp *ebpf.Program
	if len(sites.tracepoints) > 0 {
		if tp, err = ebpf.NewProgram(&ebpf.ProgramSpec{
			Name:         "tp_noop",
			Type:         ebpf.RawTracepoint,
			Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()},
			License:      "GPL",
		}); err != nil {
			b.Fatalf("loading the no-op tracepoint program: %v", err)
		}
	}
	for _, name := range sites.tracepoints {
		l, err := link.AttachRawTracepoint(link.RawTracepointOptions{Name: name, Program: tp})
		if err != nil {
			b.Fatalf("attaching the no-op program to tracepoint %s: %v", name, err)
		}
		links = append(links, l)
	}
	return func() {
		var errs []error
		for _, l := range links {
			errs = append(errs, l.Close())
		}
		for _, p := range progs {
			errs = append(errs, p.Close())
		}
		if tp != nil {
			errs = append(errs, tp.Close())
		}
		if err := errors.Join(errs...); err != nil {
			b.Errorf("detaching the no-op program: %v", err)
		}
	}
}

// measureFloor runs wrk with the no-op program on the agent's sites.
func measureFloor(b *testing.B, wrk, url string, pid int, sites probeSites, d time.Duration) benchRow {
	b.Helper()
	before := uprobeRunCounts(b)
	detach := attachNoop(b, pid, sites)
	defer detach()
	ours := newPrograms(b, before)
	res := runWrk(b, wrk, url, pid, d)
	sample := sampleProbes(b, ours, func() int { return runWrk(b, wrk, url, pid, statsSample).requests })
	return benchRow{mode: modeFloor, wrkResult: res, probeSample: sample}
}

const (
	modeFloor    = "noop-probes"
	noopEmulated = "uprobe_emulated"
	noopStepped  = "uprobe_stepped"
)
