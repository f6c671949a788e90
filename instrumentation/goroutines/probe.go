package goroutines

import (
	"go.opentelemetry.io/otel/sdk/instrumentation"

	"github.com/spanprobe/spanprobe/instrumentation/probe"
	"github.com/spanprobe/spanprobe/internal/goexe"
)

// Bundle is the goroutine lineage bundle.
var Bundle = &probe.Bundle{
	Name:    "runtime/goroutines",
	Scope:   instrumentation.Scope{Name: "github.com/spanprobe/spanprobe/instrumentation/goroutines"},
	Library: "runtime.newproc",
	Load:    loadGoroutines,
	// newproc.func1 calls runqput(pp, newg, next) from Go 1.17 to 1.27
	// (checked by internal/goexe's TestToolchains for every minor).
	Probes: []probe.Probe{{
		Symbol: "runtime.newproc.func1", Callee: "runtime.runqput", Program: "uprobe_runtime_newproc_runqput",
		At: probe.AtCalls, Optional: true, Go: probe.GoRange{From: goexe.Version{Major: 1, Minor: 17}},
	}},
}
