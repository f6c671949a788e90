// Package client is the net/http client probe bundle: a CLIENT span for
// every request a Transport sends (http.Get, Client.Do, RoundTrippers that
// delegate to a Transport), a child of the request span open in its
// context or on its goroutine.
//
// Probed: net/http.(*Transport).roundTrip, entry and RETs, Go 1.17 and
// later. Limits: url.full keeps at most 16 bytes of scheme, 64 of host, 128
// of path and 128 of query; user info and signature query values are
// redacted. error.type of a transport error is its Go type with package
// path ("*net.OpError"), named from the binary's type descriptors.
package client
