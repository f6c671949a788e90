// Package propagation injects a W3C traceparent into the HTTP/1 requests
// traced processes send, without writing to their memory: kernel lockdown
// (integrity or confidentiality, the default on Secure Boot hosts) forbids
// bpf_probe_write_user, and socket programs are not affected by it.
//
// A sockops program on the cgroup v2 root puts the client connections of
// the processes the agent traces into a socket map; an sk_msg program on
// that map inserts the header line at the end of each request head for
// which the client bundle has filed an open span, unless the request has a
// traceparent already. HTTPS and HTTP/2 requests are not changed.
package propagation
