package e2e

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestSummarizeRatio checks the throughput ratio is the median over rounds
// of each round's rate over that round's baseline, whatever order the rows
// come in, so that one slow baseline does not move it.
func TestSummarizeRatio(t *testing.T) {
	rows := []benchRow{
		{round: 1, mode: "baseline", wrkResult: wrkResult{rps: 40000, requests: 1}},
		{round: 1, mode: "agent", wrkResult: wrkResult{rps: 20000, requests: 1}},
		{round: 1, mode: "agent-noexport", wrkResult: wrkResult{rps: 30000, requests: 1}},
		{round: 2, mode: "agent", wrkResult: wrkResult{rps: 30000, requests: 1}},
		{round: 2, mode: "agent-noexport", wrkResult: wrkResult{rps: 40000, requests: 1}},
		{round: 2, mode: "baseline", wrkResult: wrkResult{rps: 60000, requests: 1}},
		{round: 3, mode: "agent-noexport", wrkResult: wrkResult{rps: 30000, requests: 1}},
		{round: 3, mode: "baseline", wrkResult: wrkResult{rps: 20000, requests: 1}}, // slow
		{round: 3, mode: "agent", wrkResult: wrkResult{rps: 12000, requests: 1}},
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
