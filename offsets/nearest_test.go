package offsets

import (
	"errors"
	"testing"
)

func TestNearestPatchFallback(t *testing.T) {
	const key = "runtime.g.goid"
	stable := NewTable()
	for _, v := range []string{"go1.30.0", "go1.30.1", "go1.30.2"} {
		stable.Set(StdModule, v, key, 152)
	}
	changed := NewTable()
	changed.Set(StdModule, "go1.30.0", key, 152)
	changed.Set(StdModule, "go1.30.1", key, 160)
	single := NewTable()
	single.Set(StdModule, "go1.30.0", key, 152)
	gap := NewTable()
	gap.Set(StdModule, "go1.30.0", key, 152)
	gap.Set(StdModule, "go1.30.2", key, 152)

	tests := []struct {
		name    string
		table   *Table
		version string
		want    uint64 // 0: no fallback, the lookup fails with ErrUnknownOffset
		near    string
	}{
		{"newer patch of a stable minor", stable, "go1.30.7", 152, "go1.30.2"},
		{"minor whose layout changed", changed, "go1.30.5", 0, ""},
		{"one measured patch shows no history", single, "go1.30.3", 0, ""},
		{"missing older patch is not guessed", gap, "go1.30.1", 0, ""},
		{"experiment suffix still matches exactly", stable, "go1.30.1 X:boringcrypto", 152, ""},
		{"pre-release", stable, "go1.30.9rc1", 0, ""},
		{"other minor", stable, "go1.31.0", 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewResolver(tt.table, map[string]string{StdModule: tt.version}, nil)
			off, err := r.Offset(key)
			if tt.want == 0 {
				if !errors.Is(err, ErrUnknownOffset) {
					t.Fatalf("Offset = %d, %v; want ErrUnknownOffset", off, err)
				}
				return
			}
			if err != nil || off != tt.want {
				t.Fatalf("Offset = %d, %v; want %d", off, err, tt.want)
			}
			if got := r.NearestPatch(); got != tt.near {
				t.Errorf("NearestPatch = %q, want %q", got, tt.near)
			}
		})
	}
}

// TestNearestPatchEmbedded pins what the embedded table allows: go1.27's
// patches kept one layout, go1.26.11 moved net/http.response fields.
func TestNearestPatchEmbedded(t *testing.T) {
	r := ForBinary("go1.27.99", nil).(*BinaryResolver)
	if _, err := r.Offset("net/http.response.status"); err != nil || r.NearestPatch() != "go1.27.4" {
		t.Errorf("go1.27.99: %v, stand-in %q; want go1.27.4's offsets", err, r.NearestPatch())
	}
	if _, err := ForBinary("go1.26.99", nil).Offset("net/http.response.status"); !errors.Is(err, ErrUnknownOffset) {
		t.Errorf("go1.26.99: err = %v, want ErrUnknownOffset (1.26 changed layout in a patch)", err)
	}
}
