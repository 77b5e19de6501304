#!/usr/bin/env bash
# Installs what the tests and demos need and is missing: MinIO and mc (pinned,
# built from the Go module proxy; they run as separate processes only) and
# the shell linter, the IAM policy simulator of the policy tests (npm,
# pinned by test/iamsim/package-lock.json; AGPL-3.0, run as a process only)
# and helm (test/e2e/tools.sh helm: cached by version). Reuses what is
# already installed.
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

# The simulator goes into a cache dir keyed by its lock file (test/iamsim
# computes the same dir), installed aside and moved in whole.
iamsim_src="$(cd "$(dirname "$0")/../test/iamsim" && pwd)"
iamsim_dir="${XDG_CACHE_HOME:-$HOME/.cache}/uploader-tools/iamsim-$(sha256sum "$iamsim_src/package-lock.json" | cut -c1-12)"
if [ ! -d "$iamsim_dir/node_modules/@cloud-copilot/iam-simulate" ]; then
  if command -v npm >/dev/null; then
    echo "installing the IAM policy simulator into $iamsim_dir"
    rm -rf "$iamsim_dir.tmp" && mkdir -p "$iamsim_dir.tmp"
    cp "$iamsim_src/package.json" "$iamsim_src/package-lock.json" "$iamsim_dir.tmp/"
    (cd "$iamsim_dir.tmp" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
    rm -rf "$iamsim_dir" && mv "$iamsim_dir.tmp" "$iamsim_dir"
  else
    echo "npm missing: install Node.js and npm (apt-get install nodejs npm) for the policy simulator tests" >&2
  fi
fi
# helm, for the chart's tests (deploy/chart_test.go): built from the module
# proxy once, cached by version (several minutes the first time).
"$(dirname "$0")/../test/e2e/tools.sh" helm >/dev/null
