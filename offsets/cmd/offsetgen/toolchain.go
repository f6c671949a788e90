package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

const (
	toolchainModule = "golang.org/toolchain"
	toolchainPrefix = "v0.0.1-"
	toolchainSuffix = ".linux-amd64"
	// oldestMinor is the oldest Go minor spanprobe supports (Go register
	// ABI on amd64 arrived in go1.17).
	oldestMinor = 17
	// doneMarker is written last into an installed toolchain, so a copy
	// interrupted half-way is redone instead of used.
	doneMarker = ".spanprobe-installed"
)

type toolchains struct {
	goCmd string
	cache string
	log   *slog.Logger

	listed []string // releases on the proxy, oldest first; nil until listed
}

// resolve turns a -versions spec into Go versions spelled as the toolchain
// module spells them ("go1.20", "go1.22.3"), oldest first, without
// duplicates.
func (tc *toolchains) resolve(ctx context.Context, spec string) ([]string, error) {
	seen := make(map[string]bool)
	var out []string
	add := func(v string) {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	for _, term := range strings.Split(spec, ",") {
		term = strings.TrimSpace(term)
		switch {
		case term == "":
		case term == "all":
			all, err := tc.list(ctx)
			if err != nil {
				return nil, err
			}
			for _, v := range all {
				add(v)
			}
		case term == "latest-patches":
			all, err := tc.list(ctx)
			if err != nil {
				return nil, err
			}
			latest := make(map[int]string)
			for _, v := range all { // oldest first: the last one wins
				latest[splitGoVersion(v)[1]] = v
			}
			for _, v := range all {
				if latest[splitGoVersion(v)[1]] == v {
					add(v)
				}
			}
		case strings.HasSuffix(term, ".x"):
			minor, ok := splitGoVersionOK(strings.TrimSuffix(term, ".x"))
			if !ok {
				return nil, fmt.Errorf("parsing version term %q: want e.g. 1.22.x", term)
			}
			all, err := tc.list(ctx)
			if err != nil {
				return nil, err
			}
			n := 0
			for _, v := range all {
				p := splitGoVersion(v)
				if p[0] == minor[0] && p[1] == minor[1] {
					add(v)
					n++
				}
			}
			if n == 0 {
				return nil, fmt.Errorf("selecting %q: the proxy lists no such release", term)
			}
		default:
			p, ok := splitGoVersionOK(term)
			if !ok {
				return nil, fmt.Errorf("parsing version term %q: want latest-patches, all, 1.22.x or go1.22.3", term)
			}
			if p[0] != 1 || p[1] < oldestMinor {
				return nil, fmt.Errorf("selecting %q: spanprobe supports go1.%d and later", term, oldestMinor)
			}
			add(toolchainSpelling(p))
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return goVersionLess(out[i], out[j]) })
	return out, nil
}

// toolchainSpelling is how Go names a release: go1.20 for the first release
// of a minor before 1.21, go1.21.0 from then on.
func toolchainSpelling(p [3]int) string {
	s := "go" + strconv.Itoa(p[0]) + "." + strconv.Itoa(p[1])
	if p[2] != 0 || p[1] >= 21 {
		s += "." + strconv.Itoa(p[2])
	}
	return s
}

// list returns every go1.17+ release (no betas or release candidates) the
// module proxy has a linux-amd64 toolchain for, oldest first.
func (tc *toolchains) list(ctx context.Context) ([]string, error) {
	if tc.listed != nil {
		return tc.listed, nil
	}
	out, err := tc.goTool(ctx, "list", "-m", "-versions", toolchainModule)
	if err != nil {
		return nil, fmt.Errorf("listing toolchains: %w", err)
	}
	var vs []string
	for _, f := range strings.Fields(string(out)) {
		if !strings.HasPrefix(f, toolchainPrefix) || !strings.HasSuffix(f, toolchainSuffix) {
			continue
		}
		v := strings.TrimSuffix(strings.TrimPrefix(f, toolchainPrefix), toolchainSuffix)
		p, ok := splitGoVersionOK(v)
		if !ok || p[0] != 1 || p[1] < oldestMinor {
			continue
		}
		vs = append(vs, v)
	}
	if len(vs) == 0 {
		return nil, fmt.Errorf("listing toolchains: no go1.%d+ linux-amd64 release in %q", oldestMinor, bytes.TrimSpace(out))
	}
	sort.SliceStable(vs, func(i, j int) bool { return goVersionLess(vs[i], vs[j]) })
	tc.listed = vs
	return vs, nil
}

// goTool runs the -go command outside any module, so that it neither reads
// nor edits the spanprobe go.mod/go.sum.
func (tc *toolchains) goTool(ctx context.Context, args ...string) ([]byte, error) {
	dir, err := os.MkdirTemp("", "offsetgen-go-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	cmd := exec.CommandContext(ctx, tc.goCmd, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=", "GOWORK=off", "GOTOOLCHAIN=local", "GO111MODULE=on")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("running %s %s: %w: %s", tc.goCmd, strings.Join(args, " "), err, bytes.TrimSpace(stderr.Bytes()))
	}
	return out, nil
}

