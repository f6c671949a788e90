// Package agent wires spanprobe together: it finds the target processes
// (a program it launches, one PID, or every process of an executable),
// analyses each executable once, attaches the probe bundles, and hands the
// spans to the export pipeline with a resource per target process.
package agent
