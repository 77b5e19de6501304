#!/usr/bin/env bash
# Installs what the tests and demos need and is missing: MinIO and mc (pinned,
# built from the Go module proxy; they run as separate processes only) and
# the shell linter. Reuses what is already installed.
set -euo pipefail
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
MC_VERSION=v0.0.0-20250313080218-cf909e1063a9
bin=$(go env GOPATH)/bin
export PATH="$bin:$PATH"

if ! command -v minio >/dev/null; then
  echo "installing minio $MINIO_VERSION (builds from source: several minutes the first time)"
  go install "github.com/minio/minio@$MINIO_VERSION"
fi
if ! command -v mc >/dev/null; then
  echo "installing mc $MC_VERSION (builds from source: a few minutes the first time)"
  go install "github.com/minio/mc@$MC_VERSION"
fi
if ! command -v shellcheck >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing shellcheck"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq shellcheck >/dev/null
  else
    echo "shellcheck missing: install it (apt-get install shellcheck) for the script checks" >&2
  fi
fi
