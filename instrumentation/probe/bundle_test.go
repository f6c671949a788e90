package probe

import (
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
