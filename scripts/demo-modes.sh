#!/usr/bin/env bash
# make demo-modes: the uploader under each credential mode — static keys, node
# role (IMDSv2), IRSA (web identity) and EKS Pod Identity — against a local
# MinIO, with loopback stand-ins (cmd/standin) for the AWS identity services.
# MinIO issues real temporary credentials of a put-only user, so each mode
# shows least privilege: `uploader check` passes and the uploads land.
# Everything listens on 127.0.0.1; everything started is stopped at exit.
set -euo pipefail
cd "$(dirname "$0")/.."
PATH="$(go env GOPATH)/bin:$PATH"
export PATH

MINIO_MODULE=github.com/minio/minio@v0.0.0-20260212201848-7aac2a2c5b7c
MC_MODULE=github.com/minio/mc@v0.0.0-20250313080218-cf909e1063a9
command -v minio >/dev/null || { echo "installing $MINIO_MODULE (several minutes the first time)"; go install "$MINIO_MODULE"; }
command -v mc >/dev/null || { echo "installing $MC_MODULE (a few minutes the first time)"; go install "$MC_MODULE"; }

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

uploader=bin/uploader
standin=bin/standin
[ -x "$uploader" ] || { mkdir -p "$work/bin"; go build -o "$work/bin/uploader" ./cmd/uploader; uploader=$work/bin/uploader; }
[ -x "$standin" ] || { mkdir -p "$work/bin"; go build -o "$work/bin/standin" ./cmd/standin; standin=$work/bin/standin; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
random_hex() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }
s3_port=$(free_port)
endpoint=http://127.0.0.1:$s3_port
bucket="uploader-demo"
user=uploader
secret=$(random_hex 18)

# The stand-ins start first: MinIO reads the OIDC issuer's discovery document
# at start. Their minter only calls MinIO when asked for credentials.
echo "== stand-ins: IMDSv2, OIDC issuer + token files, Pod Identity agent (127.0.0.1)"
STANDIN_SECRET_KEY=$secret "$standin" all -minio-endpoint "$endpoint" -user "$user" \
  -token-dir "$work/tokens" -print-env >"$work/standin.env" 2>"$work/standin.log" &
pids+=($!)
for _ in $(seq 100); do
  grep -q '^AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=' "$work/standin.env" 2>/dev/null && break
  sleep 0.1
done
grep -q '^AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=' "$work/standin.env" || { cat "$work/standin.log"; echo "stand-ins did not start"; exit 1; }
# standin_env KEY...: the lines of those keys from the stand-ins' environment.
standin_env() {
  local k
  for k in "$@"; do grep "^$k=" "$work/standin.env"; done
}

root_user=demoroot
root_pass=$(random_hex 12)
echo "== MinIO on $endpoint, trusting the stand-in issuer for IRSA (role policy putonly)"
mapfile -t minio_oidc < <(grep '^MINIO_IDENTITY_OPENID_' "$work/standin.env")
env "${minio_oidc[@]}" MINIO_ROOT_USER=$root_user MINIO_ROOT_PASSWORD="$root_pass" MINIO_BROWSER=off MINIO_UPDATE=off \
  minio server "$work/data" --address "127.0.0.1:$s3_port" --console-address "127.0.0.1:$(free_port)" --quiet \
  >"$work/minio.log" 2>&1 &
pids+=($!)
for _ in $(seq 150); do
  curl -fsS "$endpoint/minio/health/ready" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -fsS "$endpoint/minio/health/ready" >/dev/null || { cat "$work/minio.log"; echo "MinIO did not start"; exit 1; }

export MC_CONFIG_DIR=$work/mc
export MC_HOST_demo="http://$root_user:$root_pass@127.0.0.1:$s3_port"
cat >"$work/policy.json" <<JSON
{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:PutObject"],"Resource":["arn:aws:s3:::$bucket/*"]}]}
JSON
echo "== bucket $bucket, policy putonly (s3:PutObject on $bucket/* only), user $user bound to it"
mc --quiet mb "demo/$bucket" >/dev/null
mc --quiet admin policy create demo putonly "$work/policy.json" >/dev/null
mc --quiet admin user add demo "$user" "$secret" >/dev/null
mc --quiet admin policy attach demo putonly --user "$user" >/dev/null
# MinIO can answer before its IAM data is loaded: read the binding back.
for _ in $(seq 100); do
  mc --quiet admin user info demo "$user" 2>/dev/null | grep -q putonly && break
  sleep 0.2
done
echo "   IRSA role: $(mc --quiet idp openid ls demo 2>/dev/null | grep -o 'arn:minio:iam:[^ ]*' || echo '?')"

common=(
  PATH="$PATH" HOME="$work"
  AWS_REGION=us-east-1 AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
  AWS_ENDPOINT_URL_S3="$endpoint" S3_BUCKET_NAME="$bucket" S3_USE_PATH_STYLE=true
  IMAGE_SOURCE_URL=builtin: UPLOAD_INTERVAL=500ms UPLOAD_COUNT=2 METRICS_ADDR= LOG_FORMAT=text POD_NAME=demo-pod
)
failed=()
for mode in static node-role irsa pod-identity; do
  case $mode in
    static) mode_env=(AWS_ACCESS_KEY_ID="$user" AWS_SECRET_ACCESS_KEY="$secret" AWS_EC2_METADATA_DISABLED=true AWS_ENDPOINT_URL_STS="$endpoint") ;;
    node-role)
      mapfile -t mode_env < <(standin_env AWS_EC2_METADATA_DISABLED AWS_EC2_METADATA_SERVICE_ENDPOINT)
      mode_env+=(AWS_ENDPOINT_URL_STS="$endpoint") ;;
    irsa)
      mapfile -t mode_env < <(standin_env AWS_ROLE_ARN AWS_WEB_IDENTITY_TOKEN_FILE AWS_ROLE_SESSION_NAME AWS_ENDPOINT_URL_STS)
      mode_env+=(AWS_EC2_METADATA_DISABLED=true) ;;
    pod-identity)
      mapfile -t mode_env < <(standin_env AWS_CONTAINER_CREDENTIALS_FULL_URI AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE)
      mode_env+=(AWS_EC2_METADATA_DISABLED=true AWS_ENDPOINT_URL_STS="$endpoint") ;;
  esac
  run_env=("${common[@]}" "${mode_env[@]}" S3_KEY_PREFIX="$mode/" REQUIRE_CREDENTIAL_MODE="$mode")
  echo
  echo "=================== $mode ==================="
  echo "-- uploader check (identity and least-privilege table)"
  if ! env -i "${run_env[@]}" "$uploader" check; then failed+=("$mode: check"); fi
  echo "-- uploader, two uploads (its log)"
  if ! env -i "${run_env[@]}" "$uploader" >"$work/run.log" 2>&1; then failed+=("$mode: run"); fi
  sed 's/^/   /' "$work/run.log"
  echo "-- stored keys under $mode/"
  mc --quiet ls --recursive "demo/$bucket/$mode/" | awk '{print "   " $NF}' | tee "$work/keys"
  [ "$(grep -vc least-privilege-check "$work/keys")" -ge 2 ] || failed+=("$mode: fewer than 2 images stored")
done

echo
if [ ${#failed[@]} -gt 0 ]; then
  printf 'demo-modes failed: %s\n' "${failed[@]}"
  exit 1
fi
echo "demo-modes: all four credential modes wrote with a put-only identity"
