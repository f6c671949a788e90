package e2e

import (
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spanprobe/spanprobe/internal/otlptest"
)

// matrixCalls need nothing newer than Go 1.17 from the app; callsFor sets
// what each release must report for them.
var matrixCalls = []call{
	{method: "GET", target: "/hello", status: 200, name: "GET"},
	{method: "GET", target: "/hello", userAgent: "spanprobe-matrix/1", status: 200, name: "GET"},
	{method: "GET", target: "/status/503", status: 503, name: "GET"},
	{method: "GET", target: "/sleep?ms=50", status: 200, name: "GET", minDur: 50 * time.Millisecond},
	{method: "GET", target: "/nope", status: 404, name: "GET"},
	// A body: the request starts at another site, and reading it to the
	// end starts the background read then (server.bpf.c).
	{method: "POST", target: "/echo", body: "ping", status: 200, name: "POST"},
}

// goBefore reports whether goVersion ("go1.21.13") is older than Go 1.minor.
func goBefore(goVersion string, minor int) bool {
	var m int
	fmt.Sscanf(goVersion, "go1.%d", &m)
	return m < minor
}

// callsFor adapts the calls to the release: from Go 1.22 (routing turned on
// by matrixapp) every registered path is a pattern and gives a route, and
// /items/{id} exists; before, no request has a route.
func callsFor(goVersion string) []call {
	calls := append(slices.Clone(matrixCalls), call{method: "GET", target: "/items/42", status: 404, name: "GET"})
	if goBefore(goVersion, 22) {
		return calls
	}
	routes := map[string]string{"/hello": "/hello", "/echo": "/echo", "/status/503": "/status/", "/sleep?ms=50": "/sleep", "/items/42": "/items/{id}"}
	for i, c := range calls {
		if r, ok := routes[c.target]; ok {
			calls[i].route, calls[i].name = r, c.method+" "+r
		}
		if c.target == "/items/42" {
			calls[i].status = 200
		}
	}
	return calls
}

// TestGoVersionMatrix builds matrixapp with every Go release listed in
// SPANPROBE_TOOLCHAIN_VERSIONS (GOROOTs under SPANPROBE_TOOLCHAIN_DIR; .ci/run
// installs the newest patch of each minor from 1.17 on), plain and stripped,
// and checks the server spans of each build like TestServerSpansOTLP does.
func TestGoVersionMatrix(t *testing.T) {
	requireBPF(t)
	dir, list := toolchains(t)
	src, err := filepath.Abs("testdata/matrixapp")
	if err != nil {
		t.Fatal(err)
	}
	var results []string
	for _, v := range strings.Split(list, ",") {
		for _, stripped := range []bool{false, true} {
			name := v
			if stripped {
				name += "-stripped"
			}
			ok := t.Run(name, func(t *testing.T) {
				bin := filepath.Join(t.TempDir(), "matrixapp")
				args := []string{"build", "-o", bin}
				if stripped {
					args = append(args, "-ldflags=-s -w")
				}
				goroot := filepath.Join(dir, v)
				cmd := exec.Command(filepath.Join(goroot, "bin", "go"), append(args, ".")...)
				cmd.Dir = src
				cmd.Env = append(os.Environ(), toolchainEnv(goroot)...)
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("building with %s: %v\n%s", v, err, out)
				}
				down := startDownstream(t)
				rcv := otlptest.Start(t)
				a := startApp(t, bin, "-downstream", down.URL)
				agent := startAgent(t, otlpEnv(rcv.Endpoint()), "--pid", strconv.Itoa(a.pid()), "--log-level", "debug")
				waitAttached(t, agent)
				checkExitSites(t, agent, nil)
				// database/sql runs *DB calls through DB.retry from Go 1.20.
				checkDBExitSites(t, agent, !goBefore(v, 20))
				checkClientExitSites(t, agent, true)
				calls := sendAll(t, a.addr, callsFor(v))
				// Keep-alive and pipelined too: the requests then end on
				// the socket operations that follow their responses.
				calls = append(calls, sendOnOneConn(t, a.addr, callsFor(v), false)...)
				calls = append(calls, sendOnOneConn(t, a.addr, callsFor(v), true)...)
				tr := matrixTree(down.URL, v)
				treeSent := sendAll(t, a.addr, []call{tr.call})
				agent.stop(t, 15*time.Second)

				spans := rcv.Spans()
				inTree := func(s otlptest.Span) bool { return hex.EncodeToString(s.Span.GetTraceId()) == incomingTrace }
				checkServerSpans(t, slices.DeleteFunc(slices.Clone(spans), inTree), calls, wantResource{pid: a.pid(), exePath: bin, goVersion: v})
				checkTrees(t, slices.DeleteFunc(slices.Clone(spans), func(s otlptest.Span) bool { return !inTree(s) }), []tree{tr}, treeSent)
			})
			status := "pass"
			if !ok {
				status = "FAIL"
			}
			results = append(results, fmt.Sprintf("%-22s %s", name, status))
		}
	}
	t.Logf("Go version matrix (server spans; one request tree of client, database/sql and goroutine spans under a traceparent):\n%s", strings.Join(results, "\n"))
}

