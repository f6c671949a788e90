package probe

import (
	"sync"

	"github.com/cilium/ebpf"

	"github.com/spanprobe/spanprobe/internal/metrics"
)

// PerCPUCounters mirrors a per-CPU array of BPF counters (one u64 per index
// and CPU) into metrics counters: the probes count without locks, user
// space adds up the CPUs and forwards what grew since the last Sync.
type PerCPUCounters struct {
	m        *ebpf.Map
	counters [][]*metrics.Counter // by index: every counter that index feeds
	mu       sync.Mutex
	last     []uint64
}

// NewPerCPUCounters mirrors m's indexes into counters[i] (all of them).
func NewPerCPUCounters(m *ebpf.Map, counters [][]*metrics.Counter) *PerCPUCounters {
	return &PerCPUCounters{m: m, counters: counters, last: make([]uint64, len(counters))}
}

// Sync adds what each index counted since the last call. Safe to call
// concurrently, and after the map is closed (it then does nothing).
func (p *PerCPUCounters) Sync() {
	if p == nil || p.m == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	var perCPU []uint64
	for i := range p.counters {
		if err := p.m.Lookup(uint32(i), &perCPU); err != nil {
			continue
		}
		var sum uint64
		for _, v := range perCPU {
			sum += v
		}
		if sum > p.last[i] {
			for _, c := range p.counters[i] {
				c.Add(sum - p.last[i])
			}
			p.last[i] = sum
		}
	}
}
