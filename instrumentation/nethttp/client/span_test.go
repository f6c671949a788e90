package client

import (
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/spanprobe/spanprobe/instrumentation/probe"
)

func TestFullURL(t *testing.T) {
	for _, tt := range []struct {
		name                      string
		scheme, host, path, query string
		user                      bool
		want                      string
	}{
		{"plain", "http", "127.0.0.1:8080", "/a/b", "", false, "http://127.0.0.1:8080/a/b"},
		{"query", "https", "example.com", "/", "q=1&x=y", false, "https://example.com/?q=1&x=y"},
		{"user info", "http", "db:5432", "/x", "", true, "http://REDACTED:REDACTED@db:5432/x"},
		{"signature", "https", "s3", "/o", "AWSAccessKeyId=AK&Signature=abc&sig=s&X-Goog-Signature=g&keep=1", false,
			"https://s3/o?AWSAccessKeyId=REDACTED&Signature=REDACTED&sig=REDACTED&X-Goog-Signature=REDACTED&keep=1"},
		{"no path", "http", "h", "", "", false, "http://h"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := fullURL(tt.scheme, tt.host, tt.path, tt.query, tt.user); got != tt.want {
				t.Errorf("fullURL = %q, want %q", got, tt.want)
			}
		})
	}
}

type typeNames map[uint64]string

func (m typeNames) TypeName(addr uint64) string { return m[addr] }

func TestDecode(t *testing.T) {
	for _, tt := range []struct {
		name      string
		status    uint64
		errType   uint64
		wantCode  codes.Code
		wantError string
	}{
		{"ok", 200, 0, codes.Unset, ""},
		{"not found", 404, 0, codes.Error, "404"},
		{"refused", 0, 0x1000, codes.Error, "*net.OpError"},
		{"unnamed error", 0, 0x2000, codes.Error, "_OTHER"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ev := clientHttpClientEvent{MethodLen: 3, SchemeLen: 4, HostLen: 11, PathLen: 2, QueryLen: 3, TextLen: 23}
			ev.Status, ev.ProtoMajor, ev.ProtoMinor, ev.ErrType = tt.status, 1, 1, tt.errType
			raw := probe.RecordBytes(&ev, "GET", "http", "127.0.0.1:9", "/x", "a=1")
			var s tracetest.SpanStub
			if err := decode(raw, &s, &probe.Env{Target: typeNames{0x1000: "*net.OpError"}}); err != nil {
				t.Fatal(err)
			}
			if s.Name != "GET" || s.SpanKind != trace.SpanKindClient || s.Status.Code != tt.wantCode {
				t.Errorf("span %q kind %v status %v, want GET client %v", s.Name, s.SpanKind, s.Status.Code, tt.wantCode)
			}
			got := map[attribute.Key]attribute.Value{}
			for _, kv := range s.Attributes {
				got[kv.Key] = kv.Value
			}
			if v := got["url.full"].AsString(); v != "http://127.0.0.1:9/x?a=1" {
				t.Errorf("url.full = %q", v)
			}
			if v := got["server.port"].AsInt64(); v != 9 {
				t.Errorf("server.port = %d", v)
			}
			if v := got["error.type"].AsString(); v != tt.wantError {
				t.Errorf("error.type = %q, want %q", v, tt.wantError)
			}
			if _, ok := got["http.response.status_code"]; ok != (tt.status > 0) {
				t.Errorf("status code attribute present = %v, want %v", ok, tt.status > 0)
			}
		})
	}
	var s tracetest.SpanStub
	if err := decode(make([]byte, eventSize-1), &s, nil); err == nil {
		t.Error("decode of a record shorter than its fixed part succeeded")
	}
	ev := clientHttpClientEvent{MethodLen: 3, PathLen: 2}
	if err := decode(probe.RecordBytes(&ev, "GET", "/"), &s, nil); err == nil {
		t.Error("decode of a record shorter than its texts succeeded")
	}
}
