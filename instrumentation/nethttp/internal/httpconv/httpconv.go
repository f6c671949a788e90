// Package httpconv holds what the net/http server and client bundles share
// of the HTTP semantic conventions: method normalisation, host:port
// splitting and protocol versions.
package httpconv

import (
	"net"
	"strconv"
	"strings"
)

var knownMethods = map[string]bool{
	"GET": true, "HEAD": true, "POST": true, "PUT": true, "DELETE": true,
	"CONNECT": true, "OPTIONS": true, "TRACE": true, "PATCH": true, "QUERY": true,
}

// NormalizeMethod maps methods outside the semantic conventions' list to
// "_OTHER", keeping the original for http.request.method_original.
func NormalizeMethod(m string) (method, original string) {
	if knownMethods[m] {
		return m, ""
	}
	return "_OTHER", m
}

// SpanName is the method and, when known, the route; "HTTP" stands for a
// method outside the list.
func SpanName(method, route string) string {
	if method == "_OTHER" {
		method = "HTTP"
	}
	if route == "" {
		return method
	}
	return method + " " + route
}

// SplitHostPort splits "host:port" and "[v6]:port"; without a port it uses
// the scheme's default when a scheme is given.
func SplitHostPort(hp, scheme string) (string, int) {
	if hp == "" {
		return "", 0
	}
	host, portStr, err := net.SplitHostPort(hp)
	if err != nil {
		host = strings.TrimSuffix(strings.TrimPrefix(hp, "["), "]")
		switch scheme {
		case "http":
			return host, 80
		case "https":
			return host, 443
		}
		return host, 0
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		port = 0
	}
	return host, port
}

// ProtocolVersion is network.protocol.version: "1.1", "2", or "" when the
// version is unknown.
func ProtocolVersion(major, minor int64) string {
	switch {
	case major <= 0:
		return ""
	case major >= 2:
		return strconv.FormatInt(major, 10)
	default:
		return strconv.FormatInt(major, 10) + "." + strconv.FormatInt(minor, 10)
	}
}
