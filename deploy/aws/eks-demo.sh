#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# eks-demo.sh runs the uploader as a Job on an EKS cluster with one credential
# mode, then shows the uploaded keys and the mode the app reported.
#
#   MODE=static-keys|node-role|irsa|pod-identity deploy/aws/eks-demo.sh
#
# Environment: MODE (required), CLUSTER_NAME (uploader-demo), NODEGROUP_NAME
# (default), AWS_REGION (eu-west-1), S3_BUCKET_NAME (uploader-demo-<account>-
# <region>), S3_KEY_PREFIX (uploads/), S3_SSE, S3_SSE_KMS_KEY_ID and
# S3_BUCKET_KEY_ENABLED (empty, empty, false: the bucket's default encryption),
# S3_EXPECTED_BUCKET_OWNER (the caller's account), IMAGE (an uploader image the nodes
# can pull, repository:tag or repository@sha256:...; default: build this
# checkout for the node groups' architectures with deploy/image.sh and push
# it to the ECR repository uploader-demo/uploader, created with scan on push
# and immutable tags, then deploy it by digest), PLATFORMS (override the
# architectures, e.g. linux/amd64,linux/arm64), WORK_DIR (dist/eks-demo/
# <mode>: the generated kustomization), WAIT_SECONDS (120: how long to wait
# for a new resource to become usable), DRY_RUN=1 (print every aws/kubectl/
# docker call instead of making it). Needs the aws CLI (v1 or v2), kubectl,
# jq, and docker (buildx) or podman to build the image.
# The cluster comes from deploy/aws/cluster.yaml. Idempotent: run it again
# to re-run the Job; a second run creates and changes nothing else.
# deploy/aws/eks-clean.sh removes everything it creates.
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MODE=${MODE:-}
case "$MODE" in
  static-keys) EXPECTED_MODE=static ;;
  node-role | irsa | pod-identity) EXPECTED_MODE=$MODE ;;
  *) die "MODE must be one of static-keys, node-role, irsa, pod-identity; got \"$MODE\"" ;;
esac
S3_KEY_PREFIX=${S3_KEY_PREFIX:-uploads/}
IMAGE=${IMAGE:-}
[[ -z "$IMAGE" || "$IMAGE" == *[:@]* ]] || die "IMAGE must be repository:tag or repository@digest, got \"$IMAGE\""
dry || command -v jq >/dev/null || die "jq is needed (apt-get install jq, brew install jq)"
WORK_DIR=${WORK_DIR:-$REPO_ROOT/dist/eks-demo/$MODE}
IAM_SETTLE_SECONDS=${IAM_SETTLE_SECONDS:-15}

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

ACCOUNT_ID=$(account_id)
S3_BUCKET_NAME=${S3_BUCKET_NAME:-$(default_bucket "$ACCOUNT_ID")}
S3_SSE=${S3_SSE:-}
S3_SSE_KMS_KEY_ID=${S3_SSE_KMS_KEY_ID:-}
S3_BUCKET_KEY_ENABLED=${S3_BUCKET_KEY_ENABLED:-false}
# The demo makes the bucket in the caller's account: S3 refuses every request
# if it turns out to be someone else's.
S3_EXPECTED_BUCKET_OWNER=${S3_EXPECTED_BUCKET_OWNER:-$ACCOUNT_ID}
POLICY_ARN="arn:aws:iam::$ACCOUNT_ID:policy/$POLICY_NAME"
TAGS=("Key=$TAG_KEY,Value=$TAG_VALUE")

