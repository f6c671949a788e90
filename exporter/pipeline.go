package exporter

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/spanprobe/spanprobe/internal/metrics"
)

// Drop reasons, the values of the reason label of spanprobe_spans_dropped_total.
const (
	DropQueueFull    = "queue_full"    // Enqueue found the queue full
	DropExportFailed = "export_failed" // the exporter returned an error for the batch
	DropDisabled     = "disabled"      // OTEL_TRACES_EXPORTER=none
	DropShutdown     = "shutdown"      // enqueued after Shutdown, or left over when its ctx ended
)

// Metric names maintained by the pipeline.
const (
	MetricSpansExported = "spanprobe_spans_exported_total"
	MetricSpansDropped  = "spanprobe_spans_dropped_total"
	MetricExportErrors  = "spanprobe_export_errors_total"
	MetricQueueLength   = "spanprobe_export_queue_spans"
)

// Retry policy of the OTLP exporters. Each export call, retries included, is
// also bounded by Config.Timeout and Config.ExportTimeout, so these only
// shape how often a down collector is probed.
const (
	retryInitialInterval = 500 * time.Millisecond
	retryMaxInterval     = 5 * time.Second
	// gRPC reconnect backoff: the default grows to 120s, which would leave
	// export stalled for minutes after a collector restart.
	reconnectMaxDelay = 5 * time.Second
)

type pipelineMetrics struct {
	exported, exportErrors                           *metrics.Counter
	queueFull, exportFailed, disabled, shutdownDrops *metrics.Counter
}

// Pipeline batches spans and hands them to one exporter from one goroutine.
// Enqueue is safe for concurrent use and never blocks.
type Pipeline struct {
	cfg   Config
	log   *slog.Logger
	exp   sdktrace.SpanExporter // nil for ExporterNone
	queue chan sdktrace.ReadOnlySpan
	m     pipelineMetrics

	// mu orders Enqueue against Shutdown: once stopped is set under the
	// write lock no span can enter the queue, so the final drain is complete.
	mu      sync.RWMutex
	stopped bool

	stop chan struct{} // closed by Shutdown
	// full is signalled when a whole batch is queued. The worker sleeps on
	// it and its timer instead of on the queue, so spans do not wake it one
	// by one: a goroutine wake-up per span is a thread wake-up under load,
	// which costs more than the span itself on virtualised hosts.
	full chan struct{}
	// room is signalled each time the worker takes spans off the queue
	// (WaitForRoom); stuck is set when a wait for it ran out and cleared by
	// the next take, so a stuck exporter costs one wait, then drops.
	room  chan struct{}
	stuck atomic.Bool
	done  chan struct{} // closed when the worker returns

	// exportCtx is the parent of every export; Shutdown cancels it when its
	// own ctx ends so a stuck export cannot outlive the caller's deadline.
	exportCtx    context.Context
	cancelExport context.CancelFunc

	failing bool // worker only: the last export failed

	spans spanPool // Spans back from export, for NewSpan
}

// New builds the exporter chosen by cfg and starts the batching goroutine.
// ctx is used only while building. Zero sizes and durations in cfg take the
// specification defaults. reg receives the pipeline's counters (nil: a
// private registry); stdout receives console output. No connection is made
// here: an unreachable collector is not an error, its cost is counted drops.
func New(ctx context.Context, cfg Config, reg *metrics.Registry, log *slog.Logger, stdout io.Writer) (*Pipeline, error) {
	cfg = cfg.withDefaults()
	if err := cfg.checkBatching(); err != nil {
		return nil, err
	}
	var exp sdktrace.SpanExporter
	switch cfg.Exporter {
	case ExporterNone:
	case ExporterConsole:
		if stdout == nil {
			return nil, errors.New("creating console exporter: no output writer")
		}
		exp = newConsoleExporter(stdout)
	case ExporterOTLP:
		client, err := newOTLPClient(cfg)
		if err != nil {
			return nil, err
		}
		if exp, err = newOTLPExporter(ctx, client, cfg.Protocol != ProtocolHTTPJSON); err != nil {
			return nil, fmt.Errorf("starting otlp/%s exporter for %s: %w", cfg.Protocol, cfg.Endpoint, err)
		}
	default:
		return nil, fmt.Errorf("creating exporter: unknown kind %q (want otlp, console or none)", cfg.Exporter)
	}
	return start(cfg, exp, reg, log), nil
}

