package main

import (
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/spanprobe/spanprobe/instrumentation/probe"
)

func TestLoadConfig(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string // substring; "" for success
		check   func(t *testing.T, c config)
	}{
		{name: "no target", wantErr: "no target"},
		{name: "pid flag", args: []string{"--pid", "42"}, check: func(t *testing.T, c config) {
			if c.agent.PID != 42 {
				t.Errorf("pid = %d", c.agent.PID)
			}
		}},
		{name: "launch", args: []string{"--", "./app", "-addr", ":1"}, check: func(t *testing.T, c config) {
			if strings.Join(c.agent.Launch, " ") != "./app -addr :1" {
				t.Errorf("launch = %q", c.agent.Launch)
			}
		}},
		{name: "otel auto agent variables", env: map[string]string{"OTEL_GO_AUTO_TARGET_EXE": "/app/server"}, check: func(t *testing.T, c config) {
			if c.agent.Exe != "/app/server" {
				t.Errorf("exe = %q", c.agent.Exe)
			}
		}},
		{name: "spanprobe variable wins over otel one", env: map[string]string{"OTEL_GO_AUTO_TARGET_PID": "1", "SPANPROBE_TARGET_PID": "2"}, check: func(t *testing.T, c config) {
			if c.agent.PID != 2 {
				t.Errorf("pid = %d, want 2", c.agent.PID)
			}
		}},
		{name: "flag target replaces env target", args: []string{"--exe", "/x"}, env: map[string]string{"SPANPROBE_TARGET_PID": "7"}, check: func(t *testing.T, c config) {
			if c.agent.PID != 0 || c.agent.Exe != "/x" {
				t.Errorf("pid %d exe %q, want exe only", c.agent.PID, c.agent.Exe)
			}
		}},
		{name: "two targets", args: []string{"--pid", "3", "--exe", "/x"}, wantErr: "more than one target"},
		{name: "bad pid env", env: map[string]string{"SPANPROBE_TARGET_PID": "abc"}, wantErr: "invalid SPANPROBE_TARGET_PID"},
		{name: "bad log level", args: []string{"--pid", "1"}, env: map[string]string{"SPANPROBE_LOG_LEVEL": "loud"}, wantErr: "invalid SPANPROBE_LOG_LEVEL"},
		{name: "bad propagation", args: []string{"--pid", "1", "--propagation", "memory"}, wantErr: "invalid propagation"},
		{name: "bad query text", args: []string{"--pid", "1"}, env: map[string]string{"SPANPROBE_DB_QUERY_TEXT": "plain"}, wantErr: "invalid SPANPROBE_DB_QUERY_TEXT"},
		{name: "query text default sanitized", args: []string{"--pid", "1"}, check: wantQueryText(probe.QueryTextSanitized)},
		{name: "otel agent's statement opt-out", args: []string{"--pid", "1"}, env: map[string]string{"OTEL_GO_AUTO_INCLUDE_DB_STATEMENT": "false"}, check: wantQueryText(probe.QueryTextOff)},
		{name: "otel agent's statement opt-in stays sanitized", args: []string{"--pid", "1"}, env: map[string]string{"OTEL_GO_AUTO_INCLUDE_DB_STATEMENT": "TRUE"}, check: wantQueryText(probe.QueryTextSanitized)},
		{name: "spanprobe query text wins over the otel agent's", args: []string{"--pid", "1"}, env: map[string]string{"OTEL_GO_AUTO_INCLUDE_DB_STATEMENT": "false", "SPANPROBE_DB_QUERY_TEXT": "raw"}, check: wantQueryText(probe.QueryTextRaw)},
		{name: "query text flag wins over env", args: []string{"--pid", "1", "--db-query-text", "off"}, env: map[string]string{"SPANPROBE_DB_QUERY_TEXT": "raw"}, check: wantQueryText(probe.QueryTextOff)},
		{name: "bad otel statement opt-in", args: []string{"--pid", "1"}, env: map[string]string{"OTEL_GO_AUTO_INCLUDE_DB_STATEMENT": "yes please"}, wantErr: `invalid OTEL_GO_AUTO_INCLUDE_DB_STATEMENT="yes please": want true or false`},
		{name: "exit probes default auto", args: []string{"--pid", "1"}, check: func(t *testing.T, c config) {
			if c.agent.Exits != probe.ExitsAuto {
				t.Errorf("exits = %v, want auto", c.agent.Exits)
			}
		}},
		{name: "exit probes from env, flag wins", args: []string{"--pid", "1", "--exit-probes", "ret"}, env: map[string]string{"SPANPROBE_EXIT_PROBES": "uprobe"}, check: func(t *testing.T, c config) {
			if c.agent.Exits != probe.ExitsReturns {
				t.Errorf("exits = %v, want ret", c.agent.Exits)
			}
		}},
		{name: "exit probes env", args: []string{"--pid", "1"}, env: map[string]string{"SPANPROBE_EXIT_PROBES": "uprobe"}, check: func(t *testing.T, c config) {
			if c.agent.Exits != probe.ExitsUprobes {
				t.Errorf("exits = %v, want uprobe", c.agent.Exits)
			}
		}},
		{name: "ret probes flag is exit probes ret", args: []string{"--pid", "1", "--ret-probes"}, check: func(t *testing.T, c config) {
			if c.agent.Exits != probe.ExitsReturns {
				t.Errorf("exits = %v, want ret", c.agent.Exits)
			}
		}},
		{name: "ret probes env false keeps uprobe", args: []string{"--pid", "1"}, env: map[string]string{"SPANPROBE_EXIT_PROBES": "uprobe", "SPANPROBE_RET_PROBES": "false"}, check: func(t *testing.T, c config) {
			if c.agent.Exits != probe.ExitsUprobes {
				t.Errorf("exits = %v, want uprobe", c.agent.Exits)
			}
		}},
		{name: "bad exit probes", args: []string{"--pid", "1"}, env: map[string]string{"SPANPROBE_EXIT_PROBES": "kprobe"}, wantErr: "invalid SPANPROBE_EXIT_PROBES=\"kprobe\": want auto, uprobe, ret"},
		{name: "bad exit probes flag", args: []string{"--pid", "1", "--exit-probes", "never"}, wantErr: "want auto, uprobe, ret"},
		{name: "bad ret probes", args: []string{"--pid", "1"}, env: map[string]string{"SPANPROBE_RET_PROBES": "maybe"}, wantErr: "invalid SPANPROBE_RET_PROBES"},
		{name: "env then flag precedence", args: []string{"--pid", "1", "--log-level", "warn", "--scan-interval", "2s"},
			env: map[string]string{"SPANPROBE_LOG_LEVEL": "debug", "SPANPROBE_SCAN_INTERVAL": "1s", "SPANPROBE_HEALTH_ADDR": ":9"},
			check: func(t *testing.T, c config) {
				if c.logLevel != slog.LevelWarn || c.agent.ScanInterval != 2*time.Second || c.healthAddr != ":9" {
					t.Errorf("level %v interval %v health %q", c.logLevel, c.agent.ScanInterval, c.healthAddr)
				}
			}},
		{name: "default memory limit", args: []string{"--pid", "1"}, check: func(t *testing.T, c config) {
			if want := int64(17 << 20); c.memoryLimit != want {
				t.Errorf("memory limit %d, want %d", c.memoryLimit, want)
			}
		}},
		{name: "memory limit grows with the queue", args: []string{"--pid", "1"}, env: map[string]string{"OTEL_BSP_MAX_QUEUE_SIZE": "100000"}, check: func(t *testing.T, c config) {
			if want := int64(13<<20 + 100000<<11); c.memoryLimit != want {
				t.Errorf("memory limit %d, want %d", c.memoryLimit, want)
			}
		}},
		{name: "one P by default", args: []string{"--pid", "1"}, check: func(t *testing.T, c config) {
			if c.maxProcs != 1 {
				t.Errorf("GOMAXPROCS %d, want 1", c.maxProcs)
			}
		}},
		{name: "GOMAXPROCS wins", args: []string{"--pid", "1"}, env: map[string]string{"GOMAXPROCS": "4"}, check: func(t *testing.T, c config) {
			if c.maxProcs != 0 {
				t.Errorf("GOMAXPROCS %d with GOMAXPROCS set, want 0 (the runtime's)", c.maxProcs)
			}
		}},
		{name: "GOMEMLIMIT wins", args: []string{"--pid", "1"}, env: map[string]string{"GOMEMLIMIT": "off"}, check: func(t *testing.T, c config) {
			if c.memoryLimit != 0 {
				t.Errorf("memory limit %d with GOMEMLIMIT set, want 0 (the runtime's)", c.memoryLimit)
			}
		}},
		{name: "funcs from env", args: []string{"--pid", "1"}, env: map[string]string{"SPANPROBE_FUNCS": "main.a, main.(*T).B,", "SPANPROBE_FUNC_ARGS": "true"},
			check: func(t *testing.T, c config) {
				if strings.Join(c.agent.Funcs, "|") != "main.a|main.(*T).B" || !c.agent.FuncArgs {
					t.Errorf("funcs %q args %v", c.agent.Funcs, c.agent.FuncArgs)
				}
			}},
		{name: "func flags replace env and repeat", args: []string{"--pid", "1", "--func", "main.*", "--func", "pkg.F", "--func-args=false"},
			env: map[string]string{"SPANPROBE_FUNCS": "main.a", "SPANPROBE_FUNC_ARGS": "1"},
			check: func(t *testing.T, c config) {
				if strings.Join(c.agent.Funcs, "|") != "main.*|pkg.F" || c.agent.FuncArgs {
					t.Errorf("funcs %q args %v", c.agent.Funcs, c.agent.FuncArgs)
				}
			}},
		{name: "func args off by default", args: []string{"--pid", "1", "--func", "main.a"}, check: func(t *testing.T, c config) {
			if c.agent.FuncArgs {
				t.Error("func args on by default")
			}
		}},
		{name: "bad func args", args: []string{"--pid", "1"}, env: map[string]string{"SPANPROBE_FUNC_ARGS": "sometimes"}, wantErr: "invalid SPANPROBE_FUNC_ARGS"},
		{name: "empty func flag", args: []string{"--pid", "1", "--func", " "}, wantErr: "function name"},
		{name: "invalid exporter variable", args: []string{"--pid", "1"}, env: map[string]string{"OTEL_TRACES_EXPORTER": "carrier-pigeon"}, wantErr: "OTEL_TRACES_EXPORTER"},
		{name: "no exporter variables: embedded console default", args: []string{"--pid", "1"}, check: func(t *testing.T, c config) {
			if !c.export.Embedded {
				t.Error("export config not marked embedded")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lookup := func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok }
			c, err := loadConfig(tt.args, lookup, io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to mention %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

// wantQueryText checks the --db-query-text the agent gets.
func wantQueryText(want probe.QueryText) func(*testing.T, config) {
	return func(t *testing.T, c config) {
		if c.agent.QueryText != want {
			t.Errorf("query text = %q, want %q", c.agent.QueryText, want)
		}
	}
}