// toolchains returns the matrix's toolchain directory and its
// comma-separated releases, or skips the test without them (fails in CI).
func toolchains(t *testing.T) (dir, list string) {
	t.Helper()
	dir, list = os.Getenv("SPANPROBE_TOOLCHAIN_DIR"), os.Getenv("SPANPROBE_TOOLCHAIN_VERSIONS")
	if dir == "" || list == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("SPANPROBE_TOOLCHAIN_DIR / SPANPROBE_TOOLCHAIN_VERSIONS unset in CI: .ci/run installs the toolchains")
		}
		t.Skip("no toolchains: set SPANPROBE_TOOLCHAIN_DIR and SPANPROBE_TOOLCHAIN_VERSIONS (see .ci/run)")
	}
	return dir, list
}

// toolchainEnv is the environment that builds with the toolchain at goroot.
// GOENV=off: releases before 1.18 reject the machine's -buildvcs.
func toolchainEnv(goroot string) []string {
	return []string{"GOENV=off", "GOFLAGS=", "GOROOT=" + goroot, "GOTOOLCHAIN=local", "GOWORK=off", "CGO_ENABLED=0"}
}

// matrixTree is matrixapp's /calls with a traceparent: two outgoing calls
// (one with the request's context, one from a goroutine without it) and
// database/sql calls through its own driver, one of them failing.
func matrixTree(down, goVersion string) tree {
	get := child{name: "GET", scope: clientScope, attrs: map[string]any{
		"url.full": down + "/hello", "http.response.status_code": int64(200), "error.type": absent{},
	}}
	name := "GET"
	if callsFor(goVersion)[0].route != "" { // pattern routing: /calls is a route too
		name = "GET /calls"
	}
	db := func(name, op, text string) child {
		c := child{name: name, scope: dbScope, attrs: map[string]any{"db.system.name": "other_sql", "db.operation.name": op, "error.type": absent{}}}
		if text != "" {
			c.attrs["db.query.text"] = text
		}
		return c
	}
	failed := db("UPDATE missing", "UPDATE", "UPDATE missing SET a = ?")
	failed.err, failed.attrs["error.type"] = true, "*main.queryError"
	return tree{
		call: call{method: "GET", target: "/calls", status: 200, name: name, traceparent: "00-" + incomingTrace + "-" + incomingParent + "-01"},
		children: []child{get, get,
			db("SELECT t", "SELECT", "SELECT a FROM t WHERE b = ?"),
			db("BEGIN", "BEGIN", ""),
			db("INSERT t", "INSERT", "INSERT INTO t (a) VALUES (?)"),
			db("COMMIT", "COMMIT", ""),
			failed,
		},
		trace: incomingTrace, parent: incomingParent,
	}
}
