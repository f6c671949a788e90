package server

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"unsafe"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/spanprobe/spanprobe/instrumentation/nethttp/internal/httpconv"
	"github.com/spanprobe/spanprobe/instrumentation/probe"
)

var errShortRecord = errors.New("decoding net/http server event: record too short")

var eventSize = int(unsafe.Sizeof(serverHttpServerEvent{}))

func decode(raw []byte, s *tracetest.SpanStub, _ *probe.Env) error {
	if len(raw) < eventSize {
		return errShortRecord
	}
	fillSpan((*serverHttpServerEvent)(unsafe.Pointer(&raw[0])), s)
	return nil
}

// fillSpan sets name, kind, attributes and status from one event, per the
// stable HTTP server semantic conventions.
func fillSpan(ev *serverHttpServerEvent, s *tracetest.SpanStub) {
	method, methodOriginal := httpconv.NormalizeMethod(probe.String(ev.Method[:], ev.MethodLen))
	scheme := "http"
	if ev.Tls != 0 {
		scheme = "https"
	}
	status := int(ev.Status)
	if status == 0 {
		status = 200 // the handler wrote nothing: finishRequest sends 200
	}
	route := routeFromPattern(probe.String(ev.Route[:], ev.RouteLen))

	attrs := make([]attribute.KeyValue, 0, 12)
	attrs = append(attrs,
		semconv.HTTPRequestMethodKey.String(method),
		semconv.URLPath(probe.String(ev.Path[:], ev.PathLen)),
		semconv.URLScheme(scheme),
		semconv.HTTPResponseStatusCode(status),
	)
	if methodOriginal != "" {
		attrs = append(attrs, semconv.HTTPRequestMethodOriginal(methodOriginal))
	}
	if route != "" {
		attrs = append(attrs, semconv.HTTPRoute(route))
	}
	if host, port := httpconv.SplitHostPort(probe.String(ev.Host[:], ev.HostLen), scheme); host != "" {
		attrs = append(attrs, semconv.ServerAddress(host))
		if port > 0 {
			attrs = append(attrs, semconv.ServerPort(port))
		}
	}
	if host, port := httpconv.SplitHostPort(probe.String(ev.Remote[:], ev.RemoteLen), ""); host != "" {
		attrs = append(attrs, semconv.NetworkPeerAddress(host))
		if port > 0 {
			attrs = append(attrs, semconv.NetworkPeerPort(port))
		}
	}
	if v := httpconv.ProtocolVersion(ev.ProtoMajor, ev.ProtoMinor); v != "" {
		attrs = append(attrs, semconv.NetworkProtocolVersion(v))
	}
	if ua := headerValue(probe.Bytes(ev.Head[:], ev.HeadLen), probe.Bytes(ev.Method[:], ev.MethodLen), "user-agent"); ua != "" {
		attrs = append(attrs, semconv.UserAgentOriginal(ua))
	}
	// Server spans: only 5xx is an error; 4xx is the client's.
	if status >= 500 {
		s.Status = sdktrace.Status{Code: codes.Error}
		attrs = append(attrs, semconv.ErrorTypeKey.String(strconv.Itoa(status)))
	}

	s.Name = httpconv.SpanName(method, route)
	s.SpanKind = trace.SpanKindServer
	s.Attributes = attrs
}

// routeFromPattern turns a ServeMux pattern "[METHOD ][HOST]/PATH" into the
// path template http.route wants.
func routeFromPattern(p string) string {
	if i := strings.IndexByte(p, ' '); i >= 0 {
		p = strings.TrimLeft(p[i+1:], " \t")
	}
	if i := strings.IndexByte(p, '/'); i > 0 {
		p = p[i:]
	}
	return p
}

// headerValue finds a header in the raw request head captured by the probe.
// The head must start with the request's method (else the buffer holds
// another request, e.g. a pipelined one) and the header line must end inside
// the captured bytes: a cut value is not reported.
func headerValue(head, m []byte, name string) string {
	if len(m) == 0 || !bytes.HasPrefix(head, m) || len(head) <= len(m) || head[len(m)] != ' ' {
		return ""
	}
	i := bytes.Index(head, []byte("\r\n"))
	if i < 0 {
		return ""
	}
	rest := head[i+2:]
	for len(rest) > 0 {
		end := bytes.Index(rest, []byte("\r\n"))
		if end <= 0 {
			return "" // end of headers, or the line is cut
		}
		line := rest[:end]
		rest = rest[end+2:]
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 || !strings.EqualFold(string(line[:colon]), name) {
			continue
		}
		return string(bytes.TrimSpace(line[colon+1:]))
	}
	return ""
}
