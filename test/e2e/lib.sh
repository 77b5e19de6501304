# shellcheck shell=bash
# Shared by test/e2e/run.sh: checks and their PASS/FAIL lines, phases and
# their timings, background processes stopped by PID at exit, free loopback
# ports, certificates. Source it after `set -euo pipefail` with $W set to the
# suite's work directory.

passed=0
failed=0
phase_name=""
phase_start=0
timings=()

# pass NAME / fail NAME [DETAIL]: one line per check.
pass() {
  printf 'PASS: %s\n' "$1"
  passed=$((passed + 1))
}
fail() {
  printf 'FAIL: %s%s\n' "$1" "${2:+ ($2)}"
  failed=$((failed + 1))
}

# check NAME CMD...: PASS when CMD exits 0, with its last line of output
# (what it measured); else FAIL with the end of its output. The commands
# print what they saw, never a secret or a token.
check() {
  local name=$1 out
  shift
  if out=$("$@" 2>&1); then
    out=$(printf '%s' "$out" | tail -n 1 | cut -c1-160)
    pass "$name${out:+: $out}"
  else
    fail "$name" "$(printf '%s' "$out" | tail -c 400 | tr '\n' ' ')"
  fi
}

# phase NAME: ends the current phase (printing its time) and starts NAME.
phase() {
  end_phase
  phase_name=$1
  phase_start=$SECONDS
  printf '== %s\n' "$phase_name"
}
end_phase() {
  if [[ -n $phase_name ]]; then
    timings+=("$(printf '%-28s %4d s' "$phase_name" $((SECONDS - phase_start)))")
    printf -- '-- %s: %d s\n' "$phase_name" $((SECONDS - phase_start))
  fi
  phase_name=""
}

# die MESSAGE: the suite cannot go on; counted as a failure.
die() {
  fail "${phase_name:-setup}: $1"
  exit 1
}

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

# free_port: a TCP port free on 127.0.0.1 now, never one handed out before
# in this run (the suite binds them a little later). Callers use $(...), so
# the ports handed out are kept in a file, not a variable.
free_port() {
  local p
  while :; do
    p=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    grep -qx "$p" "$W/ports" 2>/dev/null || break
  done
  echo "$p" >>"$W/ports"
  echo "$p"
}

random_hex() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }

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
