# shellcheck shell=bash
# shellcheck disable=SC2034,SC2154 # sets what the check files read; reads run.sh and lib.sh
# The e2e suite's cluster, sourced by run.sh: the tools (built and cached by
# test/e2e/tools.sh), the product image, certificates, the control plane
# (etcd, kube-apiserver, kube-controller-manager, kube-scheduler), the node
# (containerd, kubelet), and the identity services: MinIO trusting the
# kube-apiserver as its OpenID provider with the put-only user, the fixed
# image source, the IMDSv2 stand-in, the Pod Identity agent and the real EKS
# pod identity webhook. Each is started with `start` and stopped by run.sh's
# teardown. What it sets for the checks: API, MINIO, BUCKET's put-only user
# (uploader_secret), ROLE_ARN, IMAGES_URL, IMDS_URL, AGENT_URL, pm, and the
# admin kubeconfig behind kc.

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
for o in "${OVERLAYS[@]}" "${HELM_RELEASES[@]}"; do [[ $o == pod-identity-* ]] && pi_identities+=("e2e-$o/uploader"); done
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