// NewWithClient batches spans for an OTLP exporter over client, with cfg's
// queue, batch and timing settings; cfg's exporter and endpoint settings are
// ignored. It serves OTLP transports New does not build, and measuring the
// pipeline without a network. The client gets its spans as the unknown
// fields of each ResourceSpans (see spanWriter): it must serialise them
// with proto.Marshal or AppendTraceRequest.
func NewWithClient(ctx context.Context, cfg Config, client otlptrace.Client, reg *metrics.Registry, log *slog.Logger) (*Pipeline, error) {
	cfg = cfg.withDefaults()
	if err := cfg.checkBatching(); err != nil {
		return nil, err
	}
	exp, err := newOTLPExporter(ctx, client, cfg.Protocol != ProtocolHTTPJSON)
	if err != nil {
		return nil, fmt.Errorf("starting otlp exporter: %w", err)
	}
	cfg.Exporter = ExporterOTLP
	return start(cfg, exp, reg, log), nil
}

func (c Config) checkBatching() error {
	if c.MaxExportBatchSize > c.MaxQueueSize {
		return fmt.Errorf("configuring batcher: batch size %d exceeds queue size %d", c.MaxExportBatchSize, c.MaxQueueSize)
	}
	return nil
}

// start returns a pipeline for exp, nil meaning export disabled, and starts
// its batching goroutine.
func start(cfg Config, exp sdktrace.SpanExporter, reg *metrics.Registry, log *slog.Logger) *Pipeline {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if reg == nil {
		reg = metrics.NewRegistry()
	}
	p := &Pipeline{
		cfg:  cfg,
		log:  log,
		exp:  exp,
		stop: make(chan struct{}),
		full: make(chan struct{}, 1),
		room: make(chan struct{}, 1),
		done: make(chan struct{}),
	}
	const droppedHelp = "Spans lost before reaching the exporter's destination, by reason."
	p.m = pipelineMetrics{
		exported:      reg.Counter(MetricSpansExported, "Spans accepted by the exporter (sent to the collector or printed)."),
		exportErrors:  reg.Counter(MetricExportErrors, "Export calls that failed; each drops its whole batch."),
		queueFull:     reg.Counter(MetricSpansDropped, droppedHelp, "reason", DropQueueFull),
		exportFailed:  reg.Counter(MetricSpansDropped, droppedHelp, "reason", DropExportFailed),
		disabled:      reg.Counter(MetricSpansDropped, droppedHelp, "reason", DropDisabled),
		shutdownDrops: reg.Counter(MetricSpansDropped, droppedHelp, "reason", DropShutdown),
	}
	// Enough for a full queue and the batch being exported.
	p.spans.max = cfg.MaxQueueSize + cfg.MaxExportBatchSize
	if exp == nil {
		close(p.done)
		return p
	}
	p.queue = make(chan sdktrace.ReadOnlySpan, cfg.MaxQueueSize)
	reg.Gauge(MetricQueueLength, "Spans waiting in the export queue.", func() float64 { return float64(len(p.queue)) })
	p.exportCtx, p.cancelExport = context.WithCancel(context.Background())
	go p.run()
	log.Debug("span pipeline started", "exporter", string(cfg.Exporter),
		"queue", cfg.MaxQueueSize, "batch", cfg.MaxExportBatchSize)
	return p
}

