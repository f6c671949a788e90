package instrumentation

import (
	"errors"
	"os"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/spanprobe/spanprobe/instrumentation/probe"
)

// requireBPF is the one place that decides whether a test may load eBPF.
func requireBPF(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("requires root (CAP_BPF, CAP_PERFMON) to load eBPF programs")
	}
}

// TestBundlesPassVerifier loads every bundle's programs through the kernel
// verifier with made-up offsets: offsets change values, never code paths,
// so a program the verifier takes here it takes for every Go version.
func TestBundlesPassVerifier(t *testing.T) {
	requireBPF(t)
	for _, b := range All {
		t.Run(b.Name, func(t *testing.T) {
			spec, err := b.Load()
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range b.Offsets {
				if err := spec.Variables[o.Var].Set(uint64(8)); err != nil {
					t.Fatalf("setting %s: %v", o.Var, err)
				}
			}
			for _, p := range b.Probes {
				if p.At == probe.AtTracepoints && (p.Fallback == nil || len(p.Tracepoints) == 0) {
					t.Errorf("probe %s: a tracepoint probe needs tracepoints and a fallback for kernels without them", p.Symbol)
				}
				for _, tp := range p.Tracepoints {
					if spec.Programs[tp.Program] == nil {
						t.Errorf("tracepoint %s names program %s, which the spec lacks", tp.Name, tp.Program)
					}
				}
				for q := &p; q != nil; q = q.Fallback {
					if q.At == probe.AtTracepoints {
						continue
					}
					if spec.Programs[q.Program] == nil {
						t.Errorf("probe %s names program %s, which the spec lacks", q.Symbol, q.Program)
					}
					if q.At == probe.AtSuccessTests && (spec.Programs[q.Returns] == nil || q.Fallback == nil) {
						t.Errorf("probe %s: a success test needs a program for the other RETs (%q: not in the spec) and a fallback", q.Symbol, q.Returns)
					}
				}
			}
			probe.PrepareSpec(spec) // load exactly as Attach does
			coll, err := ebpf.NewCollection(spec)
			var verr *ebpf.VerifierError
			if errors.As(err, &verr) {
				t.Fatalf("verifier rejected %s: %+v", b.Name, verr)
			}
			if err != nil {
				t.Fatal(err)
			}
			coll.Close()
		})
	}
}
