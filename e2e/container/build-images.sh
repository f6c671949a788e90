#!/usr/bin/env bash
# Builds, once, the local base image that the Dockerfile's build stage needs
# on a machine that cannot pull images, and prints its name:
#
#   podman build --build-arg GO_IMAGE="$(bash e2e/container/build-images.sh)" .
#
# The image holds this machine's Go (GOROOT, default /usr/local/go), a static
# busybox for the RUN lines' /bin/sh and the system's CA certificates (for
# the Go module proxy); its tag is the Go version, so a new Go makes a new
# image and a second run does nothing. The final stage needs no base: it is
# FROM scratch. Needs podman and busybox-static (.ci/run installs both).
set -euo pipefail
goroot="${GOROOT_FOR_IMAGE:-/usr/local/go}"
busybox="${BUSYBOX:-/bin/busybox}"
certs="${CA_CERTS:-/etc/ssl/certs/ca-certificates.crt}"
podman=(podman --runtime runc --cgroup-manager=cgroupfs)

version=$(head -n1 "$goroot/VERSION")
image="localhost/spanprobe-go:$version"
if "${podman[@]}" image exists "$image"; then
	echo "$image"
	exit 0
fi
if ldd "$busybox" >/dev/null 2>&1; then
	echo "build-images.sh: $busybox is not static: install busybox-static" >&2
	exit 1
fi

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin" "$root/etc/ssl/certs" "$root/usr/local" "$root/tmp" "$root/root" "$root/go"
chmod 1777 "$root/tmp"
cp "$busybox" "$root/bin/busybox"
for cmd in sh ls cat mkdir rm cp mv env; do
	ln -s busybox "$root/bin/$cmd"
done
cp "$certs" "$root/etc/ssl/certs/ca-certificates.crt"
echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
echo 'root:x:0:' >"$root/etc/group"
# The toolchain without its tests and docs: they are a third of its size.
tar -C "$(dirname "$goroot")" --anchored --exclude="$(basename "$goroot")/test" --exclude="$(basename "$goroot")/doc" \
	-c "$(basename "$goroot")" | tar -C "$root/usr/local" -x
[ "$(basename "$goroot")" = go ] || mv "$root/usr/local/$(basename "$goroot")" "$root/usr/local/go"

# The same variables as the golang images, so the Dockerfile's cache
# mounts (/go/pkg/mod, /root/.cache/go-build) fit both.
tar -C "$root" --numeric-owner --owner=0 --group=0 -c . | "${podman[@]}" import \
	--change 'ENV PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
	--change 'ENV GOPATH=/go' \
	--change 'ENV HOME=/root' \
	--change 'ENV GOTOOLCHAIN=local' \
	--change 'WORKDIR /go' \
	--change 'CMD ["/bin/sh"]' \
	- "$image" >&2
echo "$image"
