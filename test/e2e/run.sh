#!/usr/bin/env bash
# make e2e: the uploader on a real Kubernetes control plane and node, for all
# eight shipped overlays (static-keys, node-role, irsa, pod-identity x Job,
# Deployment), on 127.0.0.1 only. See README.md next to this file for what it
# starts, proves and cannot prove.
#
# Starts, each as a background process with its state under one temporary
# directory, and stops by PID at exit: etcd, kube-apiserver (TLS, RBAC,
# NodeRestriction, PodSecurity, its own https issuer), kube-controller-manager,
# kube-scheduler, containerd, kubelet, the real amazon-eks-pod-identity-webhook
# (out of cluster, failurePolicy Fail, a region other than the overlays'),
# MinIO trusting the kube-apiserver as its OpenID provider, the IMDSv2
# stand-in (cmd/standin), a Pod Identity agent and a fixed image source
# (test/e2e/fixture).
#
# Prints one PASS/FAIL line per check, per-phase timings, and finally
# "e2e: N passed, N failed"; exits 1 on any failure. Needs root. With CI=true
# a check that cannot run fails; outside CI a machine that cannot run the
# suite at all (not root) skips it, saying so. E2E_KEEP=1 keeps the work
# directory (logs) at exit.
set -euo pipefail
# The whole script is one compound command, parsed before it runs: editing
# the file during a run cannot change the run.
{

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$REPO_ROOT"

if [[ $(id -u) != 0 ]]; then
  if [[ ${CI:-} == true ]]; then
    echo "FAIL: e2e needs root (kubelet, containerd)"
    echo "e2e: 0 passed, 1 failed"
    exit 1
  fi
  echo "SKIP: e2e needs root (kubelet, containerd); run it as root, or in CI"
  exit 0
fi

W=$(mktemp -d /tmp/uploader-e2e.XXXXXX)
mkdir -p "$W"/{logs,pki,bin,overlays,rendered,kubelet,tokens,src}
# shellcheck source=test/e2e/lib.sh
. test/e2e/lib.sh

KUBE_VERSION=v1.37.2
OVERLAYS=(static-keys-job static-keys-deployment node-role-job node-role-deployment
  irsa-job irsa-deployment pod-identity-job pod-identity-deployment)
WEBHOOK_REGION=us-west-2 # the "cluster's" region; the overlays say eu-west-1
OVERLAY_REGION=eu-west-1
BUCKET=uploader-e2e
GRACE_LIMIT=15 # seconds a deleted pod may take to stop: half its 30 s grace period
kubelet_pid=""
cgroup_existed=$([[ -d /sys/fs/cgroup/memory/kubepods || -d /sys/fs/cgroup/kubepods ]] && echo 1 || echo 0)
suite_start=$SECONDS

teardown() {
  local rc=$?
  set +e
  end_phase
  printf '== teardown\n'
  local t=$SECONDS
  # The kubelet first, so it restarts nothing; then every container still
  # running, while containerd can still be asked.
  if [[ -n $kubelet_pid ]]; then kill -TERM "$kubelet_pid" 2>/dev/null && wait "$kubelet_pid" 2>/dev/null; fi
  if [[ -S $W/containerd/containerd.sock ]]; then
    local id
    for id in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks kill -s SIGKILL "$id" >/dev/null 2>&1; done
    sleep 1
    for id in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks delete -f "$id" >/dev/null 2>&1; done
    for id in $(ctr_ containers ls -q 2>/dev/null); do ctr_ containers rm "$id" >/dev/null 2>&1; done
  fi
  stop_all
  # containerd's shims outlive it; they are ours when their command line
  # names our containerd socket. Stopped by PID.
  local p
  for p in /proc/[0-9]*; do
    if [[ $(tr '\0' ' ' 2>/dev/null <"$p/cmdline") == *"-address $W/containerd/containerd.sock"* ]]; then
      kill -KILL "${p#/proc/}" 2>/dev/null
    fi
  done
  # Mounts the kubelet, containerd and podman made under $W, deepest first.
  local m
  awk -v w="$W/" 'index($5, w) == 1 {print $5}' /proc/self/mountinfo | sort -r | while read -r m; do
    umount -l "$m" 2>/dev/null
  done
  if [[ $cgroup_existed == 0 ]]; then
    find /sys/fs/cgroup/*/kubepods -depth -type d -exec rmdir {} + 2>/dev/null
  fi
  if [[ ${E2E_KEEP:-0} == 1 ]]; then
    echo "work directory kept: $W"
  else
    rm -rf --one-file-system "$W"
  fi
  timings+=("$(printf '%-28s %4d s' teardown $((SECONDS - t)))")
  echo "== timings"
  printf '   %s\n' "${timings[@]}"
  printf '   %-28s %4d s\n' total $((SECONDS - suite_start))
  ((rc == 0 || failed > 0)) || fail "suite ended early (exit $rc)"
  echo "e2e: $passed passed, $failed failed"
  ((failed == 0)) || exit 1
  exit 0
}
trap teardown EXIT

ctr_() { timeout 20 ctr --address "$W/containerd/containerd.sock" -n k8s.io "$@"; }
kc() { kubectl --kubeconfig "$W/admin.kubeconfig" "$@"; }

# ---------------------------------------------------------------------------
phase "tools"
missing=()
for pair in etcd:etcd-server containerd:containerd runc:runc podman:podman jq:jq curl:curl openssl:openssl \
  python3:python3 /usr/lib/cni/loopback:containernetworking-plugins; do
  bin=${pair%%:*}
  if [[ $bin == /* ]]; then [[ -x $bin ]] || missing+=("${pair#*:}"); else command -v "$bin" >/dev/null || missing+=("${pair#*:}"); fi
done
if ((${#missing[@]})); then
  echo "installing ${missing[*]}"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null; } ||
    die "apt-get install ${missing[*]} failed"
fi
cache=$(test/e2e/tools.sh kubernetes webhook | tail -n 1) || die "test/e2e/tools.sh kubernetes webhook failed"
KBIN=$cache/kubernetes-$KUBE_VERSION/bin
WEBHOOK=$(ls "$cache"/webhook-*/bin/amazon-eks-pod-identity-webhook)
scripts/tools.sh >/dev/null || die "scripts/tools.sh (minio, mc) failed"
PATH="$KBIN:$(go env GOPATH)/bin:$PATH"
export PATH
CGO_ENABLED=0 go build -trimpath -o "$W/bin/fixture" ./test/e2e/fixture || die "build test/e2e/fixture"
CGO_ENABLED=0 go build -trimpath -o "$W/bin/standin" ./cmd/standin || die "build cmd/standin"
[[ $(kubectl version --client 2>&1) == *"Client Version: $KUBE_VERSION"* ]] || die "kubectl is not $KUBE_VERSION"

# ---------------------------------------------------------------------------
phase "images"
# A private podman store: nothing of another run or another user is touched.
podman_opts="--root $W/podman/root --runroot $W/podman/run"
pm() {
  # shellcheck disable=SC2086 # podman_opts is a list of options
  podman $podman_opts "$@"
}
export CONTAINERS_CONF=$REPO_ROOT/test/image/containers.conf
PODMAN_OPTS=$podman_opts UPLOADER_IMAGE=localhost/uploader:e2e STANDIN_IMAGE=localhost/uploader-standin:e2e \
  bash test/image/build.sh >"$W/logs/image-build.log" 2>&1 || {
  tail -n 30 "$W/logs/image-build.log"
  die "test/image/build.sh failed"
}
# The pod sandbox image: a static binary that sleeps until signalled.
mkdir -p "$W/pause"
cp "$W/bin/fixture" "$W/pause/fixture"
tar -C "$W/pause" -c fixture | pm import --change 'ENTRYPOINT ["/fixture","pause"]' - localhost/e2e-pause:1 >/dev/null ||
  die "pause image"
pm save -m -o "$W/images.tar" localhost/uploader:e2e localhost/e2e-pause:1 >/dev/null 2>&1 || die "podman save"

# ---------------------------------------------------------------------------
phase "certificates"
api_port=$(free_port)
API=https://127.0.0.1:$api_port
mkca
mkcert apiserver "/CN=kube-apiserver" "IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes.default.svc"
mkcert admin "/O=system:masters/CN=e2e-admin"
mkcert apiserver-kubelet "/O=system:masters/CN=kube-apiserver-kubelet-client"
mkcert controller-manager "/CN=system:kube-controller-manager"
mkcert scheduler "/CN=system:kube-scheduler"
mkcert kubelet "/O=system:nodes/CN=system:node:localhost"
mkcert kubelet-serving "/CN=localhost" "IP:127.0.0.1,DNS:localhost"
mkcert webhook "/CN=pod-identity-webhook" "IP:127.0.0.1"
openssl genrsa -out "$W/pki/sa.key" 2048 2>/dev/null
openssl rsa -in "$W/pki/sa.key" -pubout -out "$W/pki/sa.pub" 2>/dev/null
for n in admin controller-manager scheduler kubelet; do kubeconfig "$n" "$API"; done
export KUBECONFIG=$W/admin.kubeconfig

# ---------------------------------------------------------------------------
phase "control plane"
etcd_port=$(free_port)
etcd_peer=http://127.0.0.1:$(free_port)
start etcd etcd --name e2e --data-dir "$W/etcd" \
  --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
  --listen-peer-urls "$etcd_peer" --initial-advertise-peer-urls "$etcd_peer" \
  --initial-cluster "e2e=$etcd_peer" --initial-cluster-state new
etcd_pid=${bg_pids[-1]}
wait_for 30 curl -sf "http://127.0.0.1:$etcd_port/health" || { alive etcd "$etcd_pid"; die "etcd did not start"; }
# Audit: metadata of every request in the shipped namespace "uploader", so
# the Pod Security "audit" label can be seen at work.
cat >"$W/audit-policy.yaml" <<'EOF'
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
  - level: Metadata
    namespaces: ["uploader"]
  - level: None
EOF
start kube-apiserver kube-apiserver \
  --audit-policy-file="$W/audit-policy.yaml" --audit-log-path="$W/logs/audit.log" \
  --bind-address=127.0.0.1 --secure-port="$api_port" --advertise-address=127.0.0.1 \
  --endpoint-reconciler-type=none \
  --etcd-servers="http://127.0.0.1:$etcd_port" \
  --tls-cert-file="$W/pki/apiserver.crt" --tls-private-key-file="$W/pki/apiserver.key" \
  --client-ca-file="$W/pki/ca.crt" \
  --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction \
  --service-account-issuer="$API" \
  --service-account-key-file="$W/pki/sa.pub" --service-account-signing-key-file="$W/pki/sa.key" \
  --service-cluster-ip-range=10.96.0.0/24 \
  --kubelet-client-certificate="$W/pki/apiserver-kubelet.crt" --kubelet-client-key="$W/pki/apiserver-kubelet.key" \
  --kubelet-preferred-address-types=Hostname
api_pid=${bg_pids[-1]}
wait_for 90 kc get --raw /readyz || { alive kube-apiserver "$api_pid"; die "kube-apiserver not ready"; }
# Anyone may read the issuer's discovery documents (MinIO does, anonymously).
kc create clusterrolebinding e2e-oidc-discovery --clusterrole=system:service-account-issuer-discovery \
  --group=system:unauthenticated >/dev/null
check "kube-apiserver: its issuer $API serves OIDC discovery anonymously" \
  bash -c "curl -sf --cacert '$W/pki/ca.crt' '$API/.well-known/openid-configuration' | jq -e '.issuer == \"$API\"' >/dev/null"
start kube-controller-manager kube-controller-manager --kubeconfig="$W/controller-manager.kubeconfig" \
  --bind-address=127.0.0.1 --secure-port="$(free_port)" --leader-elect=false \
  --service-account-private-key-file="$W/pki/sa.key" --root-ca-file="$W/pki/ca.crt" \
  --use-service-account-credentials=true
start kube-scheduler kube-scheduler --kubeconfig="$W/scheduler.kubeconfig" \
  --bind-address=127.0.0.1 --secure-port="$(free_port)" --leader-elect=false

# ---------------------------------------------------------------------------
phase "node"
mkdir -p "$W/containerd" "$W/cni"
cat >"$W/cni/10-e2e.conflist" <<'EOF'
{"cniVersion": "1.0.0", "name": "e2e", "plugins": [{"type": "loopback"}]}
EOF
cat >"$W/containerd/config.toml" <<EOF
version = 2
root = "$W/containerd/root"
state = "$W/containerd/state"
[grpc]
  address = "$W/containerd/containerd.sock"
[ttrpc]
  address = "$W/containerd/containerd.sock.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$W/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "localhost/e2e-pause:1"
  # CAP_SYS_RESOURCE is withheld on this kind of machine.
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$W/cni"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
EOF
start containerd containerd --config "$W/containerd/config.toml"
containerd_pid=${bg_pids[-1]}
wait_for 30 ctr_ version || { alive containerd "$containerd_pid"; die "containerd did not start"; }
ctr_ images import "$W/images.tar" >"$W/logs/ctr-import.log" 2>&1 || die "ctr images import: $(tail -n 3 "$W/logs/ctr-import.log")"
kubelet_port=$(free_port)
cat >"$W/kubelet/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
port: $kubelet_port
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $(free_port)
tlsCertFile: $W/pki/kubelet-serving.crt
tlsPrivateKeyFile: $W/pki/kubelet-serving.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: $W/pki/ca.crt}
authorization: {mode: AlwaysAllow}
containerRuntimeEndpoint: unix://$W/containerd/containerd.sock
cgroupDriver: cgroupfs
# This kind of machine runs cgroup v1.
failCgroupV1: false
failSwapOn: false
podLogsDir: $W/pod-logs
# Projected tokens are rewritten on the pod's sync; sync often, so the
# rotation check sees the kubelet's rewrite soon after 80 % of the lifetime.
syncFrequency: 10s
evictionHard: {memory.available: 100Mi, nodefs.available: 1%, imagefs.available: 1%, nodefs.inodesFree: 1%}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
EOF
start kubelet kubelet --config="$W/kubelet/config.yaml" --kubeconfig="$W/kubelet.kubeconfig" \
  --root-dir="$W/kubelet" --hostname-override=localhost
