package exporter

import (
	"os"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

func TestResource(t *testing.T) {
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	target := TargetInfo{PID: 4242, ExePath: "/srv/bin/shop-api", GoVersion: "go1.22.3"}

	tests := []struct {
		name   string
		cfg    Config
		target TargetInfo
		want   map[attribute.Key]any // nil value: must be absent
	}{
		{
			name:   "detected",
			target: target,
			want: map[attribute.Key]any{
				"service.name":                "shop-api",
				"process.pid":                 int64(4242),
				"process.executable.name":     "shop-api",
				"process.executable.path":     "/srv/bin/shop-api",
				"process.runtime.name":        "go",
				"process.runtime.version":     "go1.22.3",
				"host.name":                   host,
				"telemetry.distro.name":       "spanprobe",
				"telemetry.distro.version":    Version,
				"telemetry.sdk.name":          "opentelemetry",
				"telemetry.sdk.language":      "go",
				"telemetry.sdk.version":       sdk.Version(),
				"service.instance.id":         nil, // not invented per run
				"process.command_args":        nil, // not the agent's
				"process.runtime.description": nil,
			},
		},
		{
			name:   "OTEL_SERVICE_NAME wins",
			cfg:    Config{ServiceName: "svc", ResourceAttributes: []attribute.KeyValue{attribute.String("service.name", "attr")}},
			target: target,
			want:   map[attribute.Key]any{"service.name": "svc"},
		},
		{
			name: "service.name from attributes, last one wins",
			cfg: Config{ResourceAttributes: []attribute.KeyValue{
				attribute.String("service.name", "first"), attribute.String("service.name", "attr")}},
			target: target,
			want:   map[attribute.Key]any{"service.name": "attr"},
		},
		{
			name: "attributes added and override detected",
			cfg: Config{ResourceAttributes: []attribute.KeyValue{
				attribute.String("deployment.environment.name", "prod"), attribute.String("host.name", "node-7")}},
			target: target,
			want: map[attribute.Key]any{
				"deployment.environment.name": "prod", "host.name": "node-7", "process.pid": int64(4242),
			},
		},
		{
			name:   "unknown target",
			target: TargetInfo{},
			want: map[attribute.Key]any{
				"service.name": "unknown_service", "process.pid": nil, "process.executable.path": nil,
				"process.runtime.version": nil, "process.runtime.name": "go",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := Resource(tt.cfg, tt.target)
			if res.SchemaURL() != semconv.SchemaURL {
				t.Errorf("schema URL = %q, want %q", res.SchemaURL(), semconv.SchemaURL)
			}
			set := res.Set()
			for k, want := range tt.want {
				v, ok := set.Value(k)
				if want == nil {
					if ok {
						t.Errorf("%s = %v, want absent", k, v.Emit())
					}
					continue
				}
				if !ok {
					t.Errorf("%s missing", k)
					continue
				}
				if got := v.AsInterface(); got != want {
					t.Errorf("%s = %#v, want %#v", k, got, want)
				}
			}
		})
	}
}

func TestResourceVersion(t *testing.T) {
	old := Version
	t.Cleanup(func() { Version = old })
	Version = "v9.9.9"
	v, _ := Resource(Config{}, TargetInfo{PID: 1}).Set().Value(semconv.TelemetryDistroVersionKey)
	if v.AsString() != "v9.9.9" {
		t.Errorf("telemetry.distro.version = %q, want v9.9.9", v.AsString())
	}
}
