#!/usr/bin/env bash
# test/image/run.sh builds the uploader image with podman, offline, and runs
# it hardened (--read-only --cap-drop=ALL --security-opt no-new-privileges
# --user 65532 --network host).
#
# No registry is reachable, so the two base images named in the Dockerfile
# ARGs are stood in for by local images with the same names:
#   golang:1.26.8-bookworm                   a tiny rootfs with /bin/sh; the
#                                            host's Go toolchain, module cache
#                                            and build cache are mounted into
#                                            the build (GOPROXY=off)
#   gcr.io/distroless/static-debian12:nonroot  scratch with the CA bundle,
#                                            /etc/passwd (nonroot = 65532), /tmp
# and the build runs with --pull=never.
#
# Then, when AWS_ENDPOINT_URL_S3 is set, one upload (UPLOAD_COUNT=1,
# IMAGE_SOURCE_URL=builtin:) to that S3 endpoint must exit 0. Environment:
#   AWS_ENDPOINT_URL_S3, S3_BUCKET_NAME, AWS_ACCESS_KEY_ID,
#   AWS_SECRET_ACCESS_KEY, AWS_REGION (default us-east-1)
# Without AWS_ENDPOINT_URL_S3 only `uploader help` runs; under CI=true that
# is a failure. Other knobs: IMAGE (uploader:image-test), BUILD_CONTEXT
# (the repository), KEEP_IMAGE=1 (do not remove the images afterwards).
# Needs root (or rootless podman); installs podman and runc with apt-get if
# they are missing.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD_CONTEXT=${BUILD_CONTEXT:-$REPO_ROOT}
IMAGE=${IMAGE:-uploader:image-test}
GO_IMAGE=golang:1.26.8-bookworm
RUNTIME_IMAGE=gcr.io/distroless/static-debian12:nonroot

log() { printf '==> %s\n' "$*" >&2; }
die() {
  printf 'FAIL: %s\n' "$*" >&2
  exit 1
}

for image in "$GO_IMAGE" "$RUNTIME_IMAGE"; do
  grep -q "^ARG [A-Z_]*=$image\$" "$REPO_ROOT/Dockerfile" || die "Dockerfile does not name $image; update this script"
done

if ! command -v podman >/dev/null || ! command -v runc >/dev/null; then
  log "installing podman and runc"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc >/dev/null
fi
command -v go >/dev/null || die "go is needed on the host: its toolchain is mounted into the build"