// install returns the GOROOT of an installed toolchain for version,
// downloading and installing it into the cache first if needed.
func (tc *toolchains) install(ctx context.Context, version string) (string, error) {
	dst := filepath.Join(tc.cache, version)
	if _, err := os.Stat(filepath.Join(dst, doneMarker)); err == nil {
		return dst, nil
	}
	tc.log.Info("downloading toolchain", "version", version)
	out, err := tc.goTool(ctx, "mod", "download", "-json", toolchainModule+"@"+toolchainPrefix+version+toolchainSuffix)
	var info struct{ Dir, Error string }
	if jerr := json.Unmarshal(out, &info); jerr == nil && info.Error != "" {
		return "", fmt.Errorf("downloading toolchain %s: %s", version, info.Error)
	}
	if err != nil {
		return "", fmt.Errorf("downloading toolchain %s: %w", version, err)
	}
	if info.Dir == "" {
		return "", fmt.Errorf("downloading toolchain %s: no Dir in %q", version, out)
	}

	if err := os.MkdirAll(tc.cache, 0o755); err != nil {
		return "", fmt.Errorf("installing toolchain %s: %w", version, err)
	}
	tmp, err := os.MkdirTemp(tc.cache, "."+version+".tmp-")
	if err != nil {
		return "", fmt.Errorf("installing toolchain %s: %w", version, err)
	}
	defer os.RemoveAll(tmp) // gone after the rename
	if err := copyToolchain(info.Dir, tmp); err != nil {
		return "", fmt.Errorf("installing toolchain %s: %w", version, err)
	}
	if err := os.WriteFile(filepath.Join(tmp, doneMarker), nil, 0o644); err != nil {
		return "", fmt.Errorf("installing toolchain %s: %w", version, err)
	}
	if err := os.RemoveAll(dst); err != nil {
		return "", fmt.Errorf("installing toolchain %s: %w", version, err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return "", fmt.Errorf("installing toolchain %s: %w", version, err)
	}
	return dst, nil
}

// copyToolchain copies the read-only module cache directory src to dst. The
// module zip carries no file modes, so the programs under bin/ and
// pkg/tool/ are copied with execute permission. Everything else is only
// read by the go command, so it is hard-linked when possible, which saves
// ~200 MB per toolchain.
func copyToolchain(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case !d.Type().IsRegular():
			return nil // the toolchain zip holds regular files only
		}
		slashed := filepath.ToSlash(rel)
		if strings.HasPrefix(slashed, "bin/") || strings.HasPrefix(slashed, "pkg/tool/") {
			return copyFile(path, target, 0o755)
		}
		if err := os.Link(path, target); err == nil {
			return nil
		}
		return copyFile(path, target, 0o644)
	})
}

func copyFile(src, dst string, mode os.FileMode) (err error) {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, out.Close()) }()
	_, err = io.Copy(out, in)
	return err
}
