// Package instrumentation lists spanprobe's probe bundles. Each bundle lives
// in its own package below this one; the shared plumbing is in probe.
package instrumentation

import (
	"github.com/spanprobe/spanprobe/instrumentation/databasesql"
	"github.com/spanprobe/spanprobe/instrumentation/funcs"
	"github.com/spanprobe/spanprobe/instrumentation/goroutines"
	"github.com/spanprobe/spanprobe/instrumentation/nethttp/client"
	"github.com/spanprobe/spanprobe/instrumentation/nethttp/server"
	"github.com/spanprobe/spanprobe/instrumentation/probe"
)

// All is every probe bundle, in attach order.
var All = []*probe.Bundle{server.Bundle, client.Bundle, databasesql.Bundle, funcs.Bundle, goroutines.Bundle}
