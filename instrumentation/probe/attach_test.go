package probe

import (
	"errors"
	"log/slog"
	"os"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
)

// noopTracepointSpec is a collection of one raw tracepoint program that
// returns at once, and one uprobe program.
func noopTracepointSpec() *ebpf.CollectionSpec {
	ret := asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()}
	return &ebpf.CollectionSpec{Programs: map[string]*ebpf.ProgramSpec{
		"tp_noop":     {Name: "tp_noop", Type: ebpf.RawTracepoint, Instructions: ret, License: "GPL"},
		"uprobe_noop": {Name: "uprobe_noop", Type: ebpf.Kprobe, Instructions: ret, License: "GPL"},
	}}
}

// TestAttachTracepointsAllOrNone: a tracepoint probe attaches to every one
// of its tracepoints or to none, so that its fallback never runs beside
// half of it; and Options.Exits other than auto rule it out.
func TestAttachTracepointsAllOrNone(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("requires root (CAP_BPF, CAP_PERFMON) to load eBPF programs")
	}
	coll, err := ebpf.NewCollection(noopTracepointSpec())
	if err != nil {
		t.Fatal(err)
	}
	defer coll.Close()
	a := &Attachment{log: slog.New(slog.DiscardHandler)}
	b := &Bundle{Name: "test"}

	good := &Probe{At: AtTracepoints, Tracepoints: []Tracepoint{
		{Name: "sock_send_length", Program: "tp_noop"},
		{Name: "sock_recv_length", Program: "tp_noop"},
	}}
	links, err := a.attachTracepoints(b, good, coll, Options{})
	if err != nil {
		t.Fatalf("attaching to the kernel's socket tracepoints: %v", err)
	}
	if len(links) != 2 {
		t.Errorf("%d links, want 2", len(links))
	}
	for _, l := range links {
		l.Close()
	}

	for _, mode := range []ExitMode{ExitsUprobes, ExitsReturns} {
		if links, err := a.attachTracepoints(b, good, coll, Options{Exits: mode}); !errors.Is(err, errTracepointsOff) || links != nil {
			t.Errorf("exits %v: links %v, error %v; want none, errTracepointsOff", mode, links, err)
		}
	}

	// The first tracepoint attaches, the second does not exist: the
	// first's link must be closed again, and nothing returned.
	bad := &Probe{At: AtTracepoints, Tracepoints: []Tracepoint{
		{Name: "sock_send_length", Program: "tp_noop"},
		{Name: "spanprobe_no_such_tracepoint", Program: "tp_noop"},
	}}
	links, err = a.attachTracepoints(b, bad, coll, Options{})
	if err == nil || links != nil {
		t.Fatalf("links %v, error %v; want none and an error", links, err)
	}
	info, err := coll.Programs["tp_noop"].Info()
	if err != nil {
		t.Fatal(err)
	}
	id, _ := info.ID()
	it := new(link.Iterator)
	defer it.Close()
	for it.Next() {
		li, err := it.Take().Info()
		if err == nil && li.Program == id {
			t.Errorf("link %d still holds the program after a failed attach", li.ID)
		}
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
}

// TestDropTracepointPrograms: a kernel that refuses the tracepoint programs
// gets the collection again without them, uprobe programs kept.
func TestDropTracepointPrograms(t *testing.T) {
	spec := noopTracepointSpec()
	if !dropTracepointPrograms(spec) {
		t.Fatal("reported no tracepoint program dropped")
	}
	if _, ok := spec.Programs["tp_noop"]; ok {
		t.Error("tp_noop kept")
	}
	if _, ok := spec.Programs["uprobe_noop"]; !ok {
		t.Error("uprobe_noop dropped")
	}
	if dropTracepointPrograms(spec) {
		t.Error("reported a drop from a spec without tracepoint programs")
	}
}
