package server

import (
	"testing"
	"time"
	"unsafe"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/spanprobe/spanprobe/instrumentation/probe"
	"github.com/spanprobe/spanprobe/internal/goexe"
	"github.com/spanprobe/spanprobe/internal/metrics"
)

type req struct {
	method, path, host, remote, route, ua string
	status, major, minor                  int64
	tls                                   bool
}

// record returns r as the probe sends it: the fixed part, which edit (when
// not nil) may change, then the texts in the probe's order.
func record(r req, edit func(*serverHttpServerEvent)) []byte {
	ev := &serverHttpServerEvent{Status: r.status, ProtoMajor: r.major, ProtoMinor: r.minor,
		MethodLen: uint16(len(r.method)), PathLen: uint16(len(r.path)), HostLen: uint16(len(r.host)),
		RemoteLen: uint16(len(r.remote)), UserAgentLen: uint16(len(r.ua)), RouteLen: uint16(len(r.route))}
	ev.TextLen = ev.MethodLen + ev.PathLen + ev.HostLen + ev.RemoteLen + ev.UserAgentLen + ev.RouteLen
	if r.tls {
		ev.Tls = 1
	}
	if edit != nil {
		edit(ev)
	}
	return probe.RecordBytes(ev, r.method, r.path, r.host, r.remote, r.ua, r.route)
}

func attrs(s *tracetest.SpanStub) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes {
		if _, dup := m[kv.Key]; dup {
			panic("duplicate attribute " + kv.Key)
		}
		m[kv.Key] = kv.Value
	}
	return m
}

func TestFillSpan(t *testing.T) {
	tests := []struct {
		name     string
		in       req
		wantName string
		want     map[string]any // attribute -> string or int; nil value: must be absent
		wantErr  bool
	}{
		{
			name: "pattern matched, implicit 200",
			in: req{method: "GET", path: "/items/42", host: "127.0.0.1:8080", remote: "127.0.0.1:51234", route: "GET /items/{id}",
				major: 1, minor: 1, ua: " probe-test/2\r"},
			wantName: "GET /items/{id}",
			want: map[string]any{
				"http.request.method": "GET", "url.path": "/items/42", "url.scheme": "http", "http.response.status_code": 200,
				"http.route": "/items/{id}", "server.address": "127.0.0.1", "server.port": 8080, "network.peer.address": "127.0.0.1",
				"network.peer.port": 51234, "network.protocol.version": "1.1", "user_agent.original": "probe-test/2", "error.type": nil,
			},
		},
		{
			name:     "no pattern: name is the method alone, no route",
			in:       req{method: "POST", path: "/nope", host: "example.com", remote: "[::1]:4000", status: 404, major: 1, minor: 0},
			wantName: "POST",
			want: map[string]any{"http.route": nil, "http.response.status_code": 404, "server.address": "example.com", "server.port": 80,
				"network.peer.address": "::1", "network.peer.port": 4000, "network.protocol.version": "1.0", "user_agent.original": nil},
		},
		{
			name:     "5xx is an error with error.type",
			in:       req{method: "GET", path: "/s", route: "/s", status: 503, major: 1, minor: 1},
			wantName: "GET /s",
			want:     map[string]any{"http.response.status_code": 503, "error.type": "503"},
			wantErr:  true,
		},
		{
			name:     "tls gives https and port 443",
			in:       req{method: "GET", path: "/", host: "secure.example", tls: true, major: 1, minor: 1},
			wantName: "GET",
			want:     map[string]any{"url.scheme": "https", "server.port": 443},
		},
		{
			name:     "unknown method is _OTHER, span named HTTP",
			in:       req{method: "BREW", path: "/pot", route: "BREW /pot", major: 1, minor: 1},
			wantName: "HTTP /pot",
			want:     map[string]any{"http.request.method": "_OTHER", "http.request.method_original": "BREW"},
		},
		{
			name:     "pattern with host keeps only the path",
			in:       req{method: "GET", path: "/a", route: "GET example.com/a/{x...}", major: 2},
			wantName: "GET /a/{x...}",
			want:     map[string]any{"http.route": "/a/{x...}", "network.protocol.version": "2"},
		},
		{
			name:     "blank user agent is left out",
			in:       req{method: "GET", path: "/b", major: 1, minor: 1, ua: " \t\r"},
			wantName: "GET",
			want:     map[string]any{"user_agent.original": nil},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s tracetest.SpanStub
			if err := decode(record(tt.in, nil), &s, nil); err != nil {
				t.Fatal(err)
			}
			if s.Name != tt.wantName {
				t.Errorf("name = %q, want %q", s.Name, tt.wantName)
			}
			if s.SpanKind != trace.SpanKindServer {
				t.Errorf("kind = %v, want server", s.SpanKind)
			}
			if got := s.Status.Code == codes.Error; got != tt.wantErr {
				t.Errorf("error status = %v, want %v", got, tt.wantErr)
			}
			got := attrs(&s)
			for k, want := range tt.want {
				v, ok := got[attribute.Key(k)]
				switch w := want.(type) {
				case nil:
					if ok {
						t.Errorf("%s = %v, want absent", k, v.Emit())
					}
				case string:
					if !ok || v.AsString() != w {
						t.Errorf("%s = %q (present %v), want %q", k, v.Emit(), ok, w)
					}
				case int:
					if !ok || v.AsInt64() != int64(w) {
						t.Errorf("%s = %v (present %v), want %d", k, v.Emit(), ok, w)
					}
				}
			}
		})
	}
}

