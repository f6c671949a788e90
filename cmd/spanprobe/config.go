package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/spanprobe/spanprobe/exporter"
	"github.com/spanprobe/spanprobe/instrumentation/probe"
	"github.com/spanprobe/spanprobe/internal/agent"
)

// config is every setting, read once at start.
type config struct {
	agent      agent.Config
	export     exporter.Config
	healthAddr string
	logLevel   slog.Level
	version    bool
	// memoryLimit is the Go runtime's soft memory limit, set when
	// GOMEMLIMIT is not (0: leave the runtime's).
	memoryLimit int64
	// maxProcs is the agent's GOMAXPROCS, set when GOMAXPROCS is not (0:
	// leave the runtime's). See defaultMaxProcs.
	maxProcs int
}

// defaultMaxProcs: the agent runs on one P unless GOMAXPROCS says
// otherwise. Its work is a chain (ring buffer, spans, export) that one core
// carries at over 1,000,000 spans/s, and with a P per core every hand-off
// between the chain's goroutines woke a thread on the other core, which
// costs a VM exit on virtualised hosts: measured under load, 20-25% less
// agent CPU per span on one P. It also caps what the agent takes from the
// node at one core.
const defaultMaxProcs = 1

// The agent's default soft memory limit: what it uses at a steady
// 10,000-15,000 spans/s, plus room for a full export queue. Near that working set the
// garbage collector runs a little more often and gives memory back sooner:
// measured, 2 MB less resident memory for about 5% more CPU per span. It
// grows with OTEL_BSP_MAX_QUEUE_SIZE, so that a larger queue is not
// squeezed into constant collection.
const (
	memoryLimitBase    = 13 << 20
	memoryLimitPerSpan = 2 << 10 // a queued span with its attributes
)

// queryText is --db-query-text: how database spans report statements.
type queryText struct{ q *probe.QueryText }

func (t queryText) String() string {
	if t.q == nil {
		return ""
	}
	return string(*t.q)
}

func (t queryText) Set(v string) error {
	q, err := probe.ParseQueryText(v)
	if err == nil {
		*t.q = q
	}
	return err
}

// funcPatterns collects --func: each flag adds patterns, and the first
// flag replaces the ones from the environment.
type funcPatterns struct {
	list    *[]string
	fromEnv bool
}

func (f funcPatterns) String() string {
	if f.list == nil {
		return ""
	}
	return strings.Join(*f.list, ",")
}

func (f *funcPatterns) Set(v string) error {
	if strings.TrimSpace(v) == "" {
		return errors.New("want a function name or pattern such as main.handle or 'main.*'")
	}
	if f.fromEnv {
		*f.list, f.fromEnv = nil, false
	}
	*f.list = append(*f.list, strings.TrimSpace(v))
	return nil
}

type lookupFunc func(string) (string, bool)

// envBool reads the boolean variable name, whose value is v.
func envBool(name, v string) (bool, error) {
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("invalid %s=%q: want true or false", name, v)
	}
	return b, nil
}

