package instrumentation

import (
	"bytes"
	"flag"
	"os"
	"testing"
)

var update = flag.Bool("update", false, "rewrite COMPATIBILITY.md")

// TestCompatibilityUpToDate fails when COMPATIBILITY.md no longer matches the
// offsets table and the bundles: run make compat.
func TestCompatibilityUpToDate(t *testing.T) {
	var b bytes.Buffer
	if err := WriteCompatibility(&b); err != nil {
		t.Fatal(err)
	}
	const path = "../COMPATIBILITY.md"
	if *update {
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, b.Bytes()) {
		t.Fatal("COMPATIBILITY.md is stale: run make compat")
	}
}

func TestMinorOf(t *testing.T) {
	for in, want := range map[string]string{"go1.22.3": "1.22", "go1.20": "1.20", "go1.27.4": "1.27"} {
		if got := minorOf(in); got != want {
			t.Errorf("minorOf(%q) = %q, want %q", in, got, want)
		}
	}
}