func (c Config) withDefaults() Config {
	if c.Protocol == "" {
		c.Protocol = ProtocolGRPC
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.ScheduleDelay <= 0 {
		c.ScheduleDelay = DefaultScheduleDelay
	}
	if c.ExportTimeout <= 0 {
		c.ExportTimeout = DefaultExportTimeout
	}
	if c.MaxQueueSize <= 0 {
		c.MaxQueueSize = DefaultMaxQueueSize
	}
	if c.MaxQueueSize > MaxQueueSizeLimit {
		c.MaxQueueSize = MaxQueueSizeLimit
	}
	if c.MaxExportBatchSize <= 0 {
		c.MaxExportBatchSize = min(DefaultMaxExportBatchSize, c.MaxQueueSize)
	}
	return c
}

// NewSpan returns an empty Span to fill and Enqueue, one the pipeline is
// done with when it has one: its attribute slice keeps its capacity.
func (p *Pipeline) NewSpan() *Span { return p.spans.get() }

// Enqueue hands s to the batcher. It never blocks: when the queue is full, or
// after Shutdown, s is dropped and counted. A *Span is taken back for
// NewSpan once exported or dropped.
func (p *Pipeline) Enqueue(s sdktrace.ReadOnlySpan) {
	if s == nil {
		return
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	switch {
	case p.stopped:
		p.m.shutdownDrops.Inc()
	case p.exp == nil:
		p.m.disabled.Inc()
	default:
		select {
		case p.queue <- s:
			if len(p.queue) >= p.cfg.MaxExportBatchSize {
				select {
				case p.full <- struct{}{}:
				default:
				}
			}
			return
		default:
			p.m.queueFull.Inc()
		}
	}
	p.spans.put(s)
}

// WaitForRoom returns once the queue can take a span, after at most
// maxWait. A producer that hands over spans in bursts (the ring-buffer
// reader drains thousands of records at a time) calls it before Enqueue:
// on one P the worker runs only while the producer waits, so without it a
// burst larger than the queue is dropped although the exporter keeps up.
// It returns at once when export is off, and after a wait that ran out it
// does not wait again until the worker takes spans: a stuck exporter must
// cost counted drops, never a stalled producer.
func (p *Pipeline) WaitForRoom(maxWait time.Duration) {
	if p.queue == nil || len(p.queue) < cap(p.queue) || p.stuck.Load() {
		return
	}
	t := time.NewTimer(maxWait)
	defer t.Stop()
	for len(p.queue) == cap(p.queue) {
		select {
		case <-p.room:
		case <-t.C:
			p.stuck.Store(true)
			return
		case <-p.stop:
			return
		}
	}
}

// Shutdown stops accepting spans, exports everything queued, then shuts the
// exporter down. When ctx ends first, what is left is counted as dropped
// (reason shutdown) and ctx's error is returned. Later calls return nil.
func (p *Pipeline) Shutdown(ctx context.Context) error {
	p.mu.Lock()
	if p.stopped {
		p.mu.Unlock()
		return nil
	}
	p.stopped = true
	p.mu.Unlock()
	if p.exp == nil {
		return nil
	}

	stopAfter := context.AfterFunc(ctx, p.cancelExport)
	defer stopAfter()
	defer p.cancelExport()

	var errs []error
	close(p.stop)
	select {
	case <-p.done:
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("flushing spans: %w", ctx.Err()))
	}
	if err := p.exp.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("shutting down %s exporter: %w", p.cfg.Exporter, err))
	}
	return errors.Join(errs...)
}

// run is the single batching goroutine.
func (p *Pipeline) run() {
	defer close(p.done)
	batch := make([]sdktrace.ReadOnlySpan, 0, p.cfg.MaxExportBatchSize)
	timer := time.NewTimer(p.cfg.ScheduleDelay)
	defer timer.Stop()
	for {
		select {
		case <-p.full:
			// Export whole batches only; a partial one waits for the timer.
			for len(p.queue) >= p.cfg.MaxExportBatchSize {
				batch = p.take(batch)
				p.export(batch)
				batch = p.resetBatch(batch)
			}
			timer.Reset(p.cfg.ScheduleDelay)
		case <-timer.C:
			for len(p.queue) > 0 {
				batch = p.take(batch)
				p.export(batch)
				batch = p.resetBatch(batch)
			}
			timer.Reset(p.cfg.ScheduleDelay)
		case <-p.stop:
			p.drain(batch)
			return
		}
	}
}

