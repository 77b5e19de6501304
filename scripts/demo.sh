#!/usr/bin/env bash
# make demo: with S3_BUCKET_NAME set, runs the uploader as a Job of three
# uploads against that bucket with the AWS credentials configured here.
# Otherwise runs a local demo: MinIO on loopback, a bucket, a put-only user, the
# uploader with the builtin image source, then the stored objects and a few
# metric lines. Stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
uploader=bin/uploader

if [ -n "${S3_BUCKET_NAME:-}" ]; then
  echo "S3_BUCKET_NAME=$S3_BUCKET_NAME: three uploads to it with this machine's AWS credentials"
  UPLOAD_COUNT=${UPLOAD_COUNT:-3} UPLOAD_INTERVAL=${UPLOAD_INTERVAL:-5s} LOG_FORMAT=${LOG_FORMAT:-text} exec "$uploader"
fi

# shellcheck source=scripts/lib.sh
. scripts/lib.sh
s3_port=$(free_port)
echo "== starting MinIO on 127.0.0.1:$s3_port"
start_minio "$s3_port"
bucket="uploader-demo"
user=uploader
secret=$(random_hex 18)
putonly_user "$bucket" demo/ "$user" "$secret"

metrics_port=$(free_port)
echo "== uploader: builtin image source, every 1s, as the put-only user"
env -i PATH="$PATH" HOME="$work" \
  AWS_ACCESS_KEY_ID="$user" AWS_SECRET_ACCESS_KEY="$secret" AWS_REGION=us-east-1 \
  AWS_EC2_METADATA_DISABLED=true AWS_ENDPOINT_URL="http://127.0.0.1:$s3_port" \
  S3_BUCKET_NAME=$bucket S3_USE_PATH_STYLE=true S3_KEY_PREFIX=demo/ POD_NAME=demo-pod \
  IMAGE_SOURCE_URL=builtin: UPLOAD_INTERVAL=1s LOG_FORMAT=text \
  LEAST_PRIVILEGE_CHECK=warn METRICS_ADDR="127.0.0.1:$metrics_port" \
  "$uploader" &
upid=$!
pids+=("$upid")
uploads=0
for _ in $(seq 60); do
  # Until the server listens, curl fails: that is not the script's failure.
  uploads=$(curl -fsS "http://127.0.0.1:$metrics_port/metrics" 2>/dev/null | awk '/^uploader_uploads_total /{print $2}' || true)
  [ "${uploads:-0}" -ge 3 ] 2>/dev/null && break
  sleep 0.5
done
echo
echo "== a few metrics"
curl -fsS "http://127.0.0.1:$metrics_port/metrics" | grep -E '^uploader_(uploads_total|uploaded_bytes_total|last_success|aws_credentials_info|least_privilege_ok)'
kill -TERM "$upid"
wait "$upid" || true
echo
echo "== objects stored in $bucket"
mc --quiet ls --recursive "demo/$bucket"
[ "${uploads:-0}" -ge 3 ] || { echo "demo failed: fewer than 3 uploads"; exit 1; }
echo
echo "demo done: the uploader stored images with a user that can only put objects."
