#!/usr/bin/env bash
# test/image/build.sh builds both images of the Dockerfile with podman,
# offline: the uploader (target "uploader") and the credential stand-ins
# (target "standin"), and leaves them in podman's store.
#
# No registry is reachable, so the two base images named in the Dockerfile
# ARGs are stood in for by local images with the same names, present in the
# store only during the build:
#   golang:1.26.8-bookworm                   a tiny rootfs with sh and mkdir;
#                                            the host's Go toolchain, module
#                                            cache and build cache are mounted
#                                            into the build (GOPROXY=off)
#   gcr.io/distroless/static-debian12:nonroot  scratch with the CA bundle,
#                                            /etc/passwd (nonroot = 65532), /tmp
# and every build runs with --pull=never.
#
# Environment:
#   UPLOADER_IMAGE  name of the uploader image   (uploader:dev, as in docker-compose.yaml)
#   STANDIN_IMAGE   name of the standin image    (uploader-standin:dev)
#   VERSION         stamped into the binaries     (git describe)
#   PODMAN_OPTS     global podman options, e.g. "--root DIR --runroot DIR"
#                   for a private store; CONTAINERS_STORAGE_CONF and
#                   CONTAINERS_CONF are honoured as podman honours them.
#                   Without CONTAINERS_CONF, test/image/containers.conf (runc,
#                   cgroupfs, file events, explicit ulimits) is used (CI
#                   machines have no systemd).
#   BUILD_CONTEXT   the build context             (the repository)
#   GOFLAGS         passed to the build
#   PLATFORMS       e.g. linux/amd64,linux/arm64: build only the uploader,
#                   for these platforms, through deploy/image.sh (as `make
#                   image` does) into a manifest list named UPLOADER_IMAGE;
#                   the runtime base is then a manifest list of one stand-in
#                   per platform. The Go stage runs on the host's platform
#                   and cross-compiles: no emulation.
# Needs root (or rootless podman) and Go on the host; installs podman and
# runc with apt-get if they are missing. Prints nothing on stdout but the two
# image names, one a line.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD_CONTEXT=${BUILD_CONTEXT:-$REPO_ROOT}
UPLOADER_IMAGE=${UPLOADER_IMAGE:-uploader:dev}
STANDIN_IMAGE=${STANDIN_IMAGE:-uploader-standin:dev}
GO_IMAGE=golang:1.26.8-bookworm
RUNTIME_IMAGE=gcr.io/distroless/static-debian12:nonroot
read -ra podman_opts <<<"${PODMAN_OPTS:-}"

log() { printf '==> %s\n' "$*" >&2; }
die() {
  printf 'FAIL: %s\n' "$*" >&2
  exit 1
}
pm() { podman "${podman_opts[@]}" "$@"; }

for image in "$GO_IMAGE" "$RUNTIME_IMAGE"; do
  grep -q "^ARG [A-Z_]*=$image\$" "$REPO_ROOT/Dockerfile" || die "Dockerfile does not name $image; update $0"
done

if ! command -v podman >/dev/null || ! command -v runc >/dev/null; then
  log "installing podman and runc"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc >/dev/null
fi
command -v go >/dev/null || die "go is needed on the host: its toolchain is mounted into the build"

