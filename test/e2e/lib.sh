# shellcheck shell=bash
# Shared by the files of the e2e suite (run.sh, cluster.sh, checks-*.sh):
# background processes stopped by PID at exit, waiting, certificates,
# kubeconfigs, token claims; checks, phases and free ports come from
# test/lib.sh. Source it after `set -euo pipefail` with $REPO_ROOT set and $W
# the suite's work directory.

# shellcheck source-path=SCRIPTDIR
# shellcheck source=../lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
LIB_WORK=$W

# Background processes, stopped in reverse order at exit.
bg_pids=()
bg_names=()

# start NAME CMD...: runs CMD in the background, output in $W/logs/NAME.log.
start() {
  local name=$1
  shift
  "$@" >"$W/logs/$name.log" 2>&1 &
  bg_pids+=($!)
  bg_names+=("$name")
}

# stop_all: SIGTERM each process started, newest first, then SIGKILL what
# is left after 10 s.
stop_all() {
  local i pid
  for ((i = ${#bg_pids[@]} - 1; i >= 0; i--)); do
    pid=${bg_pids[i]}
    kill -TERM "$pid" 2>/dev/null || continue
    for _ in $(seq 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      printf 'teardown: %s (pid %s) ignored SIGTERM; SIGKILL\n' "${bg_names[i]}" "$pid" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
  done
}

# alive NAME PID: fails when the process ended (and shows its log).
alive() {
  kill -0 "$2" 2>/dev/null && return 0
  tail -n 30 "$W/logs/$1.log" >&2
  return 1
}

# wait_for SECONDS CMD...: retries CMD every 0.5 s until it succeeds.
wait_for() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.5
  done
}

# Certificates: one CA, EC P-256 leaves.
mkca() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj "/CN=uploader-e2e-ca" -keyout "$W/pki/ca.key" -out "$W/pki/ca.crt" 2>/dev/null
}

# mkcert NAME SUBJECT [SAN]: $W/pki/NAME.{crt,key}, for server and client auth.
mkcert() {
  local name=$1 subject=$2 san=${3:-}
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "$subject" \
    -keyout "$W/pki/$name.key" -out "$W/pki/$name.csr" 2>/dev/null
  {
    echo "basicConstraints=CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=serverAuth,clientAuth"
    [[ -z $san ]] || echo "subjectAltName=$san"
  } >"$W/pki/$name.ext"
  openssl x509 -req -in "$W/pki/$name.csr" -CA "$W/pki/ca.crt" -CAkey "$W/pki/ca.key" -CAcreateserial \
    -days 2 -extfile "$W/pki/$name.ext" -out "$W/pki/$name.crt" 2>/dev/null
}

# kubeconfig NAME SERVER: $W/NAME.kubeconfig with the client certificate NAME.
kubeconfig() {
  cat >"$W/$1.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
  - name: e2e
    cluster:
      server: $2
      certificate-authority: $W/pki/ca.crt
users:
  - name: $1
    user:
      client-certificate: $W/pki/$1.crt
      client-key: $W/pki/$1.key
contexts:
  - name: e2e
    context: {cluster: e2e, user: $1}
current-context: e2e
EOF
}

# jwt_claims FILE: the payload of the JWT in FILE, as JSON (never the token).
jwt_claims() {
  local p
  p=$(cut -d. -f2 <"$1" | tr '_-' '/+')
  while ((${#p} % 4)); do p+="="; done
  base64 -d <<<"$p"
}
