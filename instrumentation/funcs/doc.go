// Package funcs is the bundle behind --func: an INTERNAL span for every
// call of the functions the user names, with glob patterns (main.*) in the
// spelling of go tool nm and objdump (main.(*Store).Get, main.Sum[...] for
// every instance of a generic function), at most MaxFuncs functions.
//
// Each call is seen at the function's entry site (the prologue's PUSHQ BP,
// emulated by the kernel, ~0.9 us a hit here; Go 1.17-1.20: the stack
// check's branch) and at each of its RET instructions (single-stepped,
// ~12 us a hit): probing a function called millions of times a second
// slows it down accordingly, so /metrics counts the calls of each
// (spanprobe_func_calls_total{function}). A call inlined into its caller
// runs none of the function's own code and is not seen.
//
// A span's parent is the innermost probed call still open on the same
// goroutine (so recursion nests, each call under the one that made it),
// else the request span open on the goroutine, else none: a trace of its
// own. A call left by a panic (or runtime.Goexit) has no RET: it is dropped
// when its goroutine next enters or leaves a probed function, counted as
// spanprobe_probe_events_dropped_total{probe="funcs",reason="abandoned_frame"}.
// At most 16 probed calls are open per goroutine (deeper ones are counted
// as too_deep and get no span), and 8192 over all goroutines.
//
// With --func-args, the arguments of basic kinds become attributes
// arg.NAME: integers, bools, strings (the first 64 bytes) and the length
// of slices (arg.NAME.len), at most 16 per function and 4 of them strings.
// Their places come from the Go register ABI (https://go.dev/s/regabi)
// applied to the parameter types in the binary's DWARF, so a binary linked
// with -w gets spans without arguments (and one warning line). Floats are
// captured only when the ABI passes them on the stack (after X0-X14 are
// taken): a uprobe program sees the integer registers only.
//
// Go 1.17 and later, amd64.
package funcs
