// Command spanprobe traces unmodified Go programs with eBPF uprobes and
// exports the spans over OTLP.
//
// Usage:
//
//	spanprobe [flags] -- PROGRAM [ARGS...]   start PROGRAM instrumented from its first instruction
//	spanprobe [flags] --pid PID              attach to a running process until it exits
//	spanprobe [flags] --exe PATH             attach to every process running PATH, now and after restarts
//
// Settings, each from (lowest to highest precedence) its default, the
// environment, then the flag:
//
//	flag            environment                                      default
//	--pid           SPANPROBE_TARGET_PID, OTEL_GO_AUTO_TARGET_PID     (none)
//	--exe           SPANPROBE_TARGET_EXE, OTEL_GO_AUTO_TARGET_EXE     (none)
//	--health-addr   SPANPROBE_HEALTH_ADDR                            (off) serves /readyz and /metrics
//	--log-level     SPANPROBE_LOG_LEVEL                              info (debug, info, warn, error)
//	--exit-probes   SPANPROBE_EXIT_PROBES                            auto: kernel tracepoints where the kernel has them, else uprobes; uprobe; ret (every RET: slowest)
//	--ret-probes    SPANPROBE_RET_PROBES                             false: same as --exit-probes=ret
//	--scan-interval SPANPROBE_SCAN_INTERVAL                          500ms: how often --exe looks for new processes
//	--db-query-text SPANPROBE_DB_QUERY_TEXT                          sanitized: literals in db.query.text become ?; raw keeps them; off omits it
//	--propagation   SPANPROBE_PROPAGATION                            auto: outgoing HTTP/1 requests get a traceparent (sk_msg); sk_msg requires it; off
//	--func          SPANPROBE_FUNCS (comma-separated)                (none) a span for every call of these functions; repeatable
//	--func-args     SPANPROBE_FUNC_ARGS                              false: add the --func functions' arguments to their spans
//	--nop-sites     SPANPROBE_NOP_SITES                              true: probe a 5-byte NOP just before a site where the kernel makes that a call, not a trap (Linux 6.18+)
//
// --func takes symbols as go tool nm prints them (main.prepareAnswer,
// main.(*Store).Get, main.Sum[...] for every instance of a generic
// function) or globs where * and ? match any characters but '/'
// ('main.*'). At most 64 functions may match: more is refused with the
// count. Every probed call costs the target two uprobe hits, the RET one
// single-stepped (about 12 us here): /metrics counts the calls of each
// function (spanprobe_func_calls_total). Arguments are off by default, as
// they may hold personal data; --func-args needs the target's DWARF (not
// linked with -w) and records integers, bools, strings (64 bytes), slice
// lengths and stack-passed floats as arg.NAME attributes. Flags given for
// --func replace SPANPROBE_FUNCS.
//
// A target given by flag (or a program after --) replaces one given by the
// environment. SPANPROBE_TARGET_* win over OTEL_GO_AUTO_TARGET_*, which are
// read so that deployments of the OpenTelemetry Go auto-instrumentation agent
// can switch by changing only the image. Exactly one target must be chosen.
// For the same reason OTEL_GO_AUTO_INCLUDE_DB_STATEMENT=false means
// --db-query-text=off; =true keeps the sanitized default (raw is only ever
// chosen by name). SPANPROBE_DB_QUERY_TEXT wins over it.
//
// Export follows the standard OpenTelemetry variables: OTEL_TRACES_EXPORTER
// (otlp, console, none), OTEL_EXPORTER_OTLP_ENDPOINT,
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, OTEL_EXPORTER_OTLP_PROTOCOL (grpc,
// http/protobuf), OTEL_EXPORTER_OTLP_HEADERS, OTEL_EXPORTER_OTLP_INSECURE,
// OTEL_EXPORTER_OTLP_TIMEOUT, OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES and
// OTEL_BSP_SCHEDULE_DELAY, OTEL_BSP_EXPORT_TIMEOUT, OTEL_BSP_MAX_QUEUE_SIZE,
// OTEL_BSP_MAX_EXPORT_BATCH_SIZE, and sampling follows OTEL_TRACES_SAMPLER
// (parentbased_always_on by default; always_on, always_off,
// parentbased_always_off, traceidratio, parentbased_traceidratio) with
// OTEL_TRACES_SAMPLER_ARG. With no export variable set, spans are printed
// to standard output (the embedded default).
//
// GOMEMLIMIT keeps its Go meaning. Unset, the agent sets a soft memory
// limit of 13 MiB plus 2 KiB per span of OTEL_BSP_MAX_QUEUE_SIZE (17 MiB by
// default), which kept its resident memory under 40 MB at 10,000-15,000
// spans/s in make bench; GOMEMLIMIT=off removes it. GOMAXPROCS too: unset,
// the agent runs on one P (one core at a time), which under load costs it
// less CPU per span than a P per core.
//
// SIGINT or SIGTERM detaches the probes, flushes pending spans and exits 0;
// a launched program gets the signal too and the agent waits for it.
package main
