package client

import (
	"errors"
	"strconv"
	"strings"
	"unsafe"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/spanprobe/spanprobe/instrumentation/nethttp/internal/httpconv"
	"github.com/spanprobe/spanprobe/instrumentation/probe"
)

var errShortRecord = errors.New("decoding net/http client event: record shorter than its lengths")

var eventSize = int(unsafe.Sizeof(clientHttpClientEvent{}))

func decode(raw []byte, s *tracetest.SpanStub, env *probe.Env) error {
	if len(raw) < eventSize {
		return errShortRecord
	}
	ev := (*clientHttpClientEvent)(unsafe.Pointer(&raw[0]))
	t := probe.TextsAfter(raw, eventSize)
	x := eventTexts{
		method: string(t.Next(ev.MethodLen)),
		scheme: string(t.Next(ev.SchemeLen)),
		host:   string(t.Next(ev.HostLen)),
		path:   string(t.Next(ev.PathLen)),
		query:  string(t.Next(ev.QueryLen)),
	}
	if t.Short() {
		return errShortRecord
	}
	fillSpan(ev, &x, s, env)
	return nil
}

// eventTexts are the strings of one record, in the probe's order.
type eventTexts struct{ method, scheme, host, path, query string }

// fillSpan sets name, kind, attributes and status from one event, per the
// stable HTTP client semantic conventions.
func fillSpan(ev *clientHttpClientEvent, x *eventTexts, s *tracetest.SpanStub, env *probe.Env) {
	method, methodOriginal := httpconv.NormalizeMethod(x.method)
	scheme := x.scheme
	hostport := x.host

	attrs := probe.Attrs(s, 9)
	attrs = append(attrs,
		semconv.HTTPRequestMethodKey.String(method),
		semconv.URLFull(fullURL(scheme, hostport, x.path, x.query, ev.HasUser != 0)),
	)
	if methodOriginal != "" {
		attrs = append(attrs, semconv.HTTPRequestMethodOriginal(methodOriginal))
	}
	if host, port := httpconv.SplitHostPort(hostport, scheme); host != "" {
		attrs = append(attrs, semconv.ServerAddress(host))
		if port > 0 {
			attrs = append(attrs, semconv.ServerPort(port))
		}
	}
	status := int(ev.Status)
	if status > 0 {
		attrs = append(attrs, semconv.HTTPResponseStatusCode(status))
		if v := httpconv.ProtocolVersion(ev.ProtoMajor, ev.ProtoMinor); v != "" {
			attrs = append(attrs, semconv.NetworkProtocolVersion(v))
		}
	}
	// Client spans: a transport error or any 4xx/5xx is an error.
	switch {
	case ev.ErrType != 0:
		s.Status = sdktrace.Status{Code: codes.Error}
		attrs = append(attrs, semconv.ErrorTypeKey.String(probe.ErrorType(env, ev.Hdr.Pid, ev.ErrType)))
	case status >= 400:
		s.Status = sdktrace.Status{Code: codes.Error}
		attrs = append(attrs, semconv.ErrorTypeKey.String(strconv.Itoa(status)))
	}

	s.Name = httpconv.SpanName(method, "")
	s.SpanKind = trace.SpanKindClient
	s.Attributes = attrs
}

// redactedQueryKeys are the query parameters whose values the semantic
// conventions ask to redact in url.full: they carry credentials.
var redactedQueryKeys = map[string]bool{"AWSAccessKeyId": true, "Signature": true, "sig": true, "X-Goog-Signature": true}

// fullURL rebuilds url.full from the URL's parts, with user info replaced
// by REDACTED:REDACTED and credential query values by REDACTED.
func fullURL(scheme, host, path, query string, hasUser bool) string {
	var b strings.Builder
	b.Grow(len(scheme) + len(host) + len(path) + len(query) + 24)
	if scheme != "" {
		b.WriteString(scheme)
		b.WriteString("://")
	}
	if hasUser {
		b.WriteString("REDACTED:REDACTED@")
	}
	b.WriteString(host)
	if path != "" && path[0] != '/' && host != "" {
		b.WriteByte('/')
	}
	b.WriteString(path)
	if query != "" {
		b.WriteByte('?')
		for i, kv := range strings.Split(query, "&") {
			if i > 0 {
				b.WriteByte('&')
			}
			k, _, hasValue := strings.Cut(kv, "=")
			if hasValue && redactedQueryKeys[k] {
				b.WriteString(k)
				b.WriteString("=REDACTED")
				continue
			}
			b.WriteString(kv)
		}
	}
	return b.String()
}
