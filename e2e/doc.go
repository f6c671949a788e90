// Package e2e holds the end-to-end tests of spanprobe: they build the agent
// and the sample applications (e2e/sampleapp, e2e/testdata/nohttp) into a
// temporary directory, run the agent against real processes and check the
// spans that arrive at an in-test OTLP receiver (internal/otlptest) or at a
// real Jaeger.
//
// Tests that load eBPF programs need root (CAP_BPF and CAP_PERFMON); without
// it they skip. Everything listens on loopback only.
//
//	go test ./e2e                                   # the tests
//	go test ./e2e -run TestServerSpansJaeger -v     # needs Jaeger: SPANPROBE_JAEGER_BIN or e2e/jaeger/install.sh
//	go test ./e2e -run '^$' -bench AgentOverhead    # the overhead benchmark (wrk)
//	go test ./e2e -run '^$' -bench UnloadedLatency  # latency added to one request at a time
//	go test ./e2e -run '^$' -bench Startup          # launch to probes attached (Jaeger too)
//	go test ./e2e -run TestFault -v                 # load and faults; SPANPROBE_FAULT_DURATION (10s) sets the long ones
//
// make bench runs e2e/bench.sh: every benchmark, and the fault tests for a
// minute, with one summary at the end.
//
// The Jaeger test runs Jaeger v2 with a minimal configuration on free ports
// (OTLP/gRPC in, memory storage, query API). It builds Jaeger on first use
// when SPANPROBE_JAEGER_BIN is unset, which takes minutes: give go test a
// -timeout of 30m on a cold cache. When the build fails the test skips,
// unless CI=true.
//
// Child processes get SIGKILL when the test binary dies (Pdeathsig), so an
// interrupted run leaves no app, agent or Jaeger behind. The test binary
// also runs as the unloaded benchmark's client (seqClient) when
// SPANPROBE_E2E_SEQCLIENT names a URL.
package e2e
