#!/bin/sh
# layer.sh DIR: the chart's rendered objects (stdin) become DIR/chart.yaml,
# the resource of the kustomization DIR/kustomization.yaml; prints its build.
set -eu
cat >"$1/chart.yaml"
exec kubectl kustomize "$1"
