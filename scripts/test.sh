#!/usr/bin/env bash
# Runs every test: unit, integration against a real MinIO, manifests, compose
# and (when podman is present) the container image. Installs what the tests
# need first (scripts/tools.sh). With CI=true a skipped test fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/tools.sh
export PATH="$(go env GOPATH)/bin:$PATH"

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
go test -count=1 -timeout 30m -v ./... >"$log" 2>&1 || status=$?
# The full log is long: show the failures, the skips and the package lines.
grep -E '^(ok|FAIL|panic:|\?|--- FAIL|--- SKIP|    --- FAIL|    --- SKIP)|_test\.go:[0-9]+:' "$log" | grep -v '^    .*_test\.go.*: *$' || true
if [ "$status" -ne 0 ]; then
  echo "--- go test failed (exit $status); the end of its log:"
  tail -n 80 "$log"
fi
passed=$(grep -cE '^(    )*--- PASS' "$log" || true)
failed=$(grep -cE '^(    )*--- FAIL' "$log" || true)
skipped=$(grep -cE '^(    )*--- SKIP' "$log" || true)
if [ "${CI:-}" = "true" ] && [ "$skipped" -gt 0 ]; then
  echo "CI=true: $skipped test(s) skipped; in CI every integration test must run"
  status=1
fi
echo "go test: $passed passed, $failed failed, $skipped skipped"
exit "$status"