PLATFORMS=${PLATFORMS:-}
arches=()
IFS=, read -ra platforms <<<"$PLATFORMS"
for platform in "${platforms[@]}"; do
  [[ "$platform" == linux/* ]] || die "PLATFORMS: want linux/<arch>, got $platform"
  arches+=("${platform#linux/}")
done

WORK=$(mktemp -d)
cleanup() {
  # The stand-in bases carry the real images' names: never leave them behind
  # (before removing $WORK, which may hold the containers.conf podman reads).
  pm rmi "$GO_IMAGE" "docker.io/library/$GO_IMAGE" "$RUNTIME_IMAGE" >/dev/null 2>&1 || true
  pm manifest rm "$RUNTIME_IMAGE" >/dev/null 2>&1 || true
  for arch in "${arches[@]}"; do
    pm rmi "localhost/uploader-runtime-standin:$arch" >/dev/null 2>&1 || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

export CONTAINERS_CONF=${CONTAINERS_CONF:-$REPO_ROOT/test/image/containers.conf}

log "stand-in $GO_IMAGE"
builder="$WORK/builder"
mkdir -p "$builder"/{bin,lib/x86_64-linux-gnu,lib64,etc,tmp,root,go/pkg/mod,usr/local/go,src}
# What the Dockerfile's RUN lines use besides go: sh and mkdir (both in the
# real image), with the libraries they link.
cp /bin/dash "$builder/bin/sh"
cp /bin/mkdir "$builder/bin/mkdir"
for lib in $(ldd /bin/dash /bin/mkdir | sed -n 's#.*=> \(/[^ ]*\) .*#\1#p' | sort -u); do
  cp -L "$lib" "$builder/lib/x86_64-linux-gnu/"
done
cp -L /lib64/ld-linux-x86-64.so.2 "$builder/lib/x86_64-linux-gnu/"
ln -s ../lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 "$builder/lib64/ld-linux-x86-64.so.2"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$builder/etc/passwd"
chmod 1777 "$builder/tmp"
tar -C "$builder" -c . | pm import \
  --change 'ENV PATH=/usr/local/go/bin:/go/bin:/usr/local/bin:/usr/bin:/bin' \
  --change 'ENV GOPATH=/go' --change 'ENV HOME=/root' \
  - "$GO_IMAGE" >/dev/null
# FROM golang:... resolves to docker.io/library/golang:...; name both.
pm tag "$GO_IMAGE" "docker.io/library/$GO_IMAGE"

log "stand-in $RUNTIME_IMAGE"
runtime="$WORK/runtime"
mkdir -p "$runtime"/{etc/ssl/certs,tmp,home/nonroot}
cp /etc/ssl/certs/ca-certificates.crt "$runtime/etc/ssl/certs/"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$runtime/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' >"$runtime/etc/group"
chmod 1777 "$runtime/tmp"
chown 65532:65532 "$runtime/home/nonroot"
if [[ ${#arches[@]} -eq 0 ]]; then
  tar -C "$runtime" -c . | pm import --change 'USER 65532:65532' - "$RUNTIME_IMAGE" >/dev/null
else
  # One stand-in per platform (the files hold no machine code), gathered in
  # a manifest list as the real base is: the build picks the platform's.
  pm manifest create "$RUNTIME_IMAGE" >/dev/null
  for arch in "${arches[@]}"; do
    tar -C "$runtime" -c . | pm import --os linux --arch "$arch" --change 'USER 65532:65532' - \
      "localhost/uploader-runtime-standin:$arch" >/dev/null
    pm manifest add "$RUNTIME_IMAGE" "containers-storage:localhost/uploader-runtime-standin:$arch" >/dev/null
  done
fi

# The build runs offline against the host's module cache; make it hold every
# module of the graph (go test fetches only what linux builds need, and the
# Dockerfile's `go mod download` asks for all of them).
log "go mod download (host, so that the offline build finds every module)"
go -C "$REPO_ROOT" mod download

version=${VERSION:-$(git -C "$REPO_ROOT" describe --tags --always --dirty 2>/dev/null || echo dev)}
build() {
  local target=$1 image=$2 start=$SECONDS
  log "build $image (target $target, offline)"
  pm build --pull=never \
    --build-arg GOPROXY=off \
    --build-arg "GOFLAGS=${GOFLAGS:-}" \
    --build-arg "VERSION=$version" \
    --volume "$(go env GOROOT):/usr/local/go:ro" \
    --volume "$(go env GOMODCACHE):/go/pkg/mod" \
    --volume "$(go env GOCACHE):/root/.cache/go-build" \
    --file "$REPO_ROOT/Dockerfile" \
    --target "$target" \
    --tag "$image" \
    "$BUILD_CONTEXT" >&2
  log "built $image in $((SECONDS - start)) s"
}
if [[ ${#arches[@]} -gt 0 ]]; then
  IMAGE=$UPLOADER_IMAGE PLATFORMS=$PLATFORMS VERSION=$version CONTAINER_ENGINE=podman \
    BUILD_OPTS="--pull=never --build-arg GOPROXY=off --build-arg GOFLAGS=${GOFLAGS:-} \
--volume $(go env GOROOT):/usr/local/go:ro --volume $(go env GOMODCACHE):/go/pkg/mod \
--volume $(go env GOCACHE):/root/.cache/go-build" \
    "$REPO_ROOT/deploy/image.sh"
  printf '%s\n' "$UPLOADER_IMAGE"
  exit 0
fi
build uploader "$UPLOADER_IMAGE"
build standin "$STANDIN_IMAGE"
printf '%s\n%s\n' "$UPLOADER_IMAGE" "$STANDIN_IMAGE"
