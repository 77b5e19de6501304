# shellcheck shell=bash
# shellcheck disable=SC2154 # reads what run.sh and cluster.sh set
# Pod Identity checks, sourced by run.sh: the webhook's mutation and the
# agent's refusals.

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
