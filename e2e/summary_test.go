package e2e

import (
	"math"
	"testing"
)

// TestSummarizeRatio checks the throughput ratio is the mean agent rate over
// the mean baseline rate, whatever order the modes are visited in.
func TestSummarizeRatio(t *testing.T) {
	rows := []benchRow{
		{round: 1, mode: "baseline", wrkResult: wrkResult{rps: 40000, requests: 1}},
		{round: 1, mode: "agent", wrkResult: wrkResult{rps: 20000, requests: 1}},
		{round: 1, mode: "agent-noexport", wrkResult: wrkResult{rps: 30000, requests: 1}},
		{round: 2, mode: "baseline", wrkResult: wrkResult{rps: 60000, requests: 1}},
		{round: 2, mode: "agent", wrkResult: wrkResult{rps: 30000, requests: 1}},
		{round: 2, mode: "agent-noexport", wrkResult: wrkResult{rps: 40000, requests: 1}},
	}
	for i := 0; i < 50; i++ { // map order varies from call to call
		s := summarize(rows)
		if got := s["agent"].ThroughputRatio; math.Abs(got-0.5) > 1e-9 {
			t.Fatalf("agent ratio = %v, want 0.5", got)
		}
		if got := s["agent-noexport"].ThroughputRatio; math.Abs(got-0.7) > 1e-9 {
			t.Fatalf("noexport ratio = %v, want 0.7", got)
		}
	}
}
