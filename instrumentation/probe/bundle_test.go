package probe

import (
	"errors"
	"testing"

	"github.com/spanprobe/spanprobe/internal/goexe"
)

func TestGoRangeContains(t *testing.T) {
	v := func(minor, patch int) goexe.Version { return goexe.Version{Major: 1, Minor: minor, Patch: patch} }
	tests := []struct {
		name string
		r    GoRange
		v    goexe.Version
		want bool
	}{
		{"open range", GoRange{}, v(17, 0), true},
		{"at From", GoRange{From: v(22, 0)}, v(22, 0), true},
		{"before From", GoRange{From: v(22, 0)}, v(21, 13), false},
		{"at Until is outside", GoRange{Until: v(26, 11)}, v(26, 11), false},
		{"patch before Until", GoRange{Until: v(26, 11)}, v(26, 10), true},
		{"inside both", GoRange{From: v(17, 0), Until: v(23, 0)}, v(22, 12), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.r.Contains(tt.v); got != tt.want {
				t.Errorf("%+v.Contains(%v) = %v, want %v", tt.r, tt.v, got, tt.want)
			}
		})
	}
}

// TestEnvTypeName checks that type addresses are taken back to the file's
// by each process's load bias, read once a process, and that a process
// whose bias cannot be read names nothing rather than the wrong type.
func TestEnvTypeName(t *testing.T) {
	loads := map[int]int{}
	env := &Env{
		Target: typeAt{0x1000: "*net.OpError"},
		LoadBias: func(pid int) (uint64, error) {
			loads[pid]++
			switch pid {
			case 1:
				return 0, nil // linked at fixed addresses
			case 2:
				return 0x5500_0000_0000, nil // position-independent
			}
			return 0, errors.New("no such process")
		},
	}
	for _, tt := range []struct {
		pid  uint32
		addr uint64
		want string
	}{
		{1, 0x1000, "*net.OpError"},
		{2, 0x5500_0000_1000, "*net.OpError"},
		{2, 0x1000, ""}, // not moved by that process's bias
		{3, 0x1000, ""}, // bias unknown
		{2, 0x5500_0000_1000, "*net.OpError"},
		{1, 0, ""},
	} {
		if got := env.TypeName(tt.pid, tt.addr); got != tt.want {
			t.Errorf("TypeName(%d, %#x) = %q, want %q", tt.pid, tt.addr, got, tt.want)
		}
	}
	if loads[1] != 1 || loads[2] != 1 || loads[3] != 1 {
		t.Errorf("biases read %v times by PID, want once each", loads)
	}
	if got := (&Env{Target: typeAt{0x1000: "T"}}).TypeName(7, 0x1000); got != "T" {
		t.Errorf("without LoadBias, TypeName = %q, want the address as it is", got)
	}
}

type typeAt map[uint64]string

func (m typeAt) TypeName(addr uint64) string { return m[addr] }
