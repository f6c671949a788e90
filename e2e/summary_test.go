package e2e

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestSummarizeRatio checks a mode's throughput ratio is the median of its
// runs' rates over the baselines' around them, whatever order the rows come
// in: one run against a slow baseline does not move it.
func TestSummarizeRatio(t *testing.T) {
	rows := []benchRow{
		{round: 1, mode: "baseline", wrkResult: wrkResult{rps: 40000, requests: 1}},
		{round: 1, mode: "agent", wrkResult: wrkResult{rps: 20000, requests: 1}, baseRPS: 40000},
		{round: 1, mode: "agent-noexport", wrkResult: wrkResult{rps: 30000, requests: 1}, baseRPS: 40000},
		{round: 2, mode: "agent", wrkResult: wrkResult{rps: 30000, requests: 1}, baseRPS: 60000},
		{round: 2, mode: "agent-noexport", wrkResult: wrkResult{rps: 40000, requests: 1}, baseRPS: 60000},
		{round: 3, mode: "agent-noexport", wrkResult: wrkResult{rps: 30000, requests: 1}, baseRPS: 20000}, // slow baseline
		{round: 3, mode: "agent", wrkResult: wrkResult{rps: 12000, requests: 1}, baseRPS: 20000},
		{round: 3, mode: "agent", wrkResult: wrkResult{rps: 12000, requests: 1}}, // no baseline: left out
	}
	for i := 0; i < 50; i++ { // map order varies from call to call
		rand.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
		s := summarize(rows)
		// agent: 0.5, 0.5 and 0.6; noexport: 0.75, 0.667 and 1.5.
		if got := s["agent"].ThroughputRatio; math.Abs(got-0.5) > 1e-9 {
			t.Fatalf("agent ratio = %v, want 0.5", got)
		}
		if got := s["agent-noexport"].ThroughputRatio; math.Abs(got-0.75) > 1e-9 {
			t.Fatalf("noexport ratio = %v, want 0.75", got)
		}
	}
	if got := medianFloat([]float64{4, 1, 3, 2}); got != 2.5 {
		t.Errorf("median of 1, 2, 3, 4 = %v, want 2.5", got)
	}
}

// TestBenchOrder checks every mode runs once a round, each first in some
// round, and has a baseline right before or right after it, with none
// more than one run away.
func TestBenchOrder(t *testing.T) {
	const rounds, modes = 4, 4
	steps := benchOrder(rounds, modes)
	runs := map[[2]int]int{}
	first := map[int]bool{}
	for i, s := range steps {
		if s.mode < 0 {
			continue
		}
		runs[[2]int{s.round, s.mode}]++
		if steps[i-1].mode < 0 {
			first[s.mode] = true
		}
		before := i >= 1 && steps[i-1].mode < 0 || i >= 2 && steps[i-2].mode < 0
		after := i+1 < len(steps) && steps[i+1].mode < 0 || i+2 < len(steps) && steps[i+2].mode < 0
		if !before || !after {
			t.Errorf("step %d (round %d, mode %d) has no baseline within one run on either side: %v", i, s.round, s.mode, steps)
		}
	}
	if len(runs) != rounds*modes {
		t.Errorf("%d distinct (round, mode) runs, want %d: %v", len(runs), rounds*modes, steps)
	}
	for k, n := range runs {
		if n != 1 {
			t.Errorf("round %d mode %d ran %d times", k[0], k[1], n)
		}
	}
	if len(first) != modes {
		t.Errorf("modes right after a baseline: %v, want all %d", first, modes)
	}
	if steps[0].mode >= 0 || steps[len(steps)-1].mode >= 0 {
		t.Errorf("want a baseline first and last: %v", steps)
	}
}

// TestSetBaseRates checks a run's baseline rate is the mean of the nearest
// baselines before and after it, or the one it has.
func TestSetBaseRates(t *testing.T) {
	rows := []benchRow{
		{mode: "agent", wrkResult: wrkResult{rps: 1}},
		{mode: "baseline", wrkResult: wrkResult{rps: 100}},
		{mode: "agent", wrkResult: wrkResult{rps: 1}},
		{mode: "agent", wrkResult: wrkResult{rps: 1}},
		{mode: "baseline", wrkResult: wrkResult{rps: 200}},
		{mode: "baseline", wrkResult: wrkResult{rps: 400}},
		{mode: "agent", wrkResult: wrkResult{rps: 1}},
	}
	setBaseRates(rows)
	want := []float64{100, 0, 150, 150, 0, 0, 400}
	for i, r := range rows {
		if r.baseRPS != want[i] {
			t.Errorf("row %d: baseRPS %v, want %v", i, r.baseRPS, want[i])
		}
	}
}

// TestSummarizeHitsPerSampledRequest checks hits per request divide the
// hits by the requests of the statistics sample they were counted over
// (sampleProbes), not by the measured run's, and that one unknown sample
// makes the mode's figure unknown.
func TestSummarizeHitsPerSampledRequest(t *testing.T) {
	rows := []benchRow{
		{round: 1, mode: "baseline", wrkResult: wrkResult{rps: 100, requests: 5000}},
		{round: 1, mode: "agent", wrkResult: wrkResult{rps: 80, requests: 4000}, probeSample: probeSample{uprobeHits: 300, hitRequests: 100}},
		{round: 2, mode: "agent", wrkResult: wrkResult{rps: 80, requests: 4000}, probeSample: probeSample{uprobeHits: 500, hitRequests: 300}},
		{round: 1, mode: modeFloor, wrkResult: wrkResult{rps: 90, requests: 4500}, probeSample: probeSample{uprobeHits: 20, steppedHits: 10, hitRequests: 10}},
		{round: 2, mode: modeFloor, wrkResult: wrkResult{rps: 90, requests: 4500}, probeSample: probeSample{uprobeHits: -1, steppedHits: -1}},
	}
	s := summarize(rows)
	if got := s["agent"].UprobeHitsPerRequest; math.Abs(got-2) > 1e-9 {
		t.Errorf("agent hits per request = %v, want 2 (800 hits over 400 sampled requests)", got)
	}
	if got := s[modeFloor].UprobeHitsPerRequest; got != -1 {
		t.Errorf("floor hits per request = %v, want -1 (one sample unknown)", got)
	}
	if got := s[modeFloor].SteppedHitsPerRequest; got != -1 {
		t.Errorf("floor single-stepped hits per request = %v, want -1 (one sample unknown)", got)
	}
}
