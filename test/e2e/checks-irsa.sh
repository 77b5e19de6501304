# shellcheck shell=bash
# shellcheck disable=SC2154 # reads what run.sh and cluster.sh set
# IRSA checks, sourced by run.sh: the webhook's mutation, the projected token
# (issuer, audience, subject, who may read it with and without fsGroup),
# MinIO's STS refusing a wrong audience, a pod of another service account.

phase "irsa"
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
