package probe

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/ringbuf"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sys/unix"

	"github.com/spanprobe/spanprobe/internal/metrics"
)

// SpanSink receives the spans Run decodes. Next hands out the stub the next
// record is decoded into, whose Attributes' capacity the bundle reuses
// (see Attrs); Emit takes a filled one over, with the target process it
// came from. A stub whose record gave no span is decoded into again.
type SpanSink interface {
	Next() *tracetest.SpanStub
	Emit(pid uint32, s *tracetest.SpanStub)
}

// Attrs returns s's attribute slice emptied, or a new one of capacity n
// when it has none: a stub from SpanSink.Next brings the capacity of a
// span already exported.
func Attrs(s *tracetest.SpanStub, n int) []attribute.KeyValue {
	if cap(s.Attributes) == 0 {
		return make([]attribute.KeyValue, 0, n)
	}
	return s.Attributes[:0]
}

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
		unsampled:    unsampledCounter(reg),
	}
}

// unsampledCounter counts spans left out by sampling: the probes count
// them (COUNT_UNSAMPLED), and the decoder any record that still arrives
// unsampled.
func unsampledCounter(reg *metrics.Registry) *metrics.Counter {
	return reg.Counter("spanprobe_spans_unsampled_total", "Spans not exported because their trace is not sampled (OTEL_TRACES_SAMPLER, or the caller's traceparent).")
}

var headerSize = int(unsafe.Sizeof(commonEventHeader{}))

// pollInterval bounds how long a record waits in the ring when the probes
// did not wake the reader: span latency, not loss. Each poll that finds
// records wakes an idle agent, which costs it far more than the records
// (see RINGBUF_WAKEUP_BYTES in common.h): at 100 ms the agent spent a fifth
// more CPU per span under load than at 250, and the app served ~10% fewer
// requests. Under heavy load the probes' wake-up at half the ring comes
// first.
const pollInterval = 250 * time.Millisecond

// Run reads the ring buffer until ctx ends or the Attachment is closed,
// turning each record into a span for sink. Records are decoded in place by
// layout: no reflection and no copy per event.
func (a *Attachment) Run(ctx context.Context, clock *Clock, sink SpanSink) error {
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
	// reader polls. It never blocks in the ring's own epoll_wait: a thread
	// blocked in a syscall holds the agent's only P, so the runtime's
	// monitor takes it back and keeps polling every 20 us, a thread switch
	// each time. Reads never wait (a deadline in the past makes ReadInto
	// return ErrDeadlineExceeded once the ring is empty); waits go through
	// the Go netpoller instead (ringWaiter).
	w, werr := newRingWaiter(a.shared["events"])
	if werr != nil {
		a.log.Debug("ring buffer wake-ups not pollable, blocking reads", "error", werr)
		a.reader.SetDeadline(time.Now().Add(pollInterval))
	} else {
		defer w.close()
		a.reader.SetDeadline(time.Unix(1, 0))
	}
	var rec ringbuf.Record
	s := sink.Next()
	for {
		if err := a.reader.ReadInto(&rec); err != nil {
			switch {
			case errors.Is(err, os.ErrDeadlineExceeded):
				if ctx.Err() != nil {
					return nil // the ring is drained
				}
				if w == nil {
					a.reader.SetDeadline(time.Now().Add(pollInterval))
				} else if err := w.wait(pollInterval); err != nil {
					return fmt.Errorf("waiting for ring buffer: %w", err)
				}
				continue
			case errors.Is(err, ringbuf.ErrClosed):
				return nil
			}
			return err
		}
		if pid, ok := dec.Decode(rec.RawSample, s); ok {
			sink.Emit(pid, s)
			s = sink.Next()
		}
	}
}

// ringWaiter waits for the ring buffer's wake-ups (BPF_RB_FORCE_WAKEUP)
// through the Go netpoller, on a non-blocking duplicate of the map's fd.
type ringWaiter struct {
	f  *os.File
	rc syscall.RawConn
}

func newRingWaiter(m *ebpf.Map) (*ringWaiter, error) {
	fd, err := unix.FcntlInt(uintptr(m.FD()), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("duplicating ring buffer fd: %w", err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("making ring buffer fd non-blocking: %w", err)
	}
	w := &ringWaiter{f: os.NewFile(uintptr(fd), "ringbuf")}
	// A deadline can be set only on a file the netpoller took.
	if err := w.f.SetReadDeadline(time.Time{}); err != nil {
		w.f.Close()
		return nil, err
	}
	if w.rc, err = w.f.SyscallConn(); err != nil {
		w.f.Close()
		return nil, err
	}
	return w, nil
}

// wait returns when the probes wake the reader or after d.
func (w *ringWaiter) wait(d time.Duration) error {
	if err := w.f.SetReadDeadline(time.Now().Add(d)); err != nil {
		return err
	}
	woken := false // the first call asks the netpoller to wait
	err := w.rc.Read(func(uintptr) bool { r := woken; woken = true; return r })
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return nil
	}
	return err
}

func (w *ringWaiter) close() { w.f.Close() }

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
// s is then undefined. s is overwritten entirely but for the capacity of
// its attribute slice, which the bundle fills again (Attrs): a caller that
// keeps what it made of s (a Snapshot keeps the slice) must hand in a stub
// without one. raw is not kept.
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
		Attributes: s.Attributes[:0], // its capacity serves the bundle (Attrs)
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