kubelet_pid=${bg_pids[-1]}
wait_for 120 kc wait --for=condition=Ready node/localhost --timeout=2s ||
  { alive kubelet "$kubelet_pid"; die "node did not become Ready"; }

# ---------------------------------------------------------------------------
phase "identity services"
# MinIO trusts the kube-apiserver as its OpenID provider: the apiserver's CA
# in certs/CAs, its discovery URL, client id sts.amazonaws.com (the tokens'
# audience), role policy putonly.
minio_port=$(free_port)
MINIO=http://127.0.0.1:$minio_port
mkdir -p "$W/minio/certs/CAs"
cp "$W/pki/ca.crt" "$W/minio/certs/CAs/kube-ca.crt"
minio_root_pass=$(random_hex 16)
MINIO_ROOT_USER=e2eroot MINIO_ROOT_PASSWORD=$minio_root_pass MINIO_BROWSER=off MINIO_UPDATE=off \
  MINIO_IDENTITY_OPENID_CONFIG_URL="$API/.well-known/openid-configuration" \
  MINIO_IDENTITY_OPENID_CLIENT_ID=sts.amazonaws.com MINIO_IDENTITY_OPENID_ROLE_POLICY=putonly \
  start minio minio server "$W/minio/data" --certs-dir "$W/minio/certs" --address "127.0.0.1:$minio_port" \
  --console-address "127.0.0.1:$(free_port)" --quiet
