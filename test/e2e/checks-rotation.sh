# shellcheck shell=bash
# shellcheck disable=SC2154 # reads what checks-overlays.sh set
# The credential rotation check, sourced last by run.sh: it waits for the
# first token of the rotation Deployment (started by checks-overlays.sh) to
# expire, about 10 minutes after it started.

phase "credential rotation"
rotation() {
  local ns=e2e-$ROT f exp=$rot_exp hash0=$rot_hash refresh0=$rot_refresh up_at_exp deadline
  [[ -n $exp && -n $refresh0 ]] || { echo "the rotation pod's first token was not recorded"; return 1; }
  f=$(token_file "$ROT")
  echo "first token expires in $((exp - $(date +%s))) s; refreshes $refresh0"
  # Past the first token's expiry every credential MinIO issued for it is
  # dead (MinIO ends web-identity credentials with the token): uploads after
  # it prove the uploader moved to the kubelet's rewritten token.
  while (($(date +%s) < exp + 5)); do sleep 5; done
  up_at_exp=$(metric uploader_uploads_total)
  deadline=$((SECONDS + 60))
  until (($(metric uploader_uploads_total | cut -d. -f1) > ${up_at_exp%.*} + 1)); do
    ((SECONDS < deadline)) || { echo "no upload in the 60 s after the first token expired (uploads $up_at_exp)"; return 1; }
    sleep 2
  done
  [[ $(sha256sum <"$f") != "$hash0" ]] || { echo "the kubelet did not rewrite the token"; return 1; }
  local refresh1 fails restarts
  refresh1=$(metric uploader_aws_credential_refreshes_total)
  ((${refresh1%.*} > ${refresh0%.*})) || { echo "refreshes $refresh0 -> $refresh1"; return 1; }
  fails=$(curl -sf "http://127.0.0.1:$rot_port/metrics" | awk '$1 ~ /^uploader_upload_failures_total\{.*stage="credentials"/ {s += $2} END {print s + 0}')
  [[ $fails == 0 ]] || { echo "$fails credential failures"; return 1; }
  restarts=$(kc -n "$ns" get pods -l app.kubernetes.io/name=uploader -o jsonpath='{.items[0].status.containerStatuses[0].restartCount}')
  [[ $restarts == 0 ]] || { echo "$restarts restarts"; return 1; }
  echo "refreshes $refresh0 -> $refresh1; uploads $up_at_exp at expiry -> $(metric uploader_uploads_total)"
}
check "irsa rotation: 600 s token rewritten by the kubelet; refreshes_total rose; uploads go on past the first token's expiry, no credential failure, no restart" \
  rotation
check "irsa rotation: objects in MinIO byte-identical to the source" objects_identical "$ROT" 10
kc -n "e2e-$ROT" logs deployment/uploader >"$W/logs/$ROT.pod.log" 2>&1 || true
