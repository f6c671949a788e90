// Package headscan runs the request-head scan that bpf/include/traceparent.h
// gives the server probe (find the current request head in a connection's
// buffer and its traceparent header) on bytes a test supplies, through
// BPF_PROG_RUN, so the BPF code itself is checked against a Go reference.
// It exists for its test; nothing else imports it.
package headscan
