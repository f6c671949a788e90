package exporter

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

func TestSamplerFromEnv(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want Sampler
	}{
		{nil, DefaultSampler},
		{map[string]string{envSampler: " "}, DefaultSampler},
		{map[string]string{envSampler: "always_on"}, Sampler{Name: "always_on", Ratio: 1}},
		{map[string]string{envSampler: "always_off"}, Sampler{Name: "always_off"}},
		{map[string]string{envSampler: "parentbased_always_off"}, Sampler{Name: "parentbased_always_off", ParentBased: true}},
		{map[string]string{envSampler: "traceidratio"}, Sampler{Name: "traceidratio", Ratio: 1}},
		{map[string]string{envSampler: "TraceIdRatio", envSamplerArg: "0.25"}, Sampler{Name: "traceidratio", Ratio: 0.25}},
		{map[string]string{envSampler: "parentbased_traceidratio", envSamplerArg: "0"}, Sampler{Name: "parentbased_traceidratio", ParentBased: true}},
		// The argument only matters to the ratio samplers.
		{map[string]string{envSampler: "always_on", envSamplerArg: "x"}, Sampler{Name: "always_on", Ratio: 1}},
	}
	for _, tt := range tests {
		got, err := parseSampler(env{lookup: lookupMap(tt.env)})
		if err != nil || got != tt.want {
			t.Errorf("%v: got %+v, %v; want %+v", tt.env, got, err, tt.want)
		}
	}
}

func TestSamplerFromEnvInvalid(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{envSampler: "sometimes"}, `OTEL_TRACES_SAMPLER="sometimes": want always_on`},
		{map[string]string{envSampler: "parentbased_jaeger_remote"}, "needs a sampling service"},
		{map[string]string{envSampler: "xray"}, "needs a sampling service"},
		{map[string]string{envSampler: "traceidratio", envSamplerArg: "half"}, `OTEL_TRACES_SAMPLER_ARG="half": want a probability`},
		{map[string]string{envSampler: "traceidratio", envSamplerArg: "1.5"}, "from 0 to 1"},
		{map[string]string{envSampler: "traceidratio", envSamplerArg: "-0.1"}, "from 0 to 1"},
		{map[string]string{envSampler: "traceidratio", envSamplerArg: "NaN"}, "from 0 to 1"},
	}
	for _, tt := range tests {
		_, err := ConfigFromEnv(lookupMap(tt.env))
		if err == nil || !errors.Is(err, ErrInvalidEnv) || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: got %v; want one line with %q", tt.env, err, tt.want)
		}
	}
}

// TestSamplerRootBound holds the probes' rule (root_sample_bound in
// common.h, mirrored here) to the SDK's TraceIDRatioBased on random ids:
// the same traces must be kept here as in SDK-instrumented services.
func TestSamplerRootBound(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, ratio := range []float64{0, 1e-9, 0.01, 0.25, 0.5, 0.999, 1} {
		s := Sampler{Name: "traceidratio", Ratio: ratio}
		sdk := sdktrace.TraceIDRatioBased(ratio)
		kept := 0
		for range 20000 {
			var id trace.TraceID
			binary.BigEndian.PutUint64(id[:8], rng.Uint64())
			binary.BigEndian.PutUint64(id[8:], rng.Uint64())
			probe := binary.BigEndian.Uint64(id[8:])>>1 < s.RootBound()
			want := sdk.ShouldSample(sdktrace.SamplingParameters{TraceID: id}).Decision == sdktrace.RecordAndSample
			if probe != want {
				t.Fatalf("ratio %v, trace %s: probes sample %v, the SDK %v", ratio, id, probe, want)
			}
			if probe {
				kept++
			}
		}
		t.Logf("ratio %v: %d of 20000 kept", ratio, kept)
	}
	if c := (Sampler{}).Constants(); c["root_sample_bound"] != uint64(1<<64-1) || c["sample_remote_parent"] != uint8(1) {
		t.Errorf("the zero Sampler's constants are %v, want the default's (sample everything, parent-based)", c)
	}
}
