# shellcheck shell=bash
# Shared by the demo scripts: a work directory cleaned up at exit, background
# processes stopped at exit, and a MinIO on loopback with a put-only user; free
# ports and random names from test/lib.sh. Source it after `set -euo pipefail`.

PATH="$(go env GOPATH)/bin:$PATH"
export PATH

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# shellcheck source-path=SCRIPTDIR
# shellcheck source=../test/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../test/lib.sh"
LIB_WORK=$work

# start_minio PORT [NAME=value...]: MinIO on 127.0.0.1:PORT with fresh root
# credentials and extra environment, data in $work; waits until it serves S3
# and points mc's alias "demo" at it.
start_minio() {
  local port=$1
  shift
  local user=demoroot pass
  pass=$(random_hex 12)
  env "$@" MINIO_ROOT_USER=$user MINIO_ROOT_PASSWORD="$pass" MINIO_BROWSER=off MINIO_UPDATE=off \
    minio server "$work/data" --address "127.0.0.1:$port" --console-address "127.0.0.1:$(free_port)" --quiet \
    >"$work/minio.log" 2>&1 &
  pids+=($!)
  export MC_CONFIG_DIR=$work/mc
  export MC_HOST_demo="http://$user:$pass@127.0.0.1:$port"
  # Ready is not enough: MinIO loads its IAM data after it reports ready.
  for _ in $(seq 300); do
    mc --quiet admin user list demo >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  cat "$work/minio.log"
  echo "MinIO did not start" >&2
  return 1
}

# putonly_policy BUCKET PREFIX: (re)creates the MinIO policy "putonly" as
# deploy/aws/iam-policy.json renders for BUCKET and PREFIX: s3:PutObject on
# BUCKET/PREFIX* and nothing else (an empty PREFIX is the whole bucket). The
# users, roles and temporary credentials bound to it follow at once.
putonly_policy() {
  local bucket=$1 prefix=$2
  sed -e "s|{{BUCKET}}|$bucket|g" -e "s|{{PREFIX}}|$prefix|g" \
    "$(dirname "${BASH_SOURCE[0]}")/../deploy/aws/iam-policy.json" >"$work/policy.json"
  if grep -q '{{' "$work/policy.json"; then
    echo "deploy/aws/iam-policy.json has a placeholder this script does not fill" >&2
    return 1
  fi
  mc --quiet admin policy create demo putonly "$work/policy.json" >/dev/null
  echo "== policy putonly: s3:PutObject on $bucket/$prefix* only"
}

# putonly_user BUCKET PREFIX USER SECRET: the bucket, the policy "putonly" for
# PREFIX (putonly_policy), and a user bound to it.
putonly_user() {
  local bucket=$1 prefix=$2 user=$3 secret=$4
  mc --quiet mb "demo/$bucket" >/dev/null
  putonly_policy "$bucket" "$prefix"
  echo "== bucket $bucket, user $user bound to policy putonly"
  mc --quiet admin user add demo "$user" "$secret" >/dev/null
  mc --quiet admin policy attach demo putonly --user "$user" >/dev/null
}
