package client

import (
	"go.opentelemetry.io/otel/sdk/instrumentation"

	"github.com/spanprobe/spanprobe/instrumentation/probe"
	"github.com/spanprobe/spanprobe/internal/goexe"
)

const roundTrip = "net/http.(*Transport).roundTrip"

// Bundle is the net/http client probe bundle.
var Bundle = &probe.Bundle{
	Name:    "nethttp/client",
	Scope:   instrumentation.Scope{Name: "github.com/spanprobe/spanprobe/instrumentation/nethttp/client"},
	Library: roundTrip,
	Load:    loadClient,
	Offsets: []probe.Offset{
		{Var: "off_request_method", Key: "net/http.Request.Method"},
		{Var: "off_request_url", Key: "net/http.Request.URL"},
		{Var: "off_request_ctx", Key: "net/http.Request.ctx"},
		{Var: "off_url_scheme", Key: "net/url.URL.Scheme"},
		{Var: "off_url_user", Key: "net/url.URL.User"},
		{Var: "off_url_host", Key: "net/url.URL.Host"},
		{Var: "off_url_path", Key: "net/url.URL.Path"},
		{Var: "off_url_raw_query", Key: "net/url.URL.RawQuery"},
		{Var: "off_response_status_code", Key: "net/http.Response.StatusCode"},
		{Var: "off_response_proto_major", Key: "net/http.Response.ProtoMajor"},
		{Var: "off_response_proto_minor", Key: "net/http.Response.ProtoMinor"},
		{Var: "off_persistconn_conn", Key: "net/http.persistConn.conn"},
		{Var: "off_tcpconn_conn", Key: "net.TCPConn.conn"},
		{Var: "off_conn_fd", Key: "net.conn.fd"},
		{Var: "off_netfd_laddr", Key: "net.netFD.laddr"},
		{Var: "off_tcpaddr_port", Key: "net.TCPAddr.Port"},
	},
	// roundTrip keeps its name and registers from Go 1.17 to 1.27
	// (TestGoVersionMatrix checks every minor).
	Probes: []probe.Probe{
		{Symbol: roundTrip, Program: "uprobe_Transport_roundTrip", At: probe.AtEntry, Go: go117},
		{Symbol: roundTrip, Callee: "net/http.(*persistConn).roundTrip", Program: "uprobe_Transport_roundTrip_success", At: probe.AtSuccessTests,
			Returns: "uprobe_Transport_roundTrip_ret", Cheap: true, Go: go117,
			Fallback: &probe.Probe{Symbol: roundTrip, Program: "uprobe_Transport_roundTrip_ret", At: probe.AtReturns, Go: go117}},
		// Outgoing traceparent only: without it the spans are still made.
		{Symbol: "net/http.(*persistConn).roundTrip", Program: "uprobe_persistConn_roundTrip", At: probe.AtEntry, Optional: true, Go: go117},
	},
	EventKind: probe.KindHTTPClient,
	Decode:    decode,
}

var go117 = probe.GoRange{From: goexe.Version{Major: 1, Minor: 17}}
