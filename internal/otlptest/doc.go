// Package otlptest runs an in-process OTLP/gRPC trace receiver for tests.
//
// Start it, point an exporter at Endpoint() with an insecure gRPC
// connection, and read back what arrived, flattened to one Span per received
// span with its resource attributes and scope name:
//
//	rcv := otlptest.Start(t)
//	// OTEL_EXPORTER_OTLP_ENDPOINT=http://<rcv.Endpoint()>
//	spans, err := rcv.WaitForSpans(ctx, 1)
//	spans[0].Resource["service.name"] // "app"
//	spans[0].Span.Name                // "GET /hello"
//
// It is a real gRPC server on loopback, not a mock, so tests exercise the
// exporter's connection handling, retries and metadata as in production.
package otlptest
