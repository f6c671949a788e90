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
	byKind := make(map[uint32]*loadedBundle, len(a.loaded))
	for _, lb := range a.loaded {
		if lb.bundle.EventKind != 0 {
			byKind[lb.bundle.EventKind] = lb
		}
	}
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
		a.metrics.read.Inc()
		raw := rec.RawSample
		if len(raw) < headerSize {
			a.metrics.decodeErrors.Inc()
			continue
		}
		h := (*commonEventHeader)(unsafe.Pointer(&raw[0]))
		lb := byKind[h.Kind]
		if lb == nil {
			a.metrics.unknownKind.Inc()
			continue
		}
		if h.Sc.Flags&byte(trace.FlagsSampled) == 0 {
			a.metrics.unsampled.Inc() // the caller decided: honour it
			continue
		}
		s = tracetest.SpanStub{
			SpanContext: trace.NewSpanContext(trace.SpanContextConfig{
				TraceID:    h.Sc.TraceId,
				SpanID:     h.Sc.SpanId,
				TraceFlags: trace.TraceFlags(h.Sc.Flags),
			}),
			StartTime:            clock.Time(h.StartNs),
			EndTime:              clock.Time(h.EndNs),
			InstrumentationScope: lb.bundle.Scope,
		}
		if h.Parent.SpanId != ([8]byte{}) {
			s.Parent = trace.NewSpanContext(trace.SpanContextConfig{
				TraceID:    h.Parent.TraceId,
				SpanID:     h.Parent.SpanId,
				TraceFlags: trace.TraceFlags(h.Parent.Flags),
				Remote:     h.Parent.Remote != 0,
			})
		}
		if err := lb.bundle.Decode(raw, &s, a.env); err != nil {
			a.metrics.decodeErrors.Inc()
			continue
		}
		emit(h.Pid, &s)
	}
}

// syncDrops copies the probes' drop counters to the metrics every second.
func (a *Attachment) syncDrops(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			for _, lb := range a.loaded {
				lb.drops.Sync()
			}
		}
	}
}
