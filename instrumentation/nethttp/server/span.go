package server

import (
	"bytes"
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

var errShortRecord = errors.New("decoding net/http server event: record shorter than its lengths")

var eventSize = int(unsafe.Sizeof(serverHttpServerEvent{}))

func decode(raw []byte, s *tracetest.SpanStub, _ *probe.Env) error {
	if len(raw) < eventSize {
		return errShortRecord
	}
	ev := (*serverHttpServerEvent)(unsafe.Pointer(&raw[0]))
	t := probe.TextsAfter(raw, eventSize)
	x := eventTexts{
		method: t.Next(ev.MethodLen),
		path:   t.Next(ev.PathLen),
		host:   t.Next(ev.HostLen),
		remote: t.Next(ev.RemoteLen),
		ua:     t.Next(ev.UserAgentLen),
		route:  t.Next(ev.RouteLen),
	}
	if t.Short() {
		return errShortRecord
	}
	fillSpan(ev, &x, s)
	return nil
}

// eventTexts are the strings of one record, in the probe's order.
type eventTexts struct{ method, path, host, remote, ua, route []byte }

// fillSpan sets name, kind, attributes and status from one event, per the
// stable HTTP server semantic conventions. Every text value of the span is
// cut from one string (see texts): this runs once per request, and an
// allocation per value was most of its cost.
func fillSpan(ev *serverHttpServerEvent, x *eventTexts, s *tracetest.SpanStub) {
	rawMethod := x.method
	method, known := httpconv.MethodBytes(rawMethod)
	scheme := "http"
	if ev.Tls != 0 {
		scheme = "https"
	}
	status := int(ev.Status)
	if status == 0 {
		status = 200 // the handler wrote nothing: finishRequest sends 200
	}
	path, host, remote := x.path, x.host, x.remote
	route := routeFromPattern(x.route)
	ua := bytes.TrimSpace(x.ua) // the probe leaves the CR
	nameMethod := httpconv.SpanName(method, "")

	var t texts
	t.b.Grow(len(path) + len(host) + len(remote) + len(ua) + len(rawMethod) + len(nameMethod) + 1 + len(route))
	attrs := probe.Attrs(s, 12)
	attrs = append(attrs,
		semconv.HTTPRequestMethodKey.String(method),
		semconv.URLPath(t.add(path)),
		semconv.URLScheme(scheme),
		semconv.HTTPResponseStatusCode(status),
	)
	if !known && len(rawMethod) > 0 {
		attrs = append(attrs, semconv.HTTPRequestMethodOriginal(t.add(rawMethod)))
	}
	s.Name = nameMethod
	if len(route) > 0 {
		s.Name = t.join(nameMethod, route)
		attrs = append(attrs, semconv.HTTPRoute(s.Name[len(nameMethod)+1:]))
	}
	if host, port := httpconv.SplitHostPort(t.add(host), scheme); host != "" {
		attrs = append(attrs, semconv.ServerAddress(host))
		if port > 0 {
			attrs = append(attrs, semconv.ServerPort(port))
		}
	}
	if host, port := httpconv.SplitHostPort(t.add(remote), ""); host != "" {
		attrs = append(attrs, semconv.NetworkPeerAddress(host))
		if port > 0 {
			attrs = append(attrs, semconv.NetworkPeerPort(port))
		}
	}
	if v := httpconv.ProtocolVersion(ev.ProtoMajor, ev.ProtoMinor); v != "" {
		attrs = append(attrs, semconv.NetworkProtocolVersion(v))
	}
	if len(ua) > 0 {
		attrs = append(attrs, semconv.UserAgentOriginal(t.add(ua)))
	}
	// Server spans: only 5xx is an error; 4xx is the client's.
	if status >= 500 {
		s.Status = sdktrace.Status{Code: codes.Error}
		attrs = append(attrs, semconv.ErrorTypeKey.String(strconv.Itoa(status)))
	}

	s.SpanKind = trace.SpanKindServer
	s.Attributes = attrs
}

// texts turns byte fields into strings that share one allocation, made by
// Grow beforehand: a strings.Builder never rewrites bytes it has written, so
// a string cut from an earlier String stays valid as it grows.
type texts struct{ b strings.Builder }

func (t *texts) add(p []byte) string {
	if len(p) == 0 {
		return ""
	}
	n := t.b.Len()
	t.b.Write(p)
	return t.b.String()[n:]
}

// join returns a + " " + b.
func (t *texts) join(a string, b []byte) string {
	n := t.b.Len()
	t.b.WriteString(a)
	t.b.WriteByte(' ')
	t.b.Write(b)
	return t.b.String()[n:]
}

// routeFromPattern turns a ServeMux pattern "[METHOD ][HOST]/PATH" into the
// path template http.route wants.
func routeFromPattern(p []byte) []byte {
	if i := bytes.IndexByte(p, ' '); i >= 0 {
		p = bytes.TrimLeft(p[i+1:], " \t")
	}
	if i := bytes.IndexByte(p, '/'); i > 0 {
		p = p[i:]
	}
	return p
}
