#!/usr/bin/env bash
# make demo-modes: the uploader under each credential mode — static keys, node
# role (IMDSv2), IRSA (web identity) and EKS Pod Identity — against a local
# MinIO, with loopback stand-ins (cmd/standin) for the AWS identity services.
# MinIO issues real temporary credentials of a put-only user, so each mode
# shows least privilege: `uploader check` passes and the uploads land.
# Everything listens on 127.0.0.1; everything started is stopped at exit.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

scripts/tools.sh

uploader=bin/uploader
standin=bin/standin
[ -x "$uploader" ] || { mkdir -p "$work/bin"; go build -o "$work/bin/uploader" ./cmd/uploader; uploader=$work/bin/uploader; }
[ -x "$standin" ] || { mkdir -p "$work/bin"; go build -o "$work/bin/standin" ./cmd/standin; standin=$work/bin/standin; }

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

echo "== MinIO on $endpoint, trusting the stand-in issuer for IRSA (role policy putonly)"
mapfile -t minio_oidc < <(grep '^MINIO_IDENTITY_OPENID_' "$work/standin.env")
start_minio "$s3_port" "${minio_oidc[@]}"
putonly_user "$bucket" static/ "$user" "$secret"
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
problems=()
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
  # Each mode writes under its own prefix, so the one put-only policy (the
  # user's and the IRSA role's) is rendered for that prefix: a put outside
  # it, which uploader check probes, must be denied.
  putonly_policy "$bucket" "$mode/"
  echo "-- uploader check (identity and least-privilege table)"
  if ! env -i "${run_env[@]}" "$uploader" check; then problems+=("$mode: check"); fi
  echo "-- uploader, two uploads (its log)"
  if ! env -i "${run_env[@]}" "$uploader" >"$work/run.log" 2>&1; then problems+=("$mode: run"); fi
  sed 's/^/   /' "$work/run.log"
  echo "-- stored keys under $mode/"
  mc --quiet ls --recursive "demo/$bucket/$mode/" | awk '{print "   " $NF}' | tee "$work/keys"
  [ "$(grep -vc least-privilege-check "$work/keys")" -ge 2 ] || problems+=("$mode: fewer than 2 images stored")
done

echo
if [ ${#problems[@]} -gt 0 ]; then
  printf 'demo-modes failed: %s\n' "${problems[@]}"
  exit 1
fi
echo "demo-modes: all four credential modes wrote with a put-only identity"
