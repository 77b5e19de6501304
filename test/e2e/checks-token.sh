# shellcheck shell=bash
# The token examined by `uploader check` on the real cluster (issue 17),
# sourced by test/e2e/run.sh after the irsa checks: the kubelet's projected
# token (IRSA and Pod Identity) verifies against the kube-apiserver's own
# issuer (it serves the discovery document and its keys), a token with one
# claim changed does not, and the cluster CA shown is the cluster's. Uses
# run.sh's kc, check, wait_for, $W, $API, $AGENT_URL and $ROLE_ARN.

# check_pod NAMESPACE NAME JQ-FILTER: a pod of the namespace's Job template
# that runs `uploader check` once, with the Kubernetes API token automounted
# (the shipped manifests turn it off) so that the pod sees the cluster CA;
# JQ-FILTER edits its spec further.
check_pod() {
  local ns=$1
  shift
  kc -n "$ns" get job uploader -o json | jq --arg name "$1" "
    {apiVersion: \"v1\", kind: \"Pod\", metadata: {name: \$name, labels: {\"e2e\": \"token-check\"}},
      spec: (.spec.template.spec | .restartPolicy = \"Never\" | .automountServiceAccountToken = true
        | .containers[0].args = [\"check\"]
        | .containers[0].env += [{name: \"METRICS_ADDR\", value: \"\"}]
        | del(.containers[0].ports, .containers[0].livenessProbe, .containers[0].readinessProbe)
        | $2)}" | kc -n "$ns" apply -f - >/dev/null 2>"$W/logs/$1.apply"
}

# check_output POD [NAMESPACE]: the output of `uploader check` in POD once
# it ended (NAMESPACE: e2e-irsa-job by default).
check_output() {
  local ns=${2:-e2e-irsa-job}
  wait_for 120 bash -c "kubectl --kubeconfig '$W/admin.kubeconfig' -n '$ns' get pod '$1' -o json |
    jq -e '.status.containerStatuses[0].state.terminated' >/dev/null" ||
    { echo "uploader check in $1 did not end in 120 s: $(kc -n "$ns" logs "$1" 2>&1 | tail -n 3)"; return 1; }
  kc -n "$ns" logs "$1" >"$W/logs/$1.out" 2>&1
  cat "$W/logs/$1.out"
}

# no_token_in OUTFILE TOKENFILE: no part of the token is in the output.
no_token_in() {
  local part
  for part in $(tr '.' ' ' <"$2"); do
    if grep -qF -- "$part" "$1"; then
      echo "a part of the token is in the output of uploader check"
      return 1
    fi
  done
}

# api_kid: the kid of the kube-apiserver's signing key, from its own JWKS.
api_kid() {
  curl -sf --cacert "$W/pki/ca.crt" "$API/openid/v1/jwks" | jq -r '.keys[0].kid'
}

token_verified() {
  local out kid uid f
  out=$(check_output uploader-check) || { echo "$out"; return 1; }
  kid=$(api_kid)
  [[ -n $kid ]] || { echo "no kid in $API/openid/v1/jwks"; return 1; }
  grep -Eq "^  discovery issuer: +$API \(the token's iss\)$" <<<"$out" ||
    { echo "no discovery issuer $API in: $(grep -E 'issuer' <<<"$out" | tr '\n' ' ')"; return 1; }
  grep -Eq "^  signature: +verified with key $kid \(RS256, RSA\)$" <<<"$out" ||
    { echo "not verified with key $kid: $(grep -E 'signature|unreachable' <<<"$out" | tr '\n' ' ')"; return 1; }
  grep -Eq "^  subject: +system:serviceaccount:e2e-irsa-job:uploader " <<<"$out" ||
    { echo "no subject line for e2e-irsa-job/uploader: $(grep -E 'subject' <<<"$out" | head -n 1)"; return 1; }
  ! grep -q 'diagnosis token_signature_invalid\|diagnosis issuer_mismatch' <<<"$out" || { echo "diagnosed: $(grep diagnosis <<<"$out")"; return 1; }
  uid=$(kc -n e2e-irsa-job get pod uploader-check -o jsonpath='{.metadata.uid}')
  f="$W/kubelet/pods/$uid/volumes/kubernetes.io~projected/aws-iam-token/token"
  [[ -s $f ]] || { echo "no projected token $f"; return 1; }
  no_token_in "$W/logs/uploader-check.out" "$f" || return 1
  grep -E '^  signature:' <<<"$out" | tr -s ' '
}

ca_is_clusters() {
  local out subject end
  out=$(cat "$W/logs/uploader-check.out")
  # openssl's subject "CN = uploader-e2e-ca" is "CN=uploader-e2e-ca" in RFC 2253.
  subject=$(openssl x509 -in "$W/pki/ca.crt" -noout -subject -nameopt RFC2253 | sed 's/^subject=//')
  end=$(date -u -d "$(openssl x509 -in "$W/pki/ca.crt" -noout -enddate | sed 's/^notAfter=//')" +%Y-%m-%dT%H:%M:%SZ)
  grep -Eq "^cluster ca: +/var/run/secrets/kubernetes.io/serviceaccount/ca.crt \(1 certificate\)$" <<<"$out" ||
    { echo "no cluster ca line: $(grep -A3 '^cluster ca' <<<"$out" | tr '\n' ' ')"; return 1; }
  grep -Eq "^  subject: +$subject$" <<<"$out" || { echo "ca subject is not $subject: $(grep -A3 '^cluster ca' <<<"$out" | tr '\n' ' ')"; return 1; }
  grep -Eq "^  validity: +.* to $end \([0-9]+ days? left\)$" <<<"$out" ||
    { echo "ca validity does not end at $end: $(grep -E '^  validity' <<<"$out")"; return 1; }
  echo "subject $subject, not after $end"
}

tampered_not_verified() {
  local out kid
  out=$(check_output uploader-check-tampered) || { echo "$out"; return 1; }
  kid=$(api_kid)
  grep -Eq "^  signature: +NOT verified: the RS256 signature does not match key $kid " <<<"$out" ||
    { echo "the tampered token was not refused by its key $kid: $(grep -E 'signature|unreachable' <<<"$out" | tr '\n' ' ')"; return 1; }
  grep -q '^diagnosis token_signature_invalid: ' <<<"$out" || { echo "no token_signature_invalid diagnosis"; return 1; }
  no_token_in "$W/logs/uploader-check-tampered.out" "$W/tokens/tampered" || return 1
  grep -E '^  signature:' <<<"$out" | tr -s ' ' | cut -c1-110
}

pod_identity_verified() {
  local out kid
  out=$(check_output uploader-check-pi e2e-pod-identity-job) || { echo "$out"; return 1; }
  kid=$(api_kid)
  grep -Eq "^token: +AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=.* \(pod-identity\)$" <<<"$out" || { echo "no pod-identity token section"; return 1; }
  grep -Eq "^  audience: +pods.eks.amazonaws.com$" <<<"$out" || { echo "audience: $(grep -E '^  audience' <<<"$out")"; return 1; }
  grep -Eq "^  agent endpoint: +$AGENT_URL/v1/credentials$" <<<"$out" || { echo "agent endpoint: $(grep -E '^  agent endpoint' <<<"$out")"; return 1; }
  grep -Eq "^  signature: +verified with key $kid \(RS256, RSA\)$" <<<"$out" ||
    { echo "not verified with key $kid: $(grep -E 'signature|unreachable' <<<"$out" | tr '\n' ' ')"; return 1; }
  grep -E '^  (audience|agent endpoint|signature):' <<<"$out" | tr -s ' ' | tr '\n' ' '
}

# A real token of the Job's service account with one claim changed (sub),
# its signature kept, mounted from a Secret in place of the projected one.
tamper_token() {
  (umask 077 && kc -n e2e-irsa-job create token uploader --audience sts.amazonaws.com --duration 10m >"$W/tokens/issued") || return 1
  python3 - "$W/tokens/issued" "$W/tokens/tampered" <<'EOF'
import base64, json, sys
h, p, s = open(sys.argv[1]).read().strip().split(".")
claims = json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
claims["sub"] = "system:serviceaccount:e2e-irsa-job:admin"
p = base64.urlsafe_b64encode(json.dumps(claims, separators=(",", ":")).encode()).decode().rstrip("=")
with open(sys.argv[2], "w") as f:
    f.write(".".join([h, p, s]))
EOF
  kc -n e2e-irsa-job create secret generic tampered-token --from-file=token="$W/tokens/tampered" >/dev/null
}

check_pod e2e-irsa-job uploader-check '.' || echo "NOTE: could not create pod uploader-check: $(tail -n 2 "$W/logs/uploader-check.apply")"
if tamper_token; then
  check_pod e2e-irsa-job uploader-check-tampered "
    .containers[0].env += [{name: \"AWS_ROLE_ARN\", value: \"$ROLE_ARN\"},
      {name: \"AWS_WEB_IDENTITY_TOKEN_FILE\", value: \"/var/run/tampered/token\"}]
    | .containers[0].volumeMounts += [{name: \"tampered\", mountPath: \"/var/run/tampered\", readOnly: true}]
    | .volumes += [{name: \"tampered\", secret: {secretName: \"tampered-token\", defaultMode: 288}}]" ||
    echo "NOTE: could not create pod uploader-check-tampered: $(tail -n 2 "$W/logs/uploader-check-tampered.apply")"
else
  echo "NOTE: could not make a tampered token"
fi
check_pod e2e-pod-identity-job uploader-check-pi '.' ||
  echo "NOTE: could not create pod uploader-check-pi: $(tail -n 2 "$W/logs/uploader-check-pi.apply")"
check "token: uploader check in an IRSA pod verifies the kubelet's projected token against the kube-apiserver's issuer $API (its discovery document and key), without printing it" \
  token_verified
check "token: the cluster CA uploader check shows is the cluster's (subject and expiry of the kube-apiserver's CA)" ca_is_clusters
check "token: a token with one claim changed (sub) does not verify against the issuer's key, diagnosed token_signature_invalid, not printed" \
  tampered_not_verified
check "token: uploader check in a Pod Identity pod shows its audience and agent endpoint, and verifies its token against the same issuer" \
  pod_identity_verified
