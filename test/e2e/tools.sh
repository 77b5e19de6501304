#!/usr/bin/env bash
# test/e2e/tools.sh builds, once, the pinned tools the end-to-end suites run,
# and prints the directory that holds their binaries. Each tool is built from
# the Go module proxy (or, for the EKS webhook, from ../shared/third_party)
# into a cache directory keyed by its version, so a second run takes seconds:
#
#   $E2E_CACHE/kubernetes-v1.37.2/bin   kube-apiserver, kube-controller-manager,
#                                       kube-scheduler, kubelet, kubectl
#   $E2E_CACHE/webhook-<commit>/bin     amazon-eks-pod-identity-webhook
#   $E2E_CACHE/compose-v2.40.3/bin      docker-compose (Compose v2)
#   $E2E_CACHE/prometheus-v0.305.0/bin  prometheus (v3.5.0)
#   $E2E_CACHE/helm-v4.3.2/bin          helm (make test lints and renders the
#                                       chart with it; make e2e installs it)
#   $E2E_CACHE/bin/helm                 a link to the pinned helm, renewed by
#                                       every run that names helm
#
# E2E_CACHE defaults to ${XDG_CACHE_HOME:-$HOME/.cache}/uploader-e2e.
# Usage: test/e2e/tools.sh [kubernetes|webhook|compose|prometheus|helm]... (all by default)
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
E2E_CACHE=${E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/uploader-e2e}
KUBERNETES_VERSION=v1.37.2
COMPOSE_VERSION=v2.40.3
PROMETHEUS_VERSION=v0.305.0 # Prometheus v3.5.0
HELM_VERSION=v4.3.2
WEBHOOK_TARBALL=${WEBHOOK_TARBALL:-$REPO_ROOT/../shared/third_party/amazon-eks-pod-identity-webhook.tar.gz}
WEBHOOK_COMMIT=3bf80a348116483b2162190e43232e4d243f76c4
export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0

log() { printf '==> %s\n' "$*" >&2; }

# timed NAME CMD...: runs CMD and prints how long it took.
timed() {
  local name=$1 start=$SECONDS
  shift
  "$@"
  log "$name: $((SECONDS - start)) s"
}

# wrapper DIR MODULE VERSION: a module in DIR that requires MODULE@VERSION.
wrapper() {
  local dir=$1 module=$2 version=$3
  rm -rf "$dir"
  mkdir -p "$dir"
  printf 'module uploader.e2e/build\n\ngo 1.26\n\nrequire %s %s\n' "$module" "$version" >"$dir/go.mod"
  printf 'package tools\n\nimport _ "%s"\n' "$module" >/dev/null
}

