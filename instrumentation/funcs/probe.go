package funcs

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/cilium/ebpf"
	"go.opentelemetry.io/otel/sdk/instrumentation"

	"github.com/spanprobe/spanprobe/instrumentation/probe"
	"github.com/spanprobe/spanprobe/internal/goexe"
	"github.com/spanprobe/spanprobe/internal/metrics"
)

const (
	entryProgram = "uprobe_funcs_entry"
	retProgram   = "uprobe_funcs_ret"
)

// Bundle gives a span to every call of the functions named by the user's
// patterns (probe.Env.Funcs); without patterns it probes nothing.
var Bundle = &probe.Bundle{
	Name:  "funcs",
	Scope: instrumentation.Scope{Name: "github.com/spanprobe/spanprobe/instrumentation/funcs"},
	Load:  loadFuncs,
	Offsets: []probe.Offset{
		{Var: "off_g_stack", Key: "runtime.g.stack"},
		{Var: "off_stack_hi", Key: "runtime.stack.hi"},
	},
	EventKind: probe.KindFunc,
	Plan:      plan,
}

// function is what the records of one probed function decode with.
type function struct {
	name string
	fn   goexe.Func
	args []argSpec
}

// plan matches the patterns against the binary and lays out the
// arguments of each function found: its id (the attach cookie) indexes
// func_infos and func_calls.
func plan(bin *goexe.Binary, env *probe.Env, log *slog.Logger) (*probe.Plan, error) {
	if env == nil || len(env.Funcs) == 0 {
		return nil, nil
	}
	targets, err := matchFuncs(bin, env.Funcs, func(p string) {
		log.Warn("function pattern matches no function", "probe", "funcs", "pattern", p)
	})
	if err != nil {
		return nil, err
	}
	fns := make([]function, 0, len(targets))
	infos := make([]funcsFuncInfo, 0, len(targets))
	var probes []probe.Probe
	for _, t := range targets {
		rets, err := bin.RetSites(t.fn)
		if err != nil {
			return nil, err
		}
		if len(rets) == 0 {
			log.Warn("function never returns (no RET instruction), not probed", "probe", "funcs", "symbol", t.fn.Name)
			continue
		}
		id := uint64(len(fns))
		fn := t.fn
		probes = append(probes,
			probe.Probe{Symbol: fn.Name, Func: &fn, Program: entryProgram, At: probe.AtEntry, Cookie: id},
			probe.Probe{Symbol: fn.Name, Func: &fn, Program: retProgram, At: probe.AtReturns, Cookie: id})
		fns = append(fns, function{name: t.name, fn: fn})
		infos = append(infos, funcsFuncInfo{})
	}
	if len(fns) == 0 {
		return nil, errors.New("no matched function returns")
	}
	if env.FuncArgs {
		if err := layoutAll(bin, fns, infos, log); err != nil {
			return nil, err
		}
	}
	names := make([]string, len(fns))
	for i, f := range fns {
		names[i] = f.name
	}
	log.Info("probing functions", "probe", "funcs", "functions", names)
	return &probe.Plan{
		Probes: probes,
		Setup: func(coll *ebpf.Collection, reg *metrics.Registry) (func(), error) {
			for i := range infos {
				if err := coll.Maps["func_infos"].Put(uint32(i), &infos[i]); err != nil {
					return nil, fmt.Errorf("filling func_infos: %w", err)
				}
			}
			return callCounters(coll.Maps["func_calls"], reg, names).Sync, nil
		},
		Decode: decoder(fns),
	}, nil
}

// layoutAll fills the argument layouts from DWARF; without it the spans
// keep their durations and one line says why there are no arguments.
func layoutAll(bin *goexe.Binary, fns []function, infos []funcsFuncInfo, log *slog.Logger) error {
	d, err := bin.DWARF()
	if errors.Is(err, goexe.ErrNoDWARF) {
		log.Warn("function arguments need debug info: the target was linked without DWARF (-w), its function spans carry no arguments", "probe", "funcs", "path", bin.Path)
		return nil
	}
	if err != nil {
		return err
	}
	addrs := map[uint64]bool{}
	for _, f := range fns {
		addrs[f.fn.Addr] = true
	}
	params, err := dwarfParams(d, addrs)
	if err != nil {
		return err
	}
	for i := range fns {
		ps, ok := params[fns[i].fn.Addr]
		if !ok {
			log.Warn("function not in DWARF: no arguments", "probe", "funcs", "symbol", fns[i].name)
			continue
		}
		specs, info, notes, err := layoutArgs(ps)
		if err != nil {
			log.Warn("function arguments not captured", "probe", "funcs", "symbol", fns[i].name, "error", err)
			continue
		}
		if len(notes) > 0 {
			// Floats in X registers are the usual case: a uprobe
			// program sees the integer registers only.
			log.Info("function arguments not captured", "probe", "funcs", "symbol", fns[i].name, "arguments", strings.Join(notes, ", "))
		}
		fns[i].args, infos[i] = specs, info
	}
	return nil
}

// callCounters mirrors func_calls into spanprobe_func_calls_total.
func callCounters(m *ebpf.Map, reg *metrics.Registry, names []string) *probe.PerCPUCounters {
	if reg == nil {
		reg = metrics.NewRegistry()
	}
	counters := make([][]*metrics.Counter, len(names))
	for i, n := range names {
		counters[i] = []*metrics.Counter{reg.Counter("spanprobe_func_calls_total", "Calls of each function probed by --func (each costs the target a uprobe hit on entry and one on return).", "function", n)}
	}
	return probe.NewPerCPUCounters(m, counters)
}
