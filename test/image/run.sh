#!/usr/bin/env bash
# test/image/run.sh builds both images of the Dockerfile (the uploader and the
# standin target) with podman, offline, through test/image/build.sh (see
# there how: local stand-ins for the two base images, the host's module and
# build caches, --pull=never), checks their user and entrypoint, and runs them
# hardened (--read-only --cap-drop=ALL --security-opt no-new-privileges
# --user 65532 --network host).
#
# Then, when AWS_ENDPOINT_URL_S3 is set, one upload (UPLOAD_COUNT=1,
# IMAGE_SOURCE_URL=builtin:) to that S3 endpoint must exit 0. Environment:
#   AWS_ENDPOINT_URL_S3, S3_BUCKET_NAME, AWS_ACCESS_KEY_ID,
#   AWS_SECRET_ACCESS_KEY, AWS_REGION (default us-east-1)
# Without AWS_ENDPOINT_URL_S3 only `uploader help` runs; under CI=true that
# is a failure. Other knobs: IMAGE (uploader:image-test), STANDIN_IMAGE
# (uploader-standin:image-test), BUILD_CONTEXT (the repository), PODMAN_OPTS
# (global podman options, e.g. a private --root), KEEP_IMAGE=1 (do not
# remove the images afterwards).
# Needs root (or rootless podman); installs podman and runc with apt-get if
# they are missing.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD_CONTEXT=${BUILD_CONTEXT:-$REPO_ROOT}
IMAGE=${IMAGE:-uploader:image-test}
STANDIN_IMAGE=${STANDIN_IMAGE:-uploader-standin:image-test}
read -ra podman_opts <<<"${PODMAN_OPTS:-}"

log() { printf '==> %s\n' "$*" >&2; }
die() {
  printf 'FAIL: %s\n' "$*" >&2
  exit 1
}
podman() { command podman "${podman_opts[@]}" "$@"; }

if ! command -v podman >/dev/null || ! command -v runc >/dev/null; then
  log "installing podman and runc"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc >/dev/null
fi

WORK=$(mktemp -d)
cleanup() {
  if [[ "${KEEP_IMAGE:-0}" != 1 ]]; then
    podman rmi -f "$IMAGE" "$STANDIN_IMAGE" >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

export CONTAINERS_CONF="$REPO_ROOT/test/image/containers.conf"

UPLOADER_IMAGE=$IMAGE STANDIN_IMAGE=$STANDIN_IMAGE BUILD_CONTEXT=$BUILD_CONTEXT \
  bash "$REPO_ROOT/test/image/build.sh" >/dev/null || die "test/image/build.sh exited $?"

for image in "$IMAGE" "$STANDIN_IMAGE"; do
  user=$(podman image inspect --format '{{.Config.User}}' "$image")
  [[ "$user" == 65532:65532 ]] || die "image $image user is \"$user\", want 65532:65532"
done
entrypoint=$(podman image inspect --format '{{json .Config.Entrypoint}}' "$STANDIN_IMAGE")
[[ "$entrypoint" == '["/standin"]' ]] || die "image $STANDIN_IMAGE entrypoint is $entrypoint, want [\"/standin\"]"
entrypoint=$(podman image inspect --format '{{json .Config.Entrypoint}}' "$IMAGE")
[[ "$entrypoint" == '["/uploader"]' ]] || die "image entrypoint is $entrypoint, want [\"/uploader\"]"

hardened=(--rm --read-only --cap-drop=ALL --security-opt no-new-privileges --user 65532 --network host)

log "run: uploader help"
podman run "${hardened[@]}" "$IMAGE" help >/dev/null || die "uploader help exited $?"
log "run: standin help"
podman run "${hardened[@]}" "$STANDIN_IMAGE" help >/dev/null || die "standin help exited $?"
root=$(podman image mount "$STANDIN_IMAGE")
owners=$(stat -c '%n %u:%g' "$root/tokens/irsa" "$root/tokens/pod-identity" 2>&1) || owners="missing: $owners"
podman image unmount "$STANDIN_IMAGE" >/dev/null
[[ "$owners" == "$root/tokens/irsa 65532:65532"$'\n'"$root/tokens/pod-identity 65532:65532" ]] ||
  die "standin token directories: ${owners//$root/}, want /tokens/irsa and /tokens/pod-identity owned by 65532:65532"

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
