#!/usr/bin/env bash
# deploy/image.sh builds the uploader image with docker buildx or podman, for
# the host's platform or several (a multi-arch image: an OCI index with one
# image per platform), and pushes it when asked. The Dockerfile
# cross-compiles, so no platform needs emulation. `make image` runs it;
# deploy/aws/eks-demo.sh runs it to push to ECR; the release workflow too.
#
#   IMAGE=registry/uploader:tag PLATFORMS=linux/amd64,linux/arm64 PUSH=1 deploy/image.sh
#
# Environment:
#   IMAGE              the image name             (uploader:$VERSION)
#   PLATFORMS          comma-separated platforms  (the engine's default: the host's)
#   PUSH=1             push it (docker: --push; podman: manifest push --all)
#   VERSION            org.opencontainers.image.version and the binary's version (git describe)
#   REVISION           org.opencontainers.image.revision (git rev-parse HEAD)
#   SOURCE_DATE_EPOCH  org.opencontainers.image.created and the image timestamps (the commit's time)
#   SOURCE_URL         org.opencontainers.image.source (https://github.com/eks-least-privilege/uploader)
#   CONTAINER_ENGINE   docker when its daemon answers, else podman
#   PODMAN_OPTS        global podman options (e.g. --root DIR --runroot DIR)
#   BUILD_OPTS         more build options, split on spaces (the offline test's volumes)
# `deploy/image.sh engine` prints the engine it would use.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
engine=${CONTAINER_ENGINE:-$(docker info >/dev/null 2>&1 && echo docker || echo podman)}
if [[ "${1:-}" == engine ]]; then
  printf '%s\n' "$engine"
  exit 0
fi
git_() { git -C "$REPO_ROOT" "$@" 2>/dev/null; }
VERSION=${VERSION:-$(git_ describe --tags --always --dirty || echo dev)}
REVISION=${REVISION:-$(git_ rev-parse HEAD || echo unknown)}
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git_ log -1 --format=%ct || echo 0)}
SOURCE_URL=${SOURCE_URL:-https://github.com/eks-least-privilege/uploader}
IMAGE=${IMAGE:-uploader:$VERSION}
PLATFORMS=${PLATFORMS:-}
PUSH=${PUSH:-0}
read -ra podman_opts <<<"${PODMAN_OPTS:-}"
read -ra build_opts <<<"${BUILD_OPTS:-}"
created=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)

args=(--file "$REPO_ROOT/Dockerfile" --target uploader
  --build-arg "VERSION=$VERSION" --build-arg "REVISION=$REVISION"
  --build-arg "CREATED=$created" --build-arg "SOURCE_URL=$SOURCE_URL"
  --build-arg "SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH" "${build_opts[@]}")
printf '==> %s build %s for %s\n' "$engine" "$IMAGE" "${PLATFORMS:-the host}" >&2
start=$SECONDS
case "$engine" in
  docker)
    if [[ "$PUSH" == 1 ]]; then
      out=(--push)
    elif [[ "$PLATFORMS" == *,* ]]; then
      # The classic image store holds one platform: keep the index as an
      # OCI layout archive instead.
      mkdir -p "$REPO_ROOT/dist"
      out=(--output "type=oci,dest=$REPO_ROOT/dist/uploader-image.oci.tar")
    else
      out=(--load)
    fi
    docker buildx build ${PLATFORMS:+--platform "$PLATFORMS"} "${args[@]}" \
      --tag "$IMAGE" "${out[@]}" "$REPO_ROOT"
    ;;
  podman)
    pm() { podman "${podman_opts[@]}" "$@"; }
    # A manifest list holds one image per platform; start it afresh.
    pm manifest exists "$IMAGE" && pm manifest rm "$IMAGE" >/dev/null
    pm image exists "$IMAGE" && pm rmi "$IMAGE" >/dev/null
    # Podman 4 sets BUILDPLATFORM to each target platform in a multi-platform
    # build (then the Go stage would need the target's image and emulation):
    # name the machine's platform.
    pm build ${PLATFORMS:+--platform "$PLATFORMS"} "${args[@]}" \
      --build-arg "BUILDPLATFORM=$(pm info --format '{{.Host.OS}}/{{.Host.Arch}}')" \
      --timestamp "$SOURCE_DATE_EPOCH" --manifest "$IMAGE" "$REPO_ROOT" >&2
    if [[ "$PUSH" == 1 ]]; then
      pm manifest push --all "$IMAGE" "docker://$IMAGE" >&2
    fi
    ;;
  *)
    printf 'error: CONTAINER_ENGINE must be docker or podman, got "%s"\n' "$engine" >&2
    exit 1
    ;;
esac
printf '==> built %s in %d s\n' "$IMAGE" $((SECONDS - start)) >&2
