// Command offsetgen measures the struct field offsets listed in
// offsets.Fields for a set of Go releases and writes them to the table that
// package offsets embeds.
//
// For each version it downloads the toolchain from the Go module proxy
// (golang.org/toolchain@v0.0.1-<version>.linux-amd64), installs it under the
// cache directory, builds a small program using every struct the fields live
// in, and reads the offsets from that program's DWARF.
//
// Usage:
//
//	go run ./offsets/cmd/offsetgen [-versions SPEC] [-out FILE] [-force] [-cache DIR]
//
// SPEC is a comma-separated list of:
//
//	latest-patches  the newest patch release of every minor from go1.17 on
//	all             every go1.17+ release the proxy lists (no betas or rcs)
//	1.22.x          every patch release of one minor
//	go1.22.3        one release ("1.22.3" also works)
//
// The run is incremental: versions already measured for every field are
// skipped unless -force is given. The table is rewritten after each version,
// so an interrupted run keeps what it measured. Only standard library fields
// are measured so far; fields of other modules need their own probe program.
//
// Flags:
//
//	-versions  default "latest-patches"
//	-out       default "offsets/table.json" (relative to the working directory)
//	-force     re-measure versions already in the table
//	-cache     toolchain cache, default $XDG_CACHE_HOME/spanprobe/toolchains
//	           (~/.cache/spanprobe/toolchains)
//	-go        go command used to list and download toolchains, default "go"
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spanprobe/spanprobe/offsets"
)

type config struct {
	versions string
	out      string
	force    bool
	cache    string
	goCmd    string
}

func main() {
	var cfg config
	flag.StringVar(&cfg.versions, "versions", "latest-patches", `versions to measure: comma-separated "latest-patches", "all", "1.22.x" or "go1.22.3"`)
	flag.StringVar(&cfg.out, "out", filepath.Join("offsets", "table.json"), "table file to update")
	flag.BoolVar(&cfg.force, "force", false, "re-measure versions already in the table")
	flag.StringVar(&cfg.cache, "cache", "", "toolchain cache directory (default <user cache dir>/spanprobe/toolchains)")
	flag.StringVar(&cfg.goCmd, "go", "go", "go command used to list and download toolchains")
	flag.Parse()

	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if cfg.cache == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			fmt.Fprintf(os.Stderr, "offsetgen: locating cache directory: %v (set -cache)\n", err)
			os.Exit(2)
		}
		cfg.cache = filepath.Join(dir, "spanprobe", "toolchains")
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, log); err != nil {
		fmt.Fprintf(os.Stderr, "offsetgen: %v\n", err)
		stop()
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg config, log *slog.Logger) error {
	tc := &toolchains{goCmd: cfg.goCmd, cache: cfg.cache, log: log}
	versions, err := tc.resolve(ctx, cfg.versions)
	if err != nil {
		return err
	}
	if len(versions) == 0 {
		return fmt.Errorf("selecting versions %q: none matched", cfg.versions)
	}

	table, err := loadTable(cfg.out)
	if err != nil {
		return err
	}
	var keys []string
	registered := make(map[string]bool)
	for _, f := range offsets.Fields() {
		if f.Module == offsets.StdModule {
			keys = append(keys, f.Key())
			registered[f.Key()] = true
		}
	}
	// Keys dropped from fields.go leave the table too.
	for _, k := range table.Keys(offsets.StdModule) {
		if !registered[k] {
			log.Info("removing unregistered key", "key", k)
			table.RemoveKey(offsets.StdModule, k)
		}
	}

	var failed []error
	for _, v := range versions {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !cfg.force && table.HasVersion(offsets.StdModule, v, keys...) {
			log.Info("skipping measured version", "version", v)
			continue
		}
		start := time.Now()
		m, err := measure(ctx, tc, v, log)
		if err != nil {
			log.Error("measuring version", "version", v, "error", err)
			failed = append(failed, fmt.Errorf("measuring %s: %w", v, err))
			continue
		}
		table.RemoveVersion(offsets.StdModule, v)
		for _, k := range keys {
			if off, ok := m.offsets[k]; ok {
				table.Set(offsets.StdModule, m.version, k, off)
			} else {
				table.SetAbsent(offsets.StdModule, m.version, k)
			}
		}
		size, err := writeTable(cfg.out, table)
		if err != nil {
			return err
		}
		log.Info("measured version", "version", m.version, "duration", time.Since(start).Round(time.Second), "table_bytes", size)
	}

	var b bytes.Buffer
	if err := table.Encode(&b); err != nil {
		return fmt.Errorf("encoding table: %w", err)
	}
	log.Info("table ready", "path", cfg.out, "bytes", b.Len(), "versions", len(table.Versions(offsets.StdModule)))
	return errors.Join(failed...)
}

func loadTable(path string) (*offsets.Table, error) {
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return offsets.NewTable(), nil
	case err != nil:
		return nil, fmt.Errorf("reading table: %w", err)
	case len(bytes.TrimSpace(data)) == 0:
		return offsets.NewTable(), nil
	}
	t, err := offsets.ParseTable(data)
	if err != nil {
		return nil, fmt.Errorf("reading table %s: %w", path, err)
	}
	return t, nil
}

// writeTable replaces path atomically so that a crash never leaves a torn
// table for go:embed to pick up.
func writeTable(path string, t *offsets.Table) (int, error) {
	var b bytes.Buffer
	if err := t.Encode(&b); err != nil {
		return 0, fmt.Errorf("encoding table: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return 0, fmt.Errorf("writing table: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if _, err := tmp.Write(b.Bytes()); err != nil {
		tmp.Close()
		return 0, fmt.Errorf("writing table: %w", err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return 0, fmt.Errorf("writing table: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return 0, fmt.Errorf("writing table: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return 0, fmt.Errorf("writing table: %w", err)
	}
	return b.Len(), nil
}

// goVersionLess orders "go1.X[.Y]" strings numerically.
func goVersionLess(a, b string) bool {
	pa, pb := splitGoVersion(a), splitGoVersion(b)
	for i := range pa {
		if pa[i] != pb[i] {
			return pa[i] < pb[i]
		}
	}
	return false
}

// splitGoVersionOK parses "go1.22.3" or "1.22.3" into {1,22,3}; "go1.20"
// is {1,20,0}. ok is false for pre-releases and anything else.
func splitGoVersionOK(s string) ([3]int, bool) {
	var out [3]int
	s = strings.TrimPrefix(s, "go")
	parts := strings.Split(s, ".")
	if len(parts) < 2 || len(parts) > 3 {
		return out, false
	}
	for i, p := range parts {
		n := 0
		if p == "" {
			return out, false
		}
		for _, c := range p {
			if c < '0' || c > '9' {
				return out, false
			}
			n = n*10 + int(c-'0')
		}
		out[i] = n
	}
	return out, true
}

func splitGoVersion(s string) [3]int {
	v, _ := splitGoVersionOK(s)
	return v
}
