// Package metrics is a small, dependency-free registry of counters and gauges
// rendered in the Prometheus text exposition format (version 0.0.4).
//
// The agent needs a handful of counters that are bumped from hot paths (ring
// buffer reads, span drops), so a counter is a single atomic word: Add, Inc and
// Load never allocate or lock. Registration and rendering take a mutex, which
// is fine because they happen at start-up and once per scrape.
//
// Output is deterministic: families are sorted by name and series within a
// family by their rendered label set, so scrapes diff cleanly and tests can
// compare text.
package metrics
