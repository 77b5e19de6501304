#!/bin/sh
# minio-init.sh runs once in the compose "minio-init" service (quay.io/minio/mc)
# with MinIO's root credentials: it creates the bucket, the put-only policy
# rendered from deploy/aws/iam-policy.json (mounted at /iam-policy.json: the
# project's one copy of it, s3:PutObject on BUCKET/PREFIX* only), and the
# uploader's user bound to it. Idempotent. Environment: MINIO_ROOT_USER,
# MINIO_ROOT_PASSWORD, S3_BUCKET_NAME, S3_KEY_PREFIX, UPLOADER_ACCESS_KEY,
# UPLOADER_SECRET_KEY. Uses sh and mc only (the mc image has no sed or grep).
set -eu

POLICY_TEMPLATE=${POLICY_TEMPLATE:-/iam-policy.json}
POLICY_FILE=${POLICY_FILE:-/tmp/uploader-put-only.json}

# replace TEXT PATTERN VALUE: TEXT with every PATTERN replaced by VALUE.
replace() {
  rest=$1 out=
  while :; do
    case $rest in
    *"$2"*)
      out=$out${rest%%"$2"*}$3
      rest=${rest#*"$2"}
      ;;
    *) break ;;
    esac
  done
  printf '%s' "$out$rest"
}

# render: the template on stdin with {{BUCKET}} and {{PREFIX}} filled in.
render() {
  while IFS= read -r line || [ -n "$line" ]; do
    line=$(replace "$line" '{{BUCKET}}' "$S3_BUCKET_NAME")
    line=$(replace "$line" '{{PREFIX}}' "$S3_KEY_PREFIX")
    printf '%s\n' "$line"
  done
}

policy=$(render <"$POLICY_TEMPLATE")
case $policy in
*"{{"* | "")
  echo "minio-init: $POLICY_TEMPLATE rendered to an empty policy or one with a placeholder left" >&2
  exit 1
  ;;
esac
printf '%s\n' "$policy" >"$POLICY_FILE"

mc alias set local http://minio:9000 "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null
mc mb --ignore-existing "local/$S3_BUCKET_NAME"
mc admin policy create local uploader-put-only "$POLICY_FILE"
mc admin user add local "$UPLOADER_ACCESS_KEY" "$UPLOADER_SECRET_KEY"
if ! out=$(mc admin policy attach local uploader-put-only --user "$UPLOADER_ACCESS_KEY" 2>&1); then
  case $out in
  *"already attached"*) ;;
  *)
    printf '%s\n' "$out" >&2
    exit 1
    ;;
  esac
fi
echo "minio-init: bucket $S3_BUCKET_NAME, user $UPLOADER_ACCESS_KEY with policy uploader-put-only (s3:PutObject on $S3_BUCKET_NAME/$S3_KEY_PREFIX*)"