minio_pid=${bg_pids[-1]}
export MC_CONFIG_DIR=$W/mc MC_HOST_e2e="http://e2eroot:$minio_root_pass@127.0.0.1:$minio_port"
wait_for 60 mc --quiet admin user list e2e || { alive minio "$minio_pid"; die "MinIO did not start"; }
# The one put-only policy: deploy/aws/iam-policy.json with bucket and prefix.
sed -e "s|{{BUCKET}}|$BUCKET|g" -e "s|{{PREFIX}}|e2e/|g" deploy/aws/iam-policy.json >"$W/putonly.json"
uploader_secret=$(random_hex 20)
{
  mc --quiet mb "e2e/$BUCKET" &&
    mc --quiet admin policy create e2e putonly "$W/putonly.json" &&
    mc --quiet admin user add e2e uploader "$uploader_secret" &&
    mc --quiet admin policy attach e2e putonly --user uploader
} >"$W/logs/mc-setup.log" 2>&1 || die "MinIO setup: $(tail -n 3 "$W/logs/mc-setup.log")"
# MinIO's role ARN for client id sts.amazonaws.com (no region configured):
# base64url(sha1(client id)), as standin.MinIORoleARN computes it.
ROLE_ARN="arn:minio:iam:::role/$(printf %s sts.amazonaws.com | openssl sha1 -binary | base64 | tr '+/' '-_' | tr -d '=')"

# The fixed image source: every object stored must be one of these files.
start images "$W/bin/fixture" images -dir "$W/src" -count 3 -url-file "$W/images.url"
wait_for 20 test -s "$W/images.url" || die "image source did not start"
IMAGES_URL=$(<"$W/images.url")

imds_port=$(free_port)
STANDIN_SECRET_KEY=$uploader_secret start imds "$W/bin/standin" imds -listen "127.0.0.1:$imds_port" \
  -minio-endpoint "$MINIO" -user uploader -token-dir "$W/tokens"
IMDS_URL=http://127.0.0.1:$imds_port
wait_for 20 curl -sf -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' "$IMDS_URL/latest/api/token" ||
  die "IMDS stand-in did not start"

# The Pod Identity "associations": namespace/serviceaccount pairs the webhook
# mutates and the agent accepts.
pi_identities=()
for o in "${OVERLAYS[@]}"; do [[ $o == pod-identity-* ]] && pi_identities+=("e2e-$o/uploader"); done
agent_port=$(free_port)
AGENT_URL=http://127.0.0.1:$agent_port
FIXTURE_SECRET_KEY=$uploader_secret start agent "$W/bin/fixture" agent -listen "127.0.0.1:$agent_port" \
  -apiserver "$API" -ca "$W/pki/ca.crt" -cert "$W/pki/admin.crt" -key "$W/pki/admin.key" \
  -allow "$(
    IFS=,
    echo "${pi_identities[*]}"
  )" -minio-endpoint "$MINIO" -user uploader
wait_for 20 curl -s -o /dev/null "$AGENT_URL/v1/credentials" || die "Pod Identity agent did not start"

# The real EKS pod identity webhook, out of cluster. It cannot bind loopback
# only: it listens on all interfaces (":PORT"), on ports chosen free here.
printf '{"identities": [%s]}\n' "$(for i in "${pi_identities[@]}"; do
  printf '{"namespace": "%s", "serviceAccount": "%s"},' "${i%/*}" "${i#*/}"
done | sed 's/,$//')" >"$W/pod-identity-associations.json"
webhook_port=$(free_port)
start webhook "$WEBHOOK" --in-cluster=false --kubeconfig="$W/admin.kubeconfig" \
  --port="$webhook_port" --metrics-port="$(free_port)" \
  --tls-cert="$W/pki/webhook.crt" --tls-key="$W/pki/webhook.key" \
  --aws-default-region="$WEBHOOK_REGION" \
  --watch-container-credentials-config="$W/pod-identity-associations.json" \
  --container-credentials-full-uri="$AGENT_URL/v1/credentials" \
  --service-account-lookup-grace-period=5s
webhook_pid=${bg_pids[-1]}
wait_for 30 curl -sf --cacert "$W/pki/ca.crt" "https://127.0.0.1:$webhook_port/healthz" ||
  { alive webhook "$webhook_pid"; die "webhook did not start"; }
kc apply -f - >/dev/null <<EOF || die "MutatingWebhookConfiguration"
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata:
  name: pod-identity-webhook
webhooks:
  - name: pod-identity-webhook.amazonaws.com
    failurePolicy: Fail
    clientConfig:
      url: https://127.0.0.1:$webhook_port/mutate
      caBundle: $(base64 -w0 <"$W/pki/ca.crt")
    rules:
      - operations: ["CREATE"]
        apiGroups: [""]
        apiVersions: ["v1"]
        resources: ["pods"]
    sideEffects: None
    admissionReviewVersions: ["v1beta1"]
EOF

# ---------------------------------------------------------------------------
# gen_overlay NAME BASE NAMESPACE PORT [TOKEN_SECONDS]: the test-only layer
# over deploy/overlays/BASE, in $W/overlays/NAME: hostNetwork and loopback
# probes (test/e2e/overlay/hostnetwork), the local image, loopback endpoints
# and the metrics port; for IRSA MinIO's role ARN.
gen_overlay() {
  local name=$1 base=$2 ns=$3 port=$4 token_seconds=${5:-}
  local d=$W/overlays/$name rel
  mkdir -p "$d"
  rel=$(realpath --relative-to="$d" "$REPO_ROOT")
  {
    cat <<EOF
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: $ns
resources:
  - $rel/deploy/overlays/$base
components:
  - $rel/test/e2e/overlay/hostnetwork
images:
  - name: ghcr.io/eks-least-privilege/uploader
    newName: localhost/uploader
    newTag: e2e
configMapGenerator:
  - name: uploader-config
    behavior: merge
    literals:
      - S3_BUCKET_NAME=$BUCKET
      - S3_KEY_PREFIX=e2e/$name/
      - S3_USE_PATH_STYLE=true
      - AWS_ENDPOINT_URL_S3=$MINIO
      - AWS_ENDPOINT_URL_STS=$MINIO
      - IMAGE_SOURCE_URL=$IMAGES_URL/
      - UPLOAD_INTERVAL=${UPLOAD_INTERVAL:-3s}
      - METRICS_ADDR=127.0.0.1:$port
      - LEAST_PRIVILEGE_CHECK=enforce
EOF
    if [[ $base == node-role-* ]]; then
      echo "      - AWS_EC2_METADATA_SERVICE_ENDPOINT=$IMDS_URL"
    else
      echo "      - AWS_EC2_METADATA_DISABLED=true"
    fi
    cat <<EOF
patches:
  - target: {kind: Deployment|Job, name: uploader}
    patch: |-
      - op: replace
        path: /spec/template/spec/containers/0/ports/0/containerPort
        value: $port
EOF
    if [[ $base == irsa-* ]]; then
      cat <<EOF
  - target: {kind: ServiceAccount, name: uploader}
    patch: |-
      - op: replace
        path: /metadata/annotations/eks.amazonaws.com~1role-arn
        value: $ROLE_ARN
EOF
    fi
    if [[ -n $token_seconds ]]; then
      cat <<EOF
  - target: {kind: ServiceAccount, name: uploader}
    patch: |-
      - op: replace
        path: /metadata/annotations/eks.amazonaws.com~1token-expiration
        value: "$token_seconds"
EOF
    fi
  } >"$d/kustomization.yaml"
  kubectl kustomize "$d" >"$W/rendered/$name.yaml"
}

