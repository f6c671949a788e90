package probe

import (
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Clock converts bpf_ktime_get_ns (CLOCK_MONOTONIC) to wall-clock time. The
// offset between the two clocks drifts as NTP slews the wall clock, so it is
// re-sampled now and then rather than fixed at start.
type Clock struct {
	offset atomic.Int64 // realtime - monotonic, ns
}

// NewClock returns a clock with a fresh offset.
func NewClock() *Clock {
	c := &Clock{}
	c.Resample()
	return c
}

// Resample measures the offset again, bracketing the wall-clock read by two
// monotonic reads to keep the error below a microsecond.
func (c *Clock) Resample() {
	var m1, m2 unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &m1)
	wall := time.Now().UnixNano()
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &m2)
	mono := (m1.Nano() + m2.Nano()) / 2
	c.offset.Store(wall - mono)
}

// Time converts a CLOCK_MONOTONIC reading in ns to wall-clock time.
func (c *Clock) Time(monoNs uint64) time.Time {
	return time.Unix(0, int64(monoNs)+c.offset.Load())
}
