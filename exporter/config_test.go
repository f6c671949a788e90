package exporter

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
)

func lookupMap(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

// base is what ConfigFromEnv returns for OTEL_TRACES_EXPORTER=otlp alone.
func base() Config {
	return Config{
		Exporter:           ExporterOTLP,
		Protocol:           ProtocolGRPC,
		Endpoint:           "localhost:4317",
		Insecure:           true,
		Timeout:            10 * time.Second,
		ScheduleDelay:      5 * time.Second,
		ExportTimeout:      30 * time.Second,
		MaxQueueSize:       2048,
		MaxExportBatchSize: 512,
		Sampler:            DefaultSampler,
	}
}

func TestConfigFromEnv(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want func(c *Config)
	}{
		{
			name: "nothing set: embedded console",
			env:  nil,
			want: func(c *Config) { c.Exporter, c.Embedded = ExporterConsole, true },
		},
		{
			name: "empty values count as unset",
			env:  map[string]string{"OTEL_TRACES_EXPORTER": "", "OTEL_EXPORTER_OTLP_ENDPOINT": "  "},
			want: func(c *Config) { c.Exporter, c.Embedded = ExporterConsole, true },
		},
		{
			name: "service and resource variables do not pick an exporter",
			env: map[string]string{"OTEL_SERVICE_NAME": "shop", "OTEL_RESOURCE_ATTRIBUTES": "a=b",
				"OTEL_BSP_SCHEDULE_DELAY": "100"},
			want: func(c *Config) {
				c.Exporter, c.Embedded = ExporterConsole, true
				c.ServiceName = "shop"
				c.ResourceAttributes = []attribute.KeyValue{attribute.String("a", "b")}
				c.ScheduleDelay = 100 * time.Millisecond
			},
		},
		{
			name: "otlp default endpoint",
			env:  map[string]string{"OTEL_TRACES_EXPORTER": "otlp"},
			want: func(*Config) {},
		},
		{
			name: "any OTLP variable selects otlp",
			env:  map[string]string{"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "1000"},
			want: func(c *Config) { c.Timeout = time.Second },
		},
		{
			name: "exporter value is case-insensitive and trimmed",
			env:  map[string]string{"OTEL_TRACES_EXPORTER": " Console "},
			want: func(c *Config) { c.Exporter = ExporterConsole },
		},
		{
			name: "none",
			env:  map[string]string{"OTEL_TRACES_EXPORTER": "none"},
			want: func(c *Config) { c.Exporter = ExporterNone },
		},
		{
			name: "grpc http endpoint",
			env:  map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317"},
			want: func(c *Config) { c.Endpoint = "collector:4317" },
		},
		{
			name: "grpc https endpoint is secure, path ignored",
			env:  map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "https://collector:4317/ignored"},
			want: func(c *Config) { c.Endpoint, c.Insecure = "collector:4317", false },
		},
		{
			name: "scheme wins over INSECURE",
			env:  map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "https://collector:4317", "OTEL_EXPORTER_OTLP_INSECURE": "true"},
			want: func(c *Config) { c.Endpoint, c.Insecure = "collector:4317", false },
		},
		{
			name: "grpc host:port is secure by default",
			env:  map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4317"},
			want: func(c *Config) { c.Endpoint, c.Insecure = "collector:4317", false },
		},
		{
			name: "grpc host:port with INSECURE",
			env:  map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4317", "OTEL_EXPORTER_OTLP_INSECURE": "TRUE"},
			want: func(c *Config) { c.Endpoint = "collector:4317" },
		},
		{
			name: "TRACES_INSECURE wins over INSECURE",
			env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4317",
				"OTEL_EXPORTER_OTLP_INSECURE": "true", "OTEL_EXPORTER_OTLP_TRACES_INSECURE": "false"},
			want: func(c *Config) { c.Endpoint, c.Insecure = "collector:4317", false },
		},
		{
			name: "traces endpoint wins over generic",
			env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://generic:4317",
				"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://traces:4317"},
			want: func(c *Config) { c.Endpoint, c.Insecure = "traces:4317", false },
		},
		{
			name: "grpc ipv6 endpoint",
			env:  map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://[::1]:4317"},
			want: func(c *Config) { c.Endpoint = "[::1]:4317" },
		},
		{
			name: "http/protobuf default endpoint",
			env:  map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"},
			want: func(c *Config) {
				c.Protocol, c.Endpoint = ProtocolHTTPProtobuf, "http://localhost:4318/v1/traces"
			},
		},
		{
			name: "protocol is case-insensitive",
			env:  map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "HTTP/Protobuf"},
			want: func(c *Config) {
				c.Protocol, c.Endpoint = ProtocolHTTPProtobuf, "http://localhost:4318/v1/traces"
			},
		},
		{
			name: "http generic endpoint gets /v1/traces",
			env: map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
				"OTEL_EXPORTER_OTLP_ENDPOINT": "https://collector:4318"},
			want: func(c *Config) {
				c.Protocol, c.Endpoint, c.Insecure = ProtocolHTTPProtobuf, "https://collector:4318/v1/traces", false
			},
		},
		{
			name: "http generic endpoint with base path",
			env: map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
				"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/otlp/"},
			want: func(c *Config) {
				c.Protocol, c.Endpoint = ProtocolHTTPProtobuf, "http://collector:4318/otlp/v1/traces"
			},
		},
		{
			name: "http traces endpoint used as is",
			env: map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
				"OTEL_EXPORTER_OTLP_ENDPOINT":        "http://generic:4318",
				"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/custom/path"},
			want: func(c *Config) {
				c.Protocol, c.Endpoint = ProtocolHTTPProtobuf, "http://collector:4318/custom/path"
			},
		},
		{
			name: "http traces endpoint without path gets /",
			env: map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
				"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318"},
			want: func(c *Config) { c.Protocol, c.Endpoint = ProtocolHTTPProtobuf, "http://collector:4318/" },
		},
		{
			name: "traces protocol wins",
			env: map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
				"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/json"},
			want: func(c *Config) { c.Protocol, c.Endpoint = ProtocolHTTPJSON, "http://localhost:4318/v1/traces" },
		},
		{
			name: "headers percent-decoded and trimmed",
			env:  map[string]string{"OTEL_EXPORTER_OTLP_HEADERS": "api-key=secret%20value%2Cx , X-Tenant = a=b,,"},
			want: func(c *Config) {
				c.Headers = map[string]string{"api-key": "secret value,x", "X-Tenant": "a=b"}
			},
		},
		{
			name: "traces headers replace generic",
			env: map[string]string{"OTEL_EXPORTER_OTLP_HEADERS": "a=1,b=2",
				"OTEL_EXPORTER_OTLP_TRACES_HEADERS": "c=3"},
			want: func(c *Config) { c.Headers = map[string]string{"c": "3"} },
		},
		{
			name: "timeouts in milliseconds, traces wins",
			env: map[string]string{"OTEL_EXPORTER_OTLP_TIMEOUT": "2500",
				"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "750"},
			want: func(c *Config) { c.Timeout = 750 * time.Millisecond },
		},
		{
			name: "compression",
			env:  map[string]string{"OTEL_EXPORTER_OTLP_COMPRESSION": "GZIP"},
			want: func(c *Config) { c.Compression = "gzip" },
		},
		{
			name: "compression none",
			env:  map[string]string{"OTEL_EXPORTER_OTLP_COMPRESSION": "gzip", "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION": "none"},
			want: func(*Config) {},
		},
		{
			name: "certificates",
			env: map[string]string{"OTEL_EXPORTER_OTLP_CERTIFICATE": "/ca.pem",
				"OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE": "/c.pem", "OTEL_EXPORTER_OTLP_CLIENT_KEY": "/k.pem"},
			want: func(c *Config) { c.Certificate, c.ClientCertificate, c.ClientKey = "/ca.pem", "/c.pem", "/k.pem" },
		},
		{
			name: "batch processor",
			env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_BSP_SCHEDULE_DELAY": "200",
				"OTEL_BSP_EXPORT_TIMEOUT": "3000", "OTEL_BSP_MAX_QUEUE_SIZE": "100", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "100"},
			want: func(c *Config) {
				c.ScheduleDelay, c.ExportTimeout = 200*time.Millisecond, 3*time.Second
				c.MaxQueueSize, c.MaxExportBatchSize = 100, 100
			},
		},
		{
			name: "resource attributes",
			env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SERVICE_NAME": " shop ",
				"OTEL_RESOURCE_ATTRIBUTES": "deployment.environment.name=prod, team = a%2Cb%3Dc ,empty="},
			want: func(c *Config) {
				c.ServiceName = "shop"
				c.ResourceAttributes = []attribute.KeyValue{
					attribute.String("deployment.environment.name", "prod"),
					attribute.String("team", "a,b=c"),
					attribute.String("empty", ""),
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ConfigFromEnv(lookupMap(tt.env))
			if err != nil {
				t.Fatalf("ConfigFromEnv: %v", err)
			}
			want := base()
			tt.want(&want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("config mismatch\n got: %+v\nwant: %+v", got, want)
			}
		})
	}
}

