# spanprobe: see README.md. Run as root for anything that loads eBPF.
GO ?= go
BIN := bin
VERSION ?= dev
LDFLAGS := -X github.com/spanprobe/spanprobe/exporter.Version=$(VERSION)
# Jaeger for the tests and benchmarks: built once from the Go module proxy
# and cached, unless SPANPROBE_JAEGER_BIN names one.
JAEGER := SPANPROBE_JAEGER_BIN="$${SPANPROBE_JAEGER_BIN:-$$(bash e2e/jaeger/install.sh)}"

.PHONY: build demo test bench generate check-generated compat image

# Static, like the image (Dockerfile): no libc mapped into the agent.
build:
	CGO_ENABLED=0 $(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/spanprobe ./cmd/spanprobe

# The main job on the embedded default: the sample app runs under spanprobe,
# a few requests are sent, and the spans are printed to the console.
demo: build
	$(GO) build -o $(BIN)/sampleapp ./e2e/sampleapp
	bash e2e/demo.sh $(BIN)/spanprobe $(BIN)/sampleapp

# Every test: unit tests and, as root, the end-to-end tests against real
# uprobes and a real Jaeger (built once from the Go module proxy and cached).
test:
	$(JAEGER) $(GO) test -count=1 -timeout 30m ./...

# Figures (e2e/bench.sh): the span pipeline on one core, startup on the
# sample app and on Jaeger, each route's overhead against the uninstrumented
# baseline in the same run, and the fault tests run long (60s).
bench:
	GO=$(GO) $(JAEGER) bash e2e/bench.sh

# The container image (README, "Running as a sidecar"). Without a registry
# the build stage runs on a Go image made from this machine's Go; with one,
# e.g. make image GO_IMAGE=golang:1.26.8. This host's podman needs runc and
# cgroupfs (../shared/MACHINE.md).
PODMAN ?= podman --runtime runc --cgroup-manager=cgroupfs
IMAGE ?= localhost/spanprobe:$(VERSION)
GO_IMAGE ?= $$(bash e2e/container/build-images.sh)
image:
	$(PODMAN) build --build-arg GO_IMAGE="$(GO_IMAGE)" --build-arg VERSION=$(VERSION) -t $(IMAGE) .

# Regenerates the committed bpf2go output (needs clang and llvm-strip).
generate:
	$(GO) generate ./bpf/... ./instrumentation/...

check-generated: generate
	@git diff --exit-code --stat -- '*_bpfel.go' '*_bpfel.o' || { echo "generated files are stale: run make generate" >&2; exit 1; }

# COMPATIBILITY.md from the offsets table and the bundles (run after
# make offsets; a test fails while it is stale).
compat:
	$(GO) test -count=1 -run TestCompatibilityUpToDate ./instrumentation -update

-include offsets/Makefile.frag