# apply_test_overlay NAME: creates its namespace (and for static keys the
# Secret, from the put-only user's keys, out of band as the docs say), then
# applies the rendered test overlay. Warnings go to $W/logs/NAME.apply.
apply_test_overlay() {
  local name=$1 ns=e2e-$1
  # The Namespace first (the first document kustomize writes), applied so
  # that the full apply below does not warn about a missing annotation.
  awk '/^---$/ {exit} {print}' "$W/rendered/$name.yaml" | kc apply -f - >/dev/null || return 1
  if [[ $name == static-keys-* ]]; then
    (
      umask 077
      printf 'AWS_ACCESS_KEY_ID=uploader\nAWS_SECRET_ACCESS_KEY=%s\n' "$uploader_secret" >"$W/static.env"
    )
    kc -n "$ns" create secret generic uploader-aws-static --from-env-file="$W/static.env" >/dev/null
  fi
  kc apply -f "$W/rendered/$name.yaml" >/dev/null 2>"$W/logs/$name.apply"
}

# only_test_overlay_warnings FILE: every warning of the real apply is Pod
# Security "restricted" naming host namespaces, hostPort or a probe host,
# which is what the test overlay adds (hostNetwork, which implies a hostPort
# per containerPort, and probes on 127.0.0.1), and nothing else.
only_test_overlay_warnings() {
  local line rest
  grep -q 'would violate PodSecurity "restricted:latest"' "$1" || {
    echo "no Pod Security warning at all: $(cat "$1")"
    return 1
  }
  while IFS= read -r line; do
    [[ $line == Warning:* ]] || { echo "unexpected output: $line"; return 1; }
    [[ $line == *'would violate PodSecurity "restricted:latest": '* ]] || { echo "other warning: $line"; return 1; }
    rest=${line#*'"restricted:latest": '}
    rest=$(sed -E 's/host namespaces \([^)]*\)//; s/hostPort \([^)]*\)//; s/probe or lifecycle host \([^)]*\)//; s/[ ,]//g' <<<"$rest")
    [[ -z $rest ]] || { echo "violations beyond the test overlay's: $line"; return 1; }
  done <"$1"
}

# pod_of NAME: the Job's succeeded pod, or the Deployment's running one.
pod_of() {
  local phase=Running
  [[ $1 == *-job ]] && phase=Succeeded
  kc -n "e2e-$1" get pods -l app.kubernetes.io/name=uploader --field-selector "status.phase=$phase" \
    -o jsonpath='{.items[0].metadata.name}'
}

# token_file NAME: the kubelet's copy of the running pod's projected IRSA token.
token_file() {
  local uid
  uid=$(kc -n "e2e-$1" get pod "$(pod_of "$1")" -o jsonpath='{.metadata.uid}')
  echo "$W/kubelet/pods/$uid/volumes/kubernetes.io~projected/aws-iam-token/token"
}

# ---------------------------------------------------------------------------
phase "rotation deployment"
# Started first, so its ~10 minutes run alongside everything else: IRSA with
# the shortest token lifetime the apiserver allows (600 s; the kubelet
# rewrites the token at 80 % of it).
ROT=irsa-rotation
rot_port=$(free_port)
UPLOAD_INTERVAL=5s gen_overlay "$ROT" irsa-deployment "e2e-$ROT" "$rot_port" 600 || die "render $ROT"
apply_test_overlay "$ROT" || die "apply $ROT: $(cat "$W/logs/$ROT.apply")"

# audit_violations: how many audit events of the namespace "uploader" carry
# a Pod Security audit violation naming hostNetwork.
audit_violations() {
  jq -c 'select(.objectRef.namespace == "uploader" and
    (.annotations["pod-security.kubernetes.io/audit-violations"] // "" | test("hostNetwork")))' \
    "$W/logs/audit.log" 2>/dev/null | wc -l
}
audited_more() {
  local now
  now=$(audit_violations)
  ((now > $1)) || { echo "audit events with a Pod Security violation: $1 before, $now after"; return 1; }
  echo "$((now - $1)) audit event(s) with pod-security.kubernetes.io/audit-violations"
}

# ---------------------------------------------------------------------------
phase "shipped manifests"
# The shipped overlays unchanged, in the shipped Namespace "uploader"
# (restricted for enforce, warn and audit): server dry-run, strict
# validation, zero warnings.
kc apply -f deploy/base/common/namespace.yaml >/dev/null || die "namespace uploader"
declare -A port
for o in "${OVERLAYS[@]}"; do
  kubectl kustomize "deploy/overlays/$o" >"$W/rendered/shipped-$o.yaml"
  if kc apply --dry-run=server --validate=strict -f "$W/rendered/shipped-$o.yaml" >/dev/null 2>"$W/logs/shipped-$o.dryrun" &&
    ! grep -q . "$W/logs/shipped-$o.dryrun"; then
    pass "$o: shipped manifest passes server dry-run, --validate=strict, namespace restricted (enforce, warn, audit), zero warnings"
  else
    fail "$o: shipped manifest server dry-run" "$(tr '\n' ' ' <"$W/logs/shipped-$o.dryrun")"
  fi
  port[$o]=$(free_port)
  gen_overlay "$o" "$o" "e2e-$o" "${port[$o]}" || die "render test overlay $o"
  # Pod Security reports a non-compliant workload at apply time: the test
  # overlay's hostNetwork variant, dry-run into the shipped namespace, is
  # warned about (warn; Kubernetes also defaults warn to the enforce level)
  # and recorded in the audit log (audit; not defaulted).
  audited_before=$(audit_violations)
  sed -E "s/^(  namespace: )e2e-$o\$/\1uploader/" "$W/rendered/$o.yaml" |
    kc apply --dry-run=server -l app.kubernetes.io/name=uploader -f - >/dev/null 2>"$W/logs/$o.warn" || true
  check "$o: Pod Security warns at apply time for a non-compliant (hostNetwork) variant" \
    grep -q 'would violate PodSecurity "restricted:latest".*hostNetwork' "$W/logs/$o.warn"
  check "$o: Pod Security audit (restricted) records the non-compliant variant in the audit log" \
    audited_more "$audited_before"
done

# ---------------------------------------------------------------------------
phase "apply test overlays"
for o in "${OVERLAYS[@]}"; do
  if apply_test_overlay "$o"; then
    check "$o: real apply of the test overlay (namespace e2e-$o); its only warnings name what it adds (host namespaces, probe host)" \
      only_test_overlay_warnings "$W/logs/$o.apply"
  else
    fail "$o: real apply" "$(tr '\n' ' ' <"$W/logs/$o.apply")"
  fi
done

# The rotation pod's first token and refresh count, recorded as soon as it
# is up (before the kubelet can rewrite the token).
metric() { curl -sf "http://127.0.0.1:$rot_port/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
rot_exp="" rot_hash="" rot_refresh=""
if kc -n "e2e-$ROT" wait --for=condition=Available deployment/uploader --timeout=120s >/dev/null; then
  rot_token=$(token_file "$ROT")
  rot_exp=$(jwt_claims "$rot_token" | jq -r '.exp')
  rot_hash=$(sha256sum <"$rot_token")
  rot_refresh=$(metric uploader_aws_credential_refreshes_total)
fi

# ---------------------------------------------------------------------------
# The checks of one overlay.
mode_of() {
  case $1 in
  static-keys-*) echo static ;;
  node-role-*) echo node-role ;;
  irsa-*) echo irsa ;;
  pod-identity-*) echo pod-identity ;;
  esac
}

