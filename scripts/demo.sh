#!/usr/bin/env bash
# make demo: with S3_BUCKET_NAME set, runs the uploader as a Job of three
# uploads against that bucket with the AWS credentials configured here.
# Otherwise runs a local demo: MinIO on loopback, a bucket, a put-only user, the
# uploader with the builtin image source, then the stored objects and a few
# metric lines. Stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
PATH="$(go env GOPATH)/bin:$PATH"
export PATH
uploader=bin/uploader

if [ -n "${S3_BUCKET_NAME:-}" ]; then
  echo "S3_BUCKET_NAME=$S3_BUCKET_NAME: three uploads to it with this machine's AWS credentials"
  UPLOAD_COUNT=${UPLOAD_COUNT:-3} UPLOAD_INTERVAL=${UPLOAD_INTERVAL:-5s} LOG_FORMAT=${LOG_FORMAT:-text} exec "$uploader"
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

s3_port=$(free_port)
root_user=demoroot
root_pass=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
echo "== starting MinIO on 127.0.0.1:$s3_port (data in $work)"
MINIO_ROOT_USER=$root_user MINIO_ROOT_PASSWORD=$root_pass MINIO_BROWSER=off \
  minio server "$work/data" --address "127.0.0.1:$s3_port" --console-address "127.0.0.1:$(free_port)" --quiet \
  >"$work/minio.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  curl -fsS "http://127.0.0.1:$s3_port/minio/health/ready" >/dev/null 2>&1 && break
  sleep 0.2
done

export MC_CONFIG_DIR=$work/mc
export MC_HOST_demo="http://$root_user:$root_pass@127.0.0.1:$s3_port"
bucket="uploader-demo"
user=uploader
secret=$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')
cat >"$work/policy.json" <<JSON
{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:PutObject"],"Resource":["arn:aws:s3:::$bucket/*"]}]}
JSON
echo "== bucket $bucket, policy putonly (s3:PutObject on $bucket/* only), user $user bound to it"
mc --quiet mb "demo/$bucket" >/dev/null
mc --quiet admin policy create demo putonly "$work/policy.json" >/dev/null
mc --quiet admin user add demo "$user" "$secret" >/dev/null
mc --quiet admin policy attach demo putonly --user "$user" >/dev/null

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
  uploads=$(curl -fsS "http://127.0.0.1:$metrics_port/metrics" 2>/dev/null | awk '/^uploader_uploads_total /{print $2}')
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
