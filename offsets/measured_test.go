package offsets

import (
	"os"
	"testing"
)

// TestMeasuredMatchesEmbedded compares a table just measured by offsetgen
// (SPANPROBE_MEASURED_TABLE; .ci/run measures the matrix releases again)
// with the embedded one: the generator must be deterministic and the
// committed table right.
func TestMeasuredMatchesEmbedded(t *testing.T) {
	path := os.Getenv("SPANPROBE_MEASURED_TABLE")
	if path == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("SPANPROBE_MEASURED_TABLE unset in CI: .ci/run measures the matrix releases")
		}
		t.Skip("no freshly measured table: set SPANPROBE_MEASURED_TABLE (see .ci/run)")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	measured, err := ParseTable(data)
	if err != nil {
		t.Fatal(err)
	}
	embedded, err := EmbeddedTable()
	if err != nil {
		t.Fatal(err)
	}
	versions := measured.Versions(StdModule)
	if len(versions) == 0 {
		t.Fatal("measured table has no versions")
	}
	for _, v := range versions {
		for _, key := range measured.Keys(StdModule) {
			m, mst := measured.lookup(StdModule, v, key)
			e, est := embedded.lookup(StdModule, v, key)
			if m != e || mst != est {
				t.Errorf("%s %s: measured %d (status %d), embedded %d (status %d)", v, key, m, mst, e, est)
			}
		}
	}
	t.Logf("%d releases measured again, all equal to the embedded table", len(versions))
}
