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
# S3_EXPECTED_BUCKET_OWNER (the caller's account), IMAGE (repository:tag of the uploader
# image), WORK_DIR (dist/eks-demo/<mode>: the generated kustomization),
# DRY_RUN=1 (print every aws/kubectl/eksctl call instead of making it).
# The cluster comes from deploy/aws/cluster.yaml. Idempotent: run it again
# to re-run the Job. deploy/aws/eks-clean.sh removes everything it creates.
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
IMAGE=${IMAGE:-ghcr.io/eks-least-privilege/uploader:v0.1.0}
[[ "$IMAGE" == *:* ]] || die "IMAGE must be repository:tag, got \"$IMAGE\""
WORK_DIR=${WORK_DIR:-$REPO_ROOT/dist/eks-demo/$MODE}

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
      run aws s3api create-bucket --bucket "$S3_BUCKET_NAME"
    else
      run aws s3api create-bucket --bucket "$S3_BUCKET_NAME" \
        --create-bucket-configuration "LocationConstraint=$AWS_REGION"
    fi
  fi
  run aws s3api put-bucket-tagging --bucket "$S3_BUCKET_NAME" \
    --tagging "TagSet=[{Key=$TAG_KEY,Value=$TAG_VALUE}]"
  run aws s3api put-public-access-block --bucket "$S3_BUCKET_NAME" \
    --public-access-block-configuration \
    BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true
  # The uploader may not abort multipart uploads (it only has s3:PutObject);
  # the bucket cleans up any it leaves.
  # The app may only put objects, so it cannot abort a failed multipart
  # upload: the bucket removes incomplete ones instead (lifecycle.json).
  run aws s3api put-bucket-lifecycle-configuration --bucket "$S3_BUCKET_NAME" \
    --lifecycle-configuration "file://$AWS_DIR/lifecycle.json"
}

ensure_policy() {
  log "policy $POLICY_NAME: s3:PutObject on $S3_BUCKET_NAME/$S3_KEY_PREFIX*"
  render_template "$AWS_DIR/iam-policy.json" "BUCKET=$S3_BUCKET_NAME" "PREFIX=$S3_KEY_PREFIX" >"$TMP/policy.json"
  if exists aws iam get-policy --policy-arn "$POLICY_ARN"; then
    # Keep the policy in step with the bucket and prefix: a new default
    # version, and at most the previous one kept (IAM allows five).
    local old
    for old in $(query "" aws iam list-policy-versions --policy-arn "$POLICY_ARN" \
      --query 'Versions[?!IsDefaultVersion].VersionId' --output text); do
      run aws iam delete-policy-version --policy-arn "$POLICY_ARN" --version-id "$old"
    done
    run aws iam create-policy-version --policy-arn "$POLICY_ARN" \
      --policy-document "file://$TMP/policy.json" --set-as-default
  else
    run aws iam create-policy --policy-name "$POLICY_NAME" \
      --policy-document "file://$TMP/policy.json" --tags "${TAGS[@]}"
  fi
}

# ensure_role creates or updates a role with a trust policy and the put-only
# policy attached.
ensure_role() {
  local role=$1 trust=$2
  log "role $role"
  if exists aws iam get-role --role-name "$role"; then
    run aws iam update-assume-role-policy --role-name "$role" --policy-document "file://$trust"
  else
    run aws iam create-role --role-name "$role" --assume-role-policy-document "file://$trust" \
      --max-session-duration 3600 --tags "${TAGS[@]}"
  fi
  run aws iam attach-role-policy --role-name "$role" --policy-arn "$POLICY_ARN"
}

