package probe

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/spanprobe/spanprobe/internal/goexe"
	"github.com/spanprobe/spanprobe/internal/metrics"
)

// Site says where in a function a program is attached.
type Site int

const (
	// AtEntry is the function's entry: its prologue PUSHQ BP when it has
	// one (emulated by the kernel, ~0.9 us a hit), else its first instruction.
	AtEntry Site = iota
	// AtReturns is every RET instruction of the function (single-stepped,
	// ~12 us a hit on this kind of host): the general but costly exit.
	AtReturns
	// AtCalls is every direct CALL of Probe.Callee inside the function
	// (emulated): the callee's arguments, for the calls from there only.
	AtCalls
	// AtResultTests is an exit inside a helper: Probe.Symbol calls
	// Probe.Callee directly, and Callee calls a func value that does the
	// work and tests the error it returns (database/sql's DB.retry). The
	// sites are those tests in Callee (goexe.ResultTestSites: conditional
	// jumps, emulated), which every probe naming the same Callee and
	// program shares (attached once). The Fallback is used when Symbol
	// makes no such call or Callee has no such test.
	AtResultTests
	// AtSuccessTests is an exit for the calls of Probe.Symbol that succeed:
	// Program goes on the test of Callee's error result in Symbol, where
	// only success leads to some of Symbol's RETs, and Probe.Returns on
	// the other RETs (goexe.SuccessTestSites). A successful call then ends
	// on an emulated Jcc; a failed one on a single-stepped RET as before.
	// The Fallback is used when Symbol has no such test.
	AtSuccessTests
	// AtTracepoints is the kernel's raw tracepoints Probe.Tracepoints,
	// not a site in the binary: no trap in the target. Where the kernel
	// lacks one of them, or Options.Exits rules them out, the Fallback is
	// used, which such a probe must have.
	AtTracepoints
)

// ExitMode says which exit sites Attach may use, from cheapest to most
// general.
type ExitMode int

const (
	// ExitsAuto uses kernel tracepoints where a bundle has them and the
	// kernel too, else cheap uprobe exit sites.
	ExitsAuto ExitMode = iota
	// ExitsUprobes leaves out kernel tracepoints: uprobes only.
	ExitsUprobes
	// ExitsReturns replaces every cheap exit site with the RET
	// instructions it stands for: slowest, but it needs nothing beyond
	// the probed function.
	ExitsReturns
)

var exitModeNames = []string{"auto", "uprobe", "ret"}

func (m ExitMode) String() string {
	if int(m) < len(exitModeNames) {
		return exitModeNames[m]
	}
	return fmt.Sprintf("ExitMode(%d)", int(m))
}

// MarshalText and UnmarshalText make ExitMode a flag value.
func (m ExitMode) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

func (m *ExitMode) UnmarshalText(b []byte) error {
	if i := slices.Index(exitModeNames, string(b)); i >= 0 {
		*m = ExitMode(i)
		return nil
	}
	return fmt.Errorf("want %s", strings.Join(exitModeNames, ", "))
}

// Probe is one program attached to one function.
type Probe struct {
	Symbol  string
	Program string
	At      Site
	Callee  string // the called function, for AtCalls, AtResultTests and AtSuccessTests
	// Returns is the program on the RETs an AtSuccessTests probe leaves.
	Returns string
	// Tracepoints are the kernel's raw tracepoints and their programs, for
	// AtTracepoints (Program is then unused).
	Tracepoints []Tracepoint
	// Fallback replaces this probe when Symbol is missing from the binary,
	// when the kernel lacks its tracepoints, or when Options.Exits rules
	// out its kind of exit site.
	Fallback *Probe
	// Cheap marks an exit probe placed on another function's entry because
	// that is cheaper than the RETs it stands for.
	Cheap bool
	// Optional probes cost one kind of data when missing, not the bundle.
	Optional bool
	// Go is the range of Go releases whose function this probe fits (its
	// symbol, its argument registers). Outside it the Fallback is used, or,
	// for an optional probe, none: a renamed function or a moved argument
	// is an entry here, not code.
	Go GoRange
	// Func, when set, is the function itself, found by a Plan (a generic
	// instance in a stripped binary has no name of its own to look up);
	// Symbol then only labels it.
	Func *goexe.Func
	// Cookie is handed to the program at every site of this probe
	// (bpf_get_attach_cookie): one program can serve many functions and
	// tell them apart.
	Cookie uint64
}

// Tracepoint is a program on one of the kernel's raw tracepoints.
type Tracepoint struct {
	Name    string // e.g. "sock_send_length"
	Program string
}

// GoRange is a range of Go releases; a zero bound is open.
type GoRange struct {
	From  goexe.Version // first release it applies to
	Until goexe.Version // first release it no longer applies to
}

// Contains reports whether v lies in the range.
func (r GoRange) Contains(v goexe.Version) bool {
	if r.From != (goexe.Version{}) && less(v, r.From) {
		return false
	}
	return r.Until == (goexe.Version{}) || less(v, r.Until)
}

func less(a, b goexe.Version) bool {
	if a.Major != b.Major {
		return a.Major < b.Major
	}
	if a.Minor != b.Minor {
		return a.Minor < b.Minor
	}
	return a.Patch < b.Patch
}

// Offset binds a BPF constant to a struct field offset.
type Offset struct {
	Var string // the `volatile const` in the bundle's C
	Key string // the offsets key, e.g. "net/http.Request.Method"
	// Optional fields exist only in some Go versions; when missing the
	// constant stays 0 and the bundle's constants tell the C not to use it.
	Optional bool
}

