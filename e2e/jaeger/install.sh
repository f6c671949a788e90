#!/usr/bin/env bash
# Builds the Jaeger v2 all-in-one binary from the Go module proxy and caches it.
# Prints the binary's path. Jaeger's go.mod carries a replace directive, so
# `go install` refuses it: build it from a throwaway wrapper module instead.
set -euo pipefail
version="${JAEGER_MODULE_VERSION:-v1.76.0}" # tag v1.76.0 is the Jaeger v2.13.0 release
cache="${XDG_CACHE_HOME:-$HOME/.cache}/spanprobe/jaeger-$version"
bin="$cache/jaeger"
if [ -x "$bin" ]; then
	echo "$bin"
	exit 0
fi
mkdir -p "$cache"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
cat >go.mod <<MOD
module jaegerbuild

go 1.24

replace github.com/Shopify/sarama => github.com/Shopify/sarama v1.33.0
MOD
# The checksum database mirror here answers 404 for some collector modules.
export GONOSUMDB=github.com/open-telemetry/opentelemetry-collector-contrib,go.opentelemetry.io/collector
export GOFLAGS=-mod=mod
go get "github.com/jaegertracing/jaeger/cmd/jaeger@$version" >&2
go build -o "$bin.tmp" github.com/jaegertracing/jaeger/cmd/jaeger >&2
mv "$bin.tmp" "$bin"
echo "$bin"
