package metrics

import (
	"errors"
	"math"
	"strings"
	"sync"
	"testing"
)

func TestWritePrometheus(t *testing.T) {
	r := NewRegistry()
	r.Counter("spanprobe_spans_dropped_total", "Spans dropped.", "reason", "queue_full").Add(3)
	r.Counter("spanprobe_spans_dropped_total", "ignored help", "reason", "export_failed").Inc()
	r.Counter("spanprobe_ringbuf_records_read_total", "Records read from the ring buffer.").Add(42)
	r.Counter("spanprobe_probe_events_dropped_total", "Probe events dropped.",
		"reason", "full", "probe", `a"b\c`+"\nd").Inc()
	r.Gauge("spanprobe_targets_attached", "Processes with probes attached.", func() float64 { return 2 })
	r.Gauge("spanprobe_a_gauge", "Help with \\ and\nnewline.", func() float64 { return 0.5 })

	var b strings.Builder
	if err := r.WritePrometheus(&b); err != nil {
		t.Fatalf("WritePrometheus: %v", err)
	}
	want := `# HELP spanprobe_a_gauge Help with \\ and\nnewline.
# TYPE spanprobe_a_gauge gauge
spanprobe_a_gauge 0.5
# HELP spanprobe_probe_events_dropped_total Probe events dropped.
# TYPE spanprobe_probe_events_dropped_total counter
spanprobe_probe_events_dropped_total{probe="a\"b\\c\nd",reason="full"} 1
# HELP spanprobe_ringbuf_records_read_total Records read from the ring buffer.
# TYPE spanprobe_ringbuf_records_read_total counter
spanprobe_ringbuf_records_read_total 42
# HELP spanprobe_spans_dropped_total Spans dropped.
# TYPE spanprobe_spans_dropped_total counter
spanprobe_spans_dropped_total{reason="export_failed"} 1
spanprobe_spans_dropped_total{reason="queue_full"} 3
# HELP spanprobe_targets_attached Processes with probes attached.
# TYPE spanprobe_targets_attached gauge
spanprobe_targets_attached 2
`
	if got := b.String(); got != want {
		t.Errorf("exposition mismatch\ngot:\n%s\nwant:\n%s", got, want)
	}

	// Rendering twice must give identical bytes (map iteration is random).
	var again strings.Builder
	if err := r.WritePrometheus(&again); err != nil {
		t.Fatal(err)
	}
	if again.String() != b.String() {
		t.Error("second rendering differs from the first")
	}
}

func TestCounterIdentity(t *testing.T) {
	r := NewRegistry()
	tests := []struct {
		name string
		a, b []string
		same bool
	}{
		{"no labels", nil, nil, true},
		{"label order does not matter", []string{"probe", "p", "reason", "r"}, []string{"reason", "r", "probe", "p"}, true},
		{"different value", []string{"reason", "a"}, []string{"reason", "b"}, false},
		{"dangling key is empty value", []string{"reason"}, []string{"reason", ""}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := r.Counter("x_total", "", tt.a...)
			b := r.Counter("x_total", "", tt.b...)
			if (a == b) != tt.same {
				t.Errorf("same counter = %v, want %v", a == b, tt.same)
			}
		})
	}
}

func TestFormatting(t *testing.T) {
	tests := []struct {
		name string
		v    float64
		want string
	}{
		{"integer", 3, "g 3\n"},
		{"fraction", 0.25, "g 0.25\n"},
		{"large", 1e21, "g 1e+21\n"},
		{"nan", math.NaN(), "g NaN\n"},
		{"+inf", math.Inf(1), "g +Inf\n"},
		{"-inf", math.Inf(-1), "g -Inf\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewRegistry()
			r.Gauge("g", "", func() float64 { return tt.v })
			var b strings.Builder
			if err := r.WritePrometheus(&b); err != nil {
				t.Fatal(err)
			}
			if got := strings.TrimPrefix(b.String(), "# TYPE g gauge\n"); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSanitize(t *testing.T) {
	tests := []struct{ in, name, label string }{
		{"ok_name:sub", "ok_name:sub", "ok_name_sub"},
		{"9lives", "_lives", "_lives"},
		{"a-b.c", "a_b_c", "a_b_c"},
		{"", "_", "_"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := sanitizeName(tt.in); got != tt.name {
				t.Errorf("sanitizeName(%q) = %q, want %q", tt.in, got, tt.name)
			}
			if got := sanitizeLabel(tt.in); got != tt.label {
				t.Errorf("sanitizeLabel(%q) = %q, want %q", tt.in, got, tt.label)
			}
		})
	}
}

func TestKindConflict(t *testing.T) {
	r := NewRegistry()
	r.Gauge("m", "", func() float64 { return 7 })
	c := r.Counter("m", "")
	c.Add(100) // must not panic, must not appear
	r.Counter("n_total", "").Inc()
	r.Gauge("n_total", "", func() float64 { return 99 })
	var b strings.Builder
	if err := r.WritePrometheus(&b); err != nil {
		t.Fatal(err)
	}
	want := "# TYPE m gauge\nm 7\n# TYPE n_total counter\nn_total 1\n"
	if b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
}

func TestConcurrentAdd(t *testing.T) {
	r := NewRegistry()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			c := r.Counter("c_total", "", "k", "v")
			for range 1000 {
				c.Inc()
			}
			var b strings.Builder
			_ = r.WritePrometheus(&b)
		})
	}
	wg.Wait()
	if got := r.Counter("c_total", "", "k", "v").Load(); got != 8000 {
		t.Errorf("Load() = %d, want 8000", got)
	}
}

type failWriter struct{}

var errWrite = errors.New("write refused")

func (failWriter) Write([]byte) (int, error) { return 0, errWrite }

func TestWriteError(t *testing.T) {
	r := NewRegistry()
	r.Counter("c_total", "help").Inc()
	if err := r.WritePrometheus(failWriter{}); !errors.Is(err, errWrite) {
		t.Errorf("WritePrometheus error = %v, want %v", err, errWrite)
	}
}

func TestCounterZeroAlloc(t *testing.T) {
	c := NewRegistry().Counter("c_total", "")
	if n := testing.AllocsPerRun(1000, func() { c.Inc(); c.Add(2); _ = c.Load() }); n != 0 {
		t.Errorf("counter ops allocate %v times per run, want 0", n)
	}
}

func BenchmarkCounterInc(b *testing.B) {
	c := NewRegistry().Counter("c_total", "")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c.Inc()
		}
	})
}
