package exporter

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
)

// ErrInvalidEnv is wrapped by every ConfigFromEnv error about a variable's
// value.
var ErrInvalidEnv = errors.New("invalid environment variable")

// ExporterKind selects where spans go (OTEL_TRACES_EXPORTER).
type ExporterKind string

// Exporter kinds.
const (
	ExporterOTLP    ExporterKind = "otlp"
	ExporterConsole ExporterKind = "console"
	ExporterNone    ExporterKind = "none"
)

// Protocol is the OTLP transport (OTEL_EXPORTER_OTLP_PROTOCOL).
type Protocol string

// OTLP protocols.
const (
	ProtocolGRPC         Protocol = "grpc"
	ProtocolHTTPProtobuf Protocol = "http/protobuf"
	ProtocolHTTPJSON     Protocol = "http/json"
)

// Defaults from the OpenTelemetry specification.
const (
	DefaultGRPCEndpoint       = "http://localhost:4317"
	DefaultHTTPEndpoint       = "http://localhost:4318"
	DefaultTimeout            = 10 * time.Second
	DefaultScheduleDelay      = 5 * time.Second
	DefaultExportTimeout      = 30 * time.Second
	DefaultMaxQueueSize       = 2048
	DefaultMaxExportBatchSize = 512

	// MaxQueueSizeLimit caps OTEL_BSP_MAX_QUEUE_SIZE: the queue is allocated
	// up front, so a typo like 2048000000 would otherwise cost gigabytes.
	MaxQueueSizeLimit = 1 << 20

	tracesPath = "/v1/traces"
)

// Config is the exporter configuration, normally read by ConfigFromEnv.
type Config struct {
	// Exporter is otlp, console or none.
	Exporter ExporterKind
	// Embedded is true when no exporter-related variable was set at all;
	// Exporter is then console so a first run prints spans.
	Embedded bool

	// Protocol is the OTLP transport.
	Protocol Protocol
	// Endpoint is "host:port" for gRPC and the full URL (path included,
	// e.g. "http://localhost:4318/v1/traces") for HTTP.
	Endpoint string
	// Insecure disables TLS: from the endpoint's scheme when it has one
	// (http:// insecure, https:// TLS), else from OTEL_EXPORTER_OTLP_INSECURE.
	Insecure bool
	// Headers are sent with every export request (gRPC metadata or HTTP
	// headers). They often hold credentials: never log them.
	Headers map[string]string
	// Timeout bounds one OTLP export request including its retries.
	Timeout time.Duration
	// Compression is "gzip" or "" (none).
	Compression string
	// Certificate is a PEM file of CAs to trust instead of the system roots;
	// ClientCertificate and ClientKey are PEM files for mTLS. Read by New.
	Certificate, ClientCertificate, ClientKey string

	// ServiceName is OTEL_SERVICE_NAME; it wins over service.name in
	// ResourceAttributes.
	ServiceName string
	// ResourceAttributes are the OTEL_RESOURCE_ATTRIBUTES entries, in order.
	ResourceAttributes []attribute.KeyValue

	// ScheduleDelay is the longest a span waits in the queue before a
	// partial batch is exported.
	ScheduleDelay time.Duration
	// ExportTimeout bounds one batch export as seen by the batcher.
	ExportTimeout time.Duration
	// MaxQueueSize is the number of spans buffered; more are dropped.
	MaxQueueSize int
	// MaxExportBatchSize is the most spans sent in one export call.
	MaxExportBatchSize int

	// Sampler says which traces the probes record.
	Sampler Sampler
}

// Environment variable names.
const (
	envTracesExporter = "OTEL_TRACES_EXPORTER"
	envServiceName    = "OTEL_SERVICE_NAME"
	envResourceAttrs  = "OTEL_RESOURCE_ATTRIBUTES"
	envScheduleDelay  = "OTEL_BSP_SCHEDULE_DELAY"
	envExportTimeout  = "OTEL_BSP_EXPORT_TIMEOUT"
	envMaxQueueSize   = "OTEL_BSP_MAX_QUEUE_SIZE"
	envMaxBatchSize   = "OTEL_BSP_MAX_EXPORT_BATCH_SIZE"
	otlpPrefix        = "OTEL_EXPORTER_OTLP_"
	otlpTracesPrefix  = "OTEL_EXPORTER_OTLP_TRACES_"
)

// otlpSettings are the OTEL_EXPORTER_OTLP_<X> / OTEL_EXPORTER_OTLP_TRACES_<X>
// pairs. Setting any of them (or OTEL_TRACES_EXPORTER) means the user asked
// for an exporter, so the embedded console default no longer applies.
var otlpSettings = []string{
	"ENDPOINT", "PROTOCOL", "HEADERS", "INSECURE", "TIMEOUT", "COMPRESSION",
	"CERTIFICATE", "CLIENT_CERTIFICATE", "CLIENT_KEY",
}

