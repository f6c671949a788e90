package probe

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestClockConvertsMonotonicToWall(t *testing.T) {
	c := NewClock()
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		t.Fatal(err)
	}
	got := c.Time(uint64(ts.Nano()))
	if d := time.Since(got); d < -time.Millisecond || d > 50*time.Millisecond {
		t.Fatalf("converted time is %v away from now", d)
	}
	// 50 ms later on the monotonic clock is 50 ms later on the wall.
	if d := c.Time(uint64(ts.Nano()) + 50e6).Sub(got); d != 50*time.Millisecond {
		t.Fatalf("difference = %v, want 50ms", d)
	}
}

func TestEveryDropReasonHasAName(t *testing.T) {
	for r := commonDropReason(0); r < commonDropReasonDROP_REASON_MAX; r++ {
		if reasonName(r) == "" {
			t.Errorf("drop reason %d has no metric label", r)
		}
	}
}
