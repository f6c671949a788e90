package exporter

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

var errExporterShutdown = errors.New("exporter is shut down")

// consoleExporter prints one human-readable block per span. It is written
// for people watching a terminal, not for machines: use OTLP for those.
type consoleExporter struct {
	mu      sync.Mutex
	w       io.Writer
	stopped bool
	buf     bytes.Buffer
}

var _ sdktrace.SpanExporter = (*consoleExporter)(nil)

func newConsoleExporter(w io.Writer) *consoleExporter { return &consoleExporter{w: w} }

// ExportSpans writes the whole batch with one Write so blocks from
// concurrent writers to the same terminal do not interleave.
func (c *consoleExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return errExporterShutdown
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	c.buf.Reset()
	for _, s := range spans {
		writeSpan(&c.buf, s)
	}
	if _, err := c.w.Write(c.buf.Bytes()); err != nil {
		return fmt.Errorf("writing spans to the console: %w", err)
	}
	return nil
}

func (c *consoleExporter) Shutdown(context.Context) error {
	c.mu.Lock()
	c.stopped = true
	c.mu.Unlock()
	return nil
}

// writeSpan renders s as:
//
//	span "GET /users/{id}"
//	  kind:      server
//	  trace_id:  4bf92f3577b34da6a3ce929d0e0e4736
//	  span_id:   00f067aa0ba902b7
//	  parent_id: none
//	  start:     2026-01-02T03:04:05.000000006Z
//	  duration:  1.5ms
//	  status:    error "boom"
//	  scope:     github.com/spanprobe/spanprobe/instrumentation/nethttp/server v0.1.0
//	  resource:  service.name="app" process.pid=42
//	  attributes:
//	    http.request.method="GET"
//	  events:
//	    +500µs exception exception.message="boom"
func writeSpan(b *bytes.Buffer, s sdktrace.ReadOnlySpan) {
	sc := s.SpanContext()
	fmt.Fprintf(b, "span %q\n", s.Name())
	fmt.Fprintf(b, "  kind:      %s\n", s.SpanKind())
	fmt.Fprintf(b, "  trace_id:  %s\n", sc.TraceID())
	fmt.Fprintf(b, "  span_id:   %s\n", sc.SpanID())
	if p := s.Parent(); p.SpanID().IsValid() {
		remote := ""
		if p.IsRemote() {
			remote = " (remote)"
		}
		fmt.Fprintf(b, "  parent_id: %s%s\n", p.SpanID(), remote)
	} else {
		b.WriteString("  parent_id: none\n")
	}
	fmt.Fprintf(b, "  start:     %s\n", s.StartTime().UTC().Format(time.RFC3339Nano))
	fmt.Fprintf(b, "  duration:  %s\n", s.EndTime().Sub(s.StartTime()))
	st := s.Status()
	switch st.Code {
	case codes.Error:
		fmt.Fprintf(b, "  status:    error %q\n", st.Description)
	case codes.Ok:
		b.WriteString("  status:    ok\n")
	default:
		b.WriteString("  status:    unset\n")
	}
	if scope := s.InstrumentationScope(); scope.Name != "" {
		fmt.Fprintf(b, "  scope:     %s", scope.Name)
		if scope.Version != "" {
			fmt.Fprintf(b, " %s", scope.Version)
		}
		b.WriteByte('\n')
	}
	if res := s.Resource(); res != nil {
		// Only what tells targets apart; the full resource is in OTLP.
		var parts []string
		for _, k := range []attribute.Key{semconv.ServiceNameKey, semconv.ProcessPIDKey} {
			if v, ok := res.Set().Value(k); ok {
				parts = append(parts, string(k)+"="+formatValue(v))
			}
		}
		if len(parts) > 0 {
			fmt.Fprintf(b, "  resource:  %s\n", strings.Join(parts, " "))
		}
	}
	if attrs := s.Attributes(); len(attrs) > 0 {
		b.WriteString("  attributes:\n")
		for _, kv := range sortedAttrs(attrs) {
			fmt.Fprintf(b, "    %s=%s\n", kv.Key, formatValue(kv.Value))
		}
	}
	if n := s.DroppedAttributes(); n > 0 {
		fmt.Fprintf(b, "  dropped_attributes: %d\n", n)
	}
	if events := s.Events(); len(events) > 0 {
		b.WriteString("  events:\n")
		for _, ev := range events {
			fmt.Fprintf(b, "    +%s %s", ev.Time.Sub(s.StartTime()), ev.Name)
			for _, kv := range sortedAttrs(ev.Attributes) {
				fmt.Fprintf(b, " %s=%s", kv.Key, formatValue(kv.Value))
			}
			b.WriteByte('\n')
		}
	}
	if links := s.Links(); len(links) > 0 {
		b.WriteString("  links:\n")
		for _, l := range links {
			fmt.Fprintf(b, "    %s-%s\n", l.SpanContext.TraceID(), l.SpanContext.SpanID())
		}
	}
}

func sortedAttrs(attrs []attribute.KeyValue) []attribute.KeyValue {
	out := slices.Clone(attrs)
	slices.SortStableFunc(out, func(a, b attribute.KeyValue) int { return strings.Compare(string(a.Key), string(b.Key)) })
	return out
}

// formatValue quotes strings so empty values and spaces stay visible.
func formatValue(v attribute.Value) string {
	if v.Type() == attribute.STRING {
		return strconv.Quote(v.AsString())
	}
	return v.Emit()
}