// Bundle describes one library's probes. It is data: the plumbing here does
// the loading, attaching and reading.
type Bundle struct {
	Name  string // e.g. "nethttp/server": the probe label on metrics
	Scope instrumentation.Scope
	// Library is a symbol whose absence means the target does not use the
	// library at all: the bundle is skipped with one log line.
	Library string
	Load    func() (*ebpf.CollectionSpec, error)
	Offsets []Offset
	// Constants sets version-dependent constants (beyond offsets). It may
	// look at which optional offsets were found.
	Constants func(v goexe.Version, found map[string]bool) map[string]any
	Probes    []Probe
	// EventKind is the event_header.kind this bundle's records carry; 0 for
	// a bundle that only keeps shared state (parenting) for the others and
	// is attached only when one of them is.
	EventKind uint32
	// Decode fills the bundle-specific parts of s (name, kind, attributes,
	// status) from one ring-buffer record. The header parts (ids, times,
	// parent) are already set. It must not keep raw.
	Decode func(raw []byte, s *tracetest.SpanStub, env *Env) error
	// Plan, for a bundle whose functions come from the user's settings
	// rather than from a fixed list, decides its probes at attach time from
	// the binary. A nil Plan and nil error mean there is nothing to probe:
	// the bundle is skipped quietly. An error fails Attach: the user named
	// what to probe, and half of it is not what was asked for.
	Plan func(bin *goexe.Binary, env *Env, log *slog.Logger) (*Plan, error)
}

// Plan is what a bundle decides about one binary at attach time.
type Plan struct {
	Probes []Probe
	// Setup runs once the programs are loaded, before any probe is
	// attached: it fills the maps the programs look up (per cookie, say)
	// and may register metrics. The sync it returns, if any, runs every
	// second and at Close, like the drop counters.
	Setup func(coll *ebpf.Collection, reg *metrics.Registry) (sync func(), err error)
	// Decode replaces Bundle.Decode for this binary: records name what
	// only the plan knows (function ids, argument layouts).
	Decode func(raw []byte, s *tracetest.SpanStub, env *Env) error
}

// Env is what Decode may consult beyond the record: the process it came
// from and the user's settings. A nil *Env knows nothing.
type Env struct {
	// Target is the binary of the process; nil when unknown.
	Target interface {
		// TypeName names a Go type by the link-time address of its
		// type descriptor ("*net.OpError"), or "" when the binary
		// cannot tell.
		TypeName(addr uint64) string
	}
	// LoadBias says how far process pid moved Target from its
	// link-time addresses (goexe.Binary.LoadBias); nil: not at all.
	LoadBias func(pid int) (uint64, error)
	// QueryText says what database spans keep of their statements.
	QueryText QueryText
	// Funcs are the patterns of the functions to give spans of their own
	// (--func); FuncArgs adds their arguments as attributes (--func-args:
	// arguments may hold personal data).
	Funcs    []string
	FuncArgs bool

	biases biasCache
}

// QueryTextMode is QueryText, QueryTextSanitized when unset or for a nil
// Env.
func (e *Env) QueryTextMode() QueryText {
	if e == nil || e.QueryText == "" {
		return QueryTextSanitized
	}
	return e.QueryText
}

// QueryText is what a database span keeps of its statement in
// db.query.text (--db-query-text).
type QueryText string

const (
	// QueryTextSanitized replaces literals with "?": the default.
	QueryTextSanitized QueryText = "sanitized"
	// QueryTextRaw keeps statements as written (they may hold personal
	// data).
	QueryTextRaw QueryText = "raw"
	// QueryTextOff leaves db.query.text out. The operation and collection
	// names are still read from the statement.
	QueryTextOff QueryText = "off"
)

// ParseQueryText reads a --db-query-text value.
func ParseQueryText(v string) (QueryText, error) {
	switch q := QueryText(v); q {
	case QueryTextSanitized, QueryTextRaw, QueryTextOff:
		return q, nil
	}
	return "", errors.New("want sanitized, raw or off")
}

// TypeName names the Go type whose descriptor is at addr in process pid
// (Target.TypeName at the file's address), or "" when it cannot.
func (e *Env) TypeName(pid uint32, addr uint64) string {
	if e == nil || e.Target == nil || addr == 0 {
		return ""
	}
	bias, ok := e.biases.get(pid, e.LoadBias)
	if !ok {
		return ""
	}
	return e.Target.TypeName(addr - bias)
}

// biasCache keeps the processes' load biases: a position-independent
// target's is read from /proc once a process, and again after a while, in
// case the PID is another process's by then.
type biasCache struct {
	mu sync.Mutex
	m  map[uint32]biasEntry
}

type biasEntry struct {
	bias uint64
	ok   bool
	at   time.Time
}

// biasMaxAge bounds how long a PID's bias is trusted; biasMaxPIDs how many
// PIDs are kept.
const (
	biasMaxAge  = 30 * time.Second
	biasMaxPIDs = 1024
)

func (c *biasCache) get(pid uint32, load func(int) (uint64, error)) (uint64, bool) {
	if load == nil {
		return 0, true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	if e, ok := c.m[pid]; ok && now.Sub(e.at) < biasMaxAge {
		return e.bias, e.ok
	}
	bias, err := load(int(pid))
	if c.m == nil || len(c.m) >= biasMaxPIDs {
		c.m = make(map[uint32]biasEntry)
	}
	c.m[pid] = biasEntry{bias: bias, ok: err == nil, at: now}
	return bias, err == nil
}
