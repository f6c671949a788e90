package goexe

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var toolchainDir = flag.String("goexe.toolchains", "", "directory of Go toolchains named goX.Y.Z (GOROOTs) to check each release against")

// TestToolchains builds the app fixture with every toolchain under
// -goexe.toolchains (or SPANPROBE_TOOLCHAIN_DIR, limited to the releases in
// SPANPROBE_TOOLCHAIN_VERSIONS when set, as CI does), plain and stripped, and
// checks what the agent relies on: function addresses, .gopclntab against
// .symtab, RETs against that release's objdump, and the entry site (PUSHQ BP
// from Go 1.21 on, the emulated stack-check branch before).
func TestToolchains(t *testing.T) {
	dir := *toolchainDir
	if dir == "" {
		dir = os.Getenv("SPANPROBE_TOOLCHAIN_DIR")
	}
	if dir == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("SPANPROBE_TOOLCHAIN_DIR is unset in CI: .ci/run installs old toolchains for this test")
		}
		t.Skip("no toolchains: pass -goexe.toolchains=DIR or set SPANPROBE_TOOLCHAIN_DIR (GOROOTs named go1.17.13, go1.22.12, ...)")
	}
	goroots, err := filepath.Glob(filepath.Join(dir, "go1.*"))
	if err != nil || len(goroots) == 0 {
		t.Fatalf("no go1.* toolchains in %s (%v)", dir, err)
	}
	if only := os.Getenv("SPANPROBE_TOOLCHAIN_VERSIONS"); only != "" {
		want := strings.Split(only, ",")
		goroots = slices.DeleteFunc(goroots, func(g string) bool { return !slices.Contains(want, filepath.Base(g)) })
		if len(goroots) != len(want) {
			t.Fatalf("SPANPROBE_TOOLCHAIN_VERSIONS=%s: found only %d of them in %s", only, len(goroots), dir)
		}
	}
	for _, goroot := range goroots {
		t.Run(filepath.Base(goroot), func(t *testing.T) {
			want, err := ParseVersion(filepath.Base(goroot))
			if err != nil {
				t.Fatal(err)
			}
			// Outside the repository, so no release tries to stamp VCS
			// information.
			src := t.TempDir()
			if err := os.CopyFS(src, os.DirFS("testdata")); err != nil {
				t.Fatal(err)
			}
			goCmd := func() *exec.Cmd {
				cmd := exec.Command(filepath.Join(goroot, "bin", "go"))
				cmd.Dir = filepath.Join(src, "app")
				// GOENV=off: releases before 1.18 reject -buildvcs in
				// the machine's go env file.
				cmd.Env = append(os.Environ(), "GOENV=off", "GOFLAGS=", "GOROOT="+goroot,
					"GOTOOLCHAIN=local", "GOWORK=off", "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
				return cmd
			}
			plain, stripped := filepath.Join(src, "plain"), filepath.Join(src, "stripped")
			pie := filepath.Join(src, "pie")
			for _, args := range [][]string{{"-o", plain}, {"-o", stripped, "-ldflags=-s -w"}, {"-o", pie, "-buildmode=pie"}} {
				cmd := goCmd()
				cmd.Args = append(append(cmd.Args, "build"), append(args, ".")...)
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("%s: %v\n%s", cmd, err, out)
				}
			}
			for _, path := range []string{plain, stripped} {
				b, err := Open(path)
				if err != nil {
					t.Fatal(err)
				}
				defer b.Close()
				if b.GoVersion != want {
					t.Errorf("GoVersion = %v, want %v", b.GoVersion, want)
				}
				for _, fn := range probedFuncs {
					f, err := b.Func(fn)
					if err != nil {
						t.Fatal(err)
					}
					if addr, _ := symbolAddr(t, plain, fn); f.Addr != addr {
						t.Errorf("%s: Func(%q).Addr = %#x, want %#x", path, fn, f.Addr, addr)
					}
				}
				f, err := b.Func("main.classify")
				if err != nil {
					t.Fatal(err)
				}
				s, err := b.EntrySite(f)
				if err != nil {
					t.Fatal(err)
				}
				wantSite := s.Inst == "PUSHQ BP"
				if !want.AtLeast(1, 21) {
					wantSite = s.Emulated && strings.HasPrefix(s.Inst, "J") && s.Addr != f.Addr
				}
				if !wantSite {
					t.Errorf("%s: EntrySite = %+v (func at %#x): want PUSHQ BP from Go 1.21 on, else the stack-check branch", path, s, f.Addr)
				}
			}
			b, err := Open(plain)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			checkPclntab(t, b)
			for _, fn := range retFuncs {
				checkRetSites(t, goCmd(), fn, plain, stripped)
			}
			for _, c := range callFuncs {
				checkCallSites(t, goCmd(), c[0], c[1], plain, stripped)
			}
			checkSuccessTest(t, goCmd(), goroot, plain, stripped)
			checkTypesBase(t, plain)
			checkTypesBase(t, pie)
		})
	}
}
