#!/usr/bin/env bash
# make e2e: the uploader on a real Kubernetes control plane and node, for all
# eight shipped overlays (static-keys, node-role, irsa, pod-identity x Job,
# Deployment), on 127.0.0.1 only. See README.md next to this file for what it
# starts, proves and cannot prove.
#
# Starts, each as a background process with its state under one temporary
# directory, and stops by PID at exit: etcd, kube-apiserver (TLS, RBAC,
# NodeRestriction, PodSecurity, its own https issuer), kube-controller-manager,
# kube-scheduler, containerd, kubelet, the real amazon-eks-pod-identity-webhook
# (out of cluster, failurePolicy Fail, a region other than the overlays'),
# MinIO trusting the kube-apiserver as its OpenID provider, the IMDSv2
# stand-in (cmd/standin), a Pod Identity agent and a fixed image source
# (test/e2e/fixture).
#
# Prints one PASS/FAIL line per check, per-phase timings, and finally
# "e2e: N passed, N failed"; exits 1 on any failure. Needs root. With CI=true
# a check that cannot run fails; outside CI a machine that cannot run the
# suite at all (not root) skips it, saying so. E2E_KEEP=1 keeps the work
# directory (logs) at exit.
set -euo pipefail
# The whole script is one compound command, parsed before it runs: editing
# the file during a run cannot change the run.
{

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$REPO_ROOT"

if [[ $(id -u) != 0 ]]; then
  if [[ ${CI:-} == true ]]; then
    echo "FAIL: e2e needs root (kubelet, containerd)"
    echo "e2e: 0 passed, 1 failed"
    exit 1
  fi
  echo "SKIP: e2e needs root (kubelet, containerd); run it as root, or in CI"
  exit 0
fi

W=$(mktemp -d /tmp/uploader-e2e.XXXXXX)
mkdir -p "$W"/{logs,pki,bin,overlays,rendered,kubelet,tokens,src} "$W/suite/test/e2e"
# The suite's files are sourced from a copy: editing them during a run
# cannot change the run either.
cp test/lib.sh "$W/suite/test/"
cp test/e2e/*.sh "$W/suite/test/e2e/"
S=$W/suite/test/e2e
# shellcheck source=test/e2e/lib.sh
. "$S/lib.sh"

KUBE_VERSION=v1.37.2
OVERLAYS=(static-keys-job static-keys-deployment node-role-job node-role-deployment
  irsa-job irsa-deployment pod-identity-job pod-identity-deployment)
# The Helm chart's releases (checks-helm.sh): <mode>-helm-<workload>.
HELM_RELEASES=(static-keys-helm-job static-keys-helm-deployment node-role-helm-job node-role-helm-deployment
  irsa-helm-job irsa-helm-deployment pod-identity-helm-job pod-identity-helm-deployment)
WEBHOOK_REGION=us-west-2 # the "cluster's" region; the overlays say eu-west-1
OVERLAY_REGION=eu-west-1
BUCKET=uploader-e2e
GRACE_LIMIT=15 # seconds a deleted pod may take to stop: half its 30 s grace period
kubelet_pid=""
cgroup_existed=$([[ -d /sys/fs/cgroup/memory/kubepods || -d /sys/fs/cgroup/kubepods ]] && echo 1 || echo 0)

teardown() {
  local rc=$?
  set +e
  end_phase
  printf '== teardown\n'
  local t=$SECONDS
  # The kubelet first, so it restarts nothing; then every container still
  # running, while containerd can still be asked.
  if [[ -n $kubelet_pid ]]; then kill -TERM "$kubelet_pid" 2>/dev/null && wait "$kubelet_pid" 2>/dev/null; fi
  if [[ -S $W/containerd/containerd.sock ]]; then
    local id
    for id in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks kill -s SIGKILL "$id" >/dev/null 2>&1; done
    sleep 1
    for id in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks delete -f "$id" >/dev/null 2>&1; done
    for id in $(ctr_ containers ls -q 2>/dev/null); do ctr_ containers rm "$id" >/dev/null 2>&1; done
  fi
  stop_all
  # containerd's shims outlive it; they are ours when their command line
  # names our containerd socket. Stopped by PID.
  local p
  for p in /proc/[0-9]*; do
    if [[ $(tr '\0' ' ' 2>/dev/null <"$p/cmdline") == *"-address $W/containerd/containerd.sock"* ]]; then
      kill -KILL "${p#/proc/}" 2>/dev/null
    fi
  done
  # Mounts the kubelet, containerd and podman made under $W, deepest first.
  local m
  awk -v w="$W/" 'index($5, w) == 1 {print $5}' /proc/self/mountinfo | sort -r | while read -r m; do
    umount -l "$m" 2>/dev/null
  done
  if [[ $cgroup_existed == 0 ]]; then
    find /sys/fs/cgroup/*/kubepods -depth -type d -exec rmdir {} + 2>/dev/null
  fi
  if [[ ${E2E_KEEP:-0} == 1 ]]; then
    echo "work directory kept: $W"
  else
    rm -rf --one-file-system "$W"
  fi
  timings+=("$(printf '%-28s %4d s' teardown $((SECONDS - t)))")
  ((rc == 0 || failed > 0)) || fail "suite ended early (exit $rc)"
  report e2e || exit 1
  exit 0
}
trap teardown EXIT

ctr_() { timeout 20 ctr --address "$W/containerd/containerd.sock" -n k8s.io "$@"; }
kc() { kubectl --kubeconfig "$W/admin.kubeconfig" "$@"; }

# The suite, in order. A new group of checks is a file of its own
# (checks-NAME.sh, using the helpers of lib.sh, test/lib.sh and deploy.sh)
# and one line here, before the rotation check, which waits longest.
# shellcheck source=test/e2e/cluster.sh
. "$S/cluster.sh"             # the cluster, MinIO, the stand-ins, the webhook
# shellcheck source=test/e2e/deploy.sh
. "$S/deploy.sh"              # helpers: render, apply, find pods, tokens, objects
# shellcheck source=test/e2e/checks-overlays.sh
. "$S/checks-overlays.sh"     # the eight shipped overlays; starts the rotation Deployment
# shellcheck source=test/e2e/checks-irsa.sh
. "$S/checks-irsa.sh"
# shellcheck source=test/e2e/checks-pod-identity.sh
. "$S/checks-pod-identity.sh"
# shellcheck source=test/e2e/checks-token.sh
. "$S/checks-token.sh"        # uploader check: the token, its issuer and signature, the CA
# shellcheck source=test/e2e/checks-helm.sh
. "$S/checks-helm.sh"         # the Helm chart, every mode as a Job and a Deployment
# shellcheck source=test/e2e/checks-rotation.sh
. "$S/checks-rotation.sh"     # last: waits for the first token's expiry
}
