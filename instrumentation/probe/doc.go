// Package probe does the plumbing every probe bundle shares: it loads a
// bundle's BPF collection with the target's struct offsets, attaches its
// uprobes at entry sites and RET instructions found by disassembly (and
// programs on kernel tracepoints where a bundle ends calls there), reads the
// one ring buffer shared by all bundles of a target, and turns each record
// into a span through the bundle's decoder.
//
// Bundles (instrumentation/...) only declare data: symbols, programs,
// offsets, constants and a decoder. They have no read loops.
//
// Never uretprobes: they rewrite the return address on the goroutine stack,
// and Go moves stacks when they grow, which crashes the target. Every exit is
// a plain uprobe on a RET instruction or on a cheaper site known to run right
// after the function returns, or a kernel tracepoint the same goroutine is
// known to pass next (the net/http server's socket operations).
package probe
