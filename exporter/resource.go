package exporter

import (
	"os"
	"path/filepath"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk"
	"go.opentelemetry.io/otel/sdk/resource"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// distroName is reported as telemetry.distro.name.
const distroName = "spanprobe"

// TargetInfo identifies one traced process.
type TargetInfo struct {
	PID       int
	ExePath   string
	GoVersion string // as the binary records it, e.g. "go1.22.3"
}

// Resource describes the traced process t, not the agent: the SDK's process
// and service-name detectors would read the agent's own pid and executable,
// so none of them is used.
//
// service.name is OTEL_SERVICE_NAME, else service.name from
// OTEL_RESOURCE_ATTRIBUTES, else the base name of the target's executable.
// Other OTEL_RESOURCE_ATTRIBUTES entries override the detected attributes, as
// in the SDK.
func Resource(cfg Config, t TargetInfo) *resource.Resource {
	attrs := []attribute.KeyValue{
		semconv.TelemetrySDKName("opentelemetry"),
		semconv.TelemetrySDKLanguageGo,
		semconv.TelemetrySDKVersion(sdk.Version()),
		semconv.TelemetryDistroName(distroName),
		semconv.TelemetryDistroVersion(Version),
		semconv.ProcessRuntimeName("go"),
	}
	// The agent shares the host (or, as a sidecar, the pod) with the target,
	// so its host name is the target's.
	if h, err := os.Hostname(); err == nil && h != "" {
		attrs = append(attrs, semconv.HostName(h))
	}
	if t.GoVersion != "" {
		// semconv: the runtime's version "as returned by the runtime without
		// modification", which for Go is runtime.Version(), e.g. "go1.22.3".
		attrs = append(attrs, semconv.ProcessRuntimeVersion(t.GoVersion))
	}
	if t.PID > 0 {
		attrs = append(attrs, semconv.ProcessPID(t.PID))
	}
	exeName := ""
	if t.ExePath != "" {
		exeName = filepath.Base(t.ExePath)
		attrs = append(attrs,
			semconv.ProcessExecutableName(exeName),
			semconv.ProcessExecutablePath(t.ExePath),
		)
	}

	service, fromAttrs := strings.TrimSpace(cfg.ServiceName), ""
	for _, kv := range cfg.ResourceAttributes {
		if kv.Key == semconv.ServiceNameKey {
			fromAttrs = kv.Value.AsString() // last one wins, as for any key
			continue
		}
		attrs = append(attrs, kv)
	}
	switch {
	case service != "":
	case fromAttrs != "":
		service = fromAttrs
	case exeName != "":
		service = exeName
	default:
		service = "unknown_service"
	}
	attrs = append(attrs, semconv.ServiceName(service))

	// attribute sets keep the last value of a repeated key, which gives the
	// user's OTEL_RESOURCE_ATTRIBUTES precedence over detected values.
	return resource.NewWithAttributes(semconv.SchemaURL, attrs...)
}
