// Package client is the net/http client probe bundle: a CLIENT span for
// every request a Transport sends (http.Get, Client.Do, RoundTrippers that
// delegate to a Transport), a child of the request span open in its
// context or on its goroutine.
//
// Probed: net/http.(*Transport).roundTrip, Go 1.17 and later: its entry,
// its test of the error its connection's roundTrip returned (a successful
// request ends there, on an emulated Jcc) and the RETs of its other paths
// (failures, single-stepped). Limits: url.full keeps at most 16 bytes of scheme, 64 of host, 128
// of path and 128 of query; user info and signature query values are
// redacted. error.type of a transport error is its Go type with package
// path ("*net.OpError"), named from the binary's type descriptors.
package client
