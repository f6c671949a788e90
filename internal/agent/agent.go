package agent

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/sdk/resource"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/spanprobe/spanprobe/exporter"
	"github.com/spanprobe/spanprobe/instrumentation"
	"github.com/spanprobe/spanprobe/instrumentation/nethttp/propagation"
	"github.com/spanprobe/spanprobe/instrumentation/probe"
	"github.com/spanprobe/spanprobe/internal/goexe"
	"github.com/spanprobe/spanprobe/internal/metrics"
	"github.com/spanprobe/spanprobe/offsets"
)

// Bundles are the probe bundles the agent attaches.
var Bundles = instrumentation.All

// Config selects the targets. Exactly one of Launch, PID, Exe is set.
type Config struct {
	Launch []string // program and arguments to start instrumented
	PID    int
	Exe    string
	// Exits says which exit sites the probes may use.
	Exits probe.ExitMode
	// QueryText says what database spans keep of statements (probe.Env).
	QueryText probe.QueryText
	// Propagation says how outgoing requests get a traceparent:
	// PropagationAuto (""), PropagationSkMsg or PropagationOff.
	Propagation string
	// Funcs are --func patterns; FuncArgs captures their arguments.
	Funcs    []string
	FuncArgs bool
	// NoNopSites keeps every probe on its own instruction (probe.Options).
	NoNopSites bool
	// ScanInterval is how often --exe looks for new processes.
	ScanInterval time.Duration
}

// Agent finds targets, attaches probes and feeds the pipeline.
type Agent struct {
	cfg      Config
	log      *slog.Logger
	reg      *metrics.Registry
	pipeline *exporter.Pipeline
	export   exporter.Config
	clock    *probe.Clock

	attached atomic.Int32
	// slackOnce sets the threads' timer slack at the first attach.
	slackOnce sync.Once
	spans     *metrics.Counter

	mu        sync.Mutex
	resources map[uint32]*resource.Resource

	// Set before any attachment; nil without outgoing traceparents.
	injector *propagation.Injector
}

// target is one attachment and what the resource of its processes needs.
type target struct {
	att *probe.Attachment
	exe string // the executable's path as the target sees it
}

// New returns an agent that sends spans to pipeline.
func New(cfg Config, export exporter.Config, pipeline *exporter.Pipeline, reg *metrics.Registry, log *slog.Logger) *Agent {
	if cfg.ScanInterval <= 0 {
		cfg.ScanInterval = 500 * time.Millisecond
	}
	a := &Agent{
		cfg: cfg, log: log, reg: reg, pipeline: pipeline, export: export,
		clock:     probe.NewClock(),
		spans:     reg.Counter("spanprobe_spans_produced_total", "Spans built from probe events and handed to the exporter."),
		resources: map[uint32]*resource.Resource{},
	}
	reg.Gauge("spanprobe_targets_attached", "Executables with probes attached.", func() float64 { return float64(a.attached.Load()) })
	return a
}

// Ready reports whether probes are attached to at least one target.
func (a *Agent) Ready() bool { return a.attached.Load() > 0 }

// Run instruments the configured targets until ctx ends. In launch mode it
// returns when the program exits, with its exit code.
func (a *Agent) Run(ctx context.Context) (exitCode int, err error) {
	go a.resampleClock(ctx)
	inj, err := a.startPropagation(ctx)
	if err != nil {
		return 0, err
	}
	if inj != nil {
		defer inj.Close()
		a.injector = inj
	}
	switch {
	case len(a.cfg.Launch) > 0:
		return a.runLaunch(ctx)
	case a.cfg.PID != 0:
		return 0, a.runPID(ctx)
	case a.cfg.Exe != "":
		return 0, a.runExe(ctx)
	}
	return 0, errors.New("no target: give a program after --, --pid or --exe")
}