func TestConfigFromEnvInvalid(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    []string // substrings of the error
		notWant string   // must not appear (secrets)
	}{
		{"unknown exporter", map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"},
			[]string{"OTEL_TRACES_EXPORTER", `"zipkin"`, "otlp, console, none"}, ""},
		{"exporter list", map[string]string{"OTEL_TRACES_EXPORTER": "otlp,console"},
			[]string{"OTEL_TRACES_EXPORTER", `"otlp,console"`, "otlp, console, none"}, ""},
		{"unknown protocol", map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "thrift"},
			[]string{"OTEL_EXPORTER_OTLP_PROTOCOL", `"thrift"`, "grpc, http/protobuf or http/json"}, ""},
		{"unknown traces protocol", map[string]string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "udp"},
			[]string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", `"udp"`}, ""},
		{"http endpoint without scheme", map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
			"OTEL_EXPORTER_OTLP_ENDPOINT": "localhost:4318"},
			[]string{"OTEL_EXPORTER_OTLP_ENDPOINT", `"localhost:4318"`, "URL"}, ""},
		{"endpoint with other scheme", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "ftp://collector:21"},
			[]string{"OTEL_EXPORTER_OTLP_ENDPOINT", `"ftp://collector:21"`}, ""},
		{"endpoint without host", map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://:4317"},
			[]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", `"http://:4317"`}, ""},
		{"endpoint unparsable", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a b:1"},
			[]string{"OTEL_EXPORTER_OTLP_ENDPOINT"}, ""},
		{"grpc bare endpoint with path", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4317/x"},
			[]string{"OTEL_EXPORTER_OTLP_ENDPOINT", `"collector:4317/x"`}, ""},
		{"insecure not a bool", map[string]string{"OTEL_EXPORTER_OTLP_INSECURE": "yes"},
			[]string{"OTEL_EXPORTER_OTLP_INSECURE", `"yes"`, "true or false"}, ""},
		{"traces insecure not a bool", map[string]string{"OTEL_EXPORTER_OTLP_TRACES_INSECURE": "1"},
			[]string{"OTEL_EXPORTER_OTLP_TRACES_INSECURE", `"1"`}, ""},
		{"header without =", map[string]string{"OTEL_EXPORTER_OTLP_HEADERS": "a=1,tokenonly"},
			[]string{"OTEL_EXPORTER_OTLP_HEADERS", "entry 2"}, "tokenonly"},
		{"header bad name", map[string]string{"OTEL_EXPORTER_OTLP_TRACES_HEADERS": "bad key=v"},
			[]string{"OTEL_EXPORTER_OTLP_TRACES_HEADERS", `"bad key"`}, ""},
		{"header bad escape does not leak the value", map[string]string{"OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer%zzsecret"},
			[]string{"OTEL_EXPORTER_OTLP_HEADERS", `"authorization"`, "percent-encoding"}, "secret"},
		{"timeout with unit", map[string]string{"OTEL_EXPORTER_OTLP_TIMEOUT": "10s"},
			[]string{"OTEL_EXPORTER_OTLP_TIMEOUT", `"10s"`, "milliseconds"}, ""},
		{"timeout zero", map[string]string{"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "0"},
			[]string{"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", `"0"`}, ""},
		{"timeout negative", map[string]string{"OTEL_EXPORTER_OTLP_TIMEOUT": "-5"},
			[]string{"OTEL_EXPORTER_OTLP_TIMEOUT", `"-5"`}, ""},
		{"compression unknown", map[string]string{"OTEL_EXPORTER_OTLP_COMPRESSION": "brotli"},
			[]string{"OTEL_EXPORTER_OTLP_COMPRESSION", `"brotli"`, "gzip or none"}, ""},
		{"client cert without key", map[string]string{"OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE": "/c.pem"},
			[]string{"OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", "CLIENT_KEY"}, ""},
		{"client key without cert", map[string]string{"OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY": "/k.pem"},
			[]string{"OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY", "CLIENT_CERTIFICATE"}, "/k.pem"},
		{"schedule delay fraction", map[string]string{"OTEL_BSP_SCHEDULE_DELAY": "1.5"},
			[]string{"OTEL_BSP_SCHEDULE_DELAY", `"1.5"`}, ""},
		{"export timeout negative", map[string]string{"OTEL_BSP_EXPORT_TIMEOUT": "-1"},
			[]string{"OTEL_BSP_EXPORT_TIMEOUT", `"-1"`}, ""},
		{"queue size zero", map[string]string{"OTEL_BSP_MAX_QUEUE_SIZE": "0"},
			[]string{"OTEL_BSP_MAX_QUEUE_SIZE", `"0"`, "positive integer"}, ""},
		{"queue size huge", map[string]string{"OTEL_BSP_MAX_QUEUE_SIZE": "99999999"},
			[]string{"OTEL_BSP_MAX_QUEUE_SIZE", `"99999999"`, "at most"}, ""},
		{"batch size not a number", map[string]string{"OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "lots"},
			[]string{"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", `"lots"`}, ""},
		{"batch larger than queue", map[string]string{"OTEL_BSP_MAX_QUEUE_SIZE": "10", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "20"},
			[]string{"OTEL_BSP_MAX_EXPORT_BATCH_SIZE=20", "OTEL_BSP_MAX_QUEUE_SIZE=10"}, ""},
		{"batch larger than default queue", map[string]string{"OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "4096"},
			[]string{"OTEL_BSP_MAX_EXPORT_BATCH_SIZE=4096", "OTEL_BSP_MAX_QUEUE_SIZE=2048"}, ""},
		{"resource attribute without =", map[string]string{"OTEL_RESOURCE_ATTRIBUTES": "a=1,broken"},
			[]string{"OTEL_RESOURCE_ATTRIBUTES", `"broken"`}, ""},
		{"resource attribute empty key", map[string]string{"OTEL_RESOURCE_ATTRIBUTES": "=v"},
			[]string{"OTEL_RESOURCE_ATTRIBUTES", `"=v"`}, ""},
		{"resource attribute bad escape", map[string]string{"OTEL_RESOURCE_ATTRIBUTES": "k=%zz"},
			[]string{"OTEL_RESOURCE_ATTRIBUTES", `"k"`, "percent-encoding"}, ""},
		{"every bad variable is reported", map[string]string{"OTEL_TRACES_EXPORTER": "jaeger", "OTEL_BSP_MAX_QUEUE_SIZE": "x"},
			[]string{"OTEL_TRACES_EXPORTER", "OTEL_BSP_MAX_QUEUE_SIZE"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ConfigFromEnv(lookupMap(tt.env))
			if err == nil {
				t.Fatal("ConfigFromEnv succeeded, want error")
			}
			if !errors.Is(err, ErrInvalidEnv) {
				t.Errorf("error %q does not wrap ErrInvalidEnv", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if tt.notWant != "" && strings.Contains(err.Error(), tt.notWant) {
				t.Errorf("error %q contains %q", err, tt.notWant)
			}
		})
	}
}

func TestDescribe(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"embedded", nil, "no exporter configured: printing spans to the console (embedded default; " +
			"set OTEL_TRACES_EXPORTER / OTEL_EXPORTER_OTLP_ENDPOINT to export)"},
		{"console", map[string]string{"OTEL_TRACES_EXPORTER": "console"},
			"printing spans to the console (OTEL_TRACES_EXPORTER=console)"},
		{"none", map[string]string{"OTEL_TRACES_EXPORTER": "none"},
			"span export disabled (OTEL_TRACES_EXPORTER=none): spans are counted as dropped"},
		{"grpc default", map[string]string{"OTEL_TRACES_EXPORTER": "otlp"},
			"exporting spans with otlp/grpc to localhost:4317"},
		{"grpc tls", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "https://c.example:443"},
			"exporting spans with otlp/grpc to c.example:443 (TLS)"},
		{"http", map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"},
			"exporting spans with otlp/http to http://localhost:4318/v1/traces"},
		{"http json", map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json", "OTEL_EXPORTER_OTLP_HEADERS": "authorization=secret"},
			"exporting spans with otlp/http+json to http://localhost:4318/v1/traces"},
		{"sampler", map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"},
			"exporting spans with otlp/grpc to localhost:4317; sampler parentbased_traceidratio (0.1)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := ConfigFromEnv(lookupMap(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.Describe(); got != tt.want {
				t.Errorf("Describe() = %q, want %q", got, tt.want)
			}
		})
	}
}
