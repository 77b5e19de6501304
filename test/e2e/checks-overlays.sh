# shellcheck shell=bash
# shellcheck disable=SC2034,SC2154 # reads what run.sh and cluster.sh set; sets what checks-rotation.sh reads
# Checks of the eight shipped overlays, sourced by run.sh: the shipped
# manifests in the restricted namespace, the real apply of the test overlays,
# each workload (Job or Deployment) with its mode, region, least privilege,
# objects and stop. It starts the rotation Deployment first, so that its ~10
# minutes run alongside every other check (checks-rotation.sh ends it).

phase "rotation deployment"
# Started first, so its ~10 minutes run alongside everything else: IRSA with
# the shortest token lifetime the apiserver allows (600 s; the kubelet
# rewrites the token at 80 % of it).
ROT=irsa-rotation
rot_port=$(free_port)
UPLOAD_INTERVAL=5s gen_overlay "$ROT" irsa-deployment "e2e-$ROT" "$rot_port" 600 || die "render $ROT"
apply_test_overlay "$ROT" || die "apply $ROT: $(cat "$W/logs/$ROT.apply")"

# audit_violations: how many audit events of the namespace "uploader" carry
# a Pod Security audit violation naming hostNetwork.
audit_violations() {
  jq -c 'select(.objectRef.namespace == "uploader" and
    (.annotations["pod-security.kubernetes.io/audit-violations"] // "" | test("hostNetwork")))' \
    "$W/logs/audit.log" 2>/dev/null | wc -l
}
audited_more() {
  local now
  now=$(audit_violations)
  ((now > $1)) || { echo "audit events with a Pod Security violation: $1 before, $now after"; return 1; }
  echo "$((now - $1)) audit event(s) with pod-security.kubernetes.io/audit-violations"
}

# ---------------------------------------------------------------------------
phase "shipped manifests"
# The shipped overlays unchanged, in the shipped Namespace "uploader"
# (restricted for enforce, warn and audit): server dry-run, strict
# validation, zero warnings.
kc apply -f deploy/base/common/namespace.yaml >/dev/null || die "namespace uploader"
declare -A port
for o in "${OVERLAYS[@]}"; do
  kubectl kustomize "deploy/overlays/$o" >"$W/rendered/shipped-$o.yaml"
  if kc apply --dry-run=server --validate=strict -f "$W/rendered/shipped-$o.yaml" >/dev/null 2>"$W/logs/shipped-$o.dryrun" &&
    ! grep -q . "$W/logs/shipped-$o.dryrun"; then
    pass "$o: shipped manifest passes server dry-run, --validate=strict, namespace restricted (enforce, warn, audit), zero warnings"
  else
    fail "$o: shipped manifest server dry-run" "$(tr '\n' ' ' <"$W/logs/shipped-$o.dryrun")"
  fi
  port[$o]=$(free_port)
  gen_overlay "$o" "$o" "e2e-$o" "${port[$o]}" || die "render test overlay $o"
  # Pod Security reports a non-compliant workload at apply time: the test
  # overlay's hostNetwork variant, dry-run into the shipped namespace, is
  # warned about (warn; Kubernetes also defaults warn to the enforce level)
  # and recorded in the audit log (audit; not defaulted).
  audited_before=$(audit_violations)
  sed -E "s/^(  namespace: )e2e-$o\$/\1uploader/" "$W/rendered/$o.yaml" |
    kc apply --dry-run=server -l app.kubernetes.io/name=uploader -f - >/dev/null 2>"$W/logs/$o.warn" || true
  check "$o: Pod Security warns at apply time for a non-compliant (hostNetwork) variant" \
    grep -q 'would violate PodSecurity "restricted:latest".*hostNetwork' "$W/logs/$o.warn"
  check "$o: Pod Security audit (restricted) records the non-compliant variant in the audit log" \
    audited_more "$audited_before"
done

# ---------------------------------------------------------------------------
phase "apply test overlays"
for o in "${OVERLAYS[@]}"; do
  if apply_test_overlay "$o"; then
    check "$o: real apply of the test overlay (namespace e2e-$o); its only warnings name what it adds (host namespaces, probe host)" \
      only_test_overlay_warnings "$W/logs/$o.apply"
  else
    fail "$o: real apply" "$(tr '\n' ' ' <"$W/logs/$o.apply")"
  fi
done

# The rotation pod's first token and refresh count, recorded as soon as it
# is up (before the kubelet can rewrite the token).
metric() { curl -sf "http://127.0.0.1:$rot_port/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
rot_exp="" rot_hash="" rot_refresh=""
if kc -n "e2e-$ROT" wait --for=condition=Available deployment/uploader --timeout=120s >/dev/null; then
  rot_token=$(token_file "$ROT")
  rot_exp=$(jwt_claims "$rot_token" | jq -r '.exp')
  rot_hash=$(sha256sum <"$rot_token")
  rot_refresh=$(metric uploader_aws_credential_refreshes_total)
fi

# ---------------------------------------------------------------------------

job_done() {
  local ns=e2e-$1 j
  kc -n "$ns" wait --for=condition=Complete job/uploader --timeout=240s >/dev/null || {
    kc -n "$ns" get job,pods -o wide
    kc -n "$ns" logs job/uploader --tail=5
    return 1
  }
  j=$(kc -n "$ns" get job uploader -o json)
  jq -e '.status.succeeded == 1' <<<"$j" >/dev/null || { echo "succeeded $(jq .status.succeeded <<<"$j")"; return 1; }
  local pod code
  pod=$(pod_of "$1")
  code=$(kc -n "$ns" get pod "$pod" -o jsonpath='{.status.containerStatuses[0].state.terminated.exitCode}')
  [[ $code == 0 ]] || { echo "exit code $code"; return 1; }
  kc -n "$ns" logs "$pod" >"$W/logs/$1.pod.log"
  local n
  n=$(jq -c 'select(.msg == "object uploaded")' "$W/logs/$1.pod.log" | wc -l)
  [[ $n == 3 ]] || { echo "$n uploads logged, want 3 (UPLOAD_COUNT)"; return 1; }
  grep -q '"msg":"upload count reached, exiting"' "$W/logs/$1.pod.log" || { echo "no exit line"; return 1; }
}

deployment_ready() {
  local ns=e2e-$1 pod
  kc -n "$ns" wait --for=condition=Available deployment/uploader --timeout=180s >/dev/null || {
    kc -n "$ns" get pods -o wide
    return 1
  }
  pod=$(pod_of "$1")
  kc -n "$ns" get pod "$pod" -o json | jq -e '
    ([.status.conditions[] | select(.type == "Ready")][0].status == "True") and
    (.spec.containers[0].readinessProbe.httpGet.path == "/readyz") and
    (.spec.containers[0].livenessProbe.httpGet.path == "/healthz")' >/dev/null ||
    { echo "pod $pod not Ready through /readyz"; return 1; }
  # A few uploads, then the log (it stays: the pod is running).
  local deadline=$((SECONDS + 60))
  until [[ $(kc -n "$ns" logs "$pod" | grep -c '"msg":"object uploaded"') -ge 2 ]]; do
    ((SECONDS < deadline)) || { echo "fewer than 2 uploads in 60 s"; return 1; }
    sleep 1
  done
  kc -n "$ns" logs "$pod" >"$W/logs/$1.pod.log"
}

# logged_mode NAME: the start line names the expected mode, the region is the
# ConfigMap's although the webhook injects another, least privilege holds.
logged_mode() {
  local log=$W/logs/$1.pod.log want got
  want=$(mode_of "$1")
  got=$(jq -r 'select(.msg == "uploader starting") | .credential_mode' "$log")
  [[ $got == "$want" ]] || { echo "credential_mode \"$got\", want \"$want\""; return 1; }
  got=$(jq -r 'select(.msg == "aws credentials resolved") | .mode' "$log" | head -n 1)
  [[ $got == "$want" ]] || { echo "credentials resolved as \"$got\", want \"$want\""; return 1; }
  jq -r 'select(.msg == "aws credentials resolved") | "mode \(.mode), source \(.source)"' "$log" | head -n 1
}
logged_region() {
  local got
  got=$(jq -r 'select(.msg == "uploader starting") | .region' "$W/logs/$1.pod.log")
  [[ $got == "$OVERLAY_REGION" ]] || { echo "region \"$got\", want the ConfigMap's \"$OVERLAY_REGION\" (webhook: $WEBHOOK_REGION)"; return 1; }
  echo "region $got"
}
least_privilege() {
  grep -q '"msg":"least privilege holds"' "$W/logs/$1.pod.log" || { echo "no \"least privilege holds\" line"; return 1; }
  jq -se 'map(select(.msg == "uploader starting"))[0].config.least_privilege_check == "enforce"' \
    "$W/logs/$1.pod.log" >/dev/null || { echo "LEAST_PRIVILEGE_CHECK is not enforce in the start line"; return 1; }
}
deployment_metrics() {
  local m
  m=$(curl -sf "http://127.0.0.1:${port[$1]}/metrics") || { echo "no /metrics"; return 1; }
  grep -q '^uploader_least_privilege_ok 1$' <<<"$m" || { echo "uploader_least_privilege_ok not 1"; return 1; }
  grep -q "^uploader_aws_credentials_info{mode=\"$(mode_of "$1")\"" <<<"$m" || { echo "no credentials_info for the mode"; return 1; }
}

# stopped_by_signal NAME: kubectl delete pod; the uploader logs "stopped by
# signal" and the pod is gone well inside its 30 s grace period.
stopped_by_signal() {
  local ns=e2e-$1 pod t0 elapsed lp
  pod=$(pod_of "$1")
  timeout 60 kubectl --kubeconfig "$W/admin.kubeconfig" -n "$ns" logs -f "$pod" >"$W/logs/$1.stop.log" 2>&1 &
  lp=$!
  sleep 1
  t0=$(date +%s%N)
  kc -n "$ns" delete pod "$pod" --wait=true --timeout=60s >/dev/null || { echo "delete failed"; return 1; }
  elapsed=$((($(date +%s%N) - t0) / 1000000))
  wait "$lp" || true
  grep -q '"msg":"stopped by signal"' "$W/logs/$1.stop.log" || { echo "no \"stopped by signal\" line; log ends: $(tail -n 2 "$W/logs/$1.stop.log")"; return 1; }
  ((elapsed < GRACE_LIMIT * 1000)) || { echo "took ${elapsed} ms, want < ${GRACE_LIMIT} s"; return 1; }
  echo "gone after ${elapsed} ms"
}

# workload_checks NAME: the checks of one workload, a test overlay's or a
# Helm release's (checks-helm.sh).
workload_checks() {
  local o=$1
  if [[ $o == *-job ]]; then
    check "$o: Job completes: 3 uploads, exit 0, succeeded 1" job_done "$o" || true
  else
    check "$o: Deployment Available, its pod Ready through its own /readyz probe, uploading" deployment_ready "$o" || true
  fi
  if [[ ! -s $W/logs/$o.pod.log ]]; then
    fail "$o: later checks need the pod's log"
    return 0
  fi
  check "$o: log names credential mode $(mode_of "$o")" logged_mode "$o"
  check "$o: region is the ConfigMap's $OVERLAY_REGION, not the webhook's $WEBHOOK_REGION" logged_region "$o"
  check "$o: LEAST_PRIVILEGE_CHECK=enforce passes" least_privilege "$o"
  if [[ $o == *-deployment ]]; then
    check "$o: metrics: least_privilege_ok 1, credentials_info mode $(mode_of "$o")" deployment_metrics "$o"
    check "$o: objects in MinIO byte-identical to the source" objects_identical "$o" 2
    check "$o: kubectl delete pod: \"stopped by signal\", gone within ${GRACE_LIMIT} s (grace 30 s)" stopped_by_signal "$o"
  else
    check "$o: objects in MinIO byte-identical to the source" objects_identical "$o" 3
  fi
}

phase "workloads"
for o in "${OVERLAYS[@]}"; do workload_checks "$o"; done
