package main

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestResolve(t *testing.T) {
	listed := []string{
		"go1.17.13", "go1.18", "go1.18.10", "go1.20", "go1.20.14",
		"go1.21.0", "go1.21.13", "go1.22.0", "go1.22.12", "go1.27.4",
	}
	tests := []struct {
		name    string
		spec    string
		want    []string
		wantErr bool
	}{
		{"latest patches", "latest-patches", []string{"go1.17.13", "go1.18.10", "go1.20.14", "go1.21.13", "go1.22.12", "go1.27.4"}, false},
		{"all", "all", listed, false},
		{"one minor", "1.22.x", []string{"go1.22.0", "go1.22.12"}, false},
		{"explicit, sorted, deduplicated", "go1.22.3, 1.20.0,go1.22.3", []string{"go1.20", "go1.22.3"}, false},
		{"first release of a minor from 1.21 on", "1.21.0", []string{"go1.21.0"}, false},
		{"mixed", "latest-patches,go1.26.8", []string{"go1.17.13", "go1.18.10", "go1.20.14", "go1.21.13", "go1.22.12", "go1.26.8", "go1.27.4"}, false},
		{"too old", "go1.16.15", nil, true},
		{"pre-release", "go1.23rc1", nil, true},
		{"unlisted minor", "1.19.x", nil, true},
		{"garbage", "newest", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tc := &toolchains{listed: listed}
			got, err := tc.resolve(context.Background(), tt.spec)
			if (err != nil) != tt.wantErr {
				t.Fatalf("resolve(%q) error = %v, want error %v", tt.spec, err, tt.wantErr)
			}
			if !tt.wantErr && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("resolve(%q) = %v, want %v", tt.spec, got, tt.want)
			}
		})
	}
}

func TestCopyToolchain(t *testing.T) {
	src := t.TempDir()
	files := map[string]os.FileMode{
		"bin/go":                       0o755,
		"pkg/tool/linux_amd64/compile": 0o755,
		"src/runtime/runtime2.go":      0o644,
		"VERSION":                      0o644,
	}
	for name := range files {
		p := filepath.Join(src, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		// The module cache stores files read-only and not executable.
		if err := os.WriteFile(p, []byte(name), 0o444); err != nil {
			t.Fatal(err)
		}
	}
	dst := filepath.Join(t.TempDir(), "go1.x")
	if err := copyToolchain(src, dst); err != nil {
		t.Fatalf("copyToolchain: %v", err)
	}
	for name, mode := range files {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(dst, name)
			data, err := os.ReadFile(p)
			if err != nil || string(data) != name {
				t.Fatalf("reading copy: %q, %v", data, err)
			}
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			exec := fi.Mode().Perm()&0o111 != 0
			if want := mode&0o111 != 0; exec != want {
				t.Errorf("mode %v, want executable %v", fi.Mode(), want)
			}
		})
	}
}
