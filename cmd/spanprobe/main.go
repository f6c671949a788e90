package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/spanprobe/spanprobe/exporter"
	"github.com/spanprobe/spanprobe/internal/agent"
	"github.com/spanprobe/spanprobe/internal/health"
	"github.com/spanprobe/spanprobe/internal/metrics"
)

// The exec helper must exec from the main thread: exec from another thread
// makes the kernel keep that thread and end the old leader, and the probes,
// which were attached to the process while the leader ran it, would be lost.
// LockOSThread in init keeps main on the main thread.
func init() {
	if len(os.Args) > 1 && os.Args[1] == agent.ExecHelperArg {
		runtime.LockOSThread()
	}
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == agent.ExecHelperArg {
		err := agent.ExecHelper(os.Args[2:])
		fmt.Fprintln(os.Stderr, "spanprobe:", err)
		os.Exit(127)
	}
	os.Exit(run())
}

func run() int {
	cfg, err := loadConfig(os.Args[1:], os.LookupEnv, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return fail(err, 2)
	}
	if cfg.version {
		fmt.Println("spanprobe", exporter.Version)
		return 0
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.logLevel}))
	if cfg.memoryLimit > 0 {
		debug.SetMemoryLimit(cfg.memoryLimit)
		log.Debug("soft memory limit set", "bytes", cfg.memoryLimit)
	}
	if cfg.maxProcs > 0 {
		// Not through the environment: a launched program inherits that.
		runtime.GOMAXPROCS(cfg.maxProcs)
	}
	if err := agent.CheckPrivileges(); err != nil {
		return fail(err, 1)
	}

	// Bad input is one line, before anything else is said or started.
	if err := agent.Check(cfg.agent); err != nil {
		return fail(err, 1)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	reg := metrics.NewRegistry()
	pipeline, err := exporter.New(context.Background(), cfg.export, reg, log, os.Stdout)
	if err != nil {
		return fail(err, 1)
	}
	log.Info(cfg.export.Describe())
	ag := agent.New(cfg.agent, cfg.export, pipeline, reg, log)
	if cfg.healthAddr != "" {
		addr, err := health.Serve(ctx, cfg.healthAddr, reg, ag.Ready, log)
		if err != nil {
			return fail(err, 1)
		}
		log.Info("health endpoint listening", "addr", addr.String())
	}

	code, runErr := ag.Run(ctx)
	flushCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := pipeline.Shutdown(flushCtx); err != nil {
		log.Warn("flushing spans", "error", err)
	}
	if runErr != nil {
		return fail(runErr, 1)
	}
	return code
}

// fail prints err as the one line the user sees and returns code.
func fail(err error, code int) int {
	fmt.Fprintln(os.Stderr, "spanprobe:", agent.OneLine(err))
	return code
}
