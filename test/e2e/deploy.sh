# shellcheck shell=bash
# shellcheck disable=SC2154 # reads what run.sh and cluster.sh set
# Helpers of the e2e checks, sourced by run.sh after cluster.sh: render and
# apply a test overlay over a shipped one, find its pod, its token, its mode,
# the objects it stored, a diagnosis in its log. A new check file uses them.

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

# mode_of NAME: the credential mode of overlay NAME.
mode_of() {
  case $1 in
  static-keys-*) echo static ;;
  node-role-*) echo node-role ;;
  irsa-*) echo irsa ;;
  pod-identity-*) echo pod-identity ;;
  esac
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

# diagnosis_in_log NAMESPACE POD NAME: the pod's log names the diagnosis
# NAME (the refusal's "NAME: observed; fix: ..." line, or a JSON log line
# with it); prints that line.
diagnosis_in_log() {
  local line
  line=$(kc -n "$1" logs "$2" -c uploader 2>&1 | grep -E "^$3: |\"$3\":\\{" | head -n 1)
  [[ -n $line ]] || { echo "no $3 in the log of $2: $(kc -n "$1" logs "$2" -c uploader 2>&1 | tail -n 3)"; return 1; }
  echo "log: $line"
}