// loadConfig applies defaults, then the environment, then the flags.
func loadConfig(args []string, lookup lookupFunc, stderr io.Writer) (config, error) {
	cfg := config{logLevel: slog.LevelInfo}
	cfg.agent.QueryText = probe.QueryTextSanitized
	cfg.agent.ScanInterval = 500 * time.Millisecond

	env := func(names ...string) (string, string, bool) {
		for _, n := range names {
			if v, ok := lookup(n); ok && v != "" {
				return n, v, true
			}
		}
		return "", "", false
	}
	if n, v, ok := env("SPANPROBE_TARGET_PID", "OTEL_GO_AUTO_TARGET_PID"); ok {
		pid, err := strconv.Atoi(v)
		if err != nil || pid <= 0 {
			return cfg, fmt.Errorf("invalid %s=%q: want a process ID", n, v)
		}
		cfg.agent.PID = pid
	}
	if _, v, ok := env("SPANPROBE_TARGET_EXE", "OTEL_GO_AUTO_TARGET_EXE"); ok {
		cfg.agent.Exe = v
	}
	if _, v, ok := env("SPANPROBE_HEALTH_ADDR"); ok {
		cfg.healthAddr = v
	}
	if n, v, ok := env("SPANPROBE_LOG_LEVEL"); ok {
		if err := cfg.logLevel.UnmarshalText([]byte(v)); err != nil {
			return cfg, fmt.Errorf("invalid %s=%q: want debug, info, warn or error", n, v)
		}
	}
	if n, v, ok := env("SPANPROBE_RET_PROBES"); ok {
		if err := (retProbes{&cfg.agent.Exits}).Set(v); err != nil {
			return cfg, fmt.Errorf("invalid %s=%q: want true or false", n, v)
		}
	}
	if n, v, ok := env("SPANPROBE_EXIT_PROBES"); ok {
		if err := cfg.agent.Exits.UnmarshalText([]byte(v)); err != nil {
			return cfg, fmt.Errorf("invalid %s=%q: %w", n, v, err)
		}
	}
	if n, v, ok := env("SPANPROBE_DB_QUERY_TEXT"); ok {
		if err := (queryText{&cfg.agent.QueryText}).Set(v); err != nil {
			return cfg, fmt.Errorf("invalid %s=%q: %w", n, v, err)
		}
	} else if n, v, ok := env("OTEL_GO_AUTO_INCLUDE_DB_STATEMENT"); ok {
		// The OpenTelemetry Go agent's opt-in: true keeps statements, here
		// sanitized (raw only when asked for by name); false leaves them
		// out, as that agent did.
		include, err := envBool(n, v)
		if err != nil {
			return cfg, err
		}
		if !include {
			cfg.agent.QueryText = probe.QueryTextOff
		}
	}
	if _, v, ok := env("SPANPROBE_PROPAGATION"); ok {
		cfg.agent.Propagation = v
	}
	if _, v, ok := env("SPANPROBE_FUNCS"); ok {
		for p := range strings.SplitSeq(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				cfg.agent.Funcs = append(cfg.agent.Funcs, p)
			}
		}
	}
	if n, v, ok := env("SPANPROBE_FUNC_ARGS"); ok {
		b, err := envBool(n, v)
		if err != nil {
			return cfg, err
		}
		cfg.agent.FuncArgs = b
	}
	nopSites := true
	if n, v, ok := env("SPANPROBE_NOP_SITES"); ok {
		b, err := envBool(n, v)
		if err != nil {
			return cfg, err
		}
		nopSites = b
	}
	if n, v, ok := env("SPANPROBE_SCAN_INTERVAL"); ok {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return cfg, fmt.Errorf("invalid %s=%q: want a duration such as 500ms", n, v)
		}
		cfg.agent.ScanInterval = d
	}

	fs := flag.NewFlagSet("spanprobe", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: spanprobe [flags] -- PROGRAM [ARGS...] | --pid PID | --exe PATH")
		fs.PrintDefaults()
	}
	var (
		pid = fs.Int("pid", 0, "attach to the running process `PID`")
		exe = fs.String("exe", "", "attach to every process running the executable `PATH`, also after restarts")
	)
	fs.StringVar(&cfg.healthAddr, "health-addr", cfg.healthAddr, "serve /readyz and /metrics on `HOST:PORT`")
	fs.TextVar(&cfg.logLevel, "log-level", cfg.logLevel, "log `level`: debug, info, warn, error")
	fs.TextVar(&cfg.agent.Exits, "exit-probes", cfg.agent.Exits, "where calls are seen to end: `auto` (kernel tracepoints where the kernel has them, else cheap uprobe sites), uprobe, or ret (every RET instruction: slowest)")
	fs.Var(retProbes{&cfg.agent.Exits}, "ret-probes", "same as --exit-probes=ret")
	fs.Var(queryText{&cfg.agent.QueryText}, "db-query-text", "db.query.text of database spans: `sanitized` (literals replaced by ?), raw (may hold personal data) or off")
	fs.StringVar(&cfg.agent.Propagation, "propagation", cfg.agent.Propagation, "outgoing traceparent: `auto` (sk_msg when the kernel allows it), sk_msg (required) or off")
	fs.Var(&funcPatterns{list: &cfg.agent.Funcs, fromEnv: len(cfg.agent.Funcs) > 0}, "func", "give every call of the function `SYMBOL` a span (repeatable; globs such as 'main.*', at most 64 functions)")
	fs.BoolVar(&cfg.agent.FuncArgs, "func-args", cfg.agent.FuncArgs, "add the arguments of --func functions to their spans (needs DWARF; they may hold personal data)")
	fs.BoolVar(&nopSites, "nop-sites", nopSites, "probe the 5-byte NOP padding just before a site instead, where the kernel makes such probes a call rather than a trap (x86-64 Linux 6.18+)")
	fs.DurationVar(&cfg.agent.ScanInterval, "scan-interval", cfg.agent.ScanInterval, "how often --exe looks for new processes")
	fs.BoolVar(&cfg.version, "version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if cfg.version {
		return cfg, nil
	}
	cfg.agent.NoNopSites = !nopSites
	switch cfg.agent.Propagation {
	case "":
		cfg.agent.Propagation = agent.PropagationAuto
	case agent.PropagationAuto, agent.PropagationSkMsg, agent.PropagationOff:
	default:
		return cfg, fmt.Errorf("invalid propagation %q: want auto, sk_msg or off", cfg.agent.Propagation)
	}
	launch := fs.Args()
	if *pid != 0 || *exe != "" || len(launch) > 0 {
		// A target on the command line replaces the environment's.
		cfg.agent.PID, cfg.agent.Exe, cfg.agent.Launch = *pid, *exe, launch
		if *pid < 0 {
			return cfg, fmt.Errorf("invalid --pid %d: want a process ID", *pid)
		}
	}
	n := 0
	for _, set := range []bool{cfg.agent.PID != 0, cfg.agent.Exe != "", len(cfg.agent.Launch) > 0} {
		if set {
			n++
		}
	}
	switch {
	case n == 0:
		return cfg, errors.New("no target: give a program after --, --pid PID or --exe PATH (or SPANPROBE_TARGET_PID / SPANPROBE_TARGET_EXE)")
	case n > 1:
		return cfg, errors.New("more than one target: choose one of a program after --, --pid or --exe")
	}

	var err error
	if cfg.export, err = exporter.ConfigFromEnv(lookup); err != nil {
		return cfg, err
	}
	if _, set := lookup("GOMEMLIMIT"); !set {
		cfg.memoryLimit = memoryLimitBase + int64(cfg.export.MaxQueueSize)*memoryLimitPerSpan
	}
	if _, set := lookup("GOMAXPROCS"); !set {
		cfg.maxProcs = defaultMaxProcs
	}
	return cfg, nil
}

// retProbes is --ret-probes: a boolean for --exit-probes=ret.
type retProbes struct{ exits *probe.ExitMode }

func (r retProbes) IsBoolFlag() bool { return true }

func (r retProbes) String() string {
	return strconv.FormatBool(r.exits != nil && *r.exits == probe.ExitsReturns)
}

func (r retProbes) Set(v string) error {
	b, err := strconv.ParseBool(v)
	switch {
	case err != nil:
		return err
	case b:
		*r.exits = probe.ExitsReturns
	case *r.exits == probe.ExitsReturns:
		*r.exits = probe.ExitsAuto
	}
	return nil
}