// take appends queued spans to batch until it is full or the queue empty,
// then tells a producer waiting in WaitForRoom.
func (p *Pipeline) take(batch []sdktrace.ReadOnlySpan) []sdktrace.ReadOnlySpan {
	defer p.madeRoom()
	for len(batch) < p.cfg.MaxExportBatchSize {
		select {
		case s := <-p.queue:
			batch = append(batch, s)
		default:
			return batch
		}
	}
	return batch
}

func (p *Pipeline) madeRoom() {
	p.stuck.Store(false)
	select {
	case p.room <- struct{}{}:
	default:
	}
}

// drain exports what is pending at Shutdown. Enqueue can no longer add to the
// queue, so reading until it is empty sees every span. After a failed export
// (or the end of Shutdown's ctx) the rest is counted rather than tried: with
// a dead collector each attempt would cost a full timeout.
func (p *Pipeline) drain(batch []sdktrace.ReadOnlySpan) {
	giveUp := false
	for {
		batch = p.take(batch)
		if len(batch) == 0 {
			return
		}
		if giveUp || p.exportCtx.Err() != nil {
			p.m.shutdownDrops.Add(uint64(len(batch)))
		} else if err := p.export(batch); err != nil {
			giveUp = true
		}
		batch = p.resetBatch(batch)
	}
}

// resetBatch empties b for reuse once its spans are exported or dropped:
// Spans go back to the pool, and the slice lets go of the others.
func (p *Pipeline) resetBatch(b []sdktrace.ReadOnlySpan) []sdktrace.ReadOnlySpan {
	for _, s := range b {
		p.spans.put(s)
	}
	clear(b)
	return b[:0]
}

func (p *Pipeline) export(batch []sdktrace.ReadOnlySpan) error {
	ctx, cancel := context.WithTimeout(p.exportCtx, p.cfg.ExportTimeout)
	defer cancel()
	n := uint64(len(batch))
	err := p.exp.ExportSpans(ctx, batch)
	if err != nil {
		p.m.exportErrors.Inc()
		p.m.exportFailed.Add(n)
		// Warn once per outage, not once per batch: the counters carry the
		// volume.
		if !p.failing {
			p.log.Warn("exporting spans", "exporter", string(p.cfg.Exporter), "spans", n, "error", err)
		} else {
			p.log.Debug("exporting spans", "exporter", string(p.cfg.Exporter), "spans", n, "error", err)
		}
		p.failing = true
		return err
	}
	p.m.exported.Add(n)
	if p.failing {
		p.failing = false
		p.log.Info("span export resumed", "exporter", string(p.cfg.Exporter))
	}
	return nil
}

