package agent

import (
	"context"
	"errors"
	"os/exec"
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
