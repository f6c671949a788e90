package goexe

import (
	"bytes"
	"debug/elf"
	"debug/gosym"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

var largeBinary = flag.String("goexe.large", "", "path of a large Go binary (100+ MB) to time Open and Func against")

// fixtureDir holds binaries built once per test run and shared by tests.
var (
	fixtureDir    string
	fixtureDirErr error
)

func TestMain(m *testing.M) {
	flag.Parse()
	fixtureDir, fixtureDirErr = os.MkdirTemp("", "goexe-test-")
	if fixtureDirErr == nil {
		defer os.RemoveAll(fixtureDir)
	}
	m.Run()
}

// fixture is a binary built from testdata.
type fixture struct {
	src       string   // directory under testdata
	env       []string // extra environment for go build
	flags     []string // extra go build flags
	needsC    bool     // needs a C compiler (cgo, external linking)
	stripped  bool     // linked with -s -w
	reference string   // fixture with the same code and a .symtab, for stripped ones
}

var fixtures = map[string]fixture{
	"plain":                 {src: "app"},
	"stripped":              {src: "app", flags: []string{"-ldflags=-s -w"}, stripped: true, reference: "plain"},
	"pie":                   {src: "app", flags: []string{"-buildmode=pie"}},
	"pie-stripped":          {src: "app", flags: []string{"-buildmode=pie", "-ldflags=-s -w"}, stripped: true, reference: "pie"},
	"arm64":                 {src: "app", env: []string{"GOARCH=arm64"}},
	"external":              {src: "cgoapp", env: []string{"CGO_ENABLED=1"}, needsC: true},
	"external-stripped":     {src: "cgoapp", env: []string{"CGO_ENABLED=1"}, flags: []string{"-ldflags=-s -w"}, needsC: true, stripped: true, reference: "external"},
	"external-pie":          {src: "cgoapp", env: []string{"CGO_ENABLED=1"}, flags: []string{"-buildmode=pie"}, needsC: true},
	"external-pie-stripped": {src: "cgoapp", env: []string{"CGO_ENABLED=1"}, flags: []string{"-buildmode=pie", "-ldflags=-s -w"}, needsC: true, stripped: true, reference: "external-pie"},
}

var builds sync.Map // fixture name -> *build

type build struct {
	once sync.Once
	path string
	err  error
}

// buildFixture builds the named fixture on first use and returns its path.
func buildFixture(t testing.TB, name string) string {
	t.Helper()
	fx, ok := fixtures[name]
	if !ok {
		t.Fatalf("no fixture %q", name)
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("needs the go command to build test binaries")
	}
	if fx.needsC {
		if _, err := exec.LookPath("gcc"); err != nil {
			t.Skip("needs gcc to build a cgo binary")
		}
	}
	if fixtureDirErr != nil {
		t.Fatal(fixtureDirErr)
	}
	v, _ := builds.LoadOrStore(name, new(build))
	bd := v.(*build)
	bd.once.Do(func() {
		bd.path = filepath.Join(fixtureDir, name)
		args := append([]string{"build", "-o", bd.path}, fx.flags...)
		cmd := exec.Command(goTool, append(args, ".")...)
		cmd.Dir = filepath.Join("testdata", fx.src)
		cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-buildvcs=false", "GOOS=linux", "GOARCH=amd64")
		if !fx.needsC {
			cmd.Env = append(cmd.Env, "CGO_ENABLED=0")
		}
		cmd.Env = append(cmd.Env, fx.env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			bd.err = errors.New(cmd.String() + ": " + err.Error() + "\n" + string(out))
		}
	})
	if bd.err != nil {
		t.Fatal(bd.err)
	}
	return bd.path
}

func openFixture(t *testing.T, name string) *Binary {
	t.Helper()
	b, err := Open(buildFixture(t, name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

func TestOpen(t *testing.T) {
	local, err := ParseVersion(runtime.Version())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		fixture             string
		wantMain            string
		wantSymtab, wantDWF bool
	}{
		{fixture: "plain", wantMain: "example.com/app", wantSymtab: true, wantDWF: true},
		{fixture: "stripped", wantMain: "example.com/app"},
		{fixture: "external", wantMain: "example.com/cgoapp", wantSymtab: true, wantDWF: true},
		{fixture: "external-pie-stripped", wantMain: "example.com/cgoapp"},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			b := openFixture(t, tt.fixture)
			if b.GoVersion != local {
				t.Errorf("GoVersion = %v, want %v (the go command that built it)", b.GoVersion, local)
			}
			if b.MainPath != tt.wantMain {
				t.Errorf("MainPath = %q, want %q", b.MainPath, tt.wantMain)
			}
			if b.HasSymtab != tt.wantSymtab || b.HasDWARF != tt.wantDWF {
				t.Errorf("HasSymtab, HasDWARF = %v, %v, want %v, %v", b.HasSymtab, b.HasDWARF, tt.wantSymtab, tt.wantDWF)
			}
			if v, ok := b.Modules[tt.wantMain]; !ok {
				t.Errorf("Modules = %v, want the main module %s", b.Modules, tt.wantMain)
			} else if v != "(devel)" {
				t.Errorf("Modules[%s] = %q, want (devel)", tt.wantMain, v)
			}
			d, err := b.DWARF()
			if tt.wantDWF && (err != nil || d == nil) {
				t.Errorf("DWARF() = %v, %v, want debug info", d, err)
			}
			if !tt.wantDWF && !errors.Is(err, ErrNoDWARF) {
				t.Errorf("DWARF() error = %v, want %v", err, ErrNoDWARF)
			}
		})
	}
	t.Run("replaced module", func(t *testing.T) {
		b := openFixture(t, "plain")
		if got := b.Modules["example.com/dep"]; got != "(devel)" {
			t.Errorf(`Modules["example.com/dep"] = %q, want "(devel)" (replaced by a local directory)`, got)
		}
	})
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(text, []byte("not a program\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o755); err != nil {
		t.Fatal(err)
	}
	badELF := filepath.Join(dir, "bad-elf")
	if err := os.WriteFile(badELF, []byte("\x7fELF\x02\x01\x01garbage"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		path    func(t *testing.T) string
		wantErr error
		hint    string
	}{
		{name: "text file", path: func(*testing.T) string { return text }, wantErr: ErrNotELF, hint: "Go executable"},
		{name: "empty file", path: func(*testing.T) string { return empty }, wantErr: ErrNotELF, hint: "Go executable"},
		{name: "truncated ELF", path: func(*testing.T) string { return badELF }, wantErr: ErrNotELF, hint: "Go executable"},
		{name: "missing file", path: func(*testing.T) string { return filepath.Join(dir, "missing") }, wantErr: fs.ErrNotExist},
		{name: "C binary", path: cBinary, wantErr: ErrNotGoBinary, hint: "Go 1.17 or newer"},
		{name: "Go 1.16 binary", path: oldGoBinary, wantErr: ErrUnsupportedGoVersion, hint: "rebuild with Go 1.17 or newer"},
		{name: "arm64 Go binary", path: func(t *testing.T) string { return buildFixture(t, "arm64") }, wantErr: ErrUnsupportedArch, hint: "GOARCH=amd64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.path(t)
			b, err := Open(path)
			if err == nil {
				b.Close()
				t.Fatalf("Open(%s) succeeded, want %v", path, tt.wantErr)
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Open(%s) = %v, want %v", path, err, tt.wantErr)
			}
			msg := err.Error()
			t.Log(msg)
			if strings.Contains(msg, "\n") || !containsAll(msg, path, tt.hint) {
				t.Errorf("Open(%s) = %q: want one line naming the path and saying %q", path, msg, tt.hint)
			}
		})
	}
}

// cBinary builds a C program, or falls back to a system binary that is not Go.
func cBinary(t *testing.T) string {
	cc, err := exec.LookPath("gcc")
	if err != nil {
		return "/bin/true"
	}
	out := filepath.Join(t.TempDir(), "hello")
	if b, err := exec.Command(cc, "-o", out, filepath.Join("testdata", "hello.c")).CombinedOutput(); err != nil {
		t.Fatalf("building C binary: %v\n%s", err, b)
	}
	return out
}

// oldGoBinary copies the plain fixture and makes its build info claim
// go1.16: no toolchain that old can be fetched, and the version check is
// what is under test.
func oldGoBinary(t *testing.T) string {
	v := runtime.Version()
	if !regexp.MustCompile(`^go1\.[0-9][0-9]`).MatchString(v) {
		t.Skipf("cannot rewrite version %s in place", v)
	}
	data, err := os.ReadFile(buildFixture(t, "plain"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	s := f.Section(".go.buildinfo")
	i := bytes.Index(data[s.Offset:s.Offset+s.Size], []byte(v))
	if i < 0 {
		t.Fatalf("no %s in .go.buildinfo", v)
	}
	copy(data[s.Offset+uint64(i):], "go1.16")
	out := filepath.Join(t.TempDir(), "old")
	if err := os.WriteFile(out, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return out
}

// symbolAddr is the .symtab value of name: the truth for unstripped fixtures.
func symbolAddr(t *testing.T, path, name string) (addr, size uint64) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range syms {
		if s.Name == name && elf.ST_TYPE(s.Info) == elf.STT_FUNC {
			return s.Value, s.Size
		}
	}
	t.Fatalf("%s has no symbol %s", path, name)
	return 0, 0
}

// textAt returns n bytes of the .text section at virtual address addr.
func textAt(t *testing.T, path string, addr, n uint64) []byte {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	text := f.Section(".text")
	if addr < text.Addr || addr+n > text.Addr+text.Size {
		t.Fatalf("[%#x,%#x) is outside .text", addr, addr+n)
	}
	b := make([]byte, n)
	if _, err := text.ReadAt(b, int64(addr-text.Addr)); err != nil {
		t.Fatal(err)
	}
	return b
}

func fileAt(t *testing.T, path string, off, n uint64) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if off+n > uint64(len(data)) {
		t.Fatalf("offset %#x+%d is past the end of %s", off, n, path)
	}
	return data[off : off+n]
}

var probedFuncs = []string{
	"main.classify",
	"net/http.serverHandler.ServeHTTP",
	"net/http.(*response).finishRequest",
}

func TestFunc(t *testing.T) {
	for _, name := range []string{"plain", "stripped", "pie", "pie-stripped", "external", "external-stripped", "external-pie", "external-pie-stripped"} {
		fx := fixtures[name]
		funcs := probedFuncs
		if fx.src == "cgoapp" {
			funcs = funcs[:1]
		}
		for _, fn := range funcs {
			t.Run(name+"/"+fn, func(t *testing.T) {
				path := buildFixture(t, name)
				b := openFixture(t, name)
				got, err := b.Func(fn)
				if err != nil {
					t.Fatal(err)
				}
				if got.Name != fn || got.End <= got.Addr {
					t.Errorf("Func(%q) = %+v", fn, got)
				}
				// The reference build has the same code layout and a
				// .symtab to check against.
				ref := name
				if fx.stripped {
					ref = fx.reference
				}
				addr, size := symbolAddr(t, buildFixture(t, ref), fn)
				if got.Addr != addr {
					t.Errorf("Func(%q).Addr = %#x, want %#x", fn, got.Addr, addr)
				}
				if got.End < addr+size || got.End > addr+size+64 {
					t.Errorf("Func(%q).End = %#x, want %#x plus at most alignment padding", fn, got.End, addr+size)
				}
				n := got.End - got.Addr
				if want, gotBytes := textAt(t, path, got.Addr, n), fileAt(t, path, got.Offset, n); !bytes.Equal(gotBytes, want) {
					t.Errorf("bytes at Offset %#x differ from .text at %#x", got.Offset, got.Addr)
				}
			})
		}
	}
	t.Run("missing", func(t *testing.T) {
		for _, name := range []string{"plain", "stripped"} {
			b := openFixture(t, name)
			for _, fn := range []string{"main.nosuchfunc", "main", "main.classify.", "", "runtime.text"} {
				if _, err := b.Func(fn); !errors.Is(err, ErrSymbolNotFound) {
					t.Errorf("%s: Func(%q) error = %v, want %v", name, fn, err, ErrSymbolNotFound)
				}
			}
		}
	})
}

// TestPclntab checks the .gopclntab reader against .symtab for every
// function of binaries linked internally, externally, and as PIE: each link
// mode places runtime.text differently.
func TestPclntab(t *testing.T) {
	for _, name := range []string{"plain", "pie", "external", "external-pie"} {
		t.Run(name, func(t *testing.T) {
			checkPclntab(t, openFixture(t, name))
		})
	}
}

// checkPclntab compares every function of b's .gopclntab with .symtab.
func checkPclntab(t *testing.T, b *Binary) {
	t.Helper()
	var pcln *pclntab
	var syms *symtab
	err := b.read(func() (err error) {
		if pcln, err = b.loadPclntab(); err != nil {
			return err
		}
		syms, err = b.loadSymtab()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for i := range pcln.nfunc {
		count[string(pcln.name(i))]++
	}
	checked, shared, other := 0, 0, 0
	for i := range pcln.nfunc {
		name := string(pcln.name(i))
		addr, end, err := pcln.lookup(name)
		if count[name] > 1 {
			// An ABI wrapper and its function: .symtab tells them
			// apart with an .abi0 suffix.
			if err == nil || errors.Is(err, ErrSymbolNotFound) {
				t.Errorf("pclntab lookup(%q) = %v, want an error saying %d functions share the name", name, err, count[name])
			}
			shared++
			continue
		}
		if err != nil || addr != pcln.entry(i) || end != pcln.entry(i+1) {
			t.Fatalf("pclntab lookup(%q) = %#x, %#x, %v, want function %d at %#x", name, addr, end, err, i, pcln.entry(i))
		}
		symAddr, symEnd, err := syms.lookup(name)
		if errors.Is(err, ErrSymbolNotFound) {
			// Assembly functions are name.abi0 in .symtab.
			symAddr, symEnd, err = syms.lookup(name + ".abi0")
		}
		if err != nil && (strings.Contains(name, "·") || strings.Contains(name, "[...]")) {
			// Some generated functions end in ·N in .gopclntab and
			// .N in .symtab; before Go 1.21 .gopclntab shortens
			// generic instantiations to [...].
			other++
			continue
		}
		if err != nil {
			t.Errorf("%s at %#x is in .gopclntab, .symtab says %v", name, addr, err)
			continue
		}
		if symAddr != addr || symEnd > end {
			t.Errorf("%s: pclntab [%#x,%#x), symtab [%#x,%#x)", name, addr, end, symAddr, symEnd)
		}
		checked++
	}
	if checked < 1000 || checked+shared+other != int(pcln.nfunc) || other > checked/20 {
		t.Errorf("compared %d of %d functions with .symtab (%d share a name, %d are spelled differently), want nearly all", checked, pcln.nfunc, shared, other)
	}
}

// TestPclntabMatchesGosym checks a stripped, internally linked binary, where
// debug/gosym's assumption runtime.text == .text holds, against debug/gosym.
func TestPclntabMatchesGosym(t *testing.T) {
	path := buildFixture(t, "stripped")
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	data, err := f.Section(".gopclntab").Data()
	if err != nil {
		t.Fatal(err)
	}
	tab, err := gosym.NewTable(nil, gosym.NewLineTable(data, f.Section(".text").Addr))
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, fn := range tab.Funcs {
		count[fn.Name]++
	}
	b := openFixture(t, "stripped")
	for _, fn := range tab.Funcs {
		got, err := b.Func(fn.Name)
		if count[fn.Name] > 1 {
			if err == nil {
				t.Errorf("Func(%q) = %+v, want an error: %d functions share the name", fn.Name, got, count[fn.Name])
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if got.Addr != fn.Entry || got.End != fn.End {
			t.Errorf("Func(%q) = [%#x,%#x), debug/gosym says [%#x,%#x)", fn.Name, got.Addr, got.End, fn.Entry, fn.End)
		}
	}
}

// objdumpInst is one instruction of a function as `go tool objdump` lists
// it: source position, address, and text in Go assembler syntax.
type objdumpInst struct {
	file     string
	line     int
	addr     uint64
	op, args string
}

var objdumpLine = regexp.MustCompile(`(?m)^\s+(\S+):(\d+)\s+0x([0-9a-f]+)\s+[0-9a-f]+\s+(\S+)[ \t]*([^\t\n]*)`)

// objdump lists fn's instructions in the binary at path, as goCmd's
// `go tool objdump` shows them, and its whole output for messages.
func objdump(t *testing.T, goCmd *exec.Cmd, path, fn string) ([]objdumpInst, string) {
	t.Helper()
	goCmd.Args = append(goCmd.Args, "tool", "objdump", "-s", "^"+regexp.QuoteMeta(fn)+"$", path)
	out, err := goCmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go tool objdump: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "TEXT "+fn+"(SB)") {
		t.Fatalf("go tool objdump printed no %s:\n%s", fn, out)
	}
	var insts []objdumpInst
	for _, m := range objdumpLine.FindAllStringSubmatch(string(out), -1) {
		addr, err := strconv.ParseUint(m[3], 16, 64)
		if err != nil {
			t.Fatal(err)
		}
		line, _ := strconv.Atoi(m[2])
		insts = append(insts, objdumpInst{file: m[1], line: line, addr: addr, op: m[4], args: strings.TrimSpace(m[5])})
	}
	return insts, string(out)
}

// objdumpAddrs lists the addresses of the instructions `go tool objdump`
// shows in fn whose text (Go assembler syntax) matches inst, a regexp.
func objdumpAddrs(t *testing.T, goCmd *exec.Cmd, path, fn, inst string) []uint64 {
	t.Helper()
	re := regexp.MustCompile("^" + inst)
	insts, _ := objdump(t, goCmd, path, fn)
	var addrs []uint64
	for _, in := range insts {
		if re.MatchString(in.op + " " + in.args) {
			addrs = append(addrs, in.addr)
		}
	}
	return addrs
}

// requireEmulated fails the test for each of sites, found in b, that the
// kernel would single-step, and returns them.
func requireEmulated(t *testing.T, b *Binary, what string, sites []Site) []Site {
	t.Helper()
	for _, s := range sites {
		if !s.Emulated {
			t.Errorf("%s: %s %+v is not emulated", b.Path, what, s)
		}
	}
	return sites
}

func TestRetSites(t *testing.T) {
	for _, fn := range retFuncs {
		t.Run(fn, func(t *testing.T) {
			rets := checkRetSites(t, exec.Command("go"), fn, buildFixture(t, "plain"), buildFixture(t, "stripped"))
			if fn == "main.classify" && len(rets) != 4 {
				t.Errorf("objdump shows %d RETs in %s, the fixture has 4 return paths", len(rets), fn)
			}
		})
	}
}

// retFuncs have several return paths, or one.
var retFuncs = []string{
	"main.classify",
	"main.add",
	"net/http.serverHandler.ServeHTTP",
	"net/http.(*response).finishRequest",
	"net/http.(*conn).serve",
}

// checkRetSites compares RetSites of fn in each binary with the RETs that
// `go tool objdump` shows in the first, which must have a .symtab. The
// binaries must share their code layout.
func checkRetSites(t *testing.T, goCmd *exec.Cmd, fn string, paths ...string) []uint64 {
	t.Helper()
	want := objdumpAddrs(t, goCmd, paths[0], fn, `RET\b`)
	if len(want) == 0 {
		t.Fatalf("objdump shows no RET in %s", fn)
	}
	compareSites(t, "RetSites", want, paths, func(b *Binary) []Site {
		f := mustFunc(t, b, fn)
		sites, err := b.RetSites(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range sites {
			if s.Inst != "RET" || s.Emulated || s.Offset != f.Offset+(s.Addr-f.Addr) {
				t.Errorf("%s: site %+v, want a RET, not emulated, at the matching offset", b.Path, s)
			}
			if raw := fileAt(t, b.Path, s.Offset, 1); raw[0] != 0xc3 {
				t.Errorf("%s: byte at offset %#x is %#x, want RET (0xc3)", b.Path, s.Offset, raw[0])
			}
		}
		return sites
	})
	return want
}

// compareSites opens each binary, takes the sites sitesOf finds (and
// checks) there, and compares their addresses with want, objdump's.
func compareSites(t *testing.T, what string, want []uint64, paths []string, sitesOf func(b *Binary) []Site) {
	t.Helper()
	for _, path := range paths {
		b, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		var got []uint64
		for _, s := range sitesOf(b) {
			got = append(got, s.Addr)
		}
		b.Close()
		if !slices.Equal(got, want) {
			t.Errorf("%s: %s = %#x, objdump shows %#x", path, what, got, want)
		}
	}
}

func mustFunc(t *testing.T, b *Binary, name string) Func {
	t.Helper()
	f, err := b.Func(name)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestEntrySite(t *testing.T) {
	tests := []struct {
		fn       string
		wantPush bool // else the first instruction
	}{
		{fn: "main.classify", wantPush: true},
		{fn: "net/http.serverHandler.ServeHTTP", wantPush: true},
		{fn: "net/http.(*response).finishRequest", wantPush: true},
		{fn: "main.add", wantPush: false},
	}
	for _, tt := range tests {
		for _, name := range []string{"plain", "stripped"} {
			t.Run(name+"/"+tt.fn, func(t *testing.T) {
				b := openFixture(t, name)
				f := mustFunc(t, b, tt.fn)
				s, err := b.EntrySite(f)
				if err != nil {
					t.Fatal(err)
				}
				if s.Offset != f.Offset+(s.Addr-f.Addr) {
					t.Errorf("site %+v: offset does not match address (func %+v)", s, f)
				}
				raw := fileAt(t, buildFixture(t, name), s.Offset, 1)
				if tt.wantPush {
					if s.Inst != "PUSHQ BP" || !s.Emulated || s.Addr <= f.Addr || s.Addr > f.Addr+32 || raw[0] != 0x55 {
						t.Errorf("EntrySite = %+v (byte %#x), want the prologue's PUSHQ BP, emulated (func at %#x)", s, raw[0], f.Addr)
					}
					return
				}
				if s.Addr != f.Addr || s.Inst == "PUSHQ BP" {
					t.Errorf("EntrySite = %+v, want the first instruction at %#x", s, f.Addr)
				}
			})
		}
	}
}

// asm assembles a function at base from pieces; a piece is raw bytes or a
// rel32 branch (opcode bytes then a target label).
type piece struct {
	label  string
	raw    []byte
	branch []byte // opcode of a rel32 jump/call to target
	target string
}

func assemble(base uint64, pieces []piece) []byte {
	labels := map[string]uint64{}
	pc := base
	for _, p := range pieces {
		if p.label != "" {
			labels[p.label] = pc
		}
		pc += uint64(len(p.raw) + len(p.branch))
		if p.branch != nil {
			pc += 4
		}
	}
	var code []byte
	pc = base
	for _, p := range pieces {
		code = append(code, p.raw...)
		if p.branch != nil {
			next := pc + uint64(len(p.branch)) + 4
			rel := int32(int64(labels[p.target]) - int64(next))
			code = append(code, p.branch...)
			code = append(code, byte(rel), byte(rel>>8), byte(rel>>16), byte(rel>>24))
		}
		pc += uint64(len(p.raw) + len(p.branch))
		if p.branch != nil {
			pc += 4
		}
	}
	return code
}

func TestEntryIndex(t *testing.T) {
	var (
		cmpSP     = []byte{0x49, 0x3b, 0x66, 0x10}                      // CMPQ SP, 0x10(R14)
		cmpR12    = []byte{0x4d, 0x3b, 0x66, 0x10}                      // CMPQ R12, 0x10(R14)
		leaR12    = []byte{0x4c, 0x8d, 0xa4, 0x24, 0, 0xf0, 0xff, 0xff} // LEAQ -0x1000(SP), R12
		leaAX     = []byte{0x48, 0x8d, 0x44, 0x24, 0x08}                // LEAQ 0x8(SP), AX
		pushq     = []byte{0x55}
		movBP     = []byte{0x48, 0x89, 0xe5}             // MOVQ SP, BP
		popRet    = []byte{0x5d, 0xc3}                   // POPQ BP; RET
		spillAX   = []byte{0x48, 0x89, 0x44, 0x24, 0x08} // MOVQ AX, 0x8(SP)
		jbe       = []byte{0x0f, 0x86}
		jmp       = []byte{0xe9}
		call      = []byte{0xe8}
		jne       = []byte{0x0f, 0x85}
		subSP     = []byte{0x48, 0x83, 0xec, 0x18} // SUBQ $0x18, SP
		nop       = []byte{0x90}
		ret       = []byte{0xc3}
		morestack = []piece{{label: "morestack", raw: spillAX}, {branch: call, target: "start"}, {raw: nop}, {branch: jmp, target: "start"}}
	)
	const base = 0x1000
	tests := []struct {
		name   string
		pieces []piece
		want   int // index of the chosen instruction; 0 is the first
	}{
		{
			name:   "stack check then push",
			pieces: append([]piece{{label: "start", raw: cmpSP}, {branch: jbe, target: "morestack"}, {raw: pushq}, {raw: movBP}, {raw: popRet}}, morestack...),
			want:   2,
		},
		{
			name:   "big frame",
			pieces: append([]piece{{label: "start", raw: leaR12}, {raw: cmpR12}, {branch: jbe, target: "morestack"}, {raw: pushq}, {raw: movBP}, {raw: popRet}}, morestack...),
			want:   3,
		},
		{
			name:   "nosplit push first",
			pieces: []piece{{label: "start", raw: pushq}, {raw: movBP}, {raw: popRet}},
			want:   0,
		},
		{
			name:   "frameless leaf",
			pieces: []piece{{label: "start", raw: leaAX}, {raw: ret}},
			want:   0,
		},
		{
			name:   "go1.20 frame: the stack-check branch",
			pieces: append([]piece{{label: "start", raw: cmpSP}, {branch: jbe, target: "morestack"}, {raw: subSP}, {raw: ret}}, morestack...),
			want:   1,
		},
		{
			name:   "go1.20 big frame: the stack-check branch",
			pieces: append([]piece{{label: "start", raw: leaR12}, {raw: cmpR12}, {branch: jbe, target: "morestack"}, {raw: subSP}, {raw: ret}}, morestack...),
			want:   2,
		},
		{
			name: "branch back to the check",
			pieces: append([]piece{{label: "start", raw: cmpSP}, {label: "chk", branch: jbe, target: "morestack"}, {raw: subSP},
				{branch: jmp, target: "chk"}}, morestack...),
			want: 0,
		},
		{
			name: "loop back to the push",
			pieces: append([]piece{{label: "start", raw: cmpSP}, {branch: jbe, target: "morestack"}, {label: "again", raw: pushq}, {raw: movBP},
				{raw: []byte{0x5d}}, {branch: jne, target: "again"}, {raw: ret}}, morestack...),
			want: 1, // the push runs more than once a call; the check does not
		},
		{
			name: "branch to the push from below",
			pieces: append([]piece{{label: "start", raw: cmpSP}, {branch: jbe, target: "morestack"}, {label: "p", raw: pushq}, {raw: movBP},
				{raw: popRet}, {branch: jmp, target: "p"}}, morestack...),
			want: 1,
		},
		{
			name: "check branch that does not come back",
			pieces: []piece{{label: "start", raw: cmpSP}, {branch: jbe, target: "out"}, {raw: pushq}, {raw: movBP}, {raw: popRet},
				{label: "out", raw: ret}},
			want: 0,
		},
		{
			name:   "argument register written before the push",
			pieces: append([]piece{{label: "start", raw: leaAX}, {raw: cmpSP}, {branch: jbe, target: "morestack"}, {raw: pushq}, {raw: popRet}}, morestack...),
			want:   0,
		},
		{
			name:   "push beyond the prologue",
			pieces: []piece{{label: "start", raw: cmpSP}, {raw: cmpSP}, {raw: cmpSP}, {raw: cmpSP}, {raw: cmpSP}, {raw: cmpSP}, {raw: cmpSP}, {raw: cmpSP}, {raw: pushq}, {raw: popRet}},
			want:   0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			insts, err := decode(assemble(base, tt.pieces), base)
			if err != nil {
				t.Fatal(err)
			}
			if got := entryIndex(insts, base); got != tt.want {
				t.Errorf("entryIndex chose instruction %d, want %d", got, tt.want)
			}
		})
	}
}

func TestEmulated(t *testing.T) {
	tests := []struct {
		name string
		raw  []byte
		want bool
	}{
		{"PUSHQ BP", []byte{0x55}, true},
		{"PUSHQ R12", []byte{0x41, 0x54}, true},
		{"CALL rel32", []byte{0xe8, 1, 2, 3, 4}, true},
		{"JMP rel8", []byte{0xeb, 0x10}, true},
		{"JMP rel32", []byte{0xe9, 1, 2, 3, 4}, true},
		{"JE rel8", []byte{0x74, 0x10}, true},
		{"JBE rel32", []byte{0x0f, 0x86, 1, 2, 3, 4}, true},
		{"RET", []byte{0xc3}, false},
		{"POPQ BP", []byte{0x5d}, false},
		{"CMPQ SP, 0x10(R14)", []byte{0x49, 0x3b, 0x66, 0x10}, false},
		{"MOVQ SP, BP", []byte{0x48, 0x89, 0xe5}, false},
		{"CALL reg", []byte{0xff, 0xd0}, false},
		{"PUSHW BP", []byte{0x66, 0x55}, false},
		{"INT3", []byte{0xcc}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := emulated(tt.raw); got != tt.want {
				t.Errorf("emulated(% x) = %v, want %v", tt.raw, got, tt.want)
			}
		})
	}
}

// callFuncs are (caller, callee) pairs probed at the call: the goroutine
// creation probe sits on newproc's CALL runqput.
var callFuncs = [][2]string{{"runtime.newproc.func1", "runtime.runqput"}}

func TestCallSites(t *testing.T) {
	for _, c := range callFuncs {
		checkCallSites(t, exec.Command("go"), c[0], c[1], buildFixture(t, "plain"), buildFixture(t, "stripped"))
	}
}

// checkCallSites compares CallSites(caller, callee) in each binary with the
// calls `go tool objdump` shows in the first, and wants at least one.
func checkCallSites(t *testing.T, goCmd *exec.Cmd, caller, callee string, paths ...string) {
	t.Helper()
	insts, _ := objdump(t, goCmd, paths[0], caller)
	var want []uint64
	for _, in := range insts {
		if in.op == "CALL" && in.args == callee+"(SB)" {
			want = append(want, in.addr)
		}
	}
	if len(want) == 0 {
		t.Fatalf("objdump shows no CALL %s in %s", callee, caller)
	}
	compareSites(t, fmt.Sprintf("CallSites(%s, %s)", caller, callee), want, paths, func(b *Binary) []Site {
		sites, err := b.CallSites(mustFunc(t, b, caller), mustFunc(t, b, callee))
		if err != nil {
			t.Fatal(err)
		}
		return requireEmulated(t, b, "call site", sites)
	})
	// The 5-byte NOP in the padding right before a call, as objdump shows it.
	var wantNops []uint64
	for i, in := range insts {
		if !slices.Contains(want, in.addr) {
			continue
		}
		for j := i - 1; j >= 0 && strings.HasPrefix(insts[j].op, "NOP"); j-- {
			if insts[j].op == "NOPL" && insts[j].args == "0(AX)(AX*1)" && insts[j+1].addr-insts[j].addr == 5 {
				wantNops = append(wantNops, insts[j].addr)
				break
			}
		}
	}
	t.Logf("%s: 5-byte NOPs before the calls of %s: %#x", caller, callee, wantNops)
	compareSites(t, fmt.Sprintf("Nop5Sites(CallSites(%s, %s))", caller, callee), wantNops, paths, func(b *Binary) []Site {
		f := mustFunc(t, b, caller)
		sites, err := b.CallSites(f, mustFunc(t, b, callee))
		if err != nil {
			t.Fatal(err)
		}
		moved, err := b.Nop5Sites(f, sites)
		if err != nil {
			t.Fatal(err)
		}
		var nops []Site
		for i := range sites {
			if moved[i] != sites[i] {
				nops = append(nops, moved[i])
			}
		}
		return nops
	})
}

// TestResultTestSites finds, after each indirect CALL of the fixture's
// retry, the Jcc that tests the result, as objdump lists them: two calls
// tested in the loop, the last one returned untested.
func TestResultTestSites(t *testing.T) {
	paths := []string{buildFixture(t, "plain"), buildFixture(t, "stripped")}
	insts, out := objdump(t, exec.Command("go"), paths[0], "main.retry")
	var want []uint64
	afterCall := false
	for _, in := range insts {
		switch {
		case in.op == "CALL":
			afterCall = !strings.Contains(in.args, "(SB)") // a register: a func value
		case afterCall && strings.HasPrefix(in.op, "J") && in.op != "JMP":
			want = append(want, in.addr)
			afterCall = false
		case in.op == "JMP" || in.op == "RET":
			afterCall = false
		}
	}
	if len(want) != 1 && len(want) != 2 {
		t.Fatalf("objdump shows %d tested results of func-value calls in main.retry, want the loop's (1 or 2):\n%s", len(want), out)
	}
	compareSites(t, "ResultTestSites(main.retry)", want, paths, func(b *Binary) []Site {
		sites, err := b.ResultTestSites(mustFunc(t, b, "main.retry"))
		if err != nil {
			t.Fatal(err)
		}
		return requireEmulated(t, b, "result test", sites)
	})
}

// TestSuccessTestSites checks SuccessTestSites on net/http's
// Transport.roundTrip, which the client bundle probes.
func TestSuccessTestSites(t *testing.T) {
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Fatal(err)
	}
	checkSuccessTest(t, exec.Command("go"), strings.TrimSpace(string(out)), buildFixture(t, "plain"), buildFixture(t, "stripped"))
}

// checkSuccessTest compares SuccessTestSites(Transport.roundTrip,
// persistConn.roundTrip) with objdump of the first binary: the test is the
// Jcc after the CALL and its TESTQ BX, BX; the RETs it leaves are those on
// source lines (in goroot's net/http) reading "return resp, nil"; every
// other RET stays.
func checkSuccessTest(t *testing.T, goCmd *exec.Cmd, goroot string, paths ...string) {
	t.Helper()
	const fn, callee = "net/http.(*Transport).roundTrip", "net/http.(*persistConn).roundTrip"
	insts, out := objdump(t, goCmd, paths[0], fn)
	src := map[string][]string{}
	var tests, skipped, others []uint64
	afterCall, tested := false, false
	for _, in := range insts {
		switch {
		case in.op == "CALL":
			afterCall, tested = in.args == callee+"(SB)", false
		case afterCall && in.op == "NOPW" || afterCall && in.op == "NOPL":
		case afterCall && in.op == "TESTQ" && in.args == "BX, BX":
			tested = true
		case afterCall && tested && strings.HasPrefix(in.op, "J"):
			tests = append(tests, in.addr)
			afterCall = false
		case in.op == "RET":
			file := filepath.Join(goroot, "src", "net", "http", in.file)
			if src[file] == nil {
				b, err := os.ReadFile(file)
				if err != nil {
					t.Fatal(err)
				}
				src[file] = strings.Split(string(b), "\n")
			}
			if n := in.line; n >= 1 && n <= len(src[file]) && strings.TrimSpace(src[file][n-1]) == "return resp, nil" {
				skipped = append(skipped, in.addr)
			} else {
				others = append(others, in.addr)
			}
			afterCall = false
		default:
			afterCall = false
		}
	}
	if len(tests) != 1 || len(skipped) == 0 || len(others) == 0 {
		t.Fatalf("objdump of %s shows %d tests of %s's result, %d RETs of \"return resp, nil\" and %d others; want 1, some and some:\n%s", fn, len(tests), callee, len(skipped), len(others), out)
	}
	get := func(b *Binary) SuccessTest {
		st, err := b.SuccessTestSites(mustFunc(t, b, fn), mustFunc(t, b, callee))
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	compareSites(t, "SuccessTestSites.Tests", tests, paths, func(b *Binary) []Site {
		return requireEmulated(t, b, "success test", get(b).Tests)
	})
	compareSites(t, "SuccessTestSites.Skipped", skipped, paths, func(b *Binary) []Site { return get(b).Skipped })
	compareSites(t, "SuccessTestSites.Others", others, paths, func(b *Binary) []Site { return get(b).Others })
}

func TestRetSitesRejectsUndecodable(t *testing.T) {
	if _, err := decode([]byte{0x55, 0x48, 0x89}, 0x1000); err == nil {
		t.Error("decode of a truncated MOVQ succeeded, want an error")
	}
	insts, err := decode([]byte{0xc3, 0xcc, 0xcc, 0xcc}, 0x1000)
	if err != nil || len(insts) != 4 {
		t.Errorf("decode(RET + INT3 padding) = %d instructions, %v; want 4, nil", len(insts), err)
	}
}

func TestClose(t *testing.T) {
	b, err := Open(buildFixture(t, "plain"))
	if err != nil {
		t.Fatal(err)
	}
	f := mustFunc(t, b, "main.classify")
	for i := range 2 {
		if err := b.Close(); err != nil {
			t.Fatalf("Close #%d: %v", i+1, err)
		}
	}
	if _, err := b.Func("main.classify"); err == nil {
		t.Error("Func after Close succeeded")
	}
	if _, err := b.RetSites(f); err == nil {
		t.Error("RetSites after Close succeeded")
	}
	if _, err := b.EntrySite(f); err == nil {
		t.Error("EntrySite after Close succeeded")
	}
}

func TestConcurrentUse(t *testing.T) {
	b := openFixture(t, "stripped")
	var wg sync.WaitGroup
	errs := make(chan error, 8*len(probedFuncs))
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, fn := range probedFuncs {
				f, err := b.Func(fn)
				if err == nil {
					_, err = b.RetSites(f)
				}
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestTruncatedWhileOpen checks that a binary truncated under the mapping
// gives errors instead of killing the process with SIGBUS.
func TestTruncatedWhileOpen(t *testing.T) {
	data, err := os.ReadFile(buildFixture(t, "plain"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "app")
	if err := os.WriteFile(path, data, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := os.Truncate(path, 4096); err != nil {
		t.Fatal(err)
	}
	if f, err := b.Func("main.classify"); err == nil {
		t.Fatalf("Func on a truncated file = %+v, want an error", f)
	} else {
		t.Log(err)
	}
}

// TestLargeBinary does what an agent does at attach time against a large
// binary: -goexe.large=PATH, else the Jaeger binary the e2e tests use
// (SPANPROBE_JAEGER_BIN, which CI sets). It logs the time taken;
// BenchmarkOpenFunc measures it.
func TestLargeBinary(t *testing.T) {
	path := *largeBinary
	if path == "" {
		path = os.Getenv("SPANPROBE_JAEGER_BIN")
	}
	if path == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("no large binary in CI: SPANPROBE_JAEGER_BIN is unset")
		}
		t.Skip("no large binary: pass -goexe.large=PATH or set SPANPROBE_JAEGER_BIN (e.g. a Jaeger or Terraform build)")
	}
	start := time.Now()
	b, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	opened := time.Since(start)
	found := 0
	for _, fn := range append([]string{"runtime.main", "runtime.goexit"}, probedFuncs[1:]...) {
		f, err := b.Func(fn)
		if errors.Is(err, ErrSymbolNotFound) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.EntrySite(f); err != nil {
			t.Fatal(err)
		}
		if _, err := b.RetSites(f); err != nil {
			t.Fatal(err)
		}
		found++
	}
	total := time.Since(start)
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	st, _ := os.Stat(path)
	t.Logf("%s (%d MB, %v, symtab %v): open %v, open + %d functions resolved %v, heap allocated in total %d MB",
		path, st.Size()>>20, b.GoVersion, b.HasSymtab, opened, found, total, m.TotalAlloc>>20)
	if found < 2 {
		t.Errorf("resolved %d functions, want at least runtime.main and runtime.goexit", found)
	}
}

func TestTypeName(t *testing.T) {
	const opError, errorString = "*net.OpError", "*errors.errorString"
	for _, tt := range []struct {
		name, fixture string
		typ           string // asked for by the address its itab for error holds
		addr          uint64 // asked for by address instead, when typ is ""
		want          string
		release       bool // ReleasePages first: the agent does after attaching
	}{
		{"pointer to struct", "plain", opError, 0, opError, false},
		{"same layout without symbols", "stripped", opError, 0, opError, false},
		{"pages released", "plain", opError, 0, opError, true},
		{"position-independent", "pie", opError, 0, opError, false},
		{"position-independent without symbols", "pie-stripped", opError, 0, opError, false},
		{"linked by the system linker", "external", errorString, 0, errorString, false},
		{"position-independent, linked by the system linker", "external-pie", errorString, 0, errorString, false},
		{"linked by the system linker without symbols: no guess", "external-stripped", errorString, 0, "", false},
		{"position-independent, linked by the system linker, without symbols: no guess", "external-pie-stripped", errorString, 0, "", false},
		{"not a type", "plain", "", 0, "", false},
		{"outside the file", "plain", "", 1 << 40, "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := buildFixture(t, tt.fixture)
			ref := path
			if r := fixtures[tt.fixture].reference; r != "" {
				ref = buildFixture(t, r) // the same layout, with symbols
			}
			b, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			if tt.release {
				if err := b.ReleasePages(); err != nil {
					t.Fatal(err)
				}
			}
			addr := tt.addr
			if tt.typ != "" {
				_, addr = errorItab(t, ref, tt.typ)
			}
			if got := b.TypeName(addr); got != tt.want {
				t.Errorf("TypeName(%#x) = %q, want %q", addr, got, tt.want)
			}
		})
	}
}

// errorItab returns the link-time addresses of type typ's itab for error
// in the binary at path (found by symbol) and of the type's descriptor,
// the itab's second word.
func errorItab(t *testing.T, path, typ string) (itab, desc uint64) {
	t.Helper()
	out, err := exec.Command("go", "tool", "nm", path).CombinedOutput()
	if err != nil {
		t.Fatalf("go tool nm: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`(?m)^\s*([0-9a-f]+) [RrDd] go:itab\.` + regexp.QuoteMeta(typ) + `,error$`).FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("%s has no go:itab.%s,error symbol", path, typ)
	}
	itab, err = strconv.ParseUint(m[1], 16, 64)
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	word := make([]byte, 8)
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD && itab+8 >= p.Vaddr && itab+8 < p.Vaddr+p.Filesz {
			if _, err := p.ReadAt(word, int64(itab+8-p.Vaddr)); err != nil {
				t.Fatal(err)
			}
		}
	}
	return itab, binary.LittleEndian.Uint64(word)
}

// checkTypesBase compares where TypeName looks for type names in a binary
// without symbols (the sections Go's linker lays out) with the
// runtime.types symbol of the binary at path.
func checkTypesBase(t *testing.T, path string) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(syms, func(s elf.Symbol) bool { return s.Name == "runtime.types" })
	if i < 0 {
		t.Fatalf("%s has no runtime.types symbol", path)
	}
	b, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if got := b.sectionTypesBase(); got != syms[i].Value {
		t.Errorf("%s: type descriptors looked for at %#x without symbols, runtime.types is %#x", path, got, syms[i].Value)
	}
}

// TestFuncs lists functions by a predicate and checks each against Func:
// the same ranges from .symtab and from .gopclntab.
func TestFuncs(t *testing.T) {
	for _, name := range []string{"plain", "stripped"} {
		t.Run(name, func(t *testing.T) {
			b := openFixture(t, name)
			fns, err := b.Funcs(func(n string) bool { return strings.HasPrefix(n, "main.") })
			if err != nil {
				t.Fatal(err)
			}
			names := map[string]bool{}
			for _, f := range fns {
				names[f.Name] = true
				want, err := b.Func(f.Name)
				if err != nil || want != f {
					t.Errorf("Funcs gave %+v, Func gives %+v, %v", f, want, err)
				}
			}
			for _, n := range []string{"main.main", "main.classify", "main.add"} {
				if !names[n] {
					t.Errorf("Funcs did not list %s (got %v)", n, names)
				}
			}
		})
	}
}

// TestNop5Before checks which 5-byte NOP stands in for the instruction at
// the end of hand-assembled code (a CALL rel32 at the last 5 bytes).
func TestNop5Before(t *testing.T) {
	var (
		nopl  = []byte{0x0f, 0x1f, 0x44, 0x00, 0x00}
		nop1  = []byte{0x90}
		nopw6 = []byte{0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00}
		mov   = []byte{0x48, 0x89, 0xd0} // MOVQ DX, AX
		call  = []byte{0xe8, 0x00, 0x00, 0x00, 0x00}
		jmpAX = []byte{0xff, 0xe0}
	)
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	for _, tt := range []struct {
		name string
		code []byte
		want int // index of the NOP, -1 none
	}{
		{"nop5 just before", cat(mov, nopl, call), 1},
		{"nop5 then a 1-byte NOP", cat(mov, nopl, nop1, call), 1},
		{"no NOP", cat(mov, call), -1},
		{"a 6-byte NOP only", cat(mov, nopw6, call), -1},
		{"an instruction between", cat(nopl, mov, call), -1},
		// JMP rel8 over the NOP to the CALL: that path would miss it.
		{"a branch lands on the call", cat([]byte{0xeb, 0x05}, nopl, call), -1},
		{"a branch lands on the NOP", cat([]byte{0xeb, 0x00}, nopl, call), 1},
		{"a jump through a register", cat(jmpAX, nopl, call), -1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			insts, err := decode(tt.code, 0x1000)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := nop5Before(insts, insts[len(insts)-1].addr)
			if !ok {
				got = -1
			}
			if got != tt.want {
				t.Errorf("nop5Before = %d, want %d", got, tt.want)
			}
		})
	}
}

// TestLoadBias runs a binary and checks its load bias against the process:
// a type pointer the loader relocated in memory, less the bias, is the
// link-time address the file holds (what TypeName takes).
func TestLoadBias(t *testing.T) {
	for _, name := range []string{"plain", "pie", "pie-stripped"} {
		t.Run(name, func(t *testing.T) {
			path := buildFixture(t, name)
			ref := path
			if r := fixtures[name].reference; r != "" {
				ref = buildFixture(t, r)
			}
			cmd := exec.Command(path, "127.0.0.1:0") // serves until killed
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { cmd.Process.Kill(); cmd.Wait() }()
			b, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			itab, want := errorItab(t, ref, "*net.OpError")
			mem, err := os.Open(fmt.Sprintf("/proc/%d/mem", cmd.Process.Pid))
			if err != nil {
				t.Fatal(err)
			}
			defer mem.Close()
			var bias uint64
			word := make([]byte, 8)
			deadline := time.Now().Add(10 * time.Second)
			for {
				// The loader relocates before main runs: wait until the
				// process maps the file and its pointer is in place.
				if bias, err = b.LoadBias(cmd.Process.Pid); err == nil {
					if _, err = mem.ReadAt(word, int64(itab+bias+8)); err == nil && binary.LittleEndian.Uint64(word) != 0 {
						break
					}
				}
				if time.Now().After(deadline) {
					t.Fatalf("LoadBias: %v", err)
				}
				time.Sleep(10 * time.Millisecond)
			}
			if (bias != 0) != (name != "plain") {
				t.Errorf("bias %#x: want 0 only for the fixed-address build", bias)
			}
			if got := binary.LittleEndian.Uint64(word) - bias; got != want {
				t.Errorf("the process's *net.OpError pointer less the bias is %#x, the file's is %#x (bias %#x)", got, want, bias)
			}
			if got := b.TypeName(binary.LittleEndian.Uint64(word) - bias); got != "*net.OpError" {
				t.Errorf("TypeName = %q, want *net.OpError", got)
			}
		})
	}
}