var validExporters = []ExporterKind{ExporterOTLP, ExporterConsole, ExporterNone}

type env struct {
	lookup func(string) (string, bool)
}

// get returns the trimmed value; empty counts as unset, as the specification
// requires.
func (e env) get(name string) (string, bool) {
	v, ok := e.lookup(name)
	v = strings.TrimSpace(v)
	return v, ok && v != ""
}

// otlp returns the signal-specific variable if set, else the generic one, and
// the name of the variable the value came from.
func (e env) otlp(setting string) (value, name string, ok bool) {
	if v, ok := e.get(otlpTracesPrefix + setting); ok {
		return v, otlpTracesPrefix + setting, true
	}
	if v, ok := e.get(otlpPrefix + setting); ok {
		return v, otlpPrefix + setting, true
	}
	return "", "", false
}

func invalid(name, value, want string) error {
	return fmt.Errorf("%w %s=%q: %s", ErrInvalidEnv, name, value, want)
}

// ConfigFromEnv reads the exporter configuration through lookup (os.LookupEnv
// in production). Unset and empty variables take the specification defaults;
// an unparsable value is an error naming the variable.
func ConfigFromEnv(lookup func(string) (string, bool)) (Config, error) {
	e := env{lookup: lookup}
	cfg := Config{
		Exporter:           ExporterOTLP,
		Protocol:           ProtocolGRPC,
		Timeout:            DefaultTimeout,
		ScheduleDelay:      DefaultScheduleDelay,
		ExportTimeout:      DefaultExportTimeout,
		MaxQueueSize:       DefaultMaxQueueSize,
		MaxExportBatchSize: DefaultMaxExportBatchSize,
	}
	var errs []error
	fail := func(err error) { errs = append(errs, err) }

	cfg.Embedded = true
	if _, ok := e.get(envTracesExporter); ok {
		cfg.Embedded = false
	}
	for _, s := range otlpSettings {
		if _, _, ok := e.otlp(s); ok {
			cfg.Embedded = false
		}
	}
	if cfg.Embedded {
		cfg.Exporter = ExporterConsole
	}

	if v, ok := e.get(envTracesExporter); ok {
		k, err := parseExporter(v)
		if err != nil {
			fail(err)
		}
		cfg.Exporter = k
	}

	if v, name, ok := e.otlp("PROTOCOL"); ok {
		switch p := Protocol(strings.ToLower(v)); p {
		case ProtocolGRPC, ProtocolHTTPProtobuf, ProtocolHTTPJSON:
			cfg.Protocol = p
		default:
			fail(invalid(name, v, "want grpc, http/protobuf or http/json"))
		}
	}

	// The endpoint's scheme decides TLS when present; the INSECURE variable
	// only matters for a scheme-less gRPC host:port (specification), but a
	// bad value is still reported.
	insecure := false
	if v, name, ok := e.otlp("INSECURE"); ok {
		b, err := parseBool(name, v)
		if err != nil {
			fail(err)
		}
		insecure = b
	}
	endpoint, schemeInsecure, err := resolveEndpoint(e, cfg.Protocol)
	if err != nil {
		fail(err)
	}
	cfg.Endpoint = endpoint
	if schemeInsecure != nil {
		cfg.Insecure = *schemeInsecure
	} else {
		cfg.Insecure = insecure
	}

	if v, name, ok := e.otlp("HEADERS"); ok {
		h, err := parseHeaders(name, v)
		if err != nil {
			fail(err)
		}
		cfg.Headers = h
	}
	if v, name, ok := e.otlp("TIMEOUT"); ok {
		d, err := parseMillis(name, v)
		if err != nil {
			fail(err)
		}
		cfg.Timeout = d
	}
	if v, name, ok := e.otlp("COMPRESSION"); ok {
		switch strings.ToLower(v) {
		case "gzip":
			cfg.Compression = "gzip"
		case "none":
			cfg.Compression = ""
		default:
			fail(invalid(name, v, "want gzip or none"))
		}
	}
	cfg.Certificate, _, _ = e.otlp("CERTIFICATE")
	cert, certName, hasCert := e.otlp("CLIENT_CERTIFICATE")
	key, keyName, hasKey := e.otlp("CLIENT_KEY")
	switch {
	case hasCert && !hasKey:
		fail(fmt.Errorf("%w %s=%q: needs %sCLIENT_KEY too", ErrInvalidEnv, certName, cert, otlpPrefix))
	case hasKey && !hasCert:
		fail(fmt.Errorf("%w %s: needs %sCLIENT_CERTIFICATE too", ErrInvalidEnv, keyName, otlpPrefix))
	}
	cfg.ClientCertificate, cfg.ClientKey = cert, key

	cfg.ServiceName, _ = e.get(envServiceName)
	if v, ok := e.get(envResourceAttrs); ok {
		attrs, err := parseResourceAttrs(envResourceAttrs, v)
		if err != nil {
			fail(err)
		}
		cfg.ResourceAttributes = attrs
	}

	if v, ok := e.get(envScheduleDelay); ok {
		d, err := parseMillis(envScheduleDelay, v)
		if err != nil {
			fail(err)
		}
		cfg.ScheduleDelay = d
	}
	if v, ok := e.get(envExportTimeout); ok {
		d, err := parseMillis(envExportTimeout, v)
		if err != nil {
			fail(err)
		}
		cfg.ExportTimeout = d
	}
	queueErr, batchErr := false, false
	if v, ok := e.get(envMaxQueueSize); ok {
		n, err := parseSize(envMaxQueueSize, v)
		if err != nil {
			fail(err)
			queueErr = true
		}
		cfg.MaxQueueSize = n
	}
	if v, ok := e.get(envMaxBatchSize); ok {
		n, err := parseSize(envMaxBatchSize, v)
		if err != nil {
			fail(err)
			batchErr = true
		}
		cfg.MaxExportBatchSize = n
	}
	if !queueErr && !batchErr && cfg.MaxExportBatchSize > cfg.MaxQueueSize {
		fail(fmt.Errorf("%w %s=%d: must not exceed %s=%d", ErrInvalidEnv,
			envMaxBatchSize, cfg.MaxExportBatchSize, envMaxQueueSize, cfg.MaxQueueSize))
	}

	if cfg.Sampler, err = parseSampler(e); err != nil {
		fail(err)
	}

	if len(errs) > 0 {
		return Config{}, errors.Join(errs...)
	}
	return cfg, nil
}

