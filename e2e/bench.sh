#!/usr/bin/env bash
# make bench: the figures of the agent's cost, in one run, then a summary
# table of every benchmark line.
#   1. the user-space pipeline on one core: ring-buffer record to serialised
#      OTLP request (spans/s, allocations a span);
#   2. startup: launch to probes attached, on the sample app and on Jaeger
#      (over 100 MB), with the agent's peak RSS;
#   3. overhead of each route against the uninstrumented baseline, in the
#      same run: throughput, latency, probe hits, agent CPU and RSS;
#   4. the long fault runs: SPANPROBE_FAULT_DURATION (60s here, 10s in
#      make test) of stack growth, and a collector outage of half that.
# SPANPROBE_BENCH_DURATION sets the length of each wrk run (default 5s, four
# rounds of every mode, a baseline run before and after every two).
set -euo pipefail
go=${GO:-go}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
run() { "$@" 2>&1 | tee -a "$out"; }

echo "== pipeline: ring-buffer record to serialised OTLP request, GOMAXPROCS=1"
run "$go" test -count=1 -run '^$' -bench Pipeline -cpu 1 -benchtime 3s ./instrumentation/nethttp/server
echo "== startup, and overhead against the uninstrumented baseline"
run "$go" test -count=1 -timeout 30m -run '^$' -bench 'Startup|AgentOverhead|UnloadedLatency' -benchtime 1x ./e2e
echo "== fault runs, SPANPROBE_FAULT_DURATION=${SPANPROBE_FAULT_DURATION:=60s}"
export SPANPROBE_FAULT_DURATION
run "$go" test -count=1 -timeout 30m -run 'TestFault' -v ./e2e
echo "== summary"
grep -hE '^Benchmark|_test.go:[0-9]+: ' "$out"
