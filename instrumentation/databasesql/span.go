package databasesql

import (
	"errors"
	"strings"
	"unsafe"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/spanprobe/spanprobe/instrumentation/probe"
	"github.com/spanprobe/spanprobe/internal/sqltext"
)

var errShortRecord = errors.New("decoding database/sql event: record shorter than its lengths")

var eventSize = int(unsafe.Sizeof(databasesqlDbEvent{}))

// dsnConnector is what sql.Open wraps a driver in: the driver names the
// database, not this.
const dsnConnector = "database/sql.dsnConnector"

// callOperations name the calls that carry no statement.
var callOperations = map[databasesqlDbCall]string{
	databasesqlDbCallDB_CALL_BEGIN:    "BEGIN",
	databasesqlDbCallDB_CALL_COMMIT:   "COMMIT",
	databasesqlDbCallDB_CALL_ROLLBACK: "ROLLBACK",
}

func decode(raw []byte, s *tracetest.SpanStub, env *probe.Env) error {
	if len(raw) < eventSize {
		return errShortRecord
	}
	ev := (*databasesqlDbEvent)(unsafe.Pointer(&raw[0]))
	t := probe.TextsAfter(raw, eventSize)
	query := t.Next(ev.QueryLen)
	if t.Short() {
		return errShortRecord
	}
	fillSpan(ev, string(query), s, env)
	return nil
}

// fillSpan sets name, kind, attributes and status per the database client
// semantic conventions.
func fillSpan(ev *databasesqlDbEvent, query string, s *tracetest.SpanStub, env *probe.Env) {
	system := systemName(env, ev.Hdr.Pid, ev.ConnType, ev.DriverType)
	attrs := probe.Attrs(s, 6)
	attrs = append(attrs, semconv.DBSystemNameKey.String(system))

	op, collection := callOperations[databasesqlDbCall(ev.Call)], ""
	if op == "" {
		op, collection = sqltext.Summarize(system, query)
		switch env.QueryTextMode() {
		case probe.QueryTextOff:
			query = ""
		case probe.QueryTextSanitized:
			query = sqltext.Sanitize(system, query)
		}
		if query != "" {
			attrs = append(attrs, semconv.DBQueryText(query))
		}
	}
	if op != "" {
		attrs = append(attrs, semconv.DBOperationName(op))
	}
	if collection != "" {
		attrs = append(attrs, semconv.DBCollectionName(collection))
	}
	if ev.ErrType != 0 {
		s.Status = sdktrace.Status{Code: codes.Error}
		attrs = append(attrs, semconv.ErrorTypeKey.String(probe.ErrorType(env, ev.Hdr.Pid, ev.ErrType)))
	}
	s.Name = sqltext.SpanName(op, collection)
	s.SpanKind = trace.SpanKindClient
	s.Attributes = attrs
}

// systemName is db.system.name from the DB's connector, or from the driver
// when the connector is sql.Open's wrapper, in process pid.
func systemName(env *probe.Env, pid uint32, connType, driverType uint64) string {
	name := env.TypeName(pid, connType)
	if name == dsnConnector {
		name = env.TypeName(pid, driverType)
	}
	// "*github.com/jackc/pgx/v5/stdlib.Driver": path, then type name.
	name = strings.TrimPrefix(name, "*")
	slash := strings.LastIndexByte(name, '/')
	dot := strings.IndexByte(name[slash+1:], '.')
	if dot < 0 {
		return sqltext.SystemName("", name)
	}
	return sqltext.SystemName(name[:slash+1+dot], name[slash+1:])
}
