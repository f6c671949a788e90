// Package server is the net/http server bundle: one SERVER span per HTTP/1.x
// request served by net/http, named "METHOD ROUTE" when a Go 1.22+ ServeMux
// pattern matched, else "METHOD", with the stable HTTP semantic-convention
// attributes.
//
// Probed symbols (Go 1.17 and newer, amd64):
//   - net/http.serverHandler.ServeHTTP, at its entry (PUSHQ BP): the request
//     starts, its fields and the first bytes of the raw request head are read.
//   - net/http.(*response).finishRequest, at its entry: conn.serve calls it
//     right after ServeHTTP returns, on the same goroutine, so it marks the
//     end for the price of an emulated instruction. If it is missing, or
//     with --ret-probes, every RET of ServeHTTP is probed instead.
//
// Two uprobe hits per request, both emulated by the kernel. HTTP/2 requests
// (served by the bundled x/net/http2) are counted as unsupported and skipped.
//
// Limits (longer values are cut): method 16 bytes, url.path 128, the Host
// header 64, the peer address 48, http.route 96; user_agent.original is found
// when the User-Agent line ends within the first 512 bytes of the request head.
package server
