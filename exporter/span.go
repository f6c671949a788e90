package exporter

import (
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// Span is a finished span the pipeline takes back once it is exported or
// dropped (Pipeline.NewSpan), attribute slice included. A snapshot per span
// (tracetest.SpanStub.Snapshot) and a new attribute slice were most of the
// agent's allocations, and under load its garbage collector and the
// allocations' assists took a third of its CPU.
//
// Whoever fills one must not keep it, or anything of Stub's slices, after
// Enqueue. Strings are not reused, so they may be kept.
type Span struct {
	// ReadOnlySpan's unexported method comes with this nil interface; every
	// other method is Span's own.
	sdktrace.ReadOnlySpan
	Stub tracetest.SpanStub
}

func (s *Span) Name() string                     { return s.Stub.Name }
func (s *Span) SpanContext() trace.SpanContext   { return s.Stub.SpanContext }
func (s *Span) Parent() trace.SpanContext        { return s.Stub.Parent }
func (s *Span) SpanKind() trace.SpanKind         { return s.Stub.SpanKind }
func (s *Span) StartTime() time.Time             { return s.Stub.StartTime }
func (s *Span) EndTime() time.Time               { return s.Stub.EndTime }
func (s *Span) Attributes() []attribute.KeyValue { return s.Stub.Attributes }
func (s *Span) Links() []sdktrace.Link           { return s.Stub.Links }
func (s *Span) Events() []sdktrace.Event         { return s.Stub.Events }
func (s *Span) Status() sdktrace.Status          { return s.Stub.Status }
func (s *Span) DroppedAttributes() int           { return s.Stub.DroppedAttributes }
func (s *Span) DroppedLinks() int                { return s.Stub.DroppedLinks }
func (s *Span) DroppedEvents() int               { return s.Stub.DroppedEvents }
func (s *Span) ChildSpanCount() int              { return s.Stub.ChildSpanCount }
func (s *Span) Resource() *resource.Resource     { return s.Stub.Resource }

func (s *Span) InstrumentationScope() instrumentation.Scope {
	return s.Stub.InstrumentationScope
}

// InstrumentationLibrary is the deprecated form of InstrumentationScope.
func (s *Span) InstrumentationLibrary() instrumentation.Library { //nolint:staticcheck // part of the interface
	return s.Stub.InstrumentationScope
}

// spanPool keeps spans the pipeline is done with, at most max.
type spanPool struct {
	mu   sync.Mutex
	free []*Span
	max  int
}

func (p *spanPool) get() *Span {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.free); n > 0 {
		s := p.free[n-1]
		p.free[n-1] = nil
		p.free = p.free[:n-1]
		return s
	}
	return new(Span)
}

// put takes s back if it is a Span: emptied, but for its attribute slice's
// capacity.
func (p *spanPool) put(s sdktrace.ReadOnlySpan) {
	sp, ok := s.(*Span)
	if !ok || sp == nil {
		return
	}
	attrs := sp.Stub.Attributes
	clear(attrs) // let go of the values' strings
	sp.Stub = tracetest.SpanStub{Attributes: attrs[:0]}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.free) < p.max {
		p.free = append(p.free, sp)
	}
}
