#!/usr/bin/env bash
# Runs every test: unit, integration against a real MinIO, manifests, compose
# and (when podman is present) the container image. Installs what the tests
# need first (scripts/tools.sh). With CI=true a skipped test fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/tools.sh
PATH="$(go env GOPATH)/bin:$PATH"
export PATH
# The helm the chart's tests run (built and cached by scripts/tools.sh).
HELM=${HELM:-$(test/e2e/tools.sh helm | tail -n 1)/bin/helm}
export HELM

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
go test -count=1 -timeout 30m -v ./... >"$log" 2>&1 || status=$?
# The full log is long: show the package lines and the skips; on failure,
# each failing test with what it logged.
grep -E '^(ok|FAIL|panic:|\?|(    )*--- SKIP)' "$log" || true
if [ "$status" -ne 0 ]; then
  echo "--- go test failed (exit $status):"
  grep -E -A30 '^(    )*--- FAIL|^panic:' "$log" | head -n 300
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
