package e2e

import (
	"bytes"
	"debug/buildinfo"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestBadInput covers targets and conditions the agent must refuse: it
// exits non-zero with one line on stderr that says what is wrong.
func TestBadInput(t *testing.T) {
	requireBPF(t)
	tests := []struct {
		name string
		args func(t *testing.T) []string
		cred *syscall.Credential
		env  []string // beyond OTEL_TRACES_EXPORTER=none
		want []string // substrings of the one stderr line
	}{
		{
			name: "launch not a Go binary",
			args: func(*testing.T) []string { return []string{"--", "/bin/true"} },
			want: []string{"not a Go binary"},
		},
		{
			name: "exe not a Go binary",
			args: func(*testing.T) []string { return []string{"--exe", "/bin/true"} },
			want: []string{"not a Go binary"},
		},
		{
			name: "pid not a Go process",
			args: func(t *testing.T) []string {
				cmd := exec.Command("sleep", "100")
				p := startProc(t, "sleep", cmd)
				return []string{"--pid", strconv.Itoa(p.pid())}
			},
			want: []string{"not a Go binary"},
		},
		{
			name: "pid does not exist",
			args: func(t *testing.T) []string { return []string{"--pid", strconv.Itoa(unusedPID(t))} },
			want: []string{"no such process"},
		},
		{
			name: "go older than 1.17",
			args: func(t *testing.T) []string { return []string{"--", oldGoBinary(t), "-addr", "127.0.0.1:0"} },
			want: []string{"unsupported Go version", "go1.16"},
		},
		{
			name: "not root",
			args: func(*testing.T) []string { return []string{"--", bins.app, "-addr", "127.0.0.1:0"} },
			cred: &syscall.Credential{Uid: 65534, Gid: 65534}, // nobody
			want: []string{"CAP_BPF", "CAP_PERFMON"},
		},
		{
			name: "sampler needs a service",
			args: func(*testing.T) []string { return []string{"--", bins.app, "-addr", "127.0.0.1:0"} },
			env:  []string{"OTEL_TRACES_SAMPLER=parentbased_jaeger_remote"},
			want: []string{"OTEL_TRACES_SAMPLER", "parentbased_traceidratio"},
		},
		{
			name: "sampler ratio out of range",
			args: func(*testing.T) []string { return []string{"--", bins.app, "-addr", "127.0.0.1:0"} },
			env:  []string{"OTEL_TRACES_SAMPLER=traceidratio", "OTEL_TRACES_SAMPLER_ARG=25%"},
			want: []string{"OTEL_TRACES_SAMPLER_ARG", "from 0 to 1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(bins.agent, tt.args(t)...)
			cmd.Env = agentEnv(append([]string{"OTEL_TRACES_EXPORTER=none"}, tt.env...)...)
			if tt.cred != nil {
				cmd.SysProcAttr = &syscall.SysProcAttr{Credential: tt.cred}
			}
			agent := startProc(t, "spanprobe", cmd)
			code, ok := agent.wait(15 * time.Second)
			if !ok {
				t.Fatal("agent still runs 15s after start, want an error exit")
			}
			if code <= 0 {
				t.Errorf("exit code %d (%v), want a non-zero exit", code, agent.err)
			}
			lines := agent.stderr.lines()
			if len(lines) != 1 {
				t.Fatalf("stderr has %d lines, want exactly 1:\n%s", len(lines), agent.stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(lines[0], w) {
					t.Errorf("stderr line %q does not mention %q", lines[0], w)
				}
			}
		})
	}
}

// unusedPID returns a PID no process has.
func unusedPID(t *testing.T) int {
	t.Helper()
	for _, pid := range []int{999999, 4194303, 32767} {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); os.IsNotExist(err) {
			return pid
		}
	}
	t.Skip("no unused PID found among the candidates")
	return 0
}

// oldGoBinary returns a copy of the sample app whose build info claims Go
// 1.16. No toolchain older than 1.17 is on the module proxy, so the version
// string in .go.buildinfo is rewritten in place (same length): it is what the
// agent reads to decide.
func oldGoBinary(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(bins.app)
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	sec := f.Section(".go.buildinfo")
	if sec == nil {
		t.Skip("sample app has no .go.buildinfo section to rewrite")
	}
	from := []byte(bins.appGo)
	to := []byte(regexp.MustCompile(`^go1\.\d+`).ReplaceAllString(bins.appGo, "go1.16"))
	if len(to) != len(from) {
		t.Skipf("cannot rewrite %s to a go1.16 string of the same length", bins.appGo)
	}
	body := data[sec.Offset : sec.Offset+sec.Size]
	i := bytes.Index(body, from)
	if i < 0 {
		t.Skipf("version %s not stored inline in .go.buildinfo", bins.appGo)
	}
	copy(body[i:], to)
	path := filepath.Join(t.TempDir(), "sampleapp-go116")
	if err := os.WriteFile(path, data, 0o755); err != nil {
		t.Fatal(err)
	}
	info, err := buildinfo.ReadFile(path)
	if err != nil || !strings.HasPrefix(info.GoVersion, "go1.16") {
		t.Skipf("rewritten binary does not read as go1.16 (%v, %v)", info, err)
	}
	return path
}

// TestKeepsRunning covers conditions the agent must survive: a target it
// cannot trace anything in and a collector it cannot reach.
func TestKeepsRunning(t *testing.T) {
	requireBPF(t)

	t.Run("no net/http", func(t *testing.T) {
		cmd := exec.Command(bins.noHTTP, "-sleep", "1m")
		target := startProc(t, "nohttp", cmd)
		agent := startAgent(t, agentEnv("OTEL_TRACES_EXPORTER=none"), "--pid", strconv.Itoa(target.pid()))
		agent.waitLine(t, timeout(t, 15*time.Second), regexp.MustCompile(`level=WARN .*net/http`))
		if code, exited := agent.wait(time.Second); exited {
			t.Fatalf("agent exited with %d after finding no net/http, want it to keep running", code)
		}
		agent.stop(t, 10*time.Second)
	})

	t.Run("unreachable collector", func(t *testing.T) {
		health := fmt.Sprintf("127.0.0.1:%d", freePort(t))
		a := startApp(t, bins.app)
		agent := startAgent(t, fastFailEnv("127.0.0.1:1"), "--pid", strconv.Itoa(a.pid()), "--health-addr", health)
		waitAttached(t, agent)
		calls := sendAll(t, a.addr, serverCalls)
		n := float64(len(calls))
		m := waitMetrics(t, health, 30*time.Second, func(m metrics) bool {
			return m.sum("spanprobe_spans_dropped_total", `reason="export_failed"`) >= n
		})
		for _, c := range []struct {
			name, filter string
			check        func(float64) bool
			want         string
		}{
			{"spanprobe_spans_dropped_total", `reason="export_failed"`, func(v float64) bool { return v == n }, fmt.Sprint(n)},
			{"spanprobe_export_errors_total", "", func(v float64) bool { return v >= 1 }, ">= 1"},
			{"spanprobe_spans_exported_total", "", func(v float64) bool { return v == 0 }, "0"},
			{"spanprobe_ringbuf_records_read_total", "", func(v float64) bool { return v == n }, fmt.Sprint(n)},
		} {
			if v := m.sum(c.name, c.filter); !c.check(v) {
				t.Errorf("%s{%s} = %v, want %s", c.name, c.filter, v, c.want)
			}
		}
		if a.exited() {
			t.Fatalf("app exited: %v", a.err)
		}
		agent.stop(t, 15*time.Second)
	})
}
