package metrics

import (
	"bufio"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Counter is a monotonically increasing value. The zero value is usable but is
// not exposed by any registry; get exposed counters from Registry.Counter.
type Counter struct {
	v atomic.Uint64
}

// Add adds n to the counter.
func (c *Counter) Add(n uint64) { c.v.Add(n) }

// Inc adds one to the counter.
func (c *Counter) Inc() { c.v.Add(1) }

// Load returns the current value.
func (c *Counter) Load() uint64 { return c.v.Load() }

type kind uint8

const (
	kindCounter kind = iota + 1
	kindGauge
)

func (k kind) String() string {
	if k == kindGauge {
		return "gauge"
	}
	return "counter"
}

type family struct {
	name   string
	help   string
	kind   kind
	series map[string]*Counter // rendered label set ("" or `{k="v"}`) -> counter
	gauge  func() float64
}

// Registry holds metric families and renders them. Its methods are safe for
// concurrent use.
type Registry struct {
	mu       sync.Mutex
	families map[string]*family
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{families: make(map[string]*family)}
}

// Counter returns the counter with the given name and labels, creating it on
// first use. labels are key/value pairs (k1, v1, k2, v2, ...); their order does
// not matter, so the same name and label set always yield the same *Counter.
// A trailing key without a value gets the empty value.
//
// Names and label keys outside the Prometheus character set are rewritten
// with '_' rather than rejected: metric names are fixed strings in the agent,
// so a bad one is a typo that should still show up in a scrape. The first help
// text registered for a name wins. If name is already a gauge, the returned
// counter works but is not exposed.
func (r *Registry) Counter(name, help string, labels ...string) *Counter {
	name = sanitizeName(name)
	key := renderLabels(labels)

	r.mu.Lock()
	defer r.mu.Unlock()
	f, ok := r.families[name]
	if !ok {
		f = &family{name: name, help: help, kind: kindCounter, series: make(map[string]*Counter)}
		r.families[name] = f
	}
	if f.kind != kindCounter {
		return new(Counter)
	}
	c, ok := f.series[key]
	if !ok {
		c = new(Counter)
		f.series[key] = c
	}
	return c
}

// Gauge registers f as the source of the gauge name; f is called on every
// WritePrometheus, without the registry lock held, so it may be slow-ish but
// must be safe for concurrent use. Registering the same name again replaces f.
// If name is already a counter, the gauge is ignored.
func (r *Registry) Gauge(name, help string, f func() float64) {
	name = sanitizeName(name)

	r.mu.Lock()
	defer r.mu.Unlock()
	fam, ok := r.families[name]
	if !ok {
		r.families[name] = &family{name: name, help: help, kind: kindGauge, gauge: f}
		return
	}
	if fam.kind == kindGauge {
		fam.gauge = f
	}
}

type seriesSnapshot struct {
	labels  string
	counter *Counter
}

type familySnapshot struct {
	name, help string
	kind       kind
	series     []seriesSnapshot
	gauge      func() float64
}

// WritePrometheus writes every family in the text exposition format 0.0.4:
// a HELP and a TYPE line per family, families sorted by name and series by
// label set.
func (r *Registry) WritePrometheus(w io.Writer) error {
	// Copy under the lock, render without it: gauge callbacks may take locks
	// of their own, and a slow client must not stall registrations.
	r.mu.Lock()
	snap := make([]familySnapshot, 0, len(r.families))
	for _, f := range r.families {
		fs := familySnapshot{name: f.name, help: f.help, kind: f.kind, gauge: f.gauge}
		for labels, c := range f.series {
			fs.series = append(fs.series, seriesSnapshot{labels: labels, counter: c})
		}
		slices.SortFunc(fs.series, func(a, b seriesSnapshot) int { return strings.Compare(a.labels, b.labels) })
		snap = append(snap, fs)
	}
	r.mu.Unlock()
	slices.SortFunc(snap, func(a, b familySnapshot) int { return strings.Compare(a.name, b.name) })

	bw := bufio.NewWriter(w)
	var num []byte
	for _, f := range snap {
		if f.help != "" {
			bw.WriteString("# HELP ")
			bw.WriteString(f.name)
			bw.WriteByte(' ')
			bw.WriteString(escapeHelp(f.help))
			bw.WriteByte('\n')
		}
		bw.WriteString("# TYPE ")
		bw.WriteString(f.name)
		bw.WriteByte(' ')
		bw.WriteString(f.kind.String())
		bw.WriteByte('\n')
		switch f.kind {
		case kindCounter:
			for _, s := range f.series {
				bw.WriteString(f.name)
				bw.WriteString(s.labels)
				bw.WriteByte(' ')
				num = strconv.AppendUint(num[:0], s.counter.Load(), 10)
				bw.Write(num)
				bw.WriteByte('\n')
			}
		case kindGauge:
			var v float64
			if f.gauge != nil {
				v = f.gauge()
			}
			bw.WriteString(f.name)
			bw.WriteByte(' ')
			bw.WriteString(formatFloat(v))
			bw.WriteByte('\n')
		}
	}
	// bufio.Writer keeps the first write error and reports it here.
	return bw.Flush()
}

func formatFloat(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// renderLabels returns the exposition form of the label pairs, sorted by key,
// e.g. `{probe="x",reason="y"}`, or "" when there are none. The rendered form
// doubles as the series identity, so equal label sets map to one counter.
func renderLabels(kv []string) string {
	if len(kv) == 0 {
		return ""
	}
	type pair struct{ k, v string }
	pairs := make([]pair, 0, (len(kv)+1)/2)
	for i := 0; i < len(kv); i += 2 {
		p := pair{k: sanitizeLabel(kv[i])}
		if i+1 < len(kv) {
			p.v = kv[i+1]
		}
		pairs = append(pairs, p)
	}
	slices.SortStableFunc(pairs, func(a, b pair) int { return strings.Compare(a.k, b.k) })
	var b strings.Builder
	b.WriteByte('{')
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(p.k)
		b.WriteString(`="`)
		b.WriteString(escapeLabelValue(p.v))
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String()
}

// Label values escape backslash, double quote and newline; HELP text escapes
// only backslash and newline (format 0.0.4).
var (
	labelValueEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	helpEscaper       = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
)

func escapeLabelValue(s string) string { return labelValueEscaper.Replace(s) }
func escapeHelp(s string) string       { return helpEscaper.Replace(s) }

// sanitizeName maps s onto [a-zA-Z_:][a-zA-Z0-9_:]*.
func sanitizeName(s string) string { return sanitize(s, true) }

// sanitizeLabel maps s onto [a-zA-Z_][a-zA-Z0-9_]*.
func sanitizeLabel(s string) string { return sanitize(s, false) }

func sanitize(s string, colonOK bool) string {
	if s == "" {
		return "_"
	}
	valid := func(i int, c byte) bool {
		switch {
		case c == '_', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
			return true
		case c == ':':
			return colonOK
		case c >= '0' && c <= '9':
			return i > 0
		}
		return false
	}
	ok := true
	for i := 0; i < len(s); i++ {
		if !valid(i, s[i]) {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	b := []byte(s)
	for i := range b {
		if !valid(i, b[i]) {
			b[i] = '_'
		}
	}
	return string(b)
}
