# spanprobe as a container image: one static binary in an empty image,
# configured from OTEL_* / SPANPROBE_* variables (README, "Running as a
# sidecar"; deploy/ has a Kubernetes pod and a host-wide install).
#
# The base images are build arguments, so the image also builds where no
# registry can be reached, from images made locally:
#   podman build --build-arg GO_IMAGE="$(bash e2e/container/build-images.sh)" -t spanprobe .
# The binary is reproducible (same sources and Go: same bytes); so is the
# image with `podman build --timestamp 0` or BuildKit's SOURCE_DATE_EPOCH.
ARG GO_IMAGE=golang:1.26.8
ARG BASE_IMAGE=scratch

FROM ${GO_IMAGE} AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-buildvcs=false GOTOOLCHAIN=local
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG VERSION=dev
# The BPF objects are committed, so no clang is needed here. -trimpath and
# an empty build ID keep the machine's paths and the build's time out.
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
	go build -trimpath \
	-ldflags "-s -w -buildid= -X github.com/spanprobe/spanprobe/exporter.Version=${VERSION}" \
	-o /out/spanprobe ./cmd/spanprobe

FROM ${BASE_IMAGE}
COPY --from=build /out/spanprobe /spanprobe
# Root inside the container: loading eBPF needs capabilities that a
# non-root user would only get through file capabilities.
ENTRYPOINT ["/spanprobe"]
