package agent

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestExitCode(t *testing.T) {
	tests := []struct {
		name string
		cmd  []string
		want int
	}{
		{"success", []string{"true"}, 0},
		{"plain failure", []string{"sh", "-c", "exit 3"}, 3},
		{"killed by a signal", []string{"sh", "-c", "kill -TERM $$"}, 128 + 15},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := exec.Command(tt.cmd[0], tt.cmd[1:]...).Run()
			if got := exitCode(err); got != tt.want {
				t.Errorf("exitCode = %d, want %d (err %v)", got, tt.want, err)
			}
		})
	}
	if got := exitCode(errors.New("could not start")); got != 1 {
		t.Errorf("exitCode(start error) = %d, want 1", got)
	}
}

func TestEveryStopsWhenTold(t *testing.T) {
	n := 0
	every(t.Context(), time.Millisecond, func() bool { n++; return n < 3 })
	if n != 3 {
		t.Fatalf("fn ran %d times, want 3", n)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	every(ctx, time.Hour, func() bool { t.Error("fn ran after ctx ended"); return true })
}

func TestCheckProcess(t *testing.T) {
	if err := checkProcess(1 << 30); !errors.Is(err, ErrNoProcess) {
		t.Errorf("checkProcess(huge pid) = %v, want ErrNoProcess", err)
	}
	if err := checkProcess(-1); !errors.Is(err, ErrNoProcess) {
		t.Errorf("checkProcess(-1) = %v, want ErrNoProcess", err)
	}
}

// TestSetThreadSlack: every thread of the process gets the slack, and a
// thread started afterwards inherits it.
func TestSetThreadSlack(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("setting another thread's timer slack needs CAP_SYS_NICE: run as root")
	}
	before, err := os.ReadFile("/proc/self/timerslack_ns")
	if err != nil {
		t.Fatal(err)
	}
	want := 3*time.Millisecond + 7
	if err := setThreadSlack(want); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		d, _ := strconv.ParseInt(strings.TrimSpace(string(before)), 10, 64)
		setThreadSlack(time.Duration(d))
	})
	// Goroutines that hold their threads make the runtime start new ones,
	// from threads of its own.
	release := make(chan struct{})
	defer close(release)
	var locked sync.WaitGroup
	for range 4 {
		locked.Add(1)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
			locked.Done()
			<-release
		}()
	}
	locked.Wait()
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks {
		b, err := os.ReadFile("/proc/" + task.Name() + "/timerslack_ns")
		if errors.Is(err, os.ErrNotExist) {
			continue // exited meanwhile
		}
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.TrimSpace(string(b)); got != strconv.FormatInt(want.Nanoseconds(), 10) {
			t.Errorf("thread %s has timer slack %s ns, want %d", task.Name(), got, want.Nanoseconds())
		}
	}
}
