package headscan

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
)

// Sizes from traceparent.h.
const (
	scanMax       = 4096
	nameLen       = len("traceparent:")
	traceparentSz = 55
)

// want is what the scan must report for a buffer.
type want struct {
	found         int32 // 1 valid, 0 none, -1 invalid
	head          uint32
	ua, uaEnd     int32    // the User-Agent value and the line feed after it, -1: none
	trace, parent [16]byte // parent in the first 8 bytes
	flags         byte
}

// reference is the scan's contract written plainly: the current head
// starts after the last blank line ("\n\r\n") that has bytes after it; a
// line of that head whose name folds to "traceparent:" or "user-agent:"
// (ASCII | 0x20, as the probe compares) gives that value, the last such
// line winning; a User-Agent value ends at the next line feed.
func reference(b []byte) want {
	b = b[:min(len(b), scanMax)]
	n := len(b)
	w := want{ua: -1, uaEnd: -1}
	value := -1
	for j := 0; j < n; j++ {
		if b[j] != '\n' {
			continue
		}
		if w.ua >= 0 && w.uaEnd < 0 {
			w.uaEnd = int32(j)
		}
		if j >= 2 && b[j-1] == '\r' && b[j-2] == '\n' {
			if j+1 < n {
				w.head = uint32(j + 1)
				value, w.ua, w.uaEnd = -1, -1, -1
			}
			continue
		}
		switch line := b[j+1:]; {
		case len(line) >= nameLen && foldsTo(line[:nameLen], "traceparent:"):
			value = j + 1 + nameLen
		case len(line) >= len("user-agent:") && foldsTo(line[:len("user-agent:")], "user-agent:"):
			w.ua, w.uaEnd = int32(j+1+len("user-agent:")), -1
		}
	}
	if value < 0 {
		return w
	}
	v := value
	for k := 0; k < 4 && v < n && (b[v] == ' ' || b[v] == '\t'); k++ {
		v++
	}
	w.found = -1
	if v+traceparentSz >= n {
		return w
	}
	p := b[v:]
	version, ok := hexByte(p[0:2])
	if !ok || version == 0xff || p[2] != '-' || p[35] != '-' || p[52] != '-' {
		return w
	}
	if !lowerHex(p[3:35], w.trace[:]) || !lowerHex(p[36:52], w.parent[:8]) {
		return w
	}
	if w.trace == ([16]byte{}) || w.parent == ([16]byte{}) {
		return w
	}
	flags, ok := hexByte(p[53:55])
	after := p[traceparentSz]
	if !ok || !(strings.IndexByte("\r\n \t", after) >= 0 || version > 0 && after == '-') {
		return w
	}
	w.found, w.flags = 1, flags
	return w
}

func foldsTo(p []byte, name string) bool {
	for k := range p {
		if p[k]|0x20 != name[k] {
			return false
		}
	}
	return true
}

// lowerHex decodes the lower-case hex in p into out (the specification
// allows no upper case).
func lowerHex(p, out []byte) bool {
	for i := range out {
		v, ok := hexByte(p[2*i : 2*i+2])
		if !ok {
			return false
		}
		out[i] = v
	}
	return true
}

func hexByte(p []byte) (byte, bool) {
	if bytes.ContainsAny(p, "ABCDEF") {
		return 0, false
	}
	v, err := hex.DecodeString(string(p))
	if err != nil {
		return 0, false
	}
	return v[0], true
}

// scanner runs the BPF scan.
type scanner struct{ prog *ebpf.Program }

func newScanner(t *testing.T) *scanner {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("requires root (CAP_BPF, CAP_PERFMON) to run BPF programs")
	}
	var objs headscanObjects
	if err := loadHeadscanObjects(&objs, nil); err != nil {
		t.Fatalf("loading the scan program: %v", err)
	}
	t.Cleanup(func() { objs.Close() })
	return &scanner{prog: objs.ScanHead}
}

func (s *scanner) scan(t *testing.T, b []byte) want {
	t.Helper()
	var c headscanScanCase
	for i := range min(len(b), len(c.B)) {
		c.B[i] = int8(b[i])
	}
	c.N = uint32(len(b))
	var out headscanScanCase
	ret, err := s.prog.Run(&ebpf.RunOptions{Context: c, ContextOut: &out})
	if err != nil || ret != 0 {
		t.Fatalf("running the scan program: ret %d, %v", ret, err)
	}
	w := want{found: out.Found, head: out.Head, ua: out.Ua, uaEnd: out.UaEnd, trace: out.Sc.TraceId, flags: out.Sc.Flags}
	copy(w.parent[:8], out.Sc.SpanId[:])
	if w.found != 1 {
		w.trace, w.parent, w.flags = [16]byte{}, [16]byte{}, 0 // undefined then
	} else if out.Sc.Remote != 1 {
		t.Errorf("parsed traceparent not marked remote")
	}
	return w
}

func check(t *testing.T, s *scanner, what string, b []byte) {
	t.Helper()
	got, exp := s.scan(t, b), reference(b)
	if exp.found != 1 {
		exp.trace, exp.parent, exp.flags = [16]byte{}, [16]byte{}, 0
	}
	if got != exp {
		t.Errorf("%s:\n%q\n got found=%d head=%d ua=%d..%d trace=%x parent=%x flags=%d\nwant found=%d head=%d ua=%d..%d trace=%x parent=%x flags=%d",
			what, b, got.found, got.head, got.ua, got.uaEnd, got.trace, got.parent[:8], got.flags,
			exp.found, exp.head, exp.ua, exp.uaEnd, exp.trace, exp.parent[:8], exp.flags)
	}
}

const (
	validTP = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
)

