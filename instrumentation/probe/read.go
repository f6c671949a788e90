package probe

import (
	"context"
	"errors"
	"os"
	"time"
	"unsafe"

	"github.com/cilium/ebpf/ringbuf"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/spanprobe/spanprobe/internal/metrics"
)

// EmitFunc receives one finished span and the target process it came from.
// The stub is reused after EmitFunc returns: snapshot it, do not keep it.
type EmitFunc func(pid uint32, s *tracetest.SpanStub)

type attachMetrics struct {
	read, decodeErrors, unknownKind, unsampled *metrics.Counter
}

func newAttachMetrics(reg *metrics.Registry) attachMetrics {
	if reg == nil {
		reg = metrics.NewRegistry()
	}
	return attachMetrics{
		read:         reg.Counter("spanprobe_ringbuf_records_read_total", "Ring-buffer records read from the probes."),
		decodeErrors: reg.Counter("spanprobe_spans_dropped_total", "Spans dropped, by reason.", "reason", "decode_error"),
		unknownKind:  reg.Counter("spanprobe_spans_dropped_total", "Spans dropped, by reason.", "reason", "unknown_event"),
		unsampled:    reg.Counter("spanprobe_spans_unsampled_total", "Spans not exported because their trace came in with the sampled flag off."),
	}
}

var headerSize = int(unsafe.Sizeof(commonEventHeader{}))

// pollInterval bounds how long a record waits in the ring when the probes
// did not wake the reader: span latency, not loss.
const pollInterval = 50 * time.Millisecond

// Run reads the ring buffer until ctx ends or the Attachment is closed,
// turning each record into a span for emit. Records are decoded in place by
// layout: no reflection and no copy per event.
func (a *Attachment) Run(ctx context.Context, clock *Clock, emit EmitFunc) error {
	bundles := make([]*Bundle, len(a.loaded))
	for i, lb := range a.loaded {
		b := *lb.bundle
		b.Decode = lb.decode // a plan's decoder knows this binary
		bundles[i] = &b
	}
	dec := newDecoder(bundles, clock, a.env, a.metrics)
	syncCtx, stopSync := context.WithCancel(ctx)
	defer stopSync()
	go a.syncDrops(syncCtx)

	// The probes submit without waking the reader (see common.h), so the
	// reader polls: a deadline makes ReadInto return whatever is in the
	// ring, then ErrDeadlineExceeded once it is empty.
	a.reader.SetDeadline(time.Now().Add(pollInterval))
	var rec ringbuf.Record
	var s tracetest.SpanStub
	for {
		if err := a.reader.ReadInto(&rec); err != nil {
			switch {
			case errors.Is(err, os.ErrDeadlineExceeded):
				if ctx.Err() != nil {
					return nil // the ring is drained
				}
				a.reader.SetDeadline(time.Now().Add(pollInterval))
				continue
			case errors.Is(err, ringbuf.ErrClosed):
				return nil
			}
			return err
		}
		if pid, ok := dec.Decode(rec.RawSample, &s); ok {
			emit(pid, &s)
		}
	}
}

// Decoder turns ring-buffer records into spans: the user-space half of an
// attachment without the ring buffer, so that the path from record to span
// can also be driven (and measured) from bytes alone.
type Decoder struct {
	byKind  map[uint32]*Bundle
	clock   *Clock
	env     *Env
	metrics attachMetrics
}

// NewDecoder returns a decoder for the records of bundles, converting BPF
// timestamps with clock, with env for the bundles' Decode (nil knows
// nothing), counting records and drops in reg (nil: a private registry).
func NewDecoder(bundles []*Bundle, clock *Clock, env *Env, reg *metrics.Registry) *Decoder {
	return newDecoder(bundles, clock, env, newAttachMetrics(reg))
}

func newDecoder(bundles []*Bundle, clock *Clock, env *Env, m attachMetrics) *Decoder {
	d := &Decoder{byKind: make(map[uint32]*Bundle, len(bundles)), clock: clock, env: env, metrics: m}
	for _, b := range bundles {
		if b.EventKind != 0 {
			d.byKind[b.EventKind] = b
		}
	}
	return d
}

// Decode fills s from one record and returns the PID of the process that
// produced it. It returns false, counting why, for a record that gives no
// span: one it cannot decode, or one of a trace the caller did not sample;
// s is then undefined. s is overwritten entirely, so one stub can serve
// every record; raw is not kept.
func (d *Decoder) Decode(raw []byte, s *tracetest.SpanStub) (pid uint32, ok bool) {
	d.metrics.read.Inc()
	if len(raw) < headerSize {
		d.metrics.decodeErrors.Inc()
		return 0, false
	}
	h := (*commonEventHeader)(unsafe.Pointer(&raw[0]))
	b := d.byKind[h.Kind]
	if b == nil {
		d.metrics.unknownKind.Inc()
		return 0, false
	}
	if h.Sc.Flags&byte(trace.FlagsSampled) == 0 {
		d.metrics.unsampled.Inc() // the caller decided: honour it
		return 0, false
	}
	*s = tracetest.SpanStub{
		SpanContext: trace.NewSpanContext(trace.SpanContextConfig{
			TraceID:    h.Sc.TraceId,
			SpanID:     h.Sc.SpanId,
			TraceFlags: trace.TraceFlags(h.Sc.Flags),
		}),
		StartTime:            d.clock.Time(h.StartNs),
		EndTime:              d.clock.Time(h.EndNs),
		InstrumentationScope: b.Scope,
	}
	if h.Parent.SpanId != ([8]byte{}) {
		s.Parent = trace.NewSpanContext(trace.SpanContextConfig{
			TraceID:    h.Parent.TraceId,
			SpanID:     h.Parent.SpanId,
			TraceFlags: trace.TraceFlags(h.Parent.Flags),
			Remote:     h.Parent.Remote != 0,
		})
	}
	if err := b.Decode(raw, s, d.env); err != nil {
		d.metrics.decodeErrors.Inc()
		return 0, false
	}
	return h.Pid, true
}

// syncDrops copies the probes' counters to the metrics every second.
func (a *Attachment) syncDrops(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			for _, lb := range a.loaded {
				lb.syncCounters()
			}
		}
	}
}