job_done() {
  local ns=e2e-$1 j
  kc -n "$ns" wait --for=condition=Complete job/uploader --timeout=240s >/dev/null || {
    kc -n "$ns" get job,pods -o wide
    kc -n "$ns" logs job/uploader --tail=5
    return 1
  }
  j=$(kc -n "$ns" get job uploader -o json)
  jq -e '.status.succeeded == 1' <<<"$j" >/dev/null || { echo "succeeded $(jq .status.succeeded <<<"$j")"; return 1; }
  local pod code
  pod=$(pod_of "$1")
  code=$(kc -n "$ns" get pod "$pod" -o jsonpath='{.status.containerStatuses[0].state.terminated.exitCode}')
  [[ $code == 0 ]] || { echo "exit code $code"; return 1; }
  kc -n "$ns" logs "$pod" >"$W/logs/$1.pod.log"
  local n
  n=$(jq -c 'select(.msg == "object uploaded")' "$W/logs/$1.pod.log" | wc -l)
  [[ $n == 3 ]] || { echo "$n uploads logged, want 3 (UPLOAD_COUNT)"; return 1; }
  grep -q '"msg":"upload count reached, exiting"' "$W/logs/$1.pod.log" || { echo "no exit line"; return 1; }
}

deployment_ready() {
  local ns=e2e-$1 pod
  kc -n "$ns" wait --for=condition=Available deployment/uploader --timeout=180s >/dev/null || {
    kc -n "$ns" get pods -o wide
    return 1
  }
  pod=$(pod_of "$1")
  kc -n "$ns" get pod "$pod" -o json | jq -e '
    ([.status.conditions[] | select(.type == "Ready")][0].status == "True") and
    (.spec.containers[0].readinessProbe.httpGet.path == "/readyz") and
    (.spec.containers[0].livenessProbe.httpGet.path == "/healthz")' >/dev/null ||
    { echo "pod $pod not Ready through /readyz"; return 1; }
  # A few uploads, then the log (it stays: the pod is running).
  local deadline=$((SECONDS + 60))
  until [[ $(kc -n "$ns" logs "$pod" | grep -c '"msg":"object uploaded"') -ge 2 ]]; do
    ((SECONDS < deadline)) || { echo "fewer than 2 uploads in 60 s"; return 1; }
    sleep 1
  done
  kc -n "$ns" logs "$pod" >"$W/logs/$1.pod.log"
}

# logged_mode NAME: the start line names the expected mode, the region is the
# ConfigMap's although the webhook injects another, least privilege holds.
logged_mode() {
  local log=$W/logs/$1.pod.log want got
  want=$(mode_of "$1")
  got=$(jq -r 'select(.msg == "uploader starting") | .credential_mode' "$log")
  [[ $got == "$want" ]] || { echo "credential_mode \"$got\", want \"$want\""; return 1; }
  got=$(jq -r 'select(.msg == "aws credentials resolved") | .mode' "$log" | head -n 1)
  [[ $got == "$want" ]] || { echo "credentials resolved as \"$got\", want \"$want\""; return 1; }
  jq -r 'select(.msg == "aws credentials resolved") | "mode \(.mode), source \(.source)"' "$log" | head -n 1
}
logged_region() {
  local got
  got=$(jq -r 'select(.msg == "uploader starting") | .region' "$W/logs/$1.pod.log")
  [[ $got == "$OVERLAY_REGION" ]] || { echo "region \"$got\", want the ConfigMap's \"$OVERLAY_REGION\" (webhook: $WEBHOOK_REGION)"; return 1; }
  echo "region $got"
}
least_privilege() {
  grep -q '"msg":"least privilege holds"' "$W/logs/$1.pod.log" || { echo "no \"least privilege holds\" line"; return 1; }
  jq -se 'map(select(.msg == "uploader starting"))[0].config.least_privilege_check == "enforce"' \
    "$W/logs/$1.pod.log" >/dev/null || { echo "LEAST_PRIVILEGE_CHECK is not enforce in the start line"; return 1; }
}
deployment_metrics() {
  local m
  m=$(curl -sf "http://127.0.0.1:${port[$1]}/metrics") || { echo "no /metrics"; return 1; }
  grep -q '^uploader_least_privilege_ok 1$' <<<"$m" || { echo "uploader_least_privilege_ok not 1"; return 1; }
  grep -q "^uploader_aws_credentials_info{mode=\"$(mode_of "$1")\"" <<<"$m" || { echo "no credentials_info for the mode"; return 1; }
}