func parseExporter(v string) (ExporterKind, error) {
	var kinds []ExporterKind
	for _, part := range strings.Split(strings.ToLower(v), ",") {
		k := ExporterKind(strings.TrimSpace(part))
		if k != "" && !containsKind(kinds, k) {
			kinds = append(kinds, k)
		}
	}
	want := "want one of otlp, console, none"
	switch {
	case len(kinds) == 0:
		return ExporterOTLP, nil
	case len(kinds) > 1:
		return "", invalid(envTracesExporter, v, want+" (a list of exporters is not supported)")
	case !containsKind(validExporters, kinds[0]):
		return "", invalid(envTracesExporter, v, want)
	}
	return kinds[0], nil
}

func containsKind(ks []ExporterKind, k ExporterKind) bool {
	for _, x := range ks {
		if x == k {
			return true
		}
	}
	return false
}

// resolveEndpoint applies the specification's endpoint rules. For OTLP/HTTP
// the generic variable is a base URL that gets /v1/traces appended, while the
// traces-specific one is used as is (an empty path becomes "/"). For gRPC
// only host:port matters. schemeInsecure is nil when the value has no scheme.
func resolveEndpoint(e env, proto Protocol) (endpoint string, schemeInsecure *bool, err error) {
	signal := false
	v, name, ok := "", "", false
	if v, ok = e.get(otlpTracesPrefix + "ENDPOINT"); ok {
		name, signal = otlpTracesPrefix+"ENDPOINT", true
	} else if v, ok = e.get(otlpPrefix + "ENDPOINT"); ok {
		name = otlpPrefix + "ENDPOINT"
	} else {
		name = "default endpoint"
		v = DefaultHTTPEndpoint
		if proto == ProtocolGRPC {
			v = DefaultGRPCEndpoint
		}
	}

	if !strings.Contains(v, "://") {
		if proto != ProtocolGRPC {
			return "", nil, invalid(name, v, "want an http:// or https:// URL for protocol "+string(proto))
		}
		// gRPC allows a bare host:port (or host); TLS then comes from
		// OTEL_EXPORTER_OTLP_INSECURE.
		host := v
		if h, _, err := net.SplitHostPort(v); err == nil {
			host = h
		}
		if host == "" || strings.ContainsAny(v, "/?#@ ") {
			return "", nil, invalid(name, v, "want host:port or an http:// or https:// URL")
		}
		return v, nil, nil
	}

	u, err := url.Parse(v)
	if err != nil {
		return "", nil, invalid(name, v, "want an http:// or https:// URL")
	}
	scheme := strings.ToLower(u.Scheme)
	if (scheme != "http" && scheme != "https") || u.Host == "" || u.Hostname() == "" {
		return "", nil, invalid(name, v, "want an http:// or https:// URL with a host")
	}
	ins := scheme == "http"
	if proto == ProtocolGRPC {
		return u.Host, &ins, nil
	}
	u.Scheme = scheme
	switch {
	case !signal:
		u.Path = path.Join("/", u.Path, tracesPath)
		u.RawPath = ""
	case u.Path == "":
		u.Path = "/"
	}
	return u.String(), &ins, nil
}

