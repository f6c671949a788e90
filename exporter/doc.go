// Package exporter turns finished spans into OTLP requests (or console text)
// and owns everything between the probes and the collector: configuration
// from the standard OTEL_* environment variables, the per-target Resource,
// a bounded batching queue and the OTLP/gRPC, OTLP/HTTP and console
// exporters.
//
// The batcher is our own rather than the SDK's BatchSpanProcessor because an
// agent must account for every span it loses: each drop is counted under
// spanprobe_spans_dropped_total{reason} (queue_full, export_failed, disabled,
// shutdown), and a slow or absent collector costs at most MaxQueueSize queued
// spans plus one batch in flight, never unbounded memory or a blocked
// ring-buffer reader.
//
// Environment variables keep their OpenTelemetry specification meaning
// (https://opentelemetry.io/docs/specs/otel/protocol/exporter/ and
// https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/),
// except that an invalid value is an error at start instead of being ignored
// with a warning, and OTEL_TRACES_EXPORTER takes a single value. With no
// exporter variable set at all, spans go to the console so that a first run
// shows something without a collector.
package exporter
