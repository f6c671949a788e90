# spanprobe: one static binary, configured from OTEL_* / SPANPROBE_* variables.
#
# Base images are build arguments so that the image builds from a local
# registry or from images imported by hand (no pull needed), e.g.
#   podman build --build-arg GO_IMAGE=localhost/golang:1.26 --build-arg BASE_IMAGE=scratch .
# Run it next to the app with the app's PID namespace shared and
# CAP_BPF, CAP_PERFMON, CAP_SYS_PTRACE (or --privileged).
ARG GO_IMAGE=golang:1.26
ARG BASE_IMAGE=scratch

FROM ${GO_IMAGE} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
# The BPF objects are committed, so no clang is needed here.
RUN CGO_ENABLED=0 GOFLAGS=-buildvcs=false go build -trimpath \
	-ldflags "-s -w -X github.com/spanprobe/spanprobe/exporter.Version=${VERSION}" \
	-o /out/spanprobe ./cmd/spanprobe

FROM ${BASE_IMAGE}
COPY --from=build /out/spanprobe /spanprobe
ENTRYPOINT ["/spanprobe"]