func TestDecodeShortRecord(t *testing.T) {
	var s tracetest.SpanStub
	if err := decode(make([]byte, eventSize-1), &s, nil); err == nil {
		t.Error("decode accepted a record shorter than its fixed part")
	}
	full := record(req{method: "GET", path: "/a", route: "/a"}, nil)
	if err := decode(full, &s, nil); err != nil {
		t.Fatalf("decode refused a whole record: %v", err)
	}
	if err := decode(full[:len(full)-1], &s, nil); err == nil {
		t.Error("decode accepted a record one byte shorter than its texts")
	}
}

// TestDecodeTextsInOrder: each text is cut from the record where the probe
// put it, so swapping two lengths shows in the span.
func TestDecodeTextsInOrder(t *testing.T) {
	r := req{method: "GET", path: "/p", host: "h:81", remote: "10.0.0.1:5", ua: "ua/1", route: "/r"}
	var s tracetest.SpanStub
	if err := decode(record(r, nil), &s, nil); err != nil {
		t.Fatal(err)
	}
	got := attrs(&s)
	for k, want := range map[string]string{"url.path": "/p", "server.address": "h", "network.peer.address": "10.0.0.1", "user_agent.original": "ua/1", "http.route": "/r"} {
		if v := got[attribute.Key(k)]; v.AsString() != want {
			t.Errorf("%s = %q, want %q", k, v.Emit(), want)
		}
	}
	if s.Name != "GET /r" {
		t.Errorf("name = %q, want %q", s.Name, "GET /r")
	}
}

func TestConstantsRouteSource(t *testing.T) {
	tests := []struct {
		name  string
		found map[string]bool
		want  uint32
	}{
		{"go1.23+ Pattern", map[string]bool{"net/http.Request.Pattern": true, "net/http.Request.pat": true, "net/http.pattern.str": true}, routePattern},
		{"go1.22 pat", map[string]bool{"net/http.Request.pat": true, "net/http.pattern.str": true}, routePatStr},
		{"older", map[string]bool{}, routeNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := constants(goexe.Version{}, tt.found); got["route_source"] != tt.want {
				t.Errorf("route_source = %v, want %v", got["route_source"], tt.want)
			}
		})
	}
}

// TestDecoder runs records through probe.Decoder as Attachment.Run does:
// header fields from the common header, the rest from this bundle, and
// records it cannot decode or must not sample counted, not emitted.
func TestDecoder(t *testing.T) {
	reg := metrics.NewRegistry()
	dec := probe.NewDecoder([]*probe.Bundle{Bundle}, probe.NewClock(), nil, reg)
	var s tracetest.SpanStub
	for i, raw := range benchRecords() {
		pid, ok := dec.Decode(raw, &s)
		if !ok || pid != 4242 {
			t.Fatalf("record %d: pid %d, ok %v; want 4242, true", i, pid, ok)
		}
		if s.SpanContext.TraceID()[15] != byte(i+1) || s.SpanContext.SpanID()[7] != byte(i+1) || s.Parent.IsValid() {
			t.Errorf("record %d: span context %v parent %v", i, s.SpanContext, s.Parent)
		}
		if d := s.EndTime.Sub(s.StartTime); d != 150*time.Microsecond {
			t.Errorf("record %d: duration %v, want 150us", i, d)
		}
		if s.InstrumentationScope != Bundle.Scope || s.Name == "" {
			t.Errorf("record %d: scope %v name %q", i, s.InstrumentationScope, s.Name)
		}
	}
	other := benchRecords()[0]
	other[0] = 99 // the kind
	unsampled := benchRecords()[0]
	(*serverHttpServerEvent)(unsafe.Pointer(&unsampled[0])).Hdr.Sc.Flags = 0
	whole := benchRecords()[0]
	for i, raw := range [][]byte{whole[:eventSize-1], whole[:len(whole)-1], other, nil, unsampled} {
		if _, ok := dec.Decode(raw, &s); ok {
			t.Errorf("bad record %d (%d bytes) decoded", i, len(raw))
		}
	}
	dropped := func(reason string) uint64 {
		return reg.Counter("spanprobe_spans_dropped_total", "", "reason", reason).Load()
	}
	if got := reg.Counter("spanprobe_ringbuf_records_read_total", "").Load(); got != 9 {
		t.Errorf("records read %d, want 9", got)
	}
	if got := reg.Counter("spanprobe_spans_unsampled_total", "").Load(); got != 1 {
		t.Errorf("unsampled %d, want 1", got)
	}
	if d, u := dropped("decode_error"), dropped("unknown_event"); d != 3 || u != 1 {
		t.Errorf("decode errors %d, unknown kinds %d; want 3 and 1", d, u)
	}
}
