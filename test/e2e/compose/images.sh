#!/usr/bin/env bash
# test/e2e/compose/images.sh makes, offline, every image docker-compose.yaml
# names that can be made on this kind of machine, under the names the compose
# file uses, in podman's store (PODMAN_OPTS: global podman options such as a
# private --root/--runroot):
#
#   uploader:dev, uploader-standin:dev  test/image/build.sh (the Dockerfile's
#                                       two targets, offline)
#   quay.io/minio/minio:<tag>           MinIO and mc as scripts/tools.sh builds
#                                       them (the tests' pinned commits, NOT the
#                                       release the tag names: no registry, and
#                                       the module proxy does not resolve MinIO's
#                                       RELEASE tags), with the libc they link
#   quay.io/minio/mc:<tag>              mc and a POSIX sh (dash), the two things
#                                       deploy/compose/minio-init.sh may use
#   prom/prometheus:<tag>               Prometheus from test/e2e/tools.sh; the tag
#                                       must be its version; busybox wget for the
#                                       compose healthcheck, as in the real image
# grafana/grafana is not made (it cannot be built from the module proxy): the
# suite does not start the grafana service.
#
# Usage: images.sh IMAGE...   (the names, as `docker compose config --images`
# prints them). Env: MINIO_BIN, MC_BIN, PROMETHEUS_BIN (the binaries).
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
read -ra podman_opts <<<"${PODMAN_OPTS:-}"
pm() { podman "${podman_opts[@]}" "$@"; }
log() { printf '==> %s\n' "$*" >&2; }
die() {
  printf 'FAIL: %s\n' "$*" >&2
  exit 1
}

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# rootfs DIR SRC:DEST...: a root filesystem with /etc/passwd, /tmp and each
# host binary SRC at DEST, with the shared libraries it links.
rootfs() {
  local dir=$1 pair src dest lib
  shift
  mkdir -p "$dir"/{etc,tmp,root,bin,usr/bin}
  chmod 1777 "$dir/tmp"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n' >"$dir/etc/passwd"
  printf 'root:x:0:\nnobody:x:65534:\n' >"$dir/etc/group"
  for pair in "$@"; do
    src=${pair%%:*} dest=${pair#*:}
    cp -L "$src" "$dir$dest"
    for lib in $(ldd "$src" 2>/dev/null | sed -n 's#.*=> \(/[^ ]*\) .*#\1#p; s#^[[:space:]]*\(/[^ ]*\) (.*#\1#p'); do
      mkdir -p "$dir$(dirname "$lib")"
      cp -L "$lib" "$dir$lib"
    done
  done
}

# import DIR NAME CHANGE...: the rootfs in DIR as image NAME. Short names are
# stored fully qualified (docker.io/...), as a Docker client means them.
import() {
  local dir=$1 name=$2 change=()
  shift 2
  for c in "$@"; do change+=(--change "$c"); done
  case ${name%%/*} in
  *.*) ;;
  *) [[ $name == */* ]] && name=docker.io/$name || name=docker.io/library/$name ;;
  esac
  tar -C "$dir" -c . | pm import "${change[@]}" - "$name" >/dev/null
  log "image $name"
}

uploader='' standin=''
for image in "$@"; do
  repo=${image%:*} tag=${image##*:}
  case $repo in
  uploader) uploader=$image ;;
  uploader-standin) standin=$image ;;
  quay.io/minio/minio)
    d=$WORK/minio
    rootfs "$d" "${MINIO_BIN:?}:/usr/bin/minio" "${MC_BIN:?}:/usr/bin/mc"
    mkdir -p "$d/data"
    import "$d" "$image" 'ENV PATH=/usr/bin:/bin' 'ENV HOME=/root' 'ENTRYPOINT ["/usr/bin/minio"]' \
      'VOLUME /data' 'EXPOSE 9000'
    ;;
  quay.io/minio/mc)
    d=$WORK/mc
    rootfs "$d" "${MC_BIN:?}:/usr/bin/mc" /bin/dash:/bin/sh
    import "$d" "$image" 'ENV PATH=/usr/bin:/bin' 'ENV HOME=/root' 'ENTRYPOINT ["/usr/bin/mc"]'
    ;;
  prom/prometheus)
    version=$("${PROMETHEUS_BIN:?}" --version 2>&1 | sed -n 's/^prometheus, version \([^ ]*\).*/\1/p')
    [[ "v$version" == "$tag" ]] || die "docker-compose.yaml names $image but test/e2e/tools.sh builds Prometheus $version"
    d=$WORK/prometheus
    rootfs "$d" /bin/busybox:/bin/busybox "$PROMETHEUS_BIN:/bin/prometheus"
    mkdir -p "$d/etc/prometheus" "$d/prometheus"
    ln -sf busybox "$d/bin/wget"
    chown 65534:65534 "$d/prometheus"
    import "$d" "$image" 'USER 65534' 'WORKDIR /prometheus' 'ENTRYPOINT ["/bin/prometheus"]' \
      'CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]' \
      'VOLUME /prometheus' 'EXPOSE 9090'
    ;;
  grafana/grafana) log "not made: $image (cannot be built here; the suite does not start grafana)" ;;
  *) die "docker-compose.yaml names $image: this script does not know how to make it" ;;
  esac
done

if [[ -n $uploader || -n $standin ]]; then
  [[ -n $uploader && -n $standin ]] || die "docker-compose.yaml names only one of uploader and uploader-standin"
  # build.sh names them localhost/NAME; a Docker client means docker.io/library/NAME.
  UPLOADER_IMAGE=$uploader STANDIN_IMAGE=$standin bash "$REPO_ROOT/test/image/build.sh" >/dev/null
  for image in "$uploader" "$standin"; do
    pm tag "$image" "docker.io/library/$image"
  done
fi