// attach loads and attaches the bundles to the executable at path. pid 0
// covers every process running it. A binary that links none of the
// instrumented libraries is not an error: it gets a warning and a nil
// attachment, and the target runs on untraced.
func (a *Agent) attach(bin *goexe.Binary, path string, pid int) (*probe.Attachment, error) {
	start := time.Now()
	res := &lazyDWARFResolver{bin: bin, table: offsets.ForBinary(bin.GoVersion.String(), nil)}
	opts := probe.Options{
		PID: pid, Exits: a.cfg.Exits, QueryText: a.cfg.QueryText,
		Funcs: a.cfg.Funcs, FuncArgs: a.cfg.FuncArgs, NoNopSites: a.cfg.NoNopSites, Logger: a.log, Metrics: a.reg,
	}
	opts.Constants = a.export.Sampler.Constants()
	if a.injector != nil {
		// The client bundle files requests in the injector's maps.
		opts.Maps = a.injector.Maps()
		opts.Constants["inject_traceparent"] = uint8(1)
	}
	att, err := probe.Attach(bin, path, Bundles, res, opts)
	if errors.Is(err, probe.ErrNothingToTrace) {
		a.log.Warn("nothing to trace: the target links none of the instrumented libraries (net/http)", "pid", pid, "path", path, "error", OneLine(err))
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if err := bin.ReleasePages(); err != nil {
		a.log.Debug("releasing the binary's pages", "path", path, "error", err)
	}
	if br, ok := res.table.(*offsets.BinaryResolver); ok && br.NearestPatch() != "" {
		a.log.Warn("Go version not in the offsets table: using the layout of the same minor's newest measured patch, which no patch of that minor changed (run make offsets to measure it)",
			"go", bin.GoVersion.String(), "as", br.NearestPatch())
	}
	if pid != 0 {
		a.adoptConnections(pid)
	}
	a.attached.Add(1) // ready from the moment the probes are in place; serve undoes it
	a.slackOnce.Do(func() {
		if err := setThreadSlack(threadSlack); err != nil {
			a.log.Debug("timer slack not set", "error", OneLine(err))
		}
	})
	a.log.Info("probes attached", "pid", pid, "path", path, "go", bin.GoVersion.String(),
		"bundles", att.Bundles, "sites", att.Sites, "tracepoints", att.Tracepoints, "elapsed", time.Since(start).Round(time.Millisecond))
	return att, nil
}

// serveInBackground serves t on its own goroutine; the returned func stops
// it and waits until the probes are detached and the ring drained.
func (a *Agent) serveInBackground(ctx context.Context, t target) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	served := make(chan struct{})
	go func() { a.serve(ctx, t); close(served) }()
	return func() { cancel(); <-served }
}

// queueWait bounds how long the ring-buffer reader waits for room in the
// export queue: longer than an export under load takes, far shorter than
// the ring (half of it is spare when the reader is woken) takes to fill.
const queueWait = 50 * time.Millisecond

// serve reads an attachment's events until ctx ends, then detaches.
func (a *Agent) serve(ctx context.Context, t target) {
	if t.att == nil {
		<-ctx.Done()
		return
	}
	defer a.attached.Add(-1)
	defer t.att.Close()
	sink := &spanSink{a: a, t: t}
	if err := t.att.Run(ctx, a.clock, sink); err != nil {
		a.log.Error("reading probe events", "path", t.att.Path, "error", err)
	}
}

// spanSink hands one target's spans to the pipeline in the pipeline's own
// Spans, which come back to it after export: no allocation per span but
// the span's texts.
type spanSink struct {
	a   *Agent
	t   target
	cur *exporter.Span // the span Next handed out
}

func (k *spanSink) Next() *tracetest.SpanStub {
	k.cur = k.a.pipeline.NewSpan()
	return &k.cur.Stub
}

func (k *spanSink) Emit(pid uint32, s *tracetest.SpanStub) {
	s.Resource = k.a.resource(pid, k.t)
	k.a.spans.Inc()
	// The ring holds the rest of a drain meanwhile (see WaitForRoom).
	k.a.pipeline.WaitForRoom(queueWait)
	k.a.pipeline.Enqueue(k.cur)
	k.cur = nil
}

// resource returns the resource of a target process, built on its first
// span: with --exe, processes appear that were never attached to by PID.
func (a *Agent) resource(pid uint32, t target) *resource.Resource {
	a.mu.Lock()
	defer a.mu.Unlock()
	if r, ok := a.resources[pid]; ok {
		return r
	}
	exe := t.exe
	if p, err := exeLink(int(pid)); err == nil {
		exe = p
	}
	if len(a.resources) > 4096 { // bounded: forget exited processes now and then
		clear(a.resources)
	}
	r := exporter.Resource(a.export, exporter.TargetInfo{PID: int(pid), ExePath: exe, GoVersion: t.att.Binary.GoVersion.String()})
	a.resources[pid] = r
	return r
}

func (a *Agent) resampleClock(ctx context.Context) {
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			a.clock.Resample()
		}
	}
}

// lazyDWARFResolver asks the offsets table first and loads the target's
// DWARF only for what the table lacks: decompressing and parsing the DWARF
// of a large binary costs time and memory the table makes unnecessary.
type lazyDWARFResolver struct {
	bin   *goexe.Binary
	table offsets.Resolver
	once  sync.Once
	full  offsets.Resolver
}

func (r *lazyDWARFResolver) Offset(key string) (uint64, error) {
	v, err := r.table.Offset(key)
	if err == nil || !errors.Is(err, offsets.ErrUnknownOffset) || errors.Is(err, offsets.ErrFieldAbsent) || !r.bin.HasDWARF {
		return v, err // found, or known not to exist in this version: no DWARF needed
	}
	r.once.Do(func() {
		r.full = r.table
		if d, derr := r.bin.DWARF(); derr == nil {
			r.full = offsets.ForBinary(r.bin.GoVersion.String(), d)
		}
	})
	return r.full.Offset(key)
}

// OneLine flattens joined errors for a log or an error line.
func OneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", "; ") }
