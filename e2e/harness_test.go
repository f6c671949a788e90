package e2e

import (
	"bufio"
	"bytes"
	"context"
	"debug/buildinfo"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// rootSkipReason is the one reason every BPF-loading test skips with.
const rootSkipReason = "requires root (CAP_BPF, CAP_PERFMON) to load eBPF programs"

// bins are the executables TestMain builds once for the whole package.
var bins struct {
	dir         string
	agent       string
	app         string // sampleapp
	appStripped string // sampleapp built with -ldflags=-s -w
	appPIE      string // sampleapp built with -buildmode=pie, stripped
	noHTTP      string // testdata/nohttp: a Go program without net/http
	agentErr    error  // the agent may not build yet; only its users fail
	appGo       string // the sample app's Go version, e.g. "go1.26.8"
}

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	if url := os.Getenv(seqClientEnv); url != "" {
		return seqClientMain(url)
	}
	dir, err := os.MkdirTemp("", "spanprobe-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "creating build dir:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	// The unprivileged test runs the agent and the app as nobody.
	if err := os.Chmod(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "making build dir readable:", err)
		return 1
	}
	if err := buildAll(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

func buildAll(dir string) error {
	root, err := filepath.Abs("..")
	if err != nil {
		return err
	}
	bins.dir = dir
	bins.agent = filepath.Join(dir, "spanprobe")
	bins.app = filepath.Join(dir, "sampleapp")
	bins.appStripped = filepath.Join(dir, "sampleapp-stripped")
	bins.appPIE = filepath.Join(dir, "sampleapp-pie")
	bins.noHTTP = filepath.Join(dir, "nohttp")
	builds := []struct {
		out  string
		args []string
		err  *error
		env  []string
	}{
		// Static, as the Dockerfile and make build it: the figures of
		// make bench are the shipped binary's.
		{bins.agent, []string{"./cmd/spanprobe"}, &bins.agentErr, []string{"CGO_ENABLED=0"}},
		{bins.app, []string{"./e2e/sampleapp"}, nil, nil},
		{bins.appStripped, []string{"-ldflags=-s -w", "./e2e/sampleapp"}, nil, nil},
		{bins.appPIE, []string{"-buildmode=pie", "-ldflags=-s -w", "./e2e/sampleapp"}, nil, nil},
		{bins.noHTTP, []string{"./e2e/testdata/nohttp"}, nil, nil},
	}
	errs := make([]error, len(builds))
	var wg sync.WaitGroup
	for i, b := range builds {
		wg.Go(func() {
			args := append([]string{"build", "-o", b.out}, b.args...)
			cmd := exec.Command("go", args...)
			cmd.Dir = root
			cmd.Env = append(os.Environ(), b.env...)
			if out, err := cmd.CombinedOutput(); err != nil {
				errs[i] = fmt.Errorf("building %s: %w\n%s", b.args[len(b.args)-1], err, out)
			}
		})
	}
	wg.Wait()
	for i, b := range builds {
		if b.err != nil {
			*b.err = errs[i]
			errs[i] = nil
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	info, err := buildinfo.ReadFile(bins.app)
	if err != nil {
		return fmt.Errorf("reading build info of %s: %w", bins.app, err)
	}
	bins.appGo = info.GoVersion
	return nil
}

// requireBPF skips tests that load eBPF programs when not root and returns
// the agent's path, failing when the agent did not build.
func requireBPF(t testing.TB) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip(rootSkipReason)
	}
	if bins.agentErr != nil {
		t.Fatal(bins.agentErr)
	}
	return bins.agent
}

// timeout returns a context that ends after d or with the test.
func timeout(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// lockedBuffer collects a child's output while tests read it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// lines returns the non-empty lines written so far.
func (b *lockedBuffer) lines() []string {
	var out []string
	for l := range strings.SplitSeq(b.String(), "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}

// proc is a child process whose exit the tests observe.
type proc struct {
	cmd    *exec.Cmd
	name   string
	stdout *lockedBuffer
	stderr *lockedBuffer
	done   chan struct{} // closed once Wait returned
	err    error         // Wait's result, valid after done
}

func startProc(t testing.TB, name string, cmd *exec.Cmd) *proc {
	t.Helper()
	p := &proc{cmd: cmd, name: name, stdout: &lockedBuffer{}, stderr: &lockedBuffer{}, done: make(chan struct{})}
	if cmd.Stdout == nil {
		cmd.Stdout = p.stdout
	}
	// A test binary killed by -timeout runs no cleanups: take the children
	// along instead of leaving them holding ports and probes.
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		if !p.exited() {
			p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("%s stdout:\n%s", name, p.stdout)
			t.Logf("%s stderr:\n%s", name, p.stderr)
		}
	})
	return p
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// wait waits up to d for the exit and returns the exit code, -1 for a death
// by signal.
func (p *proc) wait(d time.Duration) (code int, ok bool) {
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode(), true
	case <-time.After(d):
		return 0, false
	}
}

// stop sends SIGTERM and checks the process exits 0 within d.
func (p *proc) stop(t testing.TB, d time.Duration) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !p.exited() {
		t.Fatalf("sending SIGTERM to %s: %v", p.name, err)
	}
	code, ok := p.wait(d)
	if !ok {
		// A Go program dumps its goroutines on SIGQUIT: show where it hangs.
		p.cmd.Process.Signal(syscall.SIGQUIT)
		p.wait(3 * time.Second)
		t.Fatalf("%s did not exit within %v of SIGTERM", p.name, d)
	}
	if code != 0 {
		t.Fatalf("%s exited with %v after SIGTERM, want exit code 0", p.name, p.err)
	}
}

// waitLine waits for a stderr line matching re and returns its submatches.
// It fails the test when the process exits, ctx ends or a line matches one
// of the giveUp expressions first.
func (p *proc) waitLine(t testing.TB, ctx context.Context, re *regexp.Regexp, giveUp ...*regexp.Regexp) []string {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		for _, l := range p.stderr.lines() {
			if m := re.FindStringSubmatch(l); m != nil {
				return m
			}
			for _, g := range giveUp {
				if g.MatchString(l) {
					t.Fatalf("%s logged %q while waiting for a line matching %q; stderr:\n%s", p.name, l, re, p.stderr)
				}
			}
		}
		select {
		case <-p.done:
			// The line may have been written just before the exit.
			for _, l := range p.stderr.lines() {
				if m := re.FindStringSubmatch(l); m != nil {
					return m
				}
			}
			t.Fatalf("%s exited (%v) before logging a line matching %q; stderr:\n%s", p.name, p.err, re, p.stderr)
		case <-ctx.Done():
			t.Fatalf("%s logged no line matching %q: %v; stderr:\n%s", p.name, re, ctx.Err(), p.stderr)
		case <-tick.C:
		}
	}
}

// agentEnv is the agent's environment: the test's, without any OTEL_ or
// SPANPROBE_ setting that would change what is under test, plus extra.
func agentEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "OTEL_") || strings.HasPrefix(kv, "SPANPROBE_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// otlpEnv points the agent at an OTLP/gRPC receiver with a short batch delay.
func otlpEnv(endpoint string) []string {
	return agentEnv(
		"OTEL_EXPORTER_OTLP_ENDPOINT=http://"+endpoint,
		"OTEL_EXPORTER_OTLP_INSECURE=true",
		"OTEL_BSP_SCHEDULE_DELAY=200",
	)
}

// startAgent runs spanprobe with args and env; it is killed at cleanup if
// the test did not stop it.
func startAgent(t testing.TB, env []string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(bins.agent, args...)
	cmd.Env = env
	return startProc(t, "spanprobe", cmd)
}

var (
	// attachedRE matches the agent's readiness line, slog text format.
	attachedRE = regexp.MustCompile(`msg="probes attached" pid=(\d+)\b`)
	// notAttachingRE matches lines after which no "probes attached" comes.
	notAttachingRE = regexp.MustCompile(`level=ERROR|msg="nothing to trace`)
)

// waitAttached waits for the "probes attached" line and returns its pid.
func waitAttached(t testing.TB, agent *proc) int {
	t.Helper()
	m := agent.waitLine(t, timeout(t, 30*time.Second), attachedRE, notAttachingRE)
	pid, _ := strconv.Atoi(m[1])
	return pid
}

// app is a running sample application.
type app struct {
	*proc
	addr string // "127.0.0.1:PORT"
	port int
}

// startApp runs bin (a sampleapp build) on a free loopback port, with any
// further flags, and waits until it listens.
func startApp(t testing.TB, bin string, flags ...string) *app {
	t.Helper()
	return startAppCmd(t, filepath.Base(bin), exec.Command(bin, append([]string{"-addr", "127.0.0.1:0"}, flags...)...))
}

// startAppCmd runs cmd, which starts a sampleapp with -addr 127.0.0.1:0
// (directly or in a container), and waits until it prints its address.
func startAppCmd(t testing.TB, name string, cmd *exec.Cmd) *app {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = w
	p := startProc(t, name, cmd)
	w.Close()
	addrc := make(chan string, 1)
	go func() {
		defer r.Close()
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			line := sc.Text()
			p.stdout.Write([]byte(line + "\n"))
			if a, ok := strings.CutPrefix(line, "listening on "); ok {
				select {
				case addrc <- a:
				default:
				}
			}
		}
	}()
	t.Cleanup(func() {
		if !p.exited() {
			p.cmd.Process.Signal(syscall.SIGTERM)
			p.wait(5 * time.Second)
		}
	})
	select {
	case a := <-addrc:
		_, port, _ := net.SplitHostPort(a)
		n, err := strconv.Atoi(port)
		if err != nil {
			t.Fatalf("%s printed a bad address %q", p.name, a)
		}
		return &app{proc: p, addr: a, port: n}
	case <-p.done:
		t.Fatalf("%s exited before listening: %v", p.name, p.err)
	case <-time.After(10 * time.Second):
		t.Fatalf("%s did not print \"listening on\" within 10s", p.name)
	}
	return nil
}

// kill9 kills the app with SIGKILL and waits for it.
func (a *app) kill9(t testing.TB) {
	t.Helper()
	if err := a.cmd.Process.Kill(); err != nil {
		t.Fatalf("killing %s: %v", a.name, err)
	}
	if _, ok := a.wait(5 * time.Second); !ok {
		t.Fatalf("%s survived SIGKILL", a.name)
	}
}

// processGone reports whether pid no longer runs (gone or a zombie).
func processGone(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// The state follows the parenthesised command name, which may hold spaces.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] == 'Z'
}
