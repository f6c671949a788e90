// Package goroutines keeps goroutine lineage for parenting: a goroutine
// started inside a request inherits the request's span, so the client and
// database spans it makes become the request's children. It makes no spans
// of its own and is attached only next to a bundle that does.
//
// Probed: the CALL runtime.runqput in runtime.newproc.func1 (every `go`
// statement passes there once), Go 1.17 and later.
package goroutines
