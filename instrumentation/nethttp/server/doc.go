// Package server is the net/http server bundle: one SERVER span per HTTP/1.x
// request served by net/http, named "METHOD ROUTE" when a Go 1.22+ ServeMux
// pattern matched, else "METHOD", with the stable HTTP semantic-convention
// attributes.
//
// Probed sites (Go 1.17 and newer, amd64):
//   - the CALL runtime.runqput in runtime.newproc.func1, which every `go`
//     statement reaches and where the goroutine lineage bundle traps anyway:
//     conn.serve's `go cr.backgroundRead()`, just before the handler, starts
//     a request without a body. Its fields and the first bytes of the raw
//     request head are read there.
//   - conn.serve's CALL of registerOnHitEOF (a function until a late Go 1.26
//     patch, a method of *body since): a request with a body starts there.
//   - the end, where the kernel has them (Linux 6.3+): the socket
//     tracepoints sock_send_length, sock_recv_length and inet_sock_set_state.
//     finishRequest sets response.handlerDone before it writes the response
//     out; the serving goroutine's first socket operation after that ends
//     the request, for no trap at all. Else (or with --exit-probes=uprobe)
//     the entry of net/http.(*response).finishRequest, which conn.serve calls
//     right after the handler returns, on the same goroutine: an emulated
//     instruction. With --exit-probes=ret, or without finishRequest, every
//     RET of serverHandler.ServeHTTP.
//
// One uprobe hit per request, emulated by the kernel and shared with
// goroutine lineage: an entry probe of its own (serverHandler.ServeHTTP)
// would make two. HTTP/2 requests (served by the bundled x/net/http2) take
// neither start site and get no span.
//
// A pipelined request whose head was read with the one before it, while a
// further request's first byte was already waiting, starts no background
// read: it gets no span. With the finishRequest exit its end is counted as
// unmatched_exit; the socket tracepoints cannot tell it from any other
// socket operation, so it goes uncounted.
//
// Limits (longer values are cut): method 16 bytes, url.path 128, the Host
// header 64, the peer address 48, http.route 96; user_agent.original is found
// when the User-Agent line ends within the first 4096 bytes of the request head.
package server
