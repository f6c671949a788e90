package propagation

import (
	"os"
	"testing"
)

func TestStartLoadsAndAttaches(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("requires root (CAP_BPF, CAP_PERFMON) to load eBPF programs")
	}
	inj, err := Start(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := inj.Close(); err != nil {
		t.Fatal(err)
	}
}