setup_static_keys() {
  log "IAM user $STATIC_USER with keys in Secret $NAMESPACE/$STATIC_SECRET"
  if ! exists aws iam get-user --user-name "$STATIC_USER"; then
    run aws iam create-user --user-name "$STATIC_USER" --tags "${TAGS[@]}"
  fi
  run aws iam attach-user-policy --user-name "$STATIC_USER" --policy-arn "$POLICY_ARN"
  if exists kubectl -n "$NAMESPACE" get secret "$STATIC_SECRET"; then
    return 0
  fi
  # The keys go from the aws CLI to a mode-0600 file to the Secret; they are
  # never printed, never in a manifest.
  local keys key_id secret
  keys=$(query "DRYRUNKEYID DRYRUNSECRET" aws iam create-access-key --user-name "$STATIC_USER" \
    --query 'AccessKey.[AccessKeyId,SecretAccessKey]' --output text)
  read -r key_id secret <<<"$keys"
  (
    umask 077
    printf 'AWS_ACCESS_KEY_ID=%s\nAWS_SECRET_ACCESS_KEY=%s\n' "$key_id" "$secret" >"$TMP/static.env"
  )
  run kubectl -n "$NAMESPACE" create secret generic "$STATIC_SECRET" --from-env-file="$TMP/static.env"
  rm -f "$TMP/static.env"
}

setup_node_role() {
  local role_arn role instances instance
  role_arn=$(query "arn:aws:iam::$ACCOUNT_ID:role/eksctl-$CLUSTER_NAME-nodegroup-NodeInstanceRole" \
    aws eks describe-nodegroup --cluster-name "$CLUSTER_NAME" --nodegroup-name "$NODEGROUP_NAME" \
    --query nodegroup.nodeRole --output text)
  role=${role_arn##*/}
  log "node role $role (every pod on these nodes can use it)"
  run aws iam attach-role-policy --role-name "$role" --policy-arn "$POLICY_ARN"
  # IMDSv2 only, and hop limit 2 so a pod can get an IMDSv2 token.
  instances=$(query "i-0123456789abcdef0" aws ec2 describe-instances \
    --filters "Name=tag:eks:cluster-name,Values=$CLUSTER_NAME" "Name=instance-state-name,Values=running" \
    --query 'Reservations[].Instances[].InstanceId' --output text)
  for instance in $instances; do
    run aws ec2 modify-instance-metadata-options --instance-id "$instance" \
      --http-endpoint enabled --http-tokens required --http-put-response-hop-limit 2
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
  association=$(query None aws eks list-pod-identity-associations --cluster-name "$CLUSTER_NAME" \
    --namespace "$NAMESPACE" --service-account "$SERVICE_ACCOUNT" \
    --query 'associations[0].associationId' --output text)
  if [[ -z "$association" || "$association" == None ]]; then
    run aws eks create-pod-identity-association --cluster-name "$CLUSTER_NAME" \
      --namespace "$NAMESPACE" --service-account "$SERVICE_ACCOUNT" \
      --role-arn "arn:aws:iam::$ACCOUNT_ID:role/$POD_IDENTITY_ROLE" --tags "$TAG_KEY=$TAG_VALUE"
  else
    run aws eks update-pod-identity-association --cluster-name "$CLUSTER_NAME" \
      --association-id "$association" --role-arn "arn:aws:iam::$ACCOUNT_ID:role/$POD_IDENTITY_ROLE"
  fi
}

# write_kustomization points the mode's Job overlay at this bucket, region,
# image and (IRSA) role.
write_kustomization() {
  local overlay
  mkdir -p "$WORK_DIR"
  overlay=$(realpath --relative-to="$WORK_DIR" "$REPO_ROOT/deploy/overlays/$MODE-job")
  {
    printf '%s\n' "# Generated by deploy/aws/eks-demo.sh MODE=$MODE; do not edit."
    printf '%s\n' "apiVersion: kustomize.config.k8s.io/v1beta1" "kind: Kustomization" \
      "namespace: $NAMESPACE" "resources:" "  - $overlay" "images:" \
      "  - name: ghcr.io/eks-least-privilege/uploader" "    newName: ${IMAGE%:*}" "    newTag: ${IMAGE##*:}" \
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
write_kustomization
run_job
report
log "done; remove everything with: make eks-clean"
