# shellcheck shell=bash
# The Helm chart (charts/uploader) on the real cluster of test/e2e/run.sh,
# which sources this file before the rotation check (it runs inside that
# check's wait) and names the releases (HELM_RELEASES). For every credential mode,
# a Job and a Deployment: `helm install --wait` of the chart with its
# ci/<mode>-<workload>-values.yaml and the suite's endpoints, through the
# post-renderer test/e2e/helm-plugins/test-layer (hostNetwork and loopback
# probes, as test/e2e/overlay/hostnetwork does for the overlays, and MinIO's
# role ARN, which the chart's schema rightly refuses), then the overlays'
# checks. The chart's own output is checked unchanged too: server dry-run
# with strict validation into the restricted namespace "uploader".
#
# Needs from the files before it: $W, $REPO_ROOT, kc, check/pass/fail/phase,
# port[], $BUCKET, $MINIO, $IMAGES_URL, $IMDS_URL, $ROLE_ARN and the
# overlays' checks (workload_checks, irsa_token_mutation, pi_mutation). The
# releases are named <mode>-helm-<workload> so those functions,
# which take the mode from the name's start and the workload from its end,
# serve them unchanged; their namespace is e2e-<name>, their release
# "uploader" (so the objects are named as the overlays').

# helm_ NAME ARGS...: helm with its state under $W/helm, the test-layer
# plugin, and the suite's kubeconfig.
helm_() {
  HELM_CONFIG_HOME=$W/helm/config HELM_CACHE_HOME=$W/helm/cache HELM_DATA_HOME=$W/helm/data \
    HELM_PLUGINS=$REPO_ROOT/test/e2e/helm-plugins KUBECONFIG=$W/admin.kubeconfig "$HELM" "$@"
}

# helm_release_files NAME: the values and the post-renderer's kustomization
# of release NAME, under $W/helm/NAME.
helm_release_files() {
  local name=$1 d=$W/helm/$1 rel
  mkdir -p "$d"
  rel=$(realpath --relative-to="$d" "$REPO_ROOT")
  {
    cat <<EOV
image:
  repository: localhost/uploader
  tag: e2e
config:
  keyPrefix: e2e/$name/
  bucket: $BUCKET
  imageSourceURL: $IMAGES_URL/
  interval: 3s
  leastPrivilegeCheck: enforce
  extra:
    S3_USE_PATH_STYLE: "true"
    AWS_ENDPOINT_URL_S3: $MINIO
    AWS_ENDPOINT_URL_STS: $MINIO
    METRICS_ADDR: 127.0.0.1:${port[$name]}
EOV
    if [[ $name == node-role-* ]]; then
      echo "    AWS_EC2_METADATA_SERVICE_ENDPOINT: $IMDS_URL"
    else
      echo "    AWS_EC2_METADATA_DISABLED: \"true\""
    fi
    cat <<EOV
job:
  uploadInterval: 3s
metrics:
  port: ${port[$name]}
EOV
  } >"$d/values.yaml"
  {
    cat <<EOK
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - chart.yaml
components:
  - $rel/test/e2e/overlay/hostnetwork
EOK
    if [[ $name == irsa-* ]]; then
      cat <<EOK
patches:
  - target: {kind: ServiceAccount, name: uploader}
    patch: |-
      - op: replace
        path: /metadata/annotations/eks.amazonaws.com~1role-arn
        value: $ROLE_ARN
EOK
    fi
  } >"$d/kustomization.yaml"
}