// TestScanCases covers the cases one by one: header name casing, spacing,
// invalid values, pipelined heads, truncated buffers.
func TestScanCases(t *testing.T) {
	s := newScanner(t)
	head := func(lines ...string) string {
		return "GET /hello HTTP/1.1\r\nHost: example.com\r\n" + strings.Join(lines, "") + "\r\n"
	}
	cases := map[string]string{
		"none":              head("User-Agent: curl/8.0\r\n"),
		"valid":             head("traceparent: " + validTP + "\r\n"),
		"upper name":        head("TRACEPARENT: " + validTP + "\r\n"),
		"no space":          head("Traceparent:" + validTP + "\r\n"),
		"tabs":              head("traceparent:\t\t" + validTP + "\r\n"),
		"first header":      "GET / HTTP/1.1\r\ntraceparent: " + validTP + "\r\n\r\n",
		"upper hex":         head("traceparent: " + strings.ToUpper(validTP) + "\r\n"),
		"version ff":        head("traceparent: ff" + validTP[2:] + "\r\n"),
		"future version":    head("traceparent: 01" + validTP[2:] + "-more\r\n"),
		"00 with extra":     head("traceparent: " + validTP + "-more\r\n"),
		"zero trace":        head("traceparent: 00-" + strings.Repeat("0", 32) + validTP[35:] + "\r\n"),
		"zero parent":       head("traceparent: " + validTP[:36] + strings.Repeat("0", 16) + "-01\r\n"),
		"short":             head("traceparent: " + validTP[:40] + "\r\n"),
		"two, last wins":    head("traceparent: "+validTP+"\r\n", "traceparent: 00-11111111111111111111111111111111-2222222222222222-00\r\n"),
		"in previous head":  head("traceparent: "+validTP+"\r\n") + head(),
		"in current head":   head() + head("traceparent: "+validTP+"\r\n"),
		"bare line feeds":   "GET / HTTP/1.1\ntraceparent: " + validTP + "\n\n",
		"value at the end":  head() + "GET / HTTP/1.1\r\ntraceparent: " + validTP,
		"truncated value":   head() + "GET / HTTP/1.1\r\ntraceparent: " + validTP[:20],
		"name cut":          "GET / HTTP/1.1\r\ntracepar",
		"blank line at end": head("traceparent: " + validTP + "\r\n"),
		"user agent":        head("User-Agent: Mozilla/5.0 (X11)\r\n"),
		"user agent, case":  head("user-AGENT:x/1\r\n", "traceparent: "+validTP+"\r\n"),
		"user agent cut":    "GET / HTTP/1.1\r\nUser-Agent: Mozilla/5.0 (X1",
		"user agent before": head("User-Agent: old\r\n") + head("Accept: */*\r\n"),
		"two user agents":   head("User-Agent: a\r\n", "User-Agent: b\r\n"),
	}
	for what, b := range cases {
		check(t, s, what, []byte(b))
	}
	// Every alignment of the line feeds against the scan's 8-byte words.
	for pad := range 24 {
		b := head("X-Pad: "+strings.Repeat("p", pad)+"\r\n", "traceparent: "+validTP+"\r\n", "User-Agent: ua/1\r\n", "Accept: */*\r\n")
		check(t, s, fmt.Sprintf("pad %d", pad), []byte(b))
		check(t, s, fmt.Sprintf("pad %d, pipelined", pad), []byte(b+b[:pad+30]))
	}
}

// TestScanRandom compares the BPF scan with the reference on random heads
// (and random bytes), long ones past the scanned size included.
func TestScanRandom(t *testing.T) {
	s := newScanner(t)
	rng := rand.New(rand.NewPCG(1, 2))
	names := []string{"Host", "User-Agent", "user-agent", "User-Agentx", "Accept", "Cookie", "X-Request-Id", "traceparent", "Traceparent", "TRACEPARENT", "tracestate", "traceparentx", "Content-Length"}
	tps := []string{validTP, "00-" + strings.Repeat("ab", 16) + "-" + strings.Repeat("cd", 8) + "-00", strings.ToUpper(validTP), "01" + validTP[2:] + "-x", validTP[:30], "garbage"}
	randomText := func(n int, alphabet string) string {
		var sb strings.Builder
		for range n {
			sb.WriteByte(alphabet[rng.IntN(len(alphabet))])
		}
		return sb.String()
	}
	for i := range 3000 {
		var sb strings.Builder
		for range rng.IntN(3) + 1 { // pipelined heads, the last one current
			sb.WriteString("GET /" + randomText(rng.IntN(40), "abc/?=&") + " HTTP/1.1\r\n")
			for range rng.IntN(12) {
				name := names[rng.IntN(len(names))]
				value := randomText(rng.IntN(120), "abcdefXYZ0123 ;=,-")
				if strings.EqualFold(name, "traceparent") {
					value = strings.Repeat(" ", rng.IntN(3)) + tps[rng.IntN(len(tps))]
				}
				sb.WriteString(name + ":" + value + "\r\n")
			}
			sb.WriteString("\r\n")
		}
		b := []byte(sb.String())
		if i%7 == 0 {
			b = b[:rng.IntN(len(b)+1)] // a cut buffer
		}
		if i%11 == 0 {
			b = []byte(randomText(rng.IntN(300), "\r\n\v\t :tracepTRACEP0-1afusg"))
		}
		if i%97 == 0 {
			b = append(bytes.Repeat([]byte("X-Long: "+strings.Repeat("l", 90)+"\r\n"), 50), b...) // past 4096
		}
		check(t, s, fmt.Sprintf("case %d", i), b)
		if t.Failed() {
			return
		}
	}
}
