#!/bin/sh
# minio-init.sh runs once in the compose "minio-init" service (quay.io/minio/mc)
# with MinIO's root credentials: it creates the bucket, a policy allowing only
# s3:PutObject on the bucket's objects, and the uploader's user bound to it.
# Idempotent. Environment: MINIO_ROOT_USER, MINIO_ROOT_PASSWORD,
# S3_BUCKET_NAME, UPLOADER_ACCESS_KEY, UPLOADER_SECRET_KEY.
set -eu

mc alias set local http://minio:9000 "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null
mc mb --ignore-existing "local/$S3_BUCKET_NAME"

cat >/tmp/uploader-put-only.json <<POLICY
{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": ["s3:PutObject"],
      "Resource": ["arn:aws:s3:::$S3_BUCKET_NAME/*"]
    }
  ]
}
POLICY
mc admin policy create local uploader-put-only /tmp/uploader-put-only.json

mc admin user add local "$UPLOADER_ACCESS_KEY" "$UPLOADER_SECRET_KEY"
if ! mc admin user info local "$UPLOADER_ACCESS_KEY" | grep -q uploader-put-only; then
  mc admin policy attach local uploader-put-only --user "$UPLOADER_ACCESS_KEY"
fi
echo "minio-init: bucket $S3_BUCKET_NAME, user $UPLOADER_ACCESS_KEY with policy uploader-put-only"