ensure_bucket() {
  log "bucket s3://$S3_BUCKET_NAME"
  if ! exists aws s3api head-bucket --bucket "$S3_BUCKET_NAME"; then
    if [[ "$AWS_REGION" == us-east-1 ]]; then
      run aws s3api create-bucket --bucket "$S3_BUCKET_NAME" >/dev/null
    else
      run aws s3api create-bucket --bucket "$S3_BUCKET_NAME" \
        --create-bucket-configuration "LocationConstraint=$AWS_REGION" >/dev/null
    fi
    run aws s3api wait bucket-exists --bucket "$S3_BUCKET_NAME"
  fi
  run aws s3api put-bucket-tagging --bucket "$S3_BUCKET_NAME" \
    --tagging "TagSet=[{Key=$TAG_KEY,Value=$TAG_VALUE}]"
  run aws s3api put-public-access-block --bucket "$S3_BUCKET_NAME" \
    --public-access-block-configuration \
    BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true
  # The app may only put objects, so it cannot abort a failed multipart
  # upload: the bucket removes incomplete ones instead (lifecycle.json).
  run aws s3api put-bucket-lifecycle-configuration --bucket "$S3_BUCKET_NAME" \
    --lifecycle-configuration "file://$AWS_DIR/lifecycle.json"
}

ensure_policy() {
  log "policy $POLICY_NAME: s3:PutObject on $S3_BUCKET_NAME/$S3_KEY_PREFIX*"
  render_template "$AWS_DIR/iam-policy.json" "BUCKET=$S3_BUCKET_NAME" "PREFIX=$S3_KEY_PREFIX" >"$TMP/policy.json"
  if exists aws iam get-policy --policy-arn "$POLICY_ARN"; then
    local current old
    current=$(query "{}" aws iam get-policy --policy-arn "$POLICY_ARN" --query Policy.DefaultVersionId --output text)
    if same_json "$TMP/policy.json" aws iam get-policy-version --policy-arn "$POLICY_ARN" \
      --version-id "$current" --query PolicyVersion.Document --output json; then
      return 0
    fi
    # Keep the policy in step with the bucket and prefix: a new default
    # version, and at most the previous one kept (IAM allows five).
    old=$(query "" aws iam list-policy-versions --policy-arn "$POLICY_ARN" \
      --query 'Versions[?!IsDefaultVersion].VersionId' --output text)
    for old in $old; do
      run aws iam delete-policy-version --policy-arn "$POLICY_ARN" --version-id "$old"
    done
    run aws iam create-policy-version --policy-arn "$POLICY_ARN" \
      --policy-document "file://$TMP/policy.json" --set-as-default >/dev/null
  else
    run aws iam create-policy --policy-name "$POLICY_NAME" \
      --policy-document "file://$TMP/policy.json" --tags "${TAGS[@]}" >/dev/null
    run aws iam wait policy-exists --policy-arn "$POLICY_ARN"
    CHANGED_IAM=1
  fi
}

# ensure_role creates or updates a role with a trust policy and the put-only
# policy attached.
ensure_role() {
  local role=$1 trust=$2
  log "role $role"
  if exists aws iam get-role --role-name "$role"; then
    if ! same_json "$trust" aws iam get-role --role-name "$role" \
      --query Role.AssumeRolePolicyDocument --output json; then
      run aws iam update-assume-role-policy --role-name "$role" --policy-document "file://$trust"
      CHANGED_IAM=1
    fi
  else
    run aws iam create-role --role-name "$role" --assume-role-policy-document "file://$trust" \
      --max-session-duration 3600 --tags "${TAGS[@]}" >/dev/null
    run aws iam wait role-exists --role-name "$role"
    CHANGED_IAM=1
  fi
  attach_policy role "$role"
}

# attach_policy attaches the put-only policy to a role or user unless it is.
attach_policy() {
  local kind=$1 name=$2 attached
  attached=$(query "" aws iam "list-attached-$kind-policies" "--$kind-name" "$name" \
    --query "AttachedPolicies[?PolicyArn=='$POLICY_ARN'].PolicyArn" --output text)
  if [[ "$attached" != "$POLICY_ARN" ]]; then
    run aws iam "attach-$kind-policy" "--$kind-name" "$name" --policy-arn "$POLICY_ARN"
    CHANGED_IAM=1
  fi
}

# same_json reports whether a JSON file and the JSON a call prints are the
# same document (IAM returns policies re-serialised: compare them parsed).
same_json() {
  local file=$1
  shift
  dry && return 1
  local got
  got=$("$@") || die "cannot read the current document: $*"
  [[ "$(jq -S . "$file")" == "$(jq -S . <<<"$got")" ]]
}

