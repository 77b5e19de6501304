#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# eks-clean.sh removes everything deploy/aws/eks-demo.sh creates, for every
# mode: the uploader namespace (Job, Secret, ...), the Pod Identity
# association, the demo roles and user (with their access keys), the
# put-only policy (detached from every role, user and group that has it,
# the node role too), the demo bucket with its objects and the demo's ECR
# repository with its images. It finds them by the uploader-demo name prefix
# and, for the bucket and the repository, the eks-least-privilege=
# uploader-demo tag. The cluster itself (deploy/aws/cluster.yaml) is left
# alone: `eksctl delete cluster -f ...`.
#
# A step that fails does not stop the clean-up: the AWS side is cleaned even
# when the cluster is unreachable. At the end every demo resource is looked
# up again; each one that remains (or cannot be looked up) is reported, and
# the script exits 1 if any does or any step failed.
#
# Environment: as eks-demo.sh (CLUSTER_NAME, NODEGROUP_NAME, AWS_REGION,
# S3_BUCKET_NAME, DRY_RUN=1). Idempotent: what is already gone is skipped.
set -uo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# A dry run shows the delete calls, as if everything existed.
DRY_RUN_EXISTS=1

ACCOUNT_ID=$(account_id) || die "cannot call AWS (aws sts get-caller-identity): check the credentials"
S3_BUCKET_NAME=${S3_BUCKET_NAME:-$(default_bucket "$ACCOUNT_ID")}
POLICY_ARN="arn:aws:iam::$ACCOUNT_ID:policy/$POLICY_NAME"

failed=()
# step runs one clean-up call; a failure is recorded and the clean-up goes on.
step() {
  run "$@" || failed+=("$*")
}
# listing runs a list call and sets LISTED to its output; a failure is
# recorded (never read as an empty list) and LISTED is left empty.
listing() {
  local placeholder=$1
  shift
  LISTED=$(query "$placeholder" "$@") || {
    failed+=("$*")
    LISTED=""
  }
}
# present is probe for the clean-up: a failed look-up is recorded.
present() {
  local rc=0
  probe "$@" || rc=$?
  [[ $rc -ne 2 ]] || failed+=("$*")
  return "$rc"
}

log "namespace $NAMESPACE"
step kubectl delete namespace "$NAMESPACE" --ignore-not-found --wait=true --timeout=120s

if present aws eks describe-cluster --name "$CLUSTER_NAME"; then
  listing a-0123456789abcdef0 aws eks list-pod-identity-associations \
    --cluster-name "$CLUSTER_NAME" --namespace "$NAMESPACE" --service-account "$SERVICE_ACCOUNT" \
    --query 'associations[].associationId' --output text
  for association in $LISTED; do
    log "pod identity association $association"
    step aws eks delete-pod-identity-association --cluster-name "$CLUSTER_NAME" --association-id "$association"
  done
fi

if present aws iam get-policy --policy-arn "$POLICY_ARN"; then
  log "policy $POLICY_NAME: detach from every role, user and group (the node role too)"
  # Dry-run placeholders: the node role and the demo user.
  declare -A dry_names=([Role]="eksctl-$CLUSTER_NAME-nodegroup-NodeInstanceRole" [User]="$STATIC_USER" [Group]="")
  for kind in Role User Group; do
    listing "${dry_names[$kind]}" aws iam list-entities-for-policy --policy-arn "$POLICY_ARN" \
      --query "Policy${kind}s[].${kind}Name" --output text
    for name in $LISTED; do
      step aws iam "detach-${kind,,}-policy" "--${kind,,}-name" "$name" --policy-arn "$POLICY_ARN"
    done
  done
fi

# delete_role detaches every managed policy from a demo role and deletes it.
delete_role() {
  local role=$1 arn
  present aws iam get-role --role-name "$role" || return 0
  log "role $role"
  listing "$POLICY_ARN" aws iam list-attached-role-policies --role-name "$role" \
    --query 'AttachedPolicies[].PolicyArn' --output text
  for arn in $LISTED; do
    step aws iam detach-role-policy --role-name "$role" --policy-arn "$arn"
  done
  step aws iam delete-role --role-name "$role"
}
delete_role "$IRSA_ROLE"
delete_role "$POD_IDENTITY_ROLE"

if present aws iam get-user --user-name "$STATIC_USER"; then
  log "IAM user $STATIC_USER"
  listing DRYRUNKEYID aws iam list-access-keys --user-name "$STATIC_USER" \
    --query 'AccessKeyMetadata[].AccessKeyId' --output text
  for key in $LISTED; do
    step aws iam delete-access-key --user-name "$STATIC_USER" --access-key-id "$key"
  done
  listing "$POLICY_ARN" aws iam list-attached-user-policies --user-name "$STATIC_USER" \
    --query 'AttachedPolicies[].PolicyArn' --output text
  for arn in $LISTED; do
    step aws iam detach-user-policy --user-name "$STATIC_USER" --policy-arn "$arn"
  done
  step aws iam delete-user --user-name "$STATIC_USER"
