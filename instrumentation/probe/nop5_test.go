package probe

import "testing"

func TestReleaseAtLeast(t *testing.T) {
	for _, tt := range []struct {
		release string
		want    bool
	}{
		{"6.18.44-fc-v782", true},
		{"6.18", true},
		{"6.19.0-rc1", true},
		{"7.0.1", true},
		{"6.17.9-generic", false},
		{"6.8.0-45-generic", false},
		{"5.15.0", false},
		{"6", false},
		{"", false},
		{"x.y", false},
	} {
		if got := releaseAtLeast(tt.release, 6, 18); got != tt.want {
			t.Errorf("releaseAtLeast(%q, 6, 18) = %v, want %v", tt.release, got, tt.want)
		}
	}
}
