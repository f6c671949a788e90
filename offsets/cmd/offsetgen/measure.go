package main

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"debug/elf"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/spanprobe/spanprobe/offsets"
)

type measurement struct {
	version string            // as the binary's build info spells it
	offsets map[string]uint64 // key -> offset; absent keys are missing
}

func measure(ctx context.Context, tc *toolchains, version string, log *slog.Logger) (measurement, error) {
	goroot, err := tc.install(ctx, version)
	if err != nil {
		return measurement{}, err
	}
	dir, err := os.MkdirTemp("", "offsetgen-probe-")
	if err != nil {
		return measurement{}, err
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(offsets.ProbeGoMod), 0o644); err != nil {
		return measurement{}, err
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(offsets.ProbeMain), 0o644); err != nil {
		return measurement{}, err
	}
	bin := filepath.Join(dir, "probe")
	log.Info("building probe program", "version", version)
	if err := buildProbe(ctx, goroot, dir, bin); err != nil {
		return measurement{}, err
	}

	bi, err := buildinfo.ReadFile(bin)
	if err != nil {
		return measurement{}, fmt.Errorf("reading build info of probe program: %w", err)
	}
	if got, _ := splitGoVersionOK(bi.GoVersion); got != splitGoVersion(version) {
		return measurement{}, fmt.Errorf("checking probe program: built with %s, want %s", bi.GoVersion, version)
	}
	m, err := readOffsets(bin)
	if err != nil {
		return measurement{}, err
	}
	m.version = bi.GoVersion
	return m, nil
}

// buildProbe builds with the installed toolchain alone: GOENV=off because
// the user's go env file may set flags old toolchains reject (-buildvcs),
// GOTOOLCHAIN=local so a new go command does not switch toolchains, and no
// cgo, which the structs do not depend on and which would need a C compiler.
func buildProbe(ctx context.Context, goroot, dir, bin string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(goroot, "bin", "go"), "build", "-o", bin, ".")
	cmd.Dir = dir
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "GOCACHE", "GOPATH", "GOMODCACHE", "GOTMPDIR":
			env = append(env, kv) // where to keep things, not how to build
		default:
			if !strings.HasPrefix(name, "GO") && !strings.HasPrefix(name, "CGO_") {
				env = append(env, kv)
			}
		}
	}
	cmd.Env = append(env,
		"GOENV=off", "GOFLAGS=", "GOROOT="+goroot, "GOTOOLCHAIN=local", "GOWORK=off",
		"GO111MODULE=on", "GOPROXY=off", "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("building probe program with %s: %w: %s", goroot, err, bytes.TrimSpace(out.Bytes()))
	}
	return nil
}

// readOffsets reads every std field from the DWARF of bin. A missing
// required field means the layout changed in a way the probes do not know
// about yet, so it fails the version instead of writing a gap.
func readOffsets(bin string) (measurement, error) {
	f, err := elf.Open(bin)
	if err != nil {
		return measurement{}, fmt.Errorf("opening probe program: %w", err)
	}
	defer f.Close()
	d, err := f.DWARF()
	if err != nil {
		return measurement{}, fmt.Errorf("reading DWARF of probe program: %w", err)
	}
	var names []string
	var fields []offsets.Field
	for _, fl := range offsets.Fields() {
		if fl.Module == offsets.StdModule {
			fields = append(fields, fl)
			names = append(names, fl.Struct())
		}
	}
	layouts, err := offsets.ReadStructs(d, names)
	if err != nil {
		return measurement{}, err
	}
	m := measurement{offsets: make(map[string]uint64)}
	for _, fl := range fields {
		l, ok := layouts[fl.Struct()]
		if !ok {
			if fl.Optional {
				continue
			}
			return measurement{}, fmt.Errorf("reading %s: struct %s not in the probe program's DWARF", fl.Key(), fl.Struct())
		}
		off, ok := l.Fields[fl.Name]
		if !ok {
			if fl.Optional {
				continue
			}
			return measurement{}, fmt.Errorf("reading %s: struct %s has no field %s", fl.Key(), fl.Struct(), fl.Name)
		}
		m.offsets[fl.Key()] = off
	}
	return m, nil
}
