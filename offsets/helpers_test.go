package offsets

import (
	"bytes"
	"debug/dwarf"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// testProgram uses every struct of the registered std fields, plus a struct
// of its own whose layout the test knows from unsafe.Offsetof.
// testProgram adds a struct of known layout to ProbeMain.
const testProgram = `package main

import "fmt"

type sample struct {
	A int8
	B int64
	C string
	d [3]byte
	E *sample
	f bool
	G []int32
}

var sink sample

func init() {
	sink.d[0] = 1
	fmt.Println(sink.A, sink.B, sink.C, sink.d, sink.E, sink.f, sink.G)
}
`

// testSample must stay identical to sample in testProgram.
type testSample struct {
	A int8
	B int64
	C string
	d [3]byte
	E *testSample
	f bool
	G []int32
}

// buildTestProgram builds testProgram with the local go command, which must
// be the toolchain running the tests: the tests compare its DWARF with what
// reflect and unsafe say in this process.
func buildTestProgram(t testing.TB) *dwarf.Data {
	t.Helper()
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("building a test binary needs the go command: %v", err)
	}
	env := append(os.Environ(), "GOWORK=off", "GOTOOLCHAIN=local", "CGO_ENABLED=0", "GOFLAGS=-buildvcs=false")
	ver := exec.Command(goCmd, "env", "GOVERSION")
	ver.Env = env
	out, err := ver.Output()
	if err != nil {
		t.Fatalf("running go env GOVERSION: %v", err)
	}
	if got := strings.TrimSpace(string(out)); got != runtime.Version() {
		t.Skipf("go on PATH is %s, the tests run on %s: offsets would not be comparable", got, runtime.Version())
	}

	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.invalid/probe\n\ngo 1.17\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, src := range map[string]string{"main.go": ProbeMain, "sample.go": testProgram} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "probe")
	build := exec.Command(goCmd, "build", "-o", bin, ".")
	build.Dir = dir
	build.Env = env
	var buildOut bytes.Buffer
	build.Stdout, build.Stderr = &buildOut, &buildOut
	if err := build.Run(); err != nil {
		t.Fatalf("building test program: %v\n%s", err, buildOut.Bytes())
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	d, err := f.DWARF()
	if err != nil {
		t.Fatalf("reading DWARF of test program: %v", err)
	}
	return d
}
