# shellcheck shell=bash
# shellcheck disable=SC2034 # the settings are used by the scripts that source this file
# Shared settings and helpers for eks-demo.sh and eks-clean.sh; sourced, not run.
#
# Every aws, kubectl and eksctl call goes through run, query, exists or
# require, so DRY_RUN=1 prints each call ("+ aws ...") to stderr instead of
# making it, and needs none of those tools installed.

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
AWS_DIR="$REPO_ROOT/deploy/aws"

DRY_RUN=${DRY_RUN:-0}
CLUSTER_NAME=${CLUSTER_NAME:-uploader-demo}
NODEGROUP_NAME=${NODEGROUP_NAME:-default}
AWS_REGION=${AWS_REGION:-${AWS_DEFAULT_REGION:-eu-west-1}}
# The aws CLI v1 reads only AWS_DEFAULT_REGION (v2 and the SDKs read
# AWS_REGION first): both, so every tool uses the region asked for.
AWS_DEFAULT_REGION=$AWS_REGION
export AWS_REGION AWS_DEFAULT_REGION
# Regional STS for the CLI too (the walkthrough used the global endpoint).
export AWS_STS_REGIONAL_ENDPOINTS=regional
NAMESPACE=uploader
SERVICE_ACCOUNT=uploader
# Every IAM name starts with NAME_PREFIX and every taggable resource carries
# TAG_KEY=TAG_VALUE, so eks-clean.sh finds what eks-demo.sh made.
NAME_PREFIX=uploader-demo
TAG_KEY=eks-least-privilege
TAG_VALUE=uploader-demo
POLICY_NAME="$NAME_PREFIX-put-only"
STATIC_USER="$NAME_PREFIX-static"
IRSA_ROLE="$NAME_PREFIX-irsa"
POD_IDENTITY_ROLE="$NAME_PREFIX-pod-identity"
# The ECR repository eks-demo.sh pushes the image it builds to.
ECR_REPOSITORY=$NAME_PREFIX/uploader
STATIC_SECRET=uploader-aws-static

# dry reports whether DRY_RUN is on.
dry() { [[ "$DRY_RUN" == 1 ]]; }

# show prints a command as it would run.
show() {
  local out="+"
  local arg
  for arg in "$@"; do out+=" $(printf '%q' "$arg")"; done
  printf '%s\n' "$out" >&2
}

# run makes a call, or prints it under DRY_RUN=1.
run() {
  if dry; then
    show "$@"
    return 0
  fi
  "$@"
}

# query makes a call and prints its output; under DRY_RUN=1 it prints the
# call and then the placeholder given as first argument.
query() {
  local placeholder=$1
  shift
  if dry; then
    show "$@"
    printf '%s\n' "$placeholder"
    return 0
  fi
  "$@"
}

# probe asks whether a resource exists with a describe-style call: 0 yes, 1
# no (the call failed with a not-found error), 2 the call failed otherwise
# (access denied, expired credentials, unreachable cluster: its error is
# printed), which is not an answer. Under DRY_RUN=1 it prints the call and
# answers DRY_RUN_EXISTS (0: no, so eks-demo.sh shows its create calls;
# eks-clean.sh sets 1 to show its delete calls).
DRY_RUN_EXISTS=0
probe() {
  if dry; then
    show "$@"
    [[ "$DRY_RUN_EXISTS" == 1 ]]
    return
  fi
  local err
  if err=$("$@" 2>&1 >/dev/null); then
    return 0
  fi
  case "$err" in
    *NoSuchEntity* | *NotFound* | *"Not Found"* | *NoSuchBucket* | *"(404)"* | *" not found"*) return 1 ;;
  esac
  printf '%s\n' "$err" >&2
  return 2
}

# exists is probe for eks-demo.sh: a call that fails other than with
# not-found ends the script.
exists() {
  local rc=0
  probe "$@" || rc=$?
  [[ $rc -ne 2 ]] || die "cannot tell whether the resource exists: $*"
  return "$rc"
}

# require fails with a hint unless a describe-style call succeeds; under
# DRY_RUN=1 it prints the call and answers yes.
require() {
  local hint=$1
  shift
  if dry; then
    show "$@"
    return 0
  fi
  local err
  err=$("$@" 2>&1 >/dev/null) || die "$hint ($err)"
}

die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

log() { printf '==> %s\n' "$*" >&2; }

# account_id prints the caller's AWS account.
account_id() {
  query 111122223333 aws sts get-caller-identity --query Account --output text
}

# wait_for retries a call every 2 s until it succeeds or WAIT_SECONDS (120)
# pass: for what AWS has no waiter for, such as a new access key that STS
# does not know yet (IAM is eventually consistent).
WAIT_SECONDS=${WAIT_SECONDS:-120}
wait_for() {
  local what=$1 deadline=$((SECONDS + WAIT_SECONDS))
  shift
  if dry; then
    show "$@"
    return 0
  fi
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || die "$what: not usable after ${WAIT_SECONDS}s"
    sleep 2
  done
}

# default_bucket prints the demo bucket name for an account.
default_bucket() {
  printf '%s-%s-%s\n' "$NAME_PREFIX" "$1" "$AWS_REGION"
}

# render_template replaces {{NAME}} placeholders in a file; arguments are
# NAME=value pairs. Values are ARNs, names and prefixes: no sed specials but /.
render_template() {
  local file=$1
  shift
  local expr=() pair
  for pair in "$@"; do
    expr+=(-e "s|{{${pair%%=*}}}|${pair#*=}|g")
  done
  sed "${expr[@]}" "$file"
}
