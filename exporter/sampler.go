package exporter

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Sampler is OTEL_TRACES_SAMPLER with OTEL_TRACES_SAMPLER_ARG. The probes
// apply it where a trace's first span in the target starts (Sampling in
// bpf/include/common.h): a span that is not sampled costs the target no
// texts read and no record, and the agent nothing. Only the samplers a
// probe can decide alone are supported; jaeger_remote and xray need a
// sampling service.
type Sampler struct {
	// Name is the OTEL_TRACES_SAMPLER value; the default is
	// parentbased_always_on.
	Name string
	// Ratio is the fraction of traces sampled at their root: 1 for
	// always_on, 0 for always_off, OTEL_TRACES_SAMPLER_ARG (default 1)
	// for the traceidratio samplers.
	Ratio float64
	// ParentBased says an incoming traceparent's sampled flag decides.
	ParentBased bool
}

const (
	envSampler    = "OTEL_TRACES_SAMPLER"
	envSamplerArg = "OTEL_TRACES_SAMPLER_ARG"
)

// DefaultSampler is the specification's default.
var DefaultSampler = Sampler{Name: "parentbased_always_on", Ratio: 1, ParentBased: true}

func parseSampler(e env) (Sampler, error) {
	name, ok := e.get(envSampler)
	if !ok {
		return DefaultSampler, nil
	}
	name = strings.ToLower(name)
	s := Sampler{Name: name}
	root, parentBased := strings.CutPrefix(name, "parentbased_")
	s.ParentBased = parentBased
	switch root {
	case "always_on":
		s.Ratio = 1
	case "always_off":
		s.Ratio = 0
	case "traceidratio":
		s.Ratio = 1
		if arg, ok := e.get(envSamplerArg); ok {
			r, err := strconv.ParseFloat(arg, 64)
			if err != nil || math.IsNaN(r) || r < 0 || r > 1 {
				return s, invalid(envSamplerArg, arg, "want a probability from 0 to 1, e.g. 0.25")
			}
			s.Ratio = r
		}
	case "jaeger_remote", "xray":
		return s, invalid(envSampler, name, "needs a sampling service, which spanprobe does not query; use parentbased_traceidratio with OTEL_TRACES_SAMPLER_ARG")
	default:
		return s, invalid(envSampler, name, "want always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off or parentbased_traceidratio")
	}
	return s, nil
}

// RootBound is the probes' root_sample_bound: a trace is sampled when the
// last 8 bytes of its id, big-endian and shifted right by one, are below
// it, the OpenTelemetry SDKs' TraceIdRatioBased rule, so that every
// service of a trace that samples by the same ratio keeps the same traces.
func (s Sampler) RootBound() uint64 {
	if s.Ratio >= 1 {
		return math.MaxUint64
	}
	if s.Ratio <= 0 {
		return 0
	}
	return uint64(s.Ratio * (1 << 63))
}

// Constants are the probes' settings for s (see probe.Options.Constants).
// The zero Sampler is DefaultSampler.
func (s Sampler) Constants() map[string]any {
	if s == (Sampler{}) {
		s = DefaultSampler
	}
	remote := uint8(0)
	if s.ParentBased {
		remote = 1
	}
	return map[string]any{"root_sample_bound": s.RootBound(), "sample_remote_parent": remote}
}

// String names the sampler and, for a ratio, its argument.
func (s Sampler) String() string {
	if strings.HasSuffix(s.Name, "traceidratio") {
		return fmt.Sprintf("%s (%s)", s.Name, strconv.FormatFloat(s.Ratio, 'g', -1, 64))
	}
	return s.Name
}