# helm_install NAME: its namespace (Pod Security "privileged" at enforce for
# hostNetwork, warn and audit "restricted", as the test overlays'), the
# static keys' Secret, then helm install --wait (Jobs: until complete).
helm_install() {
  local name=$1 ns=e2e-$1 mode workload
  mode=${name%%-helm-*}
  workload=${name##*-}
  kc create namespace "$ns" >/dev/null &&
    kc label namespace "$ns" pod-security.kubernetes.io/enforce=privileged \
      pod-security.kubernetes.io/warn=restricted pod-security.kubernetes.io/audit=restricted >/dev/null || return 1
  if [[ $mode == static-keys ]]; then
    kc -n "$ns" create secret generic uploader-aws-static --from-env-file="$W/static.env" >/dev/null || return 1
  fi
  helm_ install uploader "$REPO_ROOT/charts/uploader" --namespace "$ns" \
    --values "$REPO_ROOT/charts/uploader/ci/$mode-$workload-values.yaml" --values "$W/helm/$name/values.yaml" \
    --post-renderer test-layer --post-renderer-args "$W/helm/$name" \
    --wait --wait-for-jobs --timeout 240s
}

# helm_release_deployed NAME: helm's record of the release.
helm_release_deployed() {
  local status
  status=$(helm_ status uploader --namespace "e2e-$1" -o json 2>/dev/null | jq -r '.info.status') || return 1
  [[ $status == deployed ]] || { echo "release status $status"; return 1; }
  echo "release uploader deployed"
}

# chart_dry_run VALUES: the chart's own output for the overlay's values, into
# the restricted namespace "uploader": server dry-run, strict validation,
# zero warnings.
chart_dry_run() {
  local name=$1
  helm_ template uploader "$REPO_ROOT/charts/uploader" --namespace uploader \
    --values "$REPO_ROOT/charts/uploader/ci/$name-values.yaml" >"$W/rendered/chart-$name.yaml" 2>"$W/logs/chart-$name.template" ||
    { cat "$W/logs/chart-$name.template"; return 1; }
  kc apply --dry-run=server --validate=strict -f "$W/rendered/chart-$name.yaml" >/dev/null 2>"$W/logs/chart-$name.dryrun" ||
    { cat "$W/logs/chart-$name.dryrun"; return 1; }
  ! grep -q . "$W/logs/chart-$name.dryrun" || { cat "$W/logs/chart-$name.dryrun"; return 1; }
  echo "$(grep -c '^kind:' "$W/rendered/chart-$name.yaml") objects"
}

# helm_uninstalled NAME: helm uninstall --wait leaves none of the chart's
# objects behind (the Secret made out of band stays).
helm_uninstalled() {
  local ns=e2e-$1 left
  helm_ uninstall uploader --namespace "$ns" --wait --timeout 60s >/dev/null || return 1
  # The garbage collector removes the Job's pods after the Job.
  local deadline=$((SECONDS + 30))
  while left=$(kc -n "$ns" get deployment,job,pod,configmap,serviceaccount,service,networkpolicy \
    -l app.kubernetes.io/instance=uploader -o name) && [[ -n $left ]]; do
    ((SECONDS < deadline)) || { echo "left behind: $left"; return 1; }
    sleep 1
  done
  echo "nothing labelled app.kubernetes.io/instance=uploader left"
}

helm_checks() {
  phase "helm chart"
  local cache o pids=() i
  cache=$(test/e2e/tools.sh helm | tail -n 1) || { fail "helm: test/e2e/tools.sh helm failed"; return 0; }
  HELM=$cache/bin/helm
  for o in static-keys-job static-keys-deployment node-role-job node-role-deployment \
    irsa-job irsa-deployment pod-identity-job pod-identity-deployment; do
    check "chart ($o values): helm template passes server dry-run, --validate=strict, namespace restricted (enforce, warn, audit), zero warnings" \
      chart_dry_run "$o"
  done
  # All releases at once: each waits on its own pods.
  for o in "${HELM_RELEASES[@]}"; do
    port["$o"]=$(free_port)
    helm_release_files "$o"
    helm_install "$o" >"$W/logs/$o.helm" 2>&1 &
    pids+=($!)
  done
  for i in "${!HELM_RELEASES[@]}"; do
    o=${HELM_RELEASES[i]}
    if wait "${pids[i]}"; then
      check "$o: helm install --wait$([[ $o == *-job ]] && echo ' --wait-for-jobs') of charts/uploader succeeds" helm_release_deployed "$o"
    else
      fail "$o: helm install --wait" "$(tail -c 400 "$W/logs/$o.helm" | tr '\n' ' ')"
    fi
  done
  for o in "${HELM_RELEASES[@]}"; do workload_checks "$o"; done
  check "irsa-helm-deployment: the webhook mutated the chart's pod (projected token, AWS_ROLE_ARN, region left to the ConfigMap)" \
    irsa_token_mutation irsa-helm-deployment
  check "pod-identity-helm-deployment: the webhook mutated the chart's pod (projected token, AWS_CONTAINER_CREDENTIALS_FULL_URI)" \
    pi_mutation pod-identity-helm-deployment
  for o in "${HELM_RELEASES[@]}"; do
    check "$o: helm uninstall --wait removes every object of the release" helm_uninstalled "$o"
  done
}

helm_checks