build_kubernetes() {
  local out=$E2E_CACHE/kubernetes-$KUBERNETES_VERSION
  [[ -x $out/bin/kubelet && -x $out/bin/kubectl ]] && return 0
  log "building Kubernetes $KUBERNETES_VERSION from the module proxy (cold: about 13 minutes)"
  local dir=$E2E_CACHE/build/kubernetes
  wrapper "$dir" k8s.io/kubernetes "$KUBERNETES_VERSION"
  local gomod staging minor
  gomod=$(go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" | sed -n 's/^\t"GoMod": "\(.*\)",$/\1/p')
  # The module's own go.mod replaces each staging module by a directory that
  # the published module does not carry; replace them by the published ones.
  minor=${KUBERNETES_VERSION#v1.}
  staging=$(sed -n 's#^\t\(k8s.io/[a-z0-9-]*\) => ./staging/src/.*#\1#p' "$gomod")
  for m in $staging; do
    printf 'replace %s => %s v0.%s\n' "$m" "$m" "$minor" >>"$dir/go.mod"
  done
  local ldflags="-s -w" pkg
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=${minor%%.*}"
    ldflags+=" -X $pkg.gitTreeState=clean"
  done
  (
    cd "$dir"
    go mod download k8s.io/kubernetes
    go get "k8s.io/kubernetes@$KUBERNETES_VERSION" >/dev/null
    mkdir -p "$out.tmp/bin"
    go build -trimpath -ldflags "$ldflags" -o "$out.tmp/bin/" \
      k8s.io/kubernetes/cmd/kube-apiserver \
      k8s.io/kubernetes/cmd/kube-controller-manager \
      k8s.io/kubernetes/cmd/kube-scheduler \
      k8s.io/kubernetes/cmd/kubelet \
      k8s.io/kubernetes/cmd/kubectl
  )
  rm -rf "$out" && mv "$out.tmp" "$out"
}

build_webhook() {
  local out=$E2E_CACHE/webhook-$WEBHOOK_COMMIT
  [[ -x $out/bin/amazon-eks-pod-identity-webhook ]] && return 0
  [[ -f $WEBHOOK_TARBALL ]] || { log "missing $WEBHOOK_TARBALL (see ../shared/third_party/README.md)"; return 1; }
  log "building amazon-eks-pod-identity-webhook $WEBHOOK_COMMIT (cold: about 2 minutes)"
  local dir=$E2E_CACHE/build/webhook
  rm -rf "$dir" && mkdir -p "$dir"
  tar -xzf "$WEBHOOK_TARBALL" -C "$dir"
  mkdir -p "$out.tmp/bin"
  (cd "$dir/amazon-eks-pod-identity-webhook" && go build -trimpath -o "$out.tmp/bin/amazon-eks-pod-identity-webhook" .)
  rm -rf "$out" && mv "$out.tmp" "$out"
}

# build_from_gomod NAME MODULE VERSION PKG BINARY: builds PKG of MODULE@VERSION
# with that module's own go.mod (its exclude and replace directives apply
# only there, which is why `go install` refuses it).
build_from_gomod() {
  local name=$1 module=$2 version=$3 pkg=$4 binary=$5
  local out=$E2E_CACHE/$name-$version
  [[ -x $out/bin/$binary ]] && return 0
  log "building $module $version"
  local dir=$E2E_CACHE/build/$name src
  src=$(go mod download -json "$module@$version" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  rm -rf "$dir" && mkdir -p "$dir"
  cp -r "$src/." "$dir/"
  chmod -R u+w "$dir"
  mkdir -p "$out.tmp/bin"
  (cd "$dir" && go build -trimpath -ldflags "-s -w ${6:-}" -o "$out.tmp/bin/$binary" "$pkg")
  rm -rf "$out" && mv "$out.tmp" "$out"
}

build_compose() {
  build_from_gomod compose github.com/docker/compose/v2 "$COMPOSE_VERSION" ./cmd docker-compose \
    "-X github.com/docker/compose/v2/internal.Version=$COMPOSE_VERSION"
}

build_prometheus() {
  build_from_gomod prometheus github.com/prometheus/prometheus "$PROMETHEUS_VERSION" ./cmd/prometheus prometheus \
    "-X github.com/prometheus/common/version.Version=3.5.0"
}

build_helm() {
  # make test builds it too: one build at a time per cache (the others wait).
  local lock
  exec {lock}>"$E2E_CACHE/helm.lock"
  flock "$lock"
  build_from_gomod helm helm.sh/helm/v4 "$HELM_VERSION" ./cmd/helm helm \
    "-X helm.sh/helm/v4/internal/version.version=$HELM_VERSION"
  mkdir -p "$E2E_CACHE/bin"
  ln -sfn "../helm-$HELM_VERSION/bin/helm" "$E2E_CACHE/bin/helm"
  exec {lock}>&-
}

mkdir -p "$E2E_CACHE"
tools=("$@")
[[ ${#tools[@]} -gt 0 ]] || tools=(kubernetes webhook compose prometheus helm)
for t in "${tools[@]}"; do
  case $t in
  kubernetes) timed "kubernetes $KUBERNETES_VERSION" build_kubernetes ;;
  webhook) timed "webhook" build_webhook ;;
  compose) timed "compose $COMPOSE_VERSION" build_compose ;;
  prometheus) timed "prometheus $PROMETHEUS_VERSION" build_prometheus ;;
  helm) timed "helm $HELM_VERSION" build_helm ;;
  *) log "unknown tool $t" && exit 2 ;;
  esac
done
echo "$E2E_CACHE"