WORK=$(mktemp -d)
cleanup() {
  rm -rf "$WORK"
  if [[ "${KEEP_IMAGE:-0}" != 1 ]]; then
    podman rmi -f "$IMAGE" "$GO_IMAGE" "docker.io/library/$GO_IMAGE" "$RUNTIME_IMAGE" >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

# Ulimits and the runtime stated here, not left to the machine's defaults;
# cgroupfs and file events because CI machines have no systemd.
export CONTAINERS_CONF="$WORK/containers.conf"
cat >"$CONTAINERS_CONF" <<'CONF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF

log "stand-in $GO_IMAGE"
builder="$WORK/builder"
mkdir -p "$builder"/{bin,lib/x86_64-linux-gnu,lib64,etc,tmp,root,go/pkg/mod,usr/local/go,src}
cp /bin/dash "$builder/bin/sh"
cp -L /lib/x86_64-linux-gnu/libc.so.6 /lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 "$builder/lib/x86_64-linux-gnu/"
ln -s ../lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 "$builder/lib64/ld-linux-x86-64.so.2"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$builder/etc/passwd"
chmod 1777 "$builder/tmp"
tar -C "$builder" -c . | podman import \
  --change 'ENV PATH=/usr/local/go/bin:/go/bin:/usr/local/bin:/usr/bin:/bin' \
  --change 'ENV GOPATH=/go' --change 'ENV HOME=/root' \
  - "$GO_IMAGE" >/dev/null
# FROM golang:... resolves to docker.io/library/golang:...; name both.
podman tag "$GO_IMAGE" "docker.io/library/$GO_IMAGE"

log "stand-in $RUNTIME_IMAGE"
runtime="$WORK/runtime"
mkdir -p "$runtime"/{etc/ssl/certs,tmp,home/nonroot}
cp /etc/ssl/certs/ca-certificates.crt "$runtime/etc/ssl/certs/"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$runtime/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' >"$runtime/etc/group"
chmod 1777 "$runtime/tmp"
chown 65532:65532 "$runtime/home/nonroot"
tar -C "$runtime" -c . | podman import --change 'USER 65532:65532' - "$RUNTIME_IMAGE" >/dev/null

# The build runs offline against the host's module cache; make it hold every
# module of the graph (go test fetches only what linux builds need, and the
# Dockerfile's `go mod download` asks for all of them).
log "go mod download (host, so that the offline build finds every module)"
go -C "$REPO_ROOT" mod download

log "build $IMAGE (offline)"
version=$(git -C "$REPO_ROOT" describe --tags --always --dirty 2>/dev/null || echo dev)
podman build --pull=never \
  --build-arg GOPROXY=off \
  --build-arg "GOFLAGS=${GOFLAGS:-}" \
  --build-arg "VERSION=$version" \
  --volume /usr/local/go:/usr/local/go:ro \
  --volume "$(go env GOMODCACHE):/go/pkg/mod" \
  --volume "$(go env GOCACHE):/root/.cache/go-build" \
  --file "$REPO_ROOT/Dockerfile" \
  --tag "$IMAGE" \
  "$BUILD_CONTEXT"

user=$(podman image inspect --format '{{.Config.User}}' "$IMAGE")
[[ "$user" == 65532:65532 ]] || die "image user is \"$user\", want 65532:65532"
entrypoint=$(podman image inspect --format '{{json .Config.Entrypoint}}' "$IMAGE")
[[ "$entrypoint" == '["/uploader"]' ]] || die "image entrypoint is $entrypoint, want [\"/uploader\"]"

hardened=(--rm --read-only --cap-drop=ALL --security-opt no-new-privileges --user 65532 --network host)

log "run: uploader help"
podman run "${hardened[@]}" "$IMAGE" help >/dev/null || die "uploader help exited $?"

if [[ -n "${AWS_ENDPOINT_URL_S3:-}" ]]; then
  for name in S3_BUCKET_NAME AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY; do
    [[ -n "${!name:-}" ]] || die "$name must be set with AWS_ENDPOINT_URL_S3"
  done
  log "run: one upload to $AWS_ENDPOINT_URL_S3 bucket $S3_BUCKET_NAME"
  # Values travel by name (-e NAME) so they do not show in the process list.
  # STS on the same endpoint and IMDS off: nothing leaves this machine.
  AWS_ENDPOINT_URL_STS=${AWS_ENDPOINT_URL_STS:-$AWS_ENDPOINT_URL_S3} AWS_EC2_METADATA_DISABLED=true \
    AWS_REGION=${AWS_REGION:-us-east-1} IMAGE_SOURCE_URL=builtin: UPLOAD_COUNT=1 UPLOAD_INTERVAL=1s \
    S3_USE_PATH_STYLE=true METRICS_ADDR=127.0.0.1:0 LOG_FORMAT=json \
    podman run "${hardened[@]}" \
    -e AWS_ENDPOINT_URL_S3 -e AWS_ENDPOINT_URL_STS -e AWS_EC2_METADATA_DISABLED -e S3_BUCKET_NAME -e AWS_ACCESS_KEY_ID -e AWS_SECRET_ACCESS_KEY \
    -e AWS_REGION -e IMAGE_SOURCE_URL -e UPLOAD_COUNT -e UPLOAD_INTERVAL -e S3_USE_PATH_STYLE \
    -e METRICS_ADDR -e LOG_FORMAT \
    "$IMAGE" || die "the upload run exited $?"
elif [[ "${CI:-}" == true ]]; then
  die "AWS_ENDPOINT_URL_S3 is not set: CI must run the upload (see the header of $0)"
else
  log "skipped the upload run: set AWS_ENDPOINT_URL_S3, S3_BUCKET_NAME, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
fi

size=$(podman image inspect --format '{{.Size}}' "$IMAGE")
log "image $IMAGE: $size bytes ($((size / 1024 / 1024)) MiB)"
echo "PASS: image test"
