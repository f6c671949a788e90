// Package goexe reads what spanprobe needs from a Go executable before it
// attaches uprobes: the Go version and modules it was built with, where a
// function lives in the file, and which of its instructions to probe.
//
// Only linux/amd64 binaries built with Go 1.17 or newer are accepted: from
// 1.17 on, Go passes arguments and results in registers (the register ABI,
// https://go.dev/s/regabi), so a probe reads them from pt_regs instead of
// from a stack layout that changed between releases.
//
// Return probes go on every RET of a function instead of using uretprobes: a
// uretprobe replaces the return address on the goroutine stack, and the Go
// runtime crashes when it later copies or unwinds that stack
// (https://github.com/golang/go/issues/22008). RetSites therefore decodes
// the machine code, and fails rather than guess an instruction boundary.
//
// Probe sites are chosen by cost: the kernel emulates PUSH, CALL, JMP and
// Jcc without single-stepping them, which makes a hit about ten times
// cheaper. EntrySite prefers the PUSHQ BP that Go 1.21+ prologues execute
// once per call after the stack-bound check, with the argument registers
// still untouched.
//
// Binaries linked with -s, or run through strip, have no .symtab. Functions
// are then found in .gopclntab, the table the Go runtime itself needs for
// stack traces, which no linker flag removes. Both tables are read from a
// read-only mapping of the file and indexed on first use, so opening a
// binary of hundreds of megabytes costs the pages a lookup touches and a
// few megabytes of heap.
package goexe
