#!/usr/bin/env bash
# test/e2e/compose/run.sh (make e2e-compose) runs docker-compose.yaml for real:
# the pinned Compose v2 client (test/e2e/tools.sh) drives `podman system
# service` on a private socket, with private storage, networks and
# containers.conf under a work directory, so nothing else on the machine is
# touched. Images are made offline under the compose file's names
# (images.sh); deploy/compose/podman-healthchecks.sh runs the healthchecks
# (podman without systemd runs none). Every profile is started with the
# documented command (plus -d --no-build --pull never) and checked; the
# compose network's IPv4 traffic is captured with tcpdump throughout, to
# prove that no container resolves or contacts an amazonaws.com name.
#
# Prints one PASS/FAIL line per check, per-phase timings and a last line
# "e2e-compose: N passed, N failed"; exits non-zero on any failure. A check
# that cannot run is a FAIL under CI=true (SKIP otherwise).
#
# Needs root, Go, and apt-get for what is missing (podman, runc, netavark,
# aardvark-dns, iptables, tcpdump, busybox-static, curl, jq). Host ports:
# free ones are picked (127.0.0.1 only). KEEP_WORK=1 keeps the work directory.
set -uo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
cd "$REPO_ROOT" || exit 2
CI=${CI:-}
profiles_all=(--profile node-role --profile irsa --profile pod-identity --profile observability)

WORK=$(mktemp -d /tmp/uploader-e2e-compose.XXXXXX)
# shellcheck source-path=SCRIPTDIR
# shellcheck source=../../lib.sh
. test/lib.sh
LIB_WORK=$WORK

# --- tools -------------------------------------------------------------------
phase tools
need_pkgs=()
for pair in podman:podman runc:runc netavark:netavark aardvark-dns:aardvark-dns iptables:iptables \
  tcpdump:tcpdump busybox:busybox-static curl:curl jq:jq; do
  cmd=${pair%%:*}
  command -v "$cmd" >/dev/null || [[ -x /usr/lib/podman/$cmd ]] || need_pkgs+=("${pair#*:}")