# objects_identical NAME MIN: at least MIN objects under its prefix, each
# byte-identical to one of the source's files.
objects_identical() {
  local name=$1 min=$2 keys key sum n=0
  local sums
  sums=$(sha256sum "$W"/src/*.png | cut -d' ' -f1)
  keys=$(mc --quiet ls --recursive --json "e2e/$BUCKET/e2e/$name/" | jq -r '.key' | grep -v '^\.least-privilege-check/' || true)
  for key in $keys; do
    sum=$(mc --quiet cat "e2e/$BUCKET/e2e/$name/$key" | sha256sum | cut -d' ' -f1)
    grep -qx "$sum" <<<"$sums" || { echo "$key: sha256 $sum is none of the source's"; return 1; }
    n=$((n + 1))
  done
  ((n >= min)) || { echo "$n objects, want at least $min"; return 1; }
  echo "$n objects"
}

# stopped_by_signal NAME: kubectl delete pod; the uploader logs "stopped by
# signal" and the pod is gone well inside its 30 s grace period.
stopped_by_signal() {
  local ns=e2e-$1 pod t0 elapsed lp
  pod=$(pod_of "$1")
  timeout 60 kubectl --kubeconfig "$W/admin.kubeconfig" -n "$ns" logs -f "$pod" >"$W/logs/$1.stop.log" 2>&1 &
  lp=$!
  sleep 1
  t0=$(date +%s%N)
  kc -n "$ns" delete pod "$pod" --wait=true --timeout=60s >/dev/null || { echo "delete failed"; return 1; }
  elapsed=$((($(date +%s%N) - t0) / 1000000))
  wait "$lp" || true
  grep -q '"msg":"stopped by signal"' "$W/logs/$1.stop.log" || { echo "no \"stopped by signal\" line; log ends: $(tail -n 2 "$W/logs/$1.stop.log")"; return 1; }
  ((elapsed < GRACE_LIMIT * 1000)) || { echo "took ${elapsed} ms, want < ${GRACE_LIMIT} s"; return 1; }
  echo "gone after ${elapsed} ms"
}

phase "workloads"
for o in "${OVERLAYS[@]}"; do
  if [[ $o == *-job ]]; then
    check "$o: Job completes: 3 uploads, exit 0, succeeded 1" job_done "$o" || true
  else
    check "$o: Deployment Available, its pod Ready through its own /readyz probe, uploading" deployment_ready "$o" || true
  fi
  if [[ ! -s $W/logs/$o.pod.log ]]; then
    fail "$o: later checks need the pod's log"
    continue
  fi
  check "$o: log names credential mode $(mode_of "$o")" logged_mode "$o"
  check "$o: region is the ConfigMap's $OVERLAY_REGION, not the webhook's $WEBHOOK_REGION" logged_region "$o"
  check "$o: LEAST_PRIVILEGE_CHECK=enforce passes" least_privilege "$o"
  if [[ $o == *-deployment ]]; then
    check "$o: metrics: least_privilege_ok 1, credentials_info mode $(mode_of "$o")" deployment_metrics "$o"
    check "$o: objects in MinIO byte-identical to the source" objects_identical "$o" 2
    check "$o: kubectl delete pod: \"stopped by signal\", gone within ${GRACE_LIMIT} s (grace 30 s)" stopped_by_signal "$o"
  else
    check "$o: objects in MinIO byte-identical to the source" objects_identical "$o" 3
  fi
done

# ---------------------------------------------------------------------------
phase "irsa"
# diagnosis_in_log NAMESPACE POD NAME: the pod's log names the diagnosis
# NAME (the refusal's "NAME: observed; fix: ..." line, or a JSON log line
# with it); prints that line.
diagnosis_in_log() {
  local line
  line=$(kc -n "$1" logs "$2" -c uploader 2>&1 | grep -E "^$3: |\"$3\":\\{" | head -n 1)
  [[ -n $line ]] || { echo "no $3 in the log of $2: $(kc -n "$1" logs "$2" -c uploader 2>&1 | tail -n 3)"; return 1; }
  echo "log: $line"
}

# Who may read the projected IRSA token without fsGroup. The kubelet v1.37
# (pkg/volume/projected, collectData) writes a serviceAccountToken with the
# volume's defaultMode, owned by root, unless it has an owner for it: the
# pod's one runAsUser when every container runs as the same uid
# (volume/util.FsUserFrom; the file is then that uid's, 0600), or fsGroup
# (0600, then group fsGroup and 0640). The webhook's volume has no
# defaultMode, so the apiserver's 0644 applies: readable by anyone in every
# variant. It is unreadable by a non-root uploader when the pod brings its
# own aws-iam-token volume (the webhook keeps a volume of that name) with a
# restrictive defaultMode and nothing gives the file an owner: no fsGroup
# and a second container of another uid. Three pods of the IRSA Job's
# template, started together here, checked below.
token_pod() {
  local name=$1 variant=$2
  kc -n e2e-irsa-job get job uploader -o json | jq --arg name "$name" --arg variant "$variant" '
    {name: "sidecar", image: "localhost/e2e-pause:1", imagePullPolicy: "Never",
      securityContext: {runAsUser: 1000, runAsGroup: 1000, runAsNonRoot: true, allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true, capabilities: {drop: ["ALL"]}, seccompProfile: {type: "RuntimeDefault"}}} as $sidecar |
    {apiVersion: "v1", kind: "Pod", metadata: {name: $name, labels: {"e2e": "token-mode"}},
      spec: (.spec.template.spec | .restartPolicy = "Never" | del(.securityContext.fsGroup)
        | .containers[0].env += [{name: "METRICS_ADDR", value: ""}]
        | del(.containers[0].ports, .containers[0].livenessProbe)
        | if $variant != "one-uid" then .containers += [$sidecar] else . end
        | if $variant == "own-volume-0600" then .volumes += [{name: "aws-iam-token", projected: {defaultMode: 384,
            sources: [{serviceAccountToken: {audience: "sts.amazonaws.com", expirationSeconds: 86400, path: "token"}}]}}] else . end)}' |
    kc -n e2e-irsa-job apply -f - >/dev/null 2>"$W/logs/$name.apply"
}
token_pod uploader-no-fsgroup one-uid || echo "NOTE: could not create pod uploader-no-fsgroup: $(tail -n 2 "$W/logs/uploader-no-fsgroup.apply")"
token_pod uploader-no-fsgroup-sidecar sidecar || echo "NOTE: could not create pod uploader-no-fsgroup-sidecar: $(tail -n 2 "$W/logs/uploader-no-fsgroup-sidecar.apply")"
token_pod uploader-token-0600 own-volume-0600 || echo "NOTE: could not create pod uploader-token-0600: $(tail -n 2 "$W/logs/uploader-token-0600.apply")"

# pod_token_perm POD: owner uid, gid and mode of the kubelet's copy of the
# pod's projected IRSA token.
pod_token_perm() {
  local uid
  uid=$(kc -n e2e-irsa-job get pod "$1" -o jsonpath='{.metadata.uid}')
  stat -L -c '%u %g %a' "$W/kubelet/pods/$uid/volumes/kubernetes.io~projected/aws-iam-token/token" 2>&1
}
# uploader_exit POD: the exit code of the pod's uploader container, once
# terminated (the sidecar keeps the pod running).
uploader_exit() {
  kc -n e2e-irsa-job get pod "$1" -o json |
    jq -e -r '.status.containerStatuses[]? | select(.name == "uploader") | .state.terminated.exitCode // empty'
}
# token_readable POD UID GID MODE: the token is UID:GID MODE on the node, the
# uploader (uid 65532) resolved irsa credentials and diagnosed nothing about
# the file.
token_readable() {
  local pod=$1 want="$2 $3 $4" got log
  wait_for 120 bash -c "kubectl --kubeconfig '$W/admin.kubeconfig' -n e2e-irsa-job logs '$pod' -c uploader 2>/dev/null | grep -q '\"msg\":\"aws credentials resolved\"'" ||
    { echo "no \"aws credentials resolved\" in 120 s: $(kc -n e2e-irsa-job logs "$pod" -c uploader 2>&1 | tail -n 3)"; return 1; }
  got=$(pod_token_perm "$pod")
  [[ $got == "$want" ]] || { echo "token uid gid mode $got, want $want"; return 1; }
  log=$(kc -n e2e-irsa-job logs "$pod" -c uploader)
  [[ $(jq -r 'select(.msg == "aws credentials resolved") | .mode' <<<"$log" | head -n 1) == irsa ]] || { echo "not resolved as irsa"; return 1; }
  ! grep -q token_file_unreadable <<<"$log" || { echo "token_file_unreadable diagnosed"; return 1; }
  echo "token uid gid mode $got; credentials resolved as irsa"
}
# token_unreadable POD: the token is root's 0600 on the node; the uploader
# refuses to start (exit 1) instead of using another identity, and its log
# names token_file_unreadable with its uid and groups and the file's owner,
# group and mode as they are on the node.
token_unreadable() {
  local pod=$1 perm fu fg code line mode uid
  wait_for 120 uploader_exit "$pod" || { echo "uploader of $pod did not terminate in 120 s: $(kc -n e2e-irsa-job logs "$pod" -c uploader 2>&1 | tail -n 3)"; return 1; }
  code=$(uploader_exit "$pod")
  [[ $code == 1 ]] || { echo "exit code $code, want 1"; return 1; }
  perm=$(pod_token_perm "$pod")
  read -r fu fg _ <<<"$perm"
  [[ $fu == 0 && $perm == *' 600' ]] || { echo "token uid gid mode $perm, want root's 0600"; return 1; }
  uid=$(kc -n e2e-irsa-job get pod "$pod" -o jsonpath='{.metadata.uid}')
  mode=$(stat -L -c '%A' "$W/kubelet/pods/$uid/volumes/kubernetes.io~projected/aws-iam-token/token")
  line=$(diagnosis_in_log e2e-irsa-job "$pod" token_file_unreadable) || { echo "$line"; return 1; }
  [[ $line == *"permission denied for uid 65532 gid 65532 groups ["* ]] || { echo "no uid and groups in: $line"; return 1; }
  [[ $line == *"file owner uid $fu gid $fg mode $mode"* ]] || { echo "want \"file owner uid $fu gid $fg mode $mode\" in: $line"; return 1; }
  ! kc -n e2e-irsa-job logs "$pod" -c uploader | grep -q '"msg":"object uploaded"' || { echo "uploaded with another identity"; return 1; }
  echo "token uid gid mode $perm; exit 1; ${line:0:100}"
}
# The pod of irsa-rotation runs through the whole suite: its token is checked
# here, its rotation at the end.
irsa_token_mutation() {
  local ns=e2e-$1 pod
  kc -n "$ns" wait --for=condition=Available deployment/uploader --timeout=120s >/dev/null || return 1
  pod=$(pod_of "$1")
  kc -n "$ns" get pod "$pod" -o json | jq -e --arg arn "$ROLE_ARN" '
    ([.spec.volumes[] | select(.name == "aws-iam-token") | .projected.sources[].serviceAccountToken.audience][0] == "sts.amazonaws.com") and
    ([.spec.containers[0].env[] | select(.name == "AWS_ROLE_ARN")][0].value == $arn) and
    ([.spec.containers[0].env[] | select(.name == "AWS_WEB_IDENTITY_TOKEN_FILE")][0].value ==
      "/var/run/secrets/eks.amazonaws.com/serviceaccount/token") and
    ([.spec.containers[0].env[] | select(.name == "AWS_REGION")] | length == 1) and
    ([.spec.containers[0].env[] | select(.name == "AWS_REGION")][0].valueFrom.configMapKeyRef.key == "AWS_REGION")' >/dev/null ||
    { echo "pod $pod: webhook mutation not as expected: $(kc -n "$ns" get pod "$pod" -o json | jq -c '.spec.containers[0].env')"; return 1; }
}

irsa_token_file() {
  local ns=e2e-$1 f claims perm pid pod
  pod=$(pod_of "$1")
  f=$(token_file "$1")
  [[ -s $f ]] || { echo "no token file $f"; return 1; }
  claims=$(jwt_claims "$f")
  jq -e --arg iss "$API" --arg sub "system:serviceaccount:$ns:uploader" \
    '.iss == $iss and .sub == $sub and (.aud == ["sts.amazonaws.com"] or .aud == "sts.amazonaws.com")' <<<"$claims" >/dev/null ||
    { echo "claims $(jq -c '{iss, sub, aud}' <<<"$claims")"; return 1; }
  # Readable by uid 65532: group fsGroup 65532 with group read (or owner 65532).
  perm=$(stat -L -c '%u %g %a' "$f")
  read -r fu fg fa <<<"$perm"
  if ! { [[ $fg == 65532 ]] && (((8#$fa & 8#040) != 0)); } && ! { [[ $fu == 65532 ]] && (((8#$fa & 8#400) != 0)); }; then
    echo "token file uid gid mode $perm: not readable by 65532"
    return 1
  fi
  # The pod's process (its environment names the pod): uid 65532, with
  # fsGroup 65532 among its supplementary groups.
  pid=$(ctr_ tasks ls | awk 'NR > 1 {print $2}' | while read -r p; do
    [[ $(tr '\0' '\n' 2>/dev/null <"/proc/$p/environ") == *$'\n'"POD_NAME=$pod"$'\n'* ]] && echo "$p"
  done | head -n 1)
  [[ -n $pid ]] || { echo "no process of pod $pod"; return 1; }
  grep -Eq '^Uid:\s+65532\s' "/proc/$pid/status" || { echo "pod process $(grep Uid "/proc/$pid/status")"; return 1; }
  grep -Eq '^Groups:.*\b65532\b' "/proc/$pid/status" || { echo "pod process $(grep Groups "/proc/$pid/status")"; return 1; }
  echo "token uid gid mode $perm"
}

check "irsa: the webhook mutated the pod: projected token audience sts.amazonaws.com, AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE, AWS_REGION left to the ConfigMap" \
  irsa_token_mutation irsa-deployment
check "irsa: the kubelet-projected token (issuer $API, audience sts.amazonaws.com, sub of the pod's service account) is readable by uid 65532 through fsGroup" \
  irsa_token_file irsa-deployment

# sts_web_identity TOKENFILE: the HTTP status of MinIO's
# AssumeRoleWithWebIdentity for that token (the token travels in a file).
sts_web_identity() {
  curl -s -o "$W/logs/sts.out" -w '%{http_code}' -X POST "$MINIO/" \
    --data-urlencode Action=AssumeRoleWithWebIdentity --data-urlencode Version=2011-06-15 \
    --data-urlencode "RoleArn=$ROLE_ARN" --data-urlencode "WebIdentityToken@$1"
}
wrong_audience_refused() {
  (
    umask 077
    kc -n e2e-irsa-job create token uploader --audience sts.amazonaws.com --duration 10m >"$W/tokens/right" &&
      kc -n e2e-irsa-job create token uploader --audience not-sts.example.com --duration 10m >"$W/tokens/wrong"
  ) || return 1
  local right wrong
  right=$(sts_web_identity "$W/tokens/right")
  [[ $right == 200 ]] || { echo "control: the right audience got $right: $(head -c 300 "$W/logs/sts.out")"; return 1; }
  wrong=$(sts_web_identity "$W/tokens/wrong")
  [[ $wrong == 4* ]] || { echo "wrong audience got $wrong"; return 1; }
  echo "right audience $right, wrong audience $wrong"
}
check "irsa: MinIO's STS refuses a token of the wrong audience (and accepts the right one)" wrong_audience_refused

# A pod of another service account (no role annotation) in an IRSA
# namespace: the webhook gives it no role, and the uploader, required to run
# as irsa, refuses to start.
other_sa_refused() {
  local ns=e2e-irsa-job
  kc -n "$ns" create serviceaccount other >/dev/null 2>&1 || true
  kc -n "$ns" get job uploader -o json | jq '{apiVersion: "v1", kind: "Pod",
    metadata: {name: "uploader-other-sa", labels: {"e2e": "other-sa"}},
    spec: (.spec.template.spec | .serviceAccountName = "other" | .restartPolicy = "Never"
      | .containers[0].env += [{name: "METRICS_ADDR", value: ""}]
      | del(.containers[0].ports, .containers[0].livenessProbe))}' | kc -n "$ns" apply -f - >/dev/null 2>&1 || return 1
  kc -n "$ns" wait --for=jsonpath='{.status.phase}'=Failed pod/uploader-other-sa --timeout=90s >/dev/null ||
    { echo "phase $(kc -n "$ns" get pod uploader-other-sa -o jsonpath='{.status.phase}')"; return 1; }
  kc -n "$ns" get pod uploader-other-sa -o json | jq -e '
    ([.spec.containers[0].env[] | select(.name == "AWS_ROLE_ARN")] | length == 0) and
    (.status.containerStatuses[0].state.terminated.exitCode == 1)' >/dev/null || { echo "mutated, or not exit 1"; return 1; }
  [[ $(kc -n "$ns" logs uploader-other-sa) == *'resolve credentials'* ]] || { echo "log: $(kc -n "$ns" logs uploader-other-sa | tail -n 2)"; return 1; }
  # The shipped overlay requires irsa; with it the refusal names why.
  local cm
  cm=$(kc -n "$ns" get pod uploader-other-sa -o jsonpath='{.spec.containers[0].envFrom[0].configMapRef.name}')
  [[ $(kc -n "$ns" get configmap "$cm" -o jsonpath='{.data.REQUIRE_CREDENTIAL_MODE}') == irsa ]] ||
    { echo "configmap $cm: REQUIRE_CREDENTIAL_MODE is not irsa"; return 1; }
  diagnosis_in_log "$ns" uploader-other-sa mutation_missing
}
check "irsa: a pod of another service account gets no role from the webhook and refuses to start (exit 1), its log naming mutation_missing" other_sa_refused
check "irsa: no fsGroup, every container uid 65532: the kubelet makes uid 65532 the token's owner (0600); credentials resolve" \
  token_readable uploader-no-fsgroup 65532 0 600
check "irsa: no fsGroup, a sidecar of another uid: the webhook's volume falls back to root's 0644 (defaultMode), still readable; credentials resolve" \
  token_readable uploader-no-fsgroup-sidecar 0 0 644
check "irsa: the pod's own aws-iam-token volume with defaultMode 0600, no fsGroup, a sidecar of another uid: root's 0600, the uploader exits 1 naming token_file_unreadable (uid, groups, owner, group, mode)" \
  token_unreadable uploader-token-0600
# What MinIO cannot check: it does not pin the token's subject. A token of
# service account "other" for audience sts.amazonaws.com is accepted; on AWS
# the role's trust policy condition on sub refuses it.
(umask 077 && kc -n e2e-irsa-job create token other --audience sts.amazonaws.com --duration 10m >"$W/tokens/other") &&
  echo "NOTE: MinIO answered $(sts_web_identity "$W/tokens/other") to a token of service account \"other\": it does not pin sub; a real IAM trust policy (deploy/aws/irsa-trust-policy.json) does"

# ---------------------------------------------------------------------------
phase "pod-identity"
pi_mutation() {
  local ns=e2e-$1 pod
  kc -n "$ns" wait --for=condition=Available deployment/uploader --timeout=120s >/dev/null || return 1
  pod=$(pod_of "$1")
  kc -n "$ns" get pod "$pod" -o json | jq -e --arg uri "$AGENT_URL/v1/credentials" '
    ([.spec.volumes[] | select(.name == "eks-pod-identity-token") | .projected.sources[].serviceAccountToken.audience][0] == "pods.eks.amazonaws.com") and
    ([.spec.containers[0].env[] | select(.name == "AWS_CONTAINER_CREDENTIALS_FULL_URI")][0].value == $uri) and
    ([.spec.containers[0].env[] | select(.name == "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")] | length == 1)' >/dev/null ||
    { echo "pod $pod: $(kc -n "$ns" get pod "$pod" -o json | jq -c '.spec.containers[0].env')"; return 1; }
}
check "pod-identity: the webhook mutated the pod: projected token audience pods.eks.amazonaws.com, AWS_CONTAINER_CREDENTIALS_FULL_URI, token file" \
  pi_mutation pod-identity-deployment
agent_status() { curl -s -o /dev/null -w '%{http_code}' -H "@$1" "$AGENT_URL/v1/credentials"; }
agent_refusals() {
  local ns=e2e-pod-identity-job t
  kc -n "$ns" create serviceaccount other >/dev/null 2>&1 || true
  for t in uploader:pods.eks.amazonaws.com other:pods.eks.amazonaws.com uploader:sts.amazonaws.com; do
    (umask 077 && printf 'Authorization: %s\n' "$(kc -n "$ns" create token "${t%%:*}" --audience "${t#*:}" --duration 10m)" >"$W/tokens/pi-${t//[:.]/-}") || return 1
  done
  local ok other wrong
  ok=$(agent_status "$W/tokens/pi-uploader-pods-eks-amazonaws-com")
  other=$(agent_status "$W/tokens/pi-other-pods-eks-amazonaws-com")
  wrong=$(agent_status "$W/tokens/pi-uploader-sts-amazonaws-com")
  [[ $ok == 200 && $other == 403 && $wrong == 403 ]] ||
    { echo "associated $ok (want 200), other service account $other (want 403), wrong audience $wrong (want 403)"; return 1; }
}
check "pod-identity: the agent refuses another service account's token and a token of the wrong audience" agent_refusals

# ---------------------------------------------------------------------------
phase "credential rotation"
rotation() {
  local ns=e2e-$ROT f exp=$rot_exp hash0=$rot_hash refresh0=$rot_refresh up_at_exp deadline
  [[ -n $exp && -n $refresh0 ]] || { echo "the rotation pod's first token was not recorded"; return 1; }
  f=$(token_file "$ROT")
  echo "first token expires in $((exp - $(date +%s))) s; refreshes $refresh0"
  # Past the first token's expiry every credential MinIO issued for it is
  # dead (MinIO ends web-identity credentials with the token): uploads after
  # it prove the uploader moved to the kubelet's rewritten token.
  while (($(date +%s) < exp + 5)); do sleep 5; done
  up_at_exp=$(metric uploader_uploads_total)
  deadline=$((SECONDS + 60))
  until (($(metric uploader_uploads_total | cut -d. -f1) > ${up_at_exp%.*} + 1)); do
    ((SECONDS < deadline)) || { echo "no upload in the 60 s after the first token expired (uploads $up_at_exp)"; return 1; }
    sleep 2
  done
  [[ $(sha256sum <"$f") != "$hash0" ]] || { echo "the kubelet did not rewrite the token"; return 1; }
  local refresh1 fails restarts
  refresh1=$(metric uploader_aws_credential_refreshes_total)
  ((${refresh1%.*} > ${refresh0%.*})) || { echo "refreshes $refresh0 -> $refresh1"; return 1; }
  fails=$(curl -sf "http://127.0.0.1:$rot_port/metrics" | awk '$1 ~ /^uploader_upload_failures_total\{.*stage="credentials"/ {s += $2} END {print s + 0}')
  [[ $fails == 0 ]] || { echo "$fails credential failures"; return 1; }
  restarts=$(kc -n "$ns" get pods -l app.kubernetes.io/name=uploader -o jsonpath='{.items[0].status.containerStatuses[0].restartCount}')
  [[ $restarts == 0 ]] || { echo "$restarts restarts"; return 1; }
  echo "refreshes $refresh0 -> $refresh1; uploads $up_at_exp at expiry -> $(metric uploader_uploads_total)"
}
check "irsa rotation: 600 s token rewritten by the kubelet; refreshes_total rose; uploads go on past the first token's expiry, no credential failure, no restart" \
  rotation
check "irsa rotation: objects in MinIO byte-identical to the source" objects_identical "$ROT" 10
kc -n "e2e-$ROT" logs deployment/uploader >"$W/logs/$ROT.pod.log" 2>&1 || true
}
