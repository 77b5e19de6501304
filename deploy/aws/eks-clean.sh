#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# eks-clean.sh removes everything deploy/aws/eks-demo.sh creates, for every
# mode: the uploader namespace (Job, Secret, ...), the Pod Identity
# association, the demo roles and user (with their access keys), the
# put-only policy (detached from the node role too) and the demo bucket
# with its objects. It finds them by the uploader-demo name prefix and, for
# the bucket, the eks-least-privilege=uploader-demo tag. The cluster itself
# (deploy/aws/cluster.yaml) is left alone: `eksctl delete cluster -f ...`.
#
# Environment: as eks-demo.sh (CLUSTER_NAME, NODEGROUP_NAME, AWS_REGION,
# S3_BUCKET_NAME, DRY_RUN=1). Idempotent: what is already gone is skipped.
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# A dry run shows the delete calls, as if everything existed.
DRY_RUN_EXISTS=1

ACCOUNT_ID=$(account_id)
S3_BUCKET_NAME=${S3_BUCKET_NAME:-$(default_bucket "$ACCOUNT_ID")}
POLICY_ARN="arn:aws:iam::$ACCOUNT_ID:policy/$POLICY_NAME"

# delete_role detaches the put-only policy from a demo role and deletes it.
delete_role() {
  local role=$1
  if exists aws iam get-role --role-name "$role"; then
    log "role $role"
    run aws iam detach-role-policy --role-name "$role" --policy-arn "$POLICY_ARN" || true
    run aws iam delete-role --role-name "$role"
  fi
}

log "namespace $NAMESPACE"
run kubectl delete namespace "$NAMESPACE" --ignore-not-found --wait=true

if exists aws eks describe-cluster --name "$CLUSTER_NAME"; then
  for association in $(query "a-0123456789abcdef0" aws eks list-pod-identity-associations \
    --cluster-name "$CLUSTER_NAME" --namespace "$NAMESPACE" --service-account "$SERVICE_ACCOUNT" \
    --query 'associations[].associationId' --output text); do
    log "pod identity association $association"
    run aws eks delete-pod-identity-association --cluster-name "$CLUSTER_NAME" --association-id "$association"
  done
  node_role=$(query "arn:aws:iam::$ACCOUNT_ID:role/eksctl-$CLUSTER_NAME-nodegroup-NodeInstanceRole" \
    aws eks describe-nodegroup --cluster-name "$CLUSTER_NAME" --nodegroup-name "$NODEGROUP_NAME" \
    --query nodegroup.nodeRole --output text)
  log "node role ${node_role##*/}: detach the put-only policy"
  # Fails (NoSuchEntity) when it was never attached: nothing to do.
  run aws iam detach-role-policy --role-name "${node_role##*/}" --policy-arn "$POLICY_ARN" || true
fi

delete_role "$IRSA_ROLE"
delete_role "$POD_IDENTITY_ROLE"

if exists aws iam get-user --user-name "$STATIC_USER"; then
  log "IAM user $STATIC_USER"
  for key in $(query "DRYRUNKEYID" aws iam list-access-keys --user-name "$STATIC_USER" \
    --query 'AccessKeyMetadata[].AccessKeyId' --output text); do
    run aws iam delete-access-key --user-name "$STATIC_USER" --access-key-id "$key"
  done
  run aws iam detach-user-policy --user-name "$STATIC_USER" --policy-arn "$POLICY_ARN" || true
  run aws iam delete-user --user-name "$STATIC_USER"
fi

if exists aws iam get-policy --policy-arn "$POLICY_ARN"; then
  log "policy $POLICY_NAME"
  for version in $(query "" aws iam list-policy-versions --policy-arn "$POLICY_ARN" \
    --query 'Versions[?!IsDefaultVersion].VersionId' --output text); do
    run aws iam delete-policy-version --policy-arn "$POLICY_ARN" --version-id "$version"
  done
  run aws iam delete-policy --policy-arn "$POLICY_ARN"
fi

# Only a bucket that carries the demo tag is emptied and deleted.
tag=""
if exists aws s3api head-bucket --bucket "$S3_BUCKET_NAME"; then
  tag=$(query "$TAG_VALUE" aws s3api get-bucket-tagging --bucket "$S3_BUCKET_NAME" \
    --query "TagSet[?Key=='$TAG_KEY'].Value | [0]" --output text) || tag=""
fi
if [[ "$tag" == "$TAG_VALUE" ]]; then
  log "bucket s3://$S3_BUCKET_NAME"
  run aws s3 rb "s3://$S3_BUCKET_NAME" --force
else
  log "bucket s3://$S3_BUCKET_NAME: absent or not tagged $TAG_KEY=$TAG_VALUE, left alone"
fi
log "done"