done
install_pkgs() {
  [[ $(id -u) == 0 ]] || { echo "run as root: rootful podman, tcpdump and apt-get"; return 1; }
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" </dev/null
}
[[ ${#need_pkgs[@]} -eq 0 ]] || GLOBAL=1 setup "apt-get install ${need_pkgs[*]}" install_pkgs
[[ $(id -u) == 0 ]] || GLOBAL=1 setup "root" false
E2E_CACHE=${E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/uploader-e2e}
export E2E_CACHE
GLOBAL=1 setup "test/e2e/tools.sh compose prometheus" bash test/e2e/tools.sh compose prometheus
GLOBAL=1 setup "scripts/tools.sh (MinIO, mc)" bash scripts/tools.sh
gobin=$(go env GOPATH)/bin
COMPOSE=$E2E_CACHE/compose-v2.40.3/bin/docker-compose
PROMETHEUS_BIN=$E2E_CACHE/prometheus-v0.305.0/bin/prometheus
MINIO_BIN=$gobin/minio MC_BIN=$gobin/mc
export MINIO_BIN MC_BIN PROMETHEUS_BIN

# The documented form is `docker compose`: the docker client with Compose as
# its CLI plugin, when the docker client is installed; docker-compose else.
mkdir -p "$WORK/docker/cli-plugins"
ln -s "$COMPOSE" "$WORK/docker/cli-plugins/docker-compose"
export DOCKER_CONFIG=$WORK/docker
if command -v docker >/dev/null; then
  dc=(docker compose)
else
  dc=("$COMPOSE")
fi

# --- engine ------------------------------------------------------------------
phase engine
# A private podman: storage, run state, network definitions and the API
# socket under $WORK; runc, cgroupfs and file events (no systemd), explicit
# ulimits, and compose networks from a pool that names this run's traffic.
POOL_BASE=10.$((200 + RANDOM % 50)).$((RANDOM % 250))
POOL=$POOL_BASE.0/24
mkdir -p "$WORK/networks"
export CONTAINERS_CONF=$WORK/containers.conf
{
  cat "$REPO_ROOT/test/image/containers.conf"
  cat <<CONF

[network]
network_backend = "netavark"
network_config_dir = "$WORK/networks"
default_subnet_pools = [{"base" = "$POOL", "size" = 24}]
CONF
} >"$CONTAINERS_CONF"
PODMAN_OPTS="--root $WORK/storage --runroot $WORK/run --tmpdir $WORK/tmp"
export PODMAN_OPTS
read -ra podman_opts <<<"$PODMAN_OPTS"
pm() { podman "${podman_opts[@]}" "$@"; }
# Rootful netavark keeps its IPAM and aardvark-dns state in
# /run/containers/networks for every podman of the machine, keyed by network
# name: a project name of this run's own keeps its network apart from any
# other "uploader" project (another run, a user's stack).
COMPOSE_PROJECT_NAME=uploader-e2e-$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')
export COMPOSE_PROJECT_NAME
SOCK=$WORK/podman.sock
export DOCKER_HOST=unix://$SOCK
service_pid='' runner_pid='' capture_pid=''

cleanup() {
  [[ -n $runner_pid ]] && kill "$runner_pid" 2>/dev/null
  [[ -n $capture_pid ]] && kill "$capture_pid" 2>/dev/null
  if [[ -n $service_pid ]]; then
    "${dc[@]}" "${profiles_all[@]}" down -v --remove-orphans >/dev/null 2>&1
    kill "$service_pid" 2>/dev/null
    wait "$service_pid" 2>/dev/null
  fi
  # netavark 1.4 leaves the compose network's port-forwarding chain behind
  # (empty): remove it, by its name (NETAVARK-DN- and the first 13 hex digits
  # of the network name's SHA-512); -X refuses a chain in use or not empty.
  local chain
  chain=NETAVARK-DN-$(printf '%s' "${COMPOSE_PROJECT_NAME}_default" | sha512sum | cut -c1-13 | tr a-f A-F)
  iptables -t nat -X "$chain" >/dev/null 2>&1
  if [[ -d $WORK/storage ]]; then
    pm rm -af -t 0 >/dev/null 2>&1
    pm system reset -f >/dev/null 2>&1
  fi
  if [[ ${KEEP_WORK:-0} == 1 ]]; then
    log "work directory kept: $WORK"
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start_service() {
  # podman itself in the background (not a function: $! is its pid).
  podman "${podman_opts[@]}" system service --time=0 "unix://$SOCK" >"$WORK/podman-service.log" 2>&1 &
  service_pid=$!
  local _
  for _ in $(seq 100); do
    [[ -S $SOCK ]] && curl -sf --unix-socket "$SOCK" http://d/_ping >/dev/null && return 0
    kill -0 "$service_pid" 2>/dev/null || { cat "$WORK/podman-service.log"; return 1; }
    sleep 0.2
  done
  echo "podman system service did not answer on $SOCK"
  return 1
}
GLOBAL=1 setup "podman system service on $SOCK" start_service

# --- images ------------------------------------------------------------------
phase images
images=()
list_images() {
  mapfile -t images < <("${dc[@]}" "${profiles_all[@]}" config --images | sort -u)
  [[ ${#images[@]} -gt 0 ]]
}
GLOBAL=1 setup "docker compose config --images" list_images
GLOBAL=1 setup "images.sh ${images[*]}" bash test/e2e/compose/images.sh "${images[@]}"

# --- ports, env --------------------------------------------------------------
MINIO_PORT=$(free_port) MINIO_CONSOLE_PORT=$(free_port) METRICS_PORT=$(free_port)
PROMETHEUS_PORT=$(free_port) GRAFANA_PORT=$(free_port)
# Like a user's .env: what the suite sets, layered under irsa.env for irsa.
ENV_FILE=$WORK/e2e.env
cat >"$ENV_FILE" <<ENV
MINIO_PORT=$MINIO_PORT
MINIO_CONSOLE_PORT=$MINIO_CONSOLE_PORT
METRICS_PORT=$METRICS_PORT
PROMETHEUS_PORT=$PROMETHEUS_PORT
GRAFANA_PORT=$GRAFANA_PORT
UPLOAD_INTERVAL=2s
MINIO_ROOT_PASSWORD=e2e-$RANDOM$RANDOM$RANDOM
UPLOADER_SECRET_KEY=e2e-$RANDOM$RANDOM$RANDOM
ENV
MINIO_ROOT_USER=minioadmin
MINIO_ROOT_PASSWORD=$(sed -n 's/^MINIO_ROOT_PASSWORD=//p' "$ENV_FILE")
BUCKET=uploads PREFIX=uploads/

# --- capture -----------------------------------------------------------------
CAPTURE=$WORK/compose.pcap
start_capture() {
  tcpdump -i any -nn -U -s 0 -w "$CAPTURE" "net $POOL" >"$WORK/tcpdump.log" 2>&1 &
  capture_pid=$!
  local _
  for _ in $(seq 50); do
    grep -q 'listening on' "$WORK/tcpdump.log" && return 0
    kill -0 "$capture_pid" 2>/dev/null || { cat "$WORK/tcpdump.log"; return 1; }
    sleep 0.2
  done
  cat "$WORK/tcpdump.log"
  return 1
}
GLOBAL=1 setup "tcpdump on $POOL" start_capture

bash deploy/compose/podman-healthchecks.sh "${podman_opts[@]}" &
runner_pid=$!

# up FLAG... [-- SERVICE...]: the documented command, detached, with the
# local images.
up() {
  local flags=()
  while (($#)) && [[ $1 != -- ]]; do
    flags+=("$1")
    shift
  done
  (($#)) && shift
  timeout 300 "${dc[@]}" --env-file "$ENV_FILE" "${flags[@]}" up -d --no-build --pull never --wait --wait-timeout 240 "$@" && return 0
  local rc=$? svc
  # Why: the last lines of each container that is not running healthy.
  "${dc[@]}" --env-file "$ENV_FILE" "${profiles_all[@]}" ps -a --format '{{.Service}} {{.State}} {{.Health}} {{.ExitCode}}' |
    while read -r svc rest; do
      [[ $rest == "running healthy "* || $rest == "exited  0" || $rest == "running  0" ]] && continue
      echo "--- $svc: $rest"
      "${dc[@]}" --env-file "$ENV_FILE" "${profiles_all[@]}" logs --no-log-prefix --tail 5 "$svc" </dev/null 2>&1
    done
  return "$rc"
}

# --- checks ------------------------------------------------------------------
# state SERVICE: "State Health ExitCode" of the service's container.
state() {
  "${dc[@]}" --env-file "$ENV_FILE" "${profiles_all[@]}" ps -a --format '{{.State}} {{.Health}} {{.ExitCode}}' "$1"
}
healthy() {
  local s
  s=$(state "$1")
  [[ $s == "running healthy "* ]] || { echo "$1: $s"; return 1; }
}
init_ok() {
  local s
  s=$(state minio-init)
  [[ $s == "exited  0" || $s == "exited 0" ]] || { echo "minio-init: $s"; return 1; }
  local out
  out=$(logs minio-init) || return 1
  grep -q "s3:PutObject on $BUCKET/$PREFIX\*" <<<"$out" || { echo "minio-init said: $out"; return 1; }
}
logs() { "${dc[@]}" --env-file "$ENV_FILE" "${profiles_all[@]}" logs --no-log-prefix "$1"; }
# mode SERVICE MODE: the uploader's start line names MODE.
mode() {
  local got
  got=$(logs "$1" | jq -r 'select(.msg == "uploader starting") | .credential_mode' 2>/dev/null | sort -u)
  [[ $got == "$2" ]] || { echo "$1: credential_mode \"$got\", want $2"; return 1; }
}
mcroot() {
  MC_CONFIG_DIR=$WORK/mc MC_HOST_e2e="http://$MINIO_ROOT_USER:$MINIO_ROOT_PASSWORD@127.0.0.1:$MINIO_PORT" "$MC_BIN" "$@"
}
# stores SERVICE: two uploads logged by SERVICE, each object in the bucket at
# the logged key with the logged size.
stores() {
  local keys k n=0 size want
  for _ in $(seq 60); do
    mapfile -t keys < <(logs "$1" | jq -r 'select(.msg == "object uploaded") | "\(.key) \(.bytes)"' 2>/dev/null)
    [[ ${#keys[@]} -ge 2 ]] && break
    sleep 1
  done
  [[ ${#keys[@]} -ge 2 ]] || { echo "$1 logged ${#keys[@]} uploads in 60 s"; logs "$1" | tail -n 3; return 1; }
  for k in "${keys[@]:0:2}"; do
    want=${k##* } k=${k% *}
    [[ $k == "$PREFIX"* ]] || { echo "key $k outside $PREFIX"; return 1; }
    size=$(mcroot stat --json "e2e/$BUCKET/$k" | jq -r .size) || { echo "no object $k"; return 1; }
    [[ $size == "$want" ]] || { echo "object $k: $size bytes, logged $want"; return 1; }
    n=$((n + 1))
  done
  echo "$n objects"
}
http_ok() { curl -fsS -o /dev/null --max-time 5 "$1"; }
metrics_ok() {
  local body
  body=$(curl -fsS --max-time 5 "http://127.0.0.1:$METRICS_PORT/metrics") || return 1
  grep -q '^uploader_uploads_total' <<<"$body" || { echo "no uploader_uploads_total in /metrics"; return 1; }
}
# hardened SERVICE: what the kernel says about the container's process.
hardened() {
  local id pid status root
  id=$("${dc[@]}" --env-file "$ENV_FILE" "${profiles_all[@]}" ps -q "$1")
  [[ -n $id ]] || { echo "no container"; return 1; }
  pid=$(pm inspect --format '{{.State.Pid}}' "$id")
  [[ $pid -gt 0 ]] || { echo "no pid"; return 1; }
  status=$(cat "/proc/$pid/status")
  grep -Eq '^Uid:\s+65532\s+65532\s+65532\s+65532$' <<<"$status" || { grep '^Uid' <<<"$status"; return 1; }
  grep -Eq '^Gid:\s+65532\s' <<<"$status" || { grep '^Gid' <<<"$status"; return 1; }
  for c in CapInh CapPrm CapEff CapBnd CapAmb; do
    grep -Eq "^$c:\s+0000000000000000$" <<<"$status" || { grep "^$c" <<<"$status"; return 1; }
  done
  grep -Eq '^NoNewPrivs:\s+1$' <<<"$status" || { grep '^NoNewPrivs' <<<"$status"; return 1; }
  root=$(awk '$5 == "/" {print $6}' "/proc/$pid/mountinfo")
  [[ $root == ro,* || $root == ro ]] || { echo "root mount options $root"; return 1; }
}

phase default
setup "docker compose up (default profile)" up
check "default: minio healthy" healthy minio
check "default: minio-init exited 0 with the put-only policy for $BUCKET/$PREFIX" init_ok
check "default: uploader healthy" healthy uploader
check "default: uploader logs credential_mode static" mode uploader static
check "default: uploader stores images (logged keys in the bucket)" stores uploader
check "default: /metrics answers on 127.0.0.1:$METRICS_PORT" metrics_ok
check "default: /healthz answers" http_ok "http://127.0.0.1:$METRICS_PORT/healthz"
check "default: /readyz answers" http_ok "http://127.0.0.1:$METRICS_PORT/readyz"
check "default: uploader runs as 65532:65532, read-only root, no capabilities, no-new-privileges" hardened uploader

phase node-role
setup "docker compose --profile node-role up" up --profile node-role
check "node-role: imds healthy" healthy imds
check "node-role: uploader-node-role logs credential_mode node-role" mode uploader-node-role node-role
check "node-role: uploader-node-role stores images" stores uploader-node-role
check "node-role: uploader-node-role hardened" hardened uploader-node-role

phase irsa
setup "docker compose --profile irsa --env-file .env --env-file deploy/compose/irsa.env up" \
  up --env-file deploy/compose/irsa.env --profile irsa
check "irsa: oidc healthy" healthy oidc
check "irsa: uploader-irsa logs credential_mode irsa" mode uploader-irsa irsa
check "irsa: uploader-irsa stores images" stores uploader-irsa
check "irsa: uploader-irsa hardened" hardened uploader-irsa

phase pod-identity
setup "docker compose --profile pod-identity up" up --env-file deploy/compose/irsa.env --profile pod-identity
check "pod-identity: pod-identity-agent healthy" healthy pod-identity-agent
check "pod-identity: uploader-pod-identity logs credential_mode pod-identity" mode uploader-pod-identity pod-identity
check "pod-identity: uploader-pod-identity stores images" stores uploader-pod-identity
check "pod-identity: uploader-pod-identity hardened" hardened uploader-pod-identity

phase observability
# Grafana's image cannot be made here: Prometheus only.
setup "docker compose --profile observability up prometheus" up --env-file deploy/compose/irsa.env --profile observability -- prometheus
# scraped MODE: Prometheus has up == 1 for the uploader of MODE.
scraped() {
  local v
  for _ in $(seq 60); do
    v=$(curl -fsS --max-time 5 "http://127.0.0.1:$PROMETHEUS_PORT/api/v1/query" \
      --data-urlencode "query=up{job=\"uploader\",mode=\"$1\"}" | jq -r '.data.result[0].value[1] // empty')
    [[ $v == 1 ]] && return 0
    sleep 1
  done
  echo "up{mode=\"$1\"} = \"$v\" after 60 s"
  return 1
}
check "observability: prometheus healthy" healthy prometheus
for m in static node-role irsa pod-identity; do
  check "observability: Prometheus scrapes the $m uploader (up == 1)" scraped "$m"
done
# provisioning: the offline test of the dashboard and its provisioning files
# ran and passed (not "no tests to run").
provisioning() {
  go test -count=1 -v -run '^TestDashboard$' ./deploy >"$WORK/go-test.log" 2>&1 || { tail -n 20 "$WORK/go-test.log"; return 1; }
  grep -q '^--- PASS: TestDashboard ' "$WORK/go-test.log" || { echo "TestDashboard did not run"; return 1; }
}
check "observability: Grafana provisioning files valid (go test ./deploy -run TestDashboard)" provisioning

phase egress
# No container resolves or contacts an amazonaws.com name: every DNS query of
# the compose network (the capture holds its IPv4 traffic from before the
# first container), and no packet to an address outside it.
capture_text=''
stop_capture() {
  sleep 2
  kill "$capture_pid" && wait "$capture_pid" 2>/dev/null
  capture_pid=''
  capture_text=$(tcpdump -nn -r "$CAPTURE" 2>/dev/null)
  [[ -n $capture_text ]]
}
setup "stop the capture" stop_capture
dns_seen() { grep -Eq ' A+\? minio\.' <<<"$capture_text" || { echo "no DNS query for minio in the capture: it does not see the containers"; return 1; }; }
no_aws_dns() {
  local q
  q=$(grep -Ei '\? [^ ]*amazonaws\.com' <<<"$capture_text" | head -n 5)
  [[ -z $q ]] || { echo "$q"; return 1; }
}
# only_services: every name a container asked for is a compose service
# (queried bare or under podman's search domain dns.podman).
only_services() {
  local services names n bad=''
  services=$("${dc[@]}" --env-file "$ENV_FILE" "${profiles_all[@]}" config --services)
  names=$(grep -o ' A*? [^ ]*' <<<"$capture_text" | awk '{print $2}' | sort -u)
  for n in $names; do
    n=${n%.} n=${n%.dns.podman}
    grep -qx "$n" <<<"$services" || bad+=" $n"
  done
  [[ -z $bad ]] || { echo "queried:$bad"; return 1; }
}
# no_egress: no connection attempt from a container to an address outside
# the network (TCP SYN, any UDP or ICMP; replies to the host's published
# ports and the bridge's multicast reports are not attempts). DNS is left to
# the two checks above: containers (and aardvark-dns on the gateway, which
# forwards what it does not know) also ask the host's resolver, for the
# names checked there.
no_egress() {
  local out
  out=$(tcpdump -nn -r "$CAPTURE" "src net $POOL and not dst net $POOL and not ip multicast and not port 53 and (udp or icmp or (tcp[tcpflags] & (tcp-syn|tcp-ack)) == tcp-syn)" 2>/dev/null | head -n 5)
  [[ -z $out ]] || { echo "$out"; return 1; }
}
check "egress: the capture holds the containers' DNS queries (control)" dns_seen
check "egress: no DNS query for an amazonaws.com name" no_aws_dns
check "egress: every DNS query names a compose service" only_services
check "egress: no connection attempt leaves the compose network $POOL" no_egress

phase down
down_clean() {
  # The documented command. Without --profile '*', down leaves the
  # containers, volumes and network of the profiles' services.
  "${dc[@]}" --env-file "$ENV_FILE" --profile '*' down -v || return 1
  local left
  local label=label=com.docker.compose.project=$COMPOSE_PROJECT_NAME
  left=$(pm ps -aq --filter "$label"; pm volume ls -q --filter "$label"; pm network ls -q --filter "$label")
  [[ -z $left ]] || { echo "left: $left"; return 1; }
}
check "docker compose --profile '*' down -v leaves no container, volume or network" down_clean

report e2e-compose
