// Package httpconv holds what the net/http server and client bundles share
// of the HTTP semantic conventions: method normalisation, host:port
// splitting and protocol versions.
package httpconv

import (
	"errors"
	"net"
	"strconv"
	"strings"
)

// knownMethods maps each method of the semantic conventions' list to
// itself: a lookup with the bytes of a record returns it as a string
// without a copy.
var knownMethods = map[string]string{
	"GET": "GET", "HEAD": "HEAD", "POST": "POST", "PUT": "PUT", "DELETE": "DELETE",
	"CONNECT": "CONNECT", "OPTIONS": "OPTIONS", "TRACE": "TRACE", "PATCH": "PATCH", "QUERY": "QUERY",
}

// NormalizeMethod maps methods outside the semantic conventions' list to
// "_OTHER", keeping the original for http.request.method_original.
func NormalizeMethod(m string) (method, original string) {
	if k, ok := knownMethods[m]; ok {
		return k, ""
	}
	return "_OTHER", m
}

// MethodBytes is NormalizeMethod without a copy: a known method comes back
// as a constant; for any other (known false) the caller keeps the
// original bytes.
func MethodBytes(m []byte) (method string, known bool) {
	if k, ok := knownMethods[string(m)]; ok { // no conversion for a map index
		return k, true
	}
	return "_OTHER", false
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
	host, portStr, err := "", "", errNoPort
	if strings.IndexByte(hp, ':') >= 0 { // else SplitHostPort would allocate an error to say so
		host, portStr, err = net.SplitHostPort(hp)
	}
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

var errNoPort = errors.New("no port")

// ProtocolVersion is network.protocol.version: "1.1", "2", or "" when the
// version is unknown.
func ProtocolVersion(major, minor int64) string {
	switch {
	case major <= 0:
		return ""
	case major == 1 && minor == 1: // the usual ones without an allocation
		return "1.1"
	case major == 1 && minor == 0:
		return "1.0"
	case major >= 2:
		return strconv.FormatInt(major, 10)
	default:
		return strconv.FormatInt(major, 10) + "." + strconv.FormatInt(minor, 10)
	}
}