setup_static_keys() {
  log "IAM user $STATIC_USER with keys in Secret $NAMESPACE/$STATIC_SECRET"
  if ! exists aws iam get-user --user-name "$STATIC_USER"; then
    run aws iam create-user --user-name "$STATIC_USER" --tags "${TAGS[@]}" >/dev/null
    run aws iam wait user-exists --user-name "$STATIC_USER"
  fi
  attach_policy user "$STATIC_USER"
  local keys in_secret="" key
  keys=$(query "" aws iam list-access-keys --user-name "$STATIC_USER" \
    --query 'AccessKeyMetadata[].AccessKeyId' --output text)
  if exists kubectl -n "$NAMESPACE" get secret "$STATIC_SECRET"; then
    in_secret=$(query "" kubectl -n "$NAMESPACE" get secret "$STATIC_SECRET" \
      -o 'jsonpath={.data.AWS_ACCESS_KEY_ID}' | base64 -d)
  fi
  for key in $keys; do
    [[ "$key" != "$in_secret" ]] || return 0 # the Secret holds a live key of the user
  done
  # No Secret, or one whose key the user no longer has. A secret key is
  # shown once only: the user's other keys are lost to us. Delete them, so
  # the user holds one key (IAM allows two), then make a new one.
  for key in $keys; do
    run aws iam delete-access-key --user-name "$STATIC_USER" --access-key-id "$key"
  done
  if [[ -n "$in_secret" ]]; then
    run kubectl -n "$NAMESPACE" delete secret "$STATIC_SECRET"
  fi
  # The keys go from the aws CLI to a mode-0600 file to the Secret; they are
  # never printed, never in a manifest.
  local new key_id secret
  new=$(query "DRYRUNKEYID DRYRUNSECRET" aws iam create-access-key --user-name "$STATIC_USER" \
    --query 'AccessKey.[AccessKeyId,SecretAccessKey]' --output text)
  read -r key_id secret <<<"$new"
  (
    umask 077
    printf 'AWS_ACCESS_KEY_ID=%s\nAWS_SECRET_ACCESS_KEY=%s\n' "$key_id" "$secret" >"$TMP/static.env"
  )
  # A new key is not usable at once everywhere (IAM is eventually
  # consistent): wait until STS accepts it.
  log "waiting until STS accepts the new access key"
  wait_for "the new access key" key_works "$TMP/static.env"
  run kubectl -n "$NAMESPACE" create secret generic "$STATIC_SECRET" --from-env-file="$TMP/static.env"
  rm -f "$TMP/static.env"
}

# key_works calls STS with the access key in an env file, and only with it.
key_works() {
  (
    set -a
    # shellcheck source=/dev/null
    source "$1"
    unset AWS_SESSION_TOKEN AWS_PROFILE AWS_WEB_IDENTITY_TOKEN_FILE AWS_ROLE_ARN AWS_CONTAINER_CREDENTIALS_FULL_URI
    aws sts get-caller-identity
  )
}

