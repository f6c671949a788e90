package exporter

import (
	"fmt"
	"sync"

	coltracev1 "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
)

// exportCodec serialises OTLP/gRPC requests for less than gRPC's own proto
// codec, which measures the message (proto.Size) and then lets MarshalAppend
// measure it all again, into a buffer from a sync.Pool that every garbage
// collection empties: under load each export then walked the spans three
// times and faulted a fresh buffer of a few hundred KB in. Here trace
// requests, whose spans spanWriter has already written, are framed in one
// pass (wire.go) into buffers kept between exports; anything else goes to
// gRPC's codec.
type exportCodec struct {
	bufs *keptBuffers
}

func newExportCodec() exportCodec { return exportCodec{bufs: &keptBuffers{}} }

// maxRequestSize is the OTLP exporters' default limit on a serialised
// request, which the codec enforces in their place (see newOTLPClient).
const maxRequestSize = 64 << 20

// Name is the content subtype: the requests are ordinary protobuf.
func (exportCodec) Name() string { return "proto" }

func (c exportCodec) Marshal(v any) (mem.BufferSlice, error) {
	req, ok := v.(*coltracev1.ExportTraceServiceRequest)
	if !ok {
		return encoding.GetCodecV2("proto").Marshal(v)
	}
	// Any kept buffer will do: appending grows it to the batch's size, and
	// the larger ones are what stay kept.
	buf := c.bufs.Get(0)
	out, err := AppendTraceRequest((*buf)[:0], req)
	if err != nil {
		c.bufs.Put(buf)
		return nil, err
	}
	*buf = out
	if n := len(*buf); n > maxRequestSize {
		return nil, fmt.Errorf("request message too large: %d bytes exceed %d (lower OTEL_BSP_MAX_EXPORT_BATCH_SIZE)", n, maxRequestSize)
	}
	return mem.BufferSlice{mem.NewBuffer(buf, c.bufs)}, nil
}

// Unmarshal reads the collector's responses with gRPC's own codec.
func (exportCodec) Unmarshal(data mem.BufferSlice, v any) error {
	return encoding.GetCodecV2("proto").Unmarshal(data, v)
}

// keptBuffers is a mem.BufferPool that keeps a few buffers for good: one
// export is serialised at a time, so one or two are reused over and over.
// gRPC puts a buffer back once the transport has written it.
type keptBuffers struct {
	mu   sync.Mutex
	free []*[]byte
}

const (
	keptBuffersMax    = 2       // buffers kept
	keptBufferMaxSize = 4 << 20 // larger ones (huge batches) are left to the GC
)

func (p *keptBuffers) Get(n int) *[]byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, b := range p.free {
		if cap(*b) >= n {
			p.free = append(p.free[:i], p.free[i+1:]...)
			*b = (*b)[:n]
			return b
		}
	}
	b := make([]byte, n, n+n/4) // room for the next batch to be a little larger
	return &b
}

func (p *keptBuffers) Put(b *[]byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if cap(*b) > keptBufferMaxSize {
		return
	}
	if len(p.free) == keptBuffersMax {
		// Keep the larger: batches grow to their configured size under load.
		small := 0
		for i, f := range p.free {
			if cap(*f) < cap(*p.free[small]) {
				small = i
			}
		}
		if cap(*p.free[small]) >= cap(*b) {
			return
		}
		p.free = append(p.free[:small], p.free[small+1:]...)
	}
	p.free = append(p.free, b)
}