func parseBool(name, v string) (bool, error) {
	switch strings.ToLower(v) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, invalid(name, v, "want true or false")
}

// parseMillis reads a duration given as whole milliseconds, the unit every
// OTel duration variable uses. Zero is rejected: a zero timeout would mean
// "wait forever" and a zero delay would spin.
func parseMillis(name, v string) (time.Duration, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 || n > int64(time.Duration(1<<63-1)/time.Millisecond) {
		return 0, invalid(name, v, "want a positive whole number of milliseconds")
	}
	return time.Duration(n) * time.Millisecond, nil
}

func parseSize(name, v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return 0, invalid(name, v, "want a positive integer")
	}
	if n > MaxQueueSizeLimit {
		return 0, invalid(name, v, fmt.Sprintf("want at most %d", MaxQueueSizeLimit))
	}
	return n, nil
}

// parseHeaders reads a W3C-baggage-like "k1=v1,k2=v2" list with
// percent-encoded values. Errors name the offending key but never echo the
// value: headers usually carry credentials and errors end up in logs.
func parseHeaders(name, v string) (map[string]string, error) {
	h := make(map[string]string)
	for i, member := range strings.Split(v, ",") {
		if strings.TrimSpace(member) == "" {
			continue
		}
		k, val, found := strings.Cut(member, "=")
		k = strings.TrimSpace(k)
		if !found {
			return nil, fmt.Errorf("%w %s: entry %d has no '=' (want key=value,...)", ErrInvalidEnv, name, i+1)
		}
		if !isToken(k) {
			return nil, fmt.Errorf("%w %s: entry %d has invalid header name %q", ErrInvalidEnv, name, i+1, k)
		}
		dec, err := url.PathUnescape(strings.TrimSpace(val))
		if err != nil {
			return nil, fmt.Errorf("%w %s: value of %q is not valid percent-encoding", ErrInvalidEnv, name, k)
		}
		h[k] = dec
	}
	return h, nil
}

// isToken reports whether s is an RFC 9110 token, the syntax of a header
// name (and a superset of what gRPC metadata keys allow once lower-cased).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// parseResourceAttrs reads OTEL_RESOURCE_ATTRIBUTES: "k1=v1,k2=v2" with
// percent-encoded values, all strings.
func parseResourceAttrs(name, v string) ([]attribute.KeyValue, error) {
	var attrs []attribute.KeyValue
	for _, member := range strings.Split(v, ",") {
		if strings.TrimSpace(member) == "" {
			continue
		}
		k, val, found := strings.Cut(member, "=")
		k = strings.TrimSpace(k)
		if !found || k == "" {
			return nil, invalid(name, v, fmt.Sprintf("entry %q is not key=value", strings.TrimSpace(member)))
		}
		dec, err := url.PathUnescape(strings.TrimSpace(val))
		if err != nil {
			return nil, invalid(name, v, fmt.Sprintf("value of %q is not valid percent-encoding", k))
		}
		attrs = append(attrs, attribute.String(k, dec))
	}
	return attrs, nil
}

// Describe returns a one-line summary for the start-up log. It never includes
// headers.
func (c Config) Describe() string {
	s := c.describeExport()
	if c.Sampler != DefaultSampler && c.Sampler.Name != "" {
		s += "; sampler " + c.Sampler.String()
	}
	return s
}

func (c Config) describeExport() string {
	switch c.Exporter {
	case ExporterNone:
		return "span export disabled (OTEL_TRACES_EXPORTER=none): spans are counted as dropped"
	case ExporterConsole:
		if c.Embedded {
			return "no exporter configured: printing spans to the console (embedded default; " +
				"set OTEL_TRACES_EXPORTER / OTEL_EXPORTER_OTLP_ENDPOINT to export)"
		}
		return "printing spans to the console (OTEL_TRACES_EXPORTER=console)"
	}
	var transport string
	switch c.Protocol {
	case ProtocolHTTPProtobuf:
		transport = "otlp/http"
	case ProtocolHTTPJSON:
		transport = "otlp/http+json"
	default:
		transport = "otlp/grpc"
	}
	s := fmt.Sprintf("exporting spans with %s to %s", transport, c.Endpoint)
	if c.Protocol == ProtocolGRPC && !c.Insecure {
		s += " (TLS)"
	}
	return s
}
