package e2e

import (
	"bufio"
	"bytes"
	"cmp"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/spanprobe/spanprobe/internal/otlptest"
)

// flushed is a request whose handler puts the whole response on the wire
// itself, so the server writes nothing more when it finishes it: its end is
// the keep-alive read for the next request, the connection's close, or the
// start of a pipelined request already read.
var flushed = call{method: "GET", target: "/flushed", status: 200, name: "GET /flushed", route: "/flushed"}

// TestServerExits ends requests every way a connection can go on after a
// response, for each kind of exit site: the response written at the end,
// or already written by the handler, followed by a keep-alive read, by the
// connection's close, or by a pipelined request the server had already
// read. Every request must get one span, with its own status and a
// duration inside the request's time.
func TestServerExits(t *testing.T) {
	requireBPF(t)
	keepAlive := []call{serverCalls[0], flushed, serverCalls[2], flushed, flushed, serverCalls[7], serverCalls[12], flushed, serverCalls[0]}
	for _, mode := range []string{"auto", "uprobe"} {
		t.Run(mode, func(t *testing.T) {
			rcv := otlptest.Start(t)
			a := startApp(t, bins.app)
			flags := []string{"--pid", strconv.Itoa(a.pid()), "--exit-probes", mode, "--log-level", "debug"}
			agent := startAgent(t, otlpEnv(rcv.Endpoint()), flags...)
			waitAttached(t, agent)
			if mode == "auto" {
				checkExitSites(t, agent, nil)
			} else {
				checkExitSites(t, agent, []string{"uprobe"})
			}

			var calls []sent
			calls = append(calls, sendOnOneConn(t, a.addr, keepAlive, false)...)
			calls = append(calls, sendAll(t, a.addr, []call{flushed, flushed})...) // Connection: close
			calls = append(calls, sendOnOneConn(t, a.addr, []call{flushed, flushed, serverCalls[0], flushed}, true)...)
			agent.stop(t, 15*time.Second)
			checkServerSpans(t, rcv.Spans(), calls, wantResource{pid: a.pid(), exePath: bins.app})
		})
	}
}

// TestServerSpansTLS traces an HTTPS server (HTTP/1.1 over crypto/tls):
// the response goes out through tls.Conn on the serving goroutine, and the
// spans say url.scheme https. Connections closed after each response, then
// one keep-alive connection.
func TestServerSpansTLS(t *testing.T) {
	requireBPF(t)
	rcv := otlptest.Start(t)
	a := startApp(t, bins.app, "-tls")
	agent := startAgent(t, otlpEnv(rcv.Endpoint()), "--pid", strconv.Itoa(a.pid()), "--log-level", "debug")
	waitAttached(t, agent)
	checkExitSites(t, agent, nil)
	conf := &tls.Config{InsecureSkipVerify: true} // the app's certificate is self-signed
	calls := sendAllOver(t, a.addr, serverCalls, conf)
	calls = append(calls, sendOnOneConnOver(t, a.addr, []call{serverCalls[0], flushed, serverCalls[2], serverCalls[7], flushed}, false, conf)...)
	agent.stop(t, 15*time.Second)
	checkServerSpans(t, rcv.Spans(), calls, wantResource{pid: a.pid(), exePath: bins.app})
}

// keepAliveGap is the pause between one response and the next request on
// a keep-alive connection.
const keepAliveGap = 25 * time.Millisecond

// sendOnOneConn sends the calls over one keep-alive connection, one after
// another or, pipelined, all in one write before reading any response. It
// closes the connection after the last response.
func sendOnOneConn(t testing.TB, addr string, calls []call, pipelined bool) []sent {
	t.Helper()
	return sendOnOneConnOver(t, addr, calls, pipelined, nil)
}

// sendOnOneConnOver is sendOnOneConn over TLS when tlsConfig is not nil.
func sendOnOneConnOver(t testing.TB, addr string, calls []call, pipelined bool, tlsConfig *tls.Config) []sent {
	t.Helper()
	var conn net.Conn
	var err error
	scheme := schemeFor(tlsConfig)
	if tlsConfig != nil {
		conn, err = tls.Dial("tcp", addr, tlsConfig)
	} else {
		conn, err = net.Dial("tcp", addr)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	port := conn.LocalAddr().(*net.TCPAddr).Port
	out := make([]sent, len(calls))
	var reqs []*http.Request
	var wire bytes.Buffer
	for i, c := range calls {
		req := callRequest(t, t.Context(), c, scheme+"://"+addr)
		reqs = append(reqs, req)
		out[i] = sent{call: c, addr: addr, localPort: port, scheme: scheme}
		if pipelined {
			if err := req.Write(&wire); err != nil {
				t.Fatal(err)
			}
		}
	}
	br := bufio.NewReader(conn)
	if pipelined {
		now := time.Now()
		for i := range out {
			out[i].start = now
		}
		if _, err := conn.Write(wire.Bytes()); err != nil {
			t.Fatal(err)
		}
	}
	for i, req := range reqs {
		if !pipelined {
			if i > 0 {
				// A request's end must not be taken for its successor's
				// start: the gap puts the next request well past the
				// previous one's end (clockSlack).
				time.Sleep(cmp.Or(calls[i-1].pause, keepAliveGap))
			}
			out[i].start = time.Now()
			if err := req.Write(conn); err != nil {
				t.Fatal(err)
			}
		}
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			t.Fatalf("%s %s: %v", req.Method, req.URL, err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		out[i].end = time.Now()
		c := calls[i]
		if err != nil || resp.StatusCode != c.status || (c.body != "" && string(got) != c.body) {
			t.Fatalf("%s %s: status %d, body %q, error %v; want status %d", c.method, c.target, resp.StatusCode, got, err, c.status)
		}
	}
	return out
}

// TestServerFlushedEarly: a handler that puts its whole response on the
// wire, then runs on for 300 ms. Its span must last the handler's time,
// not end at the flush, and end at the keep-alive read that follows, before
// the next request is sent 200 ms later.
func TestServerFlushedEarly(t *testing.T) {
	requireBPF(t)
	rcv := otlptest.Start(t)
	a := startApp(t, bins.app)
	agent := startAgent(t, otlpEnv(rcv.Endpoint()), "--pid", strconv.Itoa(a.pid()), "--log-level", "debug")
	waitAttached(t, agent)
	checkExitSites(t, agent, nil)
	slow := flushed
	slow.target, slow.minDur, slow.pause = "/flushed?ms=300", 300*time.Millisecond, 500*time.Millisecond
	calls := sendOnOneConn(t, a.addr, []call{slow, serverCalls[0]}, false)
	calls[0].end = calls[1].start // the client had the response at the flush
	agent.stop(t, 15*time.Second)
	checkServerSpans(t, rcv.Spans(), calls, wantResource{pid: a.pid(), exePath: bins.app})
}
