package probe

import (
	"sync"

	"github.com/cilium/ebpf"

	"github.com/spanprobe/spanprobe/internal/metrics"
)

// dropCounters mirrors a bundle's per-CPU drop_counts map into metrics.
type dropCounters struct {
	m        *ebpf.Map
	mu       sync.Mutex
	last     [commonDropReasonDROP_REASON_MAX]uint64
	counters [commonDropReasonDROP_REASON_MAX]*metrics.Counter
	lost     *metrics.Counter
}

func newDropCounters(reg *metrics.Registry, bundle string, m *ebpf.Map) *dropCounters {
	if reg == nil {
		reg = metrics.NewRegistry()
	}
	d := &dropCounters{m: m, lost: reg.Counter("spanprobe_ringbuf_records_lost_total", "Records the probes could not write because the ring buffer was full.")}
	for r := commonDropReason(0); r < commonDropReasonDROP_REASON_MAX; r++ {
		d.counters[r] = reg.Counter("spanprobe_probe_events_dropped_total", "Events the probes gave up on, by bundle and reason.",
			"probe", bundle, "reason", reasonName(r))
	}
	return d
}

// reasonNames label the drop reasons of common.h on metrics.
var reasonNames = [commonDropReasonDROP_REASON_MAX]string{
	commonDropReasonDROP_RINGBUF_FULL:    "ringbuf_full",
	commonDropReasonDROP_UNMATCHED_EXIT:  "unmatched_exit",
	commonDropReasonDROP_MISMATCHED_EXIT: "mismatched_exit",
	commonDropReasonDROP_UNSUPPORTED:     "unsupported",
	commonDropReasonDROP_BAD_TRACEPARENT: "bad_traceparent",
}

func reasonName(r commonDropReason) string { return reasonNames[r] }

func (d *dropCounters) sync() {
	if d.m == nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	var perCPU []uint64
	for r := commonDropReason(0); r < commonDropReasonDROP_REASON_MAX; r++ {
		if err := d.m.Lookup(uint32(r), &perCPU); err != nil {
			continue
		}
		var sum uint64
		for _, v := range perCPU {
			sum += v
		}
		if sum > d.last[r] {
			d.counters[r].Add(sum - d.last[r])
			if r == commonDropReasonDROP_RINGBUF_FULL {
				d.lost.Add(sum - d.last[r])
			}
			d.last[r] = sum
		}
	}
}