fi

if present aws iam get-policy --policy-arn "$POLICY_ARN"; then
  log "policy $POLICY_NAME"
  listing "" aws iam list-policy-versions --policy-arn "$POLICY_ARN" \
    --query 'Versions[?!IsDefaultVersion].VersionId' --output text
  for version in $LISTED; do
    step aws iam delete-policy-version --policy-arn "$POLICY_ARN" --version-id "$version"
  done
  step aws iam delete-policy --policy-arn "$POLICY_ARN"
fi

# tagged reports whether a bucket or repository carries the demo tag: only
# such are emptied and deleted, never one of the same name made by hand.
tagged() {
  local tag
  tag=$(query "$TAG_VALUE" "$@") || {
    failed+=("$*")
    return 1
  }
  [[ "$tag" == "$TAG_VALUE" ]]
}

if present aws s3api head-bucket --bucket "$S3_BUCKET_NAME"; then
  if tagged aws s3api get-bucket-tagging --bucket "$S3_BUCKET_NAME" \
    --query "TagSet[?Key=='$TAG_KEY'].Value | [0]" --output text; then
    log "bucket s3://$S3_BUCKET_NAME"
    step aws s3 rb "s3://$S3_BUCKET_NAME" --force
  else
    log "bucket s3://$S3_BUCKET_NAME: not tagged $TAG_KEY=$TAG_VALUE, left alone"
  fi
fi

if present aws ecr describe-repositories --repository-names "$ECR_REPOSITORY"; then
  repository_arn="arn:aws:ecr:$AWS_REGION:$ACCOUNT_ID:repository/$ECR_REPOSITORY"
  if tagged aws ecr list-tags-for-resource --resource-arn "$repository_arn" \
    --query "tags[?Key=='$TAG_KEY'].Value | [0]" --output text; then
    log "ECR repository $ECR_REPOSITORY with its images"
    step aws ecr delete-repository --repository-name "$ECR_REPOSITORY" --force
  else
    log "ECR repository $ECR_REPOSITORY: not tagged $TAG_KEY=$TAG_VALUE, left alone"
  fi
fi

if dry; then
  log "dry run: nothing deleted, nothing verified"
  exit 0
fi

# Look every demo resource up again: what remains is reported, and so is
# what cannot be looked up (it may remain).
remaining=()
check_gone() {
  local what=$1 rc=0
  shift
  probe "$@" || rc=$?
  case $rc in
    0) remaining+=("$what") ;;
    2) remaining+=("$what (cannot tell: the look-up failed)") ;;
  esac
}
check_gone "namespace $NAMESPACE" kubectl get namespace "$NAMESPACE"
rc=0
probe aws eks describe-cluster --name "$CLUSTER_NAME" || rc=$?
if [[ $rc -eq 0 ]]; then
  if ! left=$(aws eks list-pod-identity-associations --cluster-name "$CLUSTER_NAME" --namespace "$NAMESPACE" \
    --service-account "$SERVICE_ACCOUNT" --query 'associations[].associationId' --output text); then
    remaining+=("pod identity associations of $NAMESPACE/$SERVICE_ACCOUNT (cannot tell: the look-up failed)")
  elif [[ -n "$left" ]]; then
    remaining+=("pod identity associations $left")
  fi
elif [[ $rc -eq 2 ]]; then
  remaining+=("pod identity associations of $NAMESPACE/$SERVICE_ACCOUNT (cannot tell: cluster $CLUSTER_NAME cannot be described)")
fi
check_gone "role $IRSA_ROLE" aws iam get-role --role-name "$IRSA_ROLE"
check_gone "role $POD_IDENTITY_ROLE" aws iam get-role --role-name "$POD_IDENTITY_ROLE"
check_gone "IAM user $STATIC_USER" aws iam get-user --user-name "$STATIC_USER"
check_gone "policy $POLICY_ARN" aws iam get-policy --policy-arn "$POLICY_ARN"
check_gone "ECR repository $ECR_REPOSITORY" aws ecr describe-repositories --repository-names "$ECR_REPOSITORY"
rc=0
probe aws s3api head-bucket --bucket "$S3_BUCKET_NAME" || rc=$?
if [[ $rc -eq 0 ]] && aws s3api get-bucket-tagging --bucket "$S3_BUCKET_NAME" >/dev/null 2>&1; then
  remaining+=("bucket s3://$S3_BUCKET_NAME")
elif [[ $rc -eq 2 ]]; then
  remaining+=("bucket s3://$S3_BUCKET_NAME (cannot tell: the look-up failed)")
fi

for f in "${failed[@]}"; do
  printf 'failed: %s\n' "$f" >&2
done
for r in "${remaining[@]}"; do
  printf 'remains: %s\n' "$r" >&2
done
if [[ ${#failed[@]} -gt 0 || ${#remaining[@]} -gt 0 ]]; then
  die "clean-up incomplete: ${#failed[@]} step(s) failed, ${#remaining[@]} resource(s) remain; fix the cause and run it again"
fi
log "done: nothing of the demo remains"