// newOTLPClient returns the OTLP client (transport, retries, TLS, headers,
// compression) cfg asks for.
func newOTLPClient(cfg Config) (otlptrace.Client, error) {
	var tlsCfg *tls.Config // stays nil for plaintext: otlptracehttp rejects TLS settings on http://
	if !cfg.Insecure {
		var err error
		if tlsCfg, err = loadTLS(cfg); err != nil {
			return nil, err
		}
	}
	// The OTLP packages also read OTEL_EXPORTER_OTLP_* from the process
	// environment; every setting is passed explicitly so that Config (and
	// the lookup that built it) is the single source of truth.
	headers := cfg.Headers
	if headers == nil {
		headers = map[string]string{}
	}
	switch cfg.Protocol {
	case ProtocolGRPC:
		opts := []otlptracegrpc.Option{
			otlptracegrpc.WithEndpoint(cfg.Endpoint),
			otlptracegrpc.WithHeaders(headers),
			otlptracegrpc.WithTimeout(cfg.Timeout),
			otlptracegrpc.WithRetry(otlptracegrpc.RetryConfig{
				Enabled:         true,
				InitialInterval: retryInitialInterval,
				MaxInterval:     retryMaxInterval,
				MaxElapsedTime:  cfg.Timeout,
			}),
			otlptracegrpc.WithDialOption(grpc.WithConnectParams(grpc.ConnectParams{
				Backoff: backoff.Config{
					BaseDelay:  backoff.DefaultConfig.BaseDelay,
					Multiplier: backoff.DefaultConfig.Multiplier,
					Jitter:     backoff.DefaultConfig.Jitter,
					MaxDelay:   reconnectMaxDelay,
				},
				MinConnectTimeout: cfg.Timeout,
			})),
			// The codec enforces the request size limit on the bytes it
			// writes: the client's own check measures every request with
			// proto.Size first, a tenth of the agent's CPU under load.
			otlptracegrpc.WithDialOption(grpc.WithDefaultCallOptions(grpc.ForceCodecV2(newExportCodec()))),
			otlptracegrpc.WithMaxRequestSize(0),
		}
		if cfg.Insecure {
			// Explicit insecure credentials as well: credentials the
			// package derived from OTEL_EXPORTER_OTLP_CERTIFICATE would
			// otherwise take priority over WithInsecure.
			opts = append(opts, otlptracegrpc.WithInsecure(),
				otlptracegrpc.WithTLSCredentials(insecure.NewCredentials()))
		} else {
			opts = append(opts, otlptracegrpc.WithTLSCredentials(credentials.NewTLS(tlsCfg)))
		}
		if cfg.Compression == "gzip" {
			opts = append(opts, otlptracegrpc.WithCompressor("gzip"))
		}
		return otlptracegrpc.NewClient(opts...), nil
	case ProtocolHTTPProtobuf, ProtocolHTTPJSON:
		encoding := otlptracehttp.EncodingProtobuf
		if cfg.Protocol == ProtocolHTTPJSON {
			encoding = otlptracehttp.EncodingJSON
		}
		compression := otlptracehttp.NoCompression
		if cfg.Compression == "gzip" {
			compression = otlptracehttp.GzipCompression
		}
		opts := []otlptracehttp.Option{
			// The URL's scheme selects TLS; its path is used as given
			// (ConfigFromEnv already appended /v1/traces where due).
			otlptracehttp.WithEndpointURL(cfg.Endpoint),
			otlptracehttp.WithHeaders(headers),
			otlptracehttp.WithTimeout(cfg.Timeout),
			otlptracehttp.WithEncoding(encoding),
			otlptracehttp.WithCompression(compression),
			otlptracehttp.WithTLSClientConfig(tlsCfg),
			otlptracehttp.WithRetry(otlptracehttp.RetryConfig{
				Enabled:         true,
				InitialInterval: retryInitialInterval,
				MaxInterval:     retryMaxInterval,
				MaxElapsedTime:  cfg.Timeout,
			}),
		}
		return otlptracehttp.NewClient(opts...), nil
	}
	return nil, fmt.Errorf("creating otlp exporter: unknown protocol %q (want grpc, http/protobuf or http/json)", cfg.Protocol)
}

// loadTLS builds the client TLS settings from the certificate files named in
// cfg; with none it trusts the system roots. Plaintext endpoints skip it, so
// certificate files are only read when they are used.
func loadTLS(cfg Config) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.Certificate != "" {
		pem, err := os.ReadFile(cfg.Certificate)
		if err != nil {
			return nil, fmt.Errorf("reading OTLP CA certificate %s: %w", cfg.Certificate, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("reading OTLP CA certificate %s: no PEM certificate found", cfg.Certificate)
		}
		tc.RootCAs = pool
	}
	if cfg.ClientCertificate != "" || cfg.ClientKey != "" {
		cert, err := tls.LoadX509KeyPair(cfg.ClientCertificate, cfg.ClientKey)
		if err != nil {
			return nil, fmt.Errorf("loading OTLP client certificate %s and key %s: %w", cfg.ClientCertificate, cfg.ClientKey, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}