setup_node_role() {
  local role_arn role instances instance
  role_arn=$(query "arn:aws:iam::$ACCOUNT_ID:role/eksctl-$CLUSTER_NAME-nodegroup-NodeInstanceRole" \
    aws eks describe-nodegroup --cluster-name "$CLUSTER_NAME" --nodegroup-name "$NODEGROUP_NAME" \
    --query nodegroup.nodeRole --output text)
  role=${role_arn##*/}
  log "node role $role (every pod on these nodes can use it)"
  attach_policy role "$role"
  # IMDSv2 only, and hop limit 2 so a pod can get an IMDSv2 token.
  # Only the instances not so yet.
  # shellcheck disable=SC2016 # JMESPath literals in backquotes, not shell
  instances=$(query "i-0123456789abcdef0" aws ec2 describe-instances \
    --filters "Name=tag:eks:cluster-name,Values=$CLUSTER_NAME" "Name=instance-state-name,Values=running" \
    --query 'Reservations[].Instances[?MetadataOptions.HttpTokens!=`required` || MetadataOptions.HttpPutResponseHopLimit!=`2` || MetadataOptions.HttpEndpoint!=`enabled`].InstanceId' \
    --output text)
  for instance in $instances; do
    run aws ec2 modify-instance-metadata-options --instance-id "$instance" \
      --http-endpoint enabled --http-tokens required --http-put-response-hop-limit 2 >/dev/null
  done
}

setup_irsa() {
  local issuer provider
  issuer=$(query "https://oidc.eks.$AWS_REGION.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE" \
    aws eks describe-cluster --name "$CLUSTER_NAME" --query cluster.identity.oidc.issuer --output text)
  provider=${issuer#https://}
  require "no IAM OIDC provider for $issuer: create the cluster from deploy/aws/cluster.yaml (iam.withOIDC) or run eksctl utils associate-iam-oidc-provider --cluster $CLUSTER_NAME --approve" \
    aws iam get-open-id-connect-provider --open-id-connect-provider-arn "arn:aws:iam::$ACCOUNT_ID:oidc-provider/$provider"
  render_template "$AWS_DIR/irsa-trust-policy.json" "ACCOUNT_ID=$ACCOUNT_ID" "OIDC_PROVIDER=$provider" \
    "NAMESPACE=$NAMESPACE" "SERVICE_ACCOUNT=$SERVICE_ACCOUNT" >"$TMP/trust.json"
  ensure_role "$IRSA_ROLE" "$TMP/trust.json"
}

setup_pod_identity() {
  local association
  require "the eks-pod-identity-agent add-on is missing: create the cluster from deploy/aws/cluster.yaml" \
    aws eks describe-addon --cluster-name "$CLUSTER_NAME" --addon-name eks-pod-identity-agent
  render_template "$AWS_DIR/pod-identity-trust-policy.json" "ACCOUNT_ID=$ACCOUNT_ID" \
    "REGION=$AWS_REGION" "CLUSTER_NAME=$CLUSTER_NAME" >"$TMP/trust.json"
  ensure_role "$POD_IDENTITY_ROLE" "$TMP/trust.json"
  local role_arn="arn:aws:iam::$ACCOUNT_ID:role/$POD_IDENTITY_ROLE" current
  association=$(query None aws eks list-pod-identity-associations --cluster-name "$CLUSTER_NAME" \
    --namespace "$NAMESPACE" --service-account "$SERVICE_ACCOUNT" \
    --query 'associations[0].associationId' --output text)
  if [[ -z "$association" || "$association" == None ]]; then
    log "pod identity association $NAMESPACE/$SERVICE_ACCOUNT -> $POD_IDENTITY_ROLE"
    association=$(query a-0123456789abcdef0 aws eks create-pod-identity-association --cluster-name "$CLUSTER_NAME" \
      --namespace "$NAMESPACE" --service-account "$SERVICE_ACCOUNT" \
      --role-arn "$role_arn" --tags "$TAG_KEY=$TAG_VALUE" --query association.associationId --output text)
    # EKS has no waiter for it: usable once it reads back.
    wait_for "pod identity association $association" aws eks describe-pod-identity-association \
      --cluster-name "$CLUSTER_NAME" --association-id "$association"
    return 0
  fi
  current=$(query "$role_arn" aws eks describe-pod-identity-association --cluster-name "$CLUSTER_NAME" \
    --association-id "$association" --query association.roleArn --output text)
  if [[ "$current" != "$role_arn" ]]; then
    run aws eks update-pod-identity-association --cluster-name "$CLUSTER_NAME" \
      --association-id "$association" --role-arn "$role_arn" >/dev/null
  fi
}

# node_platforms prints the platforms of the cluster's node groups, comma
# separated (linux/amd64, linux/arm64 or both), from their AMI types.
node_platforms() {
  local groups group ami platforms=()
  groups=$(query "$NODEGROUP_NAME" aws eks list-nodegroups --cluster-name "$CLUSTER_NAME" \
    --query nodegroups --output text)
  for group in $groups; do
    ami=$(query AL2023_x86_64_STANDARD aws eks describe-nodegroup --cluster-name "$CLUSTER_NAME" \
      --nodegroup-name "$group" --query nodegroup.amiType --output text)
    case "$ami" in
      *ARM_64*) platforms+=(linux/arm64) ;;
      *x86_64* | *X86_64*) platforms+=(linux/amd64) ;;
      *) platforms+=(linux/amd64 linux/arm64) ;; # CUSTOM and others: cannot tell, build both
    esac
  done
  [[ ${#platforms[@]} -gt 0 ]] || die "cluster $CLUSTER_NAME has no node group: create it from deploy/aws/cluster.yaml"
  printf '%s\n' "${platforms[@]}" | sort -u | paste -sd, -
}

# ensure_image sets IMAGE_REF, the image the Job runs: IMAGE as given, or
# this checkout built for the node groups' platforms and pushed to the demo's
# ECR repository, by digest. Tags are immutable: a commit already pushed is
# not built again.
ensure_image() {
  if [[ -n "$IMAGE" ]]; then
    IMAGE_REF=$IMAGE
    log "image $IMAGE_REF (given)"
    return 0
  fi
  local platforms uri tag digest registry engine
  platforms=${PLATFORMS:-$(node_platforms)}
  if ! exists aws ecr describe-repositories --repository-names "$ECR_REPOSITORY"; then
    log "ECR repository $ECR_REPOSITORY (scan on push, immutable tags)"
    run aws ecr create-repository --repository-name "$ECR_REPOSITORY" \
      --image-scanning-configuration scanOnPush=true --image-tag-mutability IMMUTABLE \
      --tags "Key=$TAG_KEY,Value=$TAG_VALUE" >/dev/null
  fi
  uri=$(query "$ACCOUNT_ID.dkr.ecr.$AWS_REGION.amazonaws.com/$ECR_REPOSITORY" aws ecr describe-repositories \
    --repository-names "$ECR_REPOSITORY" --query 'repositories[0].repositoryUri' --output text)
  # The commit, and the platforms: another node group mix is another image.
  tag=$(git -C "$REPO_ROOT" rev-parse --short=12 HEAD 2>/dev/null || echo dev)-${platforms//[\/,]/-}
  if [[ -n "$(git -C "$REPO_ROOT" status --porcelain 2>/dev/null)" ]]; then
    # Uncommitted changes: a tag per content (the diff and untracked files).
    tag+=-dirty-$(cd "$REPO_ROOT" && {
      git diff HEAD
      git ls-files -z --others --exclude-standard | xargs -0r sha256sum
    } | sha256sum | cut -c1-12)
  fi
  if ! exists aws ecr describe-images --repository-name "$ECR_REPOSITORY" --image-ids "imageTag=$tag"; then
    log "image $uri:$tag for $platforms"
    registry=${uri%%/*}
    engine=$("$REPO_ROOT/deploy/image.sh" engine)
    if dry; then
      show aws ecr get-login-password
      show "$engine" login --username AWS --password-stdin "$registry"
    else
      aws ecr get-login-password | "$engine" login --username AWS --password-stdin "$registry" >/dev/null
    fi
    run env IMAGE="$uri:$tag" PLATFORMS="$platforms" PUSH=1 CONTAINER_ENGINE="$engine" "$REPO_ROOT/deploy/image.sh"
  fi
  digest=$(query sha256:0000000000000000000000000000000000000000000000000000000000000000 \
    aws ecr describe-images --repository-name "$ECR_REPOSITORY" \
    --image-ids "imageTag=$tag" --query 'imageDetails[0].imageDigest' --output text)
  [[ "$digest" == sha256:* ]] || die "no digest for $uri:$tag in ECR"
  IMAGE_REF=$uri@$digest
  log "image $IMAGE_REF"
}

# write_kustomization points the mode's Job overlay at this bucket, region,
# image and (IRSA) role.
write_kustomization() {
  local overlay image_name image_field image_value
  if [[ "$IMAGE_REF" == *@* ]]; then
    image_name=${IMAGE_REF%@*} image_field=digest image_value=${IMAGE_REF#*@}
  else
    image_name=${IMAGE_REF%:*} image_field=newTag image_value=${IMAGE_REF##*:}
  fi
  mkdir -p "$WORK_DIR"
  overlay=$(realpath --relative-to="$WORK_DIR" "$REPO_ROOT/deploy/overlays/$MODE-job")
  {
    printf '%s\n' "# Generated by deploy/aws/eks-demo.sh MODE=$MODE; do not edit."
    printf '%s\n' "apiVersion: kustomize.config.k8s.io/v1beta1" "kind: Kustomization" \
      "namespace: $NAMESPACE" "resources:" "  - $overlay" "images:" \
      "  - name: ghcr.io/eks-least-privilege/uploader" "    newName: $image_name" "    $image_field: $image_value" \
      "configMapGenerator:" "  - name: uploader-config" "    behavior: merge" "    literals:" \
      "      - S3_BUCKET_NAME=$S3_BUCKET_NAME" "      - S3_KEY_PREFIX=$S3_KEY_PREFIX" \
      "      - S3_SSE=$S3_SSE" "      - S3_SSE_KMS_KEY_ID=$S3_SSE_KMS_KEY_ID" \
      "      - S3_BUCKET_KEY_ENABLED=$S3_BUCKET_KEY_ENABLED" "      - S3_EXPECTED_BUCKET_OWNER=$S3_EXPECTED_BUCKET_OWNER" \
      "      - AWS_REGION=$AWS_REGION" "      - LEAST_PRIVILEGE_CHECK=enforce"
    if [[ "$MODE" == irsa ]]; then
      printf '%s\n' "patches:" "  - target:" "      kind: ServiceAccount" "      name: $SERVICE_ACCOUNT" \
        "    patch: |-" "      - op: replace" "        path: /metadata/annotations/eks.amazonaws.com~1role-arn" \
        "        value: arn:aws:iam::$ACCOUNT_ID:role/$IRSA_ROLE"
    fi
  } >"$WORK_DIR/kustomization.yaml"
}

run_job() {
  log "Job $NAMESPACE/uploader ($MODE)"
  # A Job's pod template is immutable: replace the Job on every run.
  run kubectl -n "$NAMESPACE" delete job uploader --ignore-not-found --wait=true
  run kubectl apply -k "$WORK_DIR"
  if ! run kubectl -n "$NAMESPACE" wait --for=condition=complete job/uploader --timeout=300s; then
    run kubectl -n "$NAMESPACE" logs job/uploader --tail=50 || true
    die "the Job did not complete"
  fi
}

report() {
  local logs mode
  log "uploaded objects"
  run aws s3 ls "s3://$S3_BUCKET_NAME/$S3_KEY_PREFIX" --recursive
  logs=$(query "" kubectl -n "$NAMESPACE" logs job/uploader)
  # The app logs one JSON line {"msg":"aws credentials resolved","mode":...}.
  mode=$(sed -n 's/.*"msg":"aws credentials resolved".*"mode":"\([^"]*\)".*/\1/p' <<<"$logs" | head -n 1)
  if dry; then
    log "credential mode reported: (dry run), expected $EXPECTED_MODE"
    return 0
  fi
  log "credential mode reported: ${mode:-none}, expected $EXPECTED_MODE"
  [[ "$mode" == "$EXPECTED_MODE" ]] || die "the uploader reported mode \"${mode:-none}\", want \"$EXPECTED_MODE\""
}

CHANGED_IAM=0
ensure_image
ensure_bucket
ensure_policy
# The namespace first: the static-keys Secret lives in it.
run kubectl apply -f "$REPO_ROOT/deploy/base/common/namespace.yaml"
case "$MODE" in
  static-keys) setup_static_keys ;;
  node-role) setup_node_role ;;
  irsa) setup_irsa ;;
  pod-identity) setup_pod_identity ;;
esac
if [[ "$CHANGED_IAM" == 1 ]]; then
  # IAM is eventually consistent, and STS has no API that says a role or an
  # attachment has reached it: give it the few seconds AWS documents.
  log "waiting ${IAM_SETTLE_SECONDS}s for IAM changes to propagate"
  dry || sleep "$IAM_SETTLE_SECONDS"
fi
write_kustomization
run_job
report
log "done; remove everything with: make eks-clean"
