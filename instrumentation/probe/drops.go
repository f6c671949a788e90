package probe

import (
	"github.com/cilium/ebpf"

	"github.com/spanprobe/spanprobe/internal/metrics"
)

// newDropCounters mirrors a bundle's per-CPU drop_counts map into metrics;
// ring-buffer-full drops also count as lost records. The slot after the
// drop reasons counts unsampled spans, which are no loss.
func newDropCounters(reg *metrics.Registry, bundle string, m *ebpf.Map) *PerCPUCounters {
	if reg == nil {
		reg = metrics.NewRegistry()
	}
	lost := reg.Counter("spanprobe_ringbuf_records_lost_total", "Records the probes could not write because the ring buffer was full.")
	counters := make([][]*metrics.Counter, commonDropReasonCOUNTS_MAX)
	for r := range commonDropReasonDROP_REASON_MAX {
		counters[r] = []*metrics.Counter{reg.Counter("spanprobe_probe_events_dropped_total", "Events the probes gave up on, by bundle and reason.",
			"probe", bundle, "reason", reasonName(commonDropReason(r)))}
	}
	counters[commonDropReasonDROP_RINGBUF_FULL] = append(counters[commonDropReasonDROP_RINGBUF_FULL], lost)
	counters[commonDropReasonCOUNT_UNSAMPLED] = []*metrics.Counter{unsampledCounter(reg)}
	return NewPerCPUCounters(m, counters)
}

// reasonNames label the drop reasons of common.h on metrics.
var reasonNames = [commonDropReasonDROP_REASON_MAX]string{
	commonDropReasonDROP_RINGBUF_FULL:    "ringbuf_full",
	commonDropReasonDROP_UNMATCHED_EXIT:  "unmatched_exit",
	commonDropReasonDROP_MISMATCHED_EXIT: "mismatched_exit",
	commonDropReasonDROP_UNSUPPORTED:     "unsupported",
	commonDropReasonDROP_BAD_TRACEPARENT: "bad_traceparent",
	commonDropReasonDROP_ABANDONED_FRAME: "abandoned_frame",
	commonDropReasonDROP_TOO_DEEP:        "too_deep",
}

func reasonName(r commonDropReason) string { return reasonNames[r] }
