// Package health serves the agent's operational HTTP endpoints: /readyz for
// orchestrators (200 once probes are attached, 503 before) and /metrics with
// the agent's own counters in the Prometheus text format.
//
// Serve listens before it returns so the caller learns the real address even
// when it asked for port 0, and so a port clash is a start-up error rather
// than a log line from a background goroutine.
package health
