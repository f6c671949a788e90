package offsets

import "strings"

// StdModule is the module name used for the standard library and the
// runtime. Its versions are Go versions ("go1.22.3").
const StdModule = "std"

// Field names one struct field whose offset a probe needs.
type Field struct {
	// Module is the module that defines Package: StdModule for the standard
	// library, else a module path such as "github.com/lib/pq". Table entries
	// are keyed by the version of this module found in the target.
	Module string
	// Package is the import path, as DWARF spells it ("net/http").
	Package string
	// Type is the struct type name inside Package ("Request").
	Type string
	// Name is the field name ("Method").
	Name string
	// Optional fields exist in some versions only; the generator records
	// them as absent elsewhere instead of failing.
	Optional bool
	// Note says, for people, when the field exists or why a probe needs it.
	Note string
}

// Key is the lookup key: "<import path>.<Type>.<field>".
func (f Field) Key() string { return f.Struct() + "." + f.Name }

// Struct is the DWARF name of the struct type: "<import path>.<Type>".
func (f Field) Struct() string { return f.Package + "." + f.Type }

// fields is kept sorted by key; TestFieldsRegistry checks it.
var fields = []Field{
	{Module: StdModule, Package: "bufio", Type: "Reader", Name: "buf", Note: "[]byte holding the request bytes read from the connection"},
	{Module: StdModule, Package: "bufio", Type: "Reader", Name: "r", Note: "read position in buf"},
	{Module: StdModule, Package: "context", Type: "cancelCtx", Name: "Context", Note: "the parent Context, embedded first: walked to find a request's span"},
	{Module: StdModule, Package: "context", Type: "valueCtx", Name: "Context", Note: "the parent Context, embedded first: must match cancelCtx.Context"},
	{Module: StdModule, Package: "database/sql", Type: "Conn", Name: "db"},
	{Module: StdModule, Package: "database/sql", Type: "DB", Name: "connector", Note: "driver.Connector: its type, or its driver's, gives db.system.name"},
	{Module: StdModule, Package: "database/sql", Type: "Stmt", Name: "db"},
	{Module: StdModule, Package: "database/sql", Type: "Stmt", Name: "query", Note: "the prepared statement's text"},
	{Module: StdModule, Package: "database/sql", Type: "Tx", Name: "ctx", Note: "context.Context of BeginTx: parents Commit and Rollback"},
	{Module: StdModule, Package: "database/sql", Type: "Tx", Name: "db"},
	{Module: StdModule, Package: "database/sql", Type: "dsnConnector", Name: "driver", Note: "driver.Driver of a DB from sql.Open"},
	{Module: StdModule, Package: "net", Type: "TCPAddr", Name: "Port"},
	{Module: StdModule, Package: "net", Type: "TCPConn", Name: "conn"},
	{Module: StdModule, Package: "net", Type: "conn", Name: "fd"},
	{Module: StdModule, Package: "net", Type: "netFD", Name: "laddr"},
	{Module: StdModule, Package: "net/http", Type: "Request", Name: "Host"},
	{Module: StdModule, Package: "net/http", Type: "Request", Name: "Method"},
	{Module: StdModule, Package: "net/http", Type: "Request", Name: "Pattern", Optional: true, Note: "string, go1.23+: the matched ServeMux pattern"},
	{Module: StdModule, Package: "net/http", Type: "Request", Name: "ProtoMajor"},
	{Module: StdModule, Package: "net/http", Type: "Request", Name: "ProtoMinor"},
	{Module: StdModule, Package: "net/http", Type: "Request", Name: "RemoteAddr"},
	{Module: StdModule, Package: "net/http", Type: "Request", Name: "TLS", Note: "*tls.ConnectionState, nil for plain HTTP: picks the url.scheme attribute"},
	{Module: StdModule, Package: "net/http", Type: "Request", Name: "URL"},
	{Module: StdModule, Package: "net/http", Type: "Request", Name: "ctx", Note: "context.Context of the request: children find the server span through it"},
	{Module: StdModule, Package: "net/http", Type: "Request", Name: "pat", Optional: true, Note: "*pattern, go1.22+: the matched ServeMux pattern; go1.23+ keeps it next to Pattern, at another offset"},
	{Module: StdModule, Package: "net/http", Type: "Response", Name: "ProtoMajor"},
	{Module: StdModule, Package: "net/http", Type: "Response", Name: "ProtoMinor"},
	{Module: StdModule, Package: "net/http", Type: "Response", Name: "StatusCode"},
	{Module: StdModule, Package: "net/http", Type: "conn", Name: "bufr"},
	{Module: StdModule, Package: "net/http", Type: "conn", Name: "curReq", Note: "the request being served: atomic.Value of *response until go1.19, atomic.Pointer[response] from go1.20"},
	{Module: StdModule, Package: "net/http", Type: "conn", Name: "r", Note: "*connReader: must point back to a background read's reader"},
	{Module: StdModule, Package: "net/http", Type: "connReader", Name: "conn", Note: "the *conn a background read belongs to: from the goroutine it starts to the request"},
	{Module: StdModule, Package: "net/http", Type: "pattern", Name: "str", Optional: true, Note: "string, go1.22+: the pattern as registered"},
	{Module: StdModule, Package: "net/http", Type: "persistConn", Name: "conn", Note: "net.Conn of a client connection: its local port keys the outgoing traceparent"},
	{Module: StdModule, Package: "net/http", Type: "response", Name: "conn"},
	{Module: StdModule, Package: "net/http", Type: "response", Name: "handlerDone", Note: "set as finishRequest begins: a socket operation of the serving goroutine after it ends the request"},
	{Module: StdModule, Package: "net/http", Type: "response", Name: "req"},
	{Module: StdModule, Package: "net/http", Type: "response", Name: "status"},
	{Module: StdModule, Package: "net/http", Type: "response", Name: "wroteHeader"},
	{Module: StdModule, Package: "net/url", Type: "URL", Name: "Host"},
	{Module: StdModule, Package: "net/url", Type: "URL", Name: "Path"},
	{Module: StdModule, Package: "net/url", Type: "URL", Name: "RawQuery"},
	{Module: StdModule, Package: "net/url", Type: "URL", Name: "Scheme"},
	{Module: StdModule, Package: "net/url", Type: "URL", Name: "User", Note: "*Userinfo: url.full redacts it"},
	{Module: StdModule, Package: "runtime", Type: "g", Name: "goid"},
	{Module: StdModule, Package: "runtime", Type: "g", Name: "m", Note: "*m running the goroutine: from g0 to the goroutine that runs go"},
	{Module: StdModule, Package: "runtime", Type: "g", Name: "sched", Note: "gobuf: a new goroutine's ctxt is the closure it will run"},
	{Module: StdModule, Package: "runtime", Type: "g", Name: "stack", Note: "runtime.stack bounds of the goroutine: a call's depth is its SP's distance from stack.hi, which survives stack copying"},
	{Module: StdModule, Package: "runtime", Type: "gobuf", Name: "ctxt"},
	{Module: StdModule, Package: "runtime", Type: "m", Name: "curg", Note: "the user goroutine an m is running"},
	{Module: StdModule, Package: "runtime", Type: "stack", Name: "hi", Note: "top (highest address) of a goroutine stack"},
}

// Fields returns every field the probes need, sorted by key. The slice is a
// copy.
func Fields() []Field {
	out := make([]Field, len(fields))
	copy(out, fields)
	return out
}

// FieldByKey returns the field with the given key.
func FieldByKey(key string) (Field, bool) {
	for _, f := range fields {
		if f.Key() == key {
			return f, true
		}
	}
	return Field{}, false
}

// structOfKey returns the DWARF struct name of any key, registered or not:
// field names never contain a dot, so the struct is everything before the
// last one.
func structOfKey(key string) (structName, field string, ok bool) {
	i := strings.LastIndexByte(key, '.')
	if i <= 0 || i == len(key)-1 {
		return "", "", false
	}
	return key[:i], key[i+1:], true
}
