#!/usr/bin/env bash
# The main job on the embedded default: run the sample app under spanprobe,
# send a few requests, stop, and let the agent print the spans.
set -euo pipefail
agent=${1:?usage: demo.sh SPANPROBE SAMPLEAPP}
app=${2:?usage: demo.sh SPANPROBE SAMPLEAPP}
addr=${DEMO_ADDR:-127.0.0.1:18080}
if [ "$(id -u)" != 0 ]; then
	echo "demo: spanprobe loads eBPF programs: run as root (sudo make demo)" >&2
	exit 1
fi
"$agent" -- "$app" -addr "$addr" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
	curl -s -o /dev/null "http://$addr/hello" && break
	sleep 0.1
done
curl -s -o /dev/null -A "demo/1.0" "http://$addr/hello"
curl -s -o /dev/null "http://$addr/items/42"
curl -s -o /dev/null "http://$addr/status/503"
curl -s -o /dev/null "http://$addr/sleep?ms=50"
# A request tree: an outgoing call (with its traceparent) and a query, under
# a caller's trace.
curl -s -o /dev/null -H "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" "http://$addr/chain"
curl -s -o /dev/null "http://$addr/db"
kill -TERM "$pid"
wait "$pid"
trap - EXIT
