# shellcheck shell=bash
# The one shell library of the suites and scripts: checks and their
# PASS/FAIL/SKIP lines, checks that cannot run, phases and their timings, free
# loopback ports, random names. Source it; set LIB_WORK to a directory of the
# run first (free_port keeps the ports it handed out there).
#
#   pass NAME / fail NAME [DETAIL]   one line per check, counted
#   cannot NAME WHY                  a check that cannot run: FAIL under
#                                    CI=true, SKIP otherwise
#   check NAME CMD...                PASS when CMD exits 0, else FAIL; cannot
#                                    run after a failed setup
#   setup NAME CMD...                a step later checks need (GLOBAL=1: every
#                                    later check; else the phase's)
#   phase NAME                       ends the phase before (its time) and starts NAME
#   die MESSAGE                      a FAIL, and the run ends (exit 1)
#   report NAME                      the timings and "NAME: N passed, N failed";
#                                    returns 1 on any failure (or a skip under CI)
#   free_port                        a TCP port free on 127.0.0.1, not handed out before
#   random_hex N                     N random bytes in hex
#   log MESSAGE                      a progress line on stderr

passed=0
failed=0
skipped=0
timings=()
phase_name=""
phase_start=$SECONDS
lib_start=$SECONDS
# Why every remaining check (cannot_all), or those of this phase
# (cannot_phase), cannot run: set by a failed setup.
cannot_all=""
cannot_phase=""

log() { printf '==> %s\n' "$*" >&2; }

pass() {
  printf 'PASS: %s\n' "$1"
  passed=$((passed + 1))
}

fail() {
  printf 'FAIL: %s%s\n' "$1" "${2:+ ($2)}"
  failed=$((failed + 1))
}

cannot() {
  if [[ ${CI:-} == true ]]; then
    fail "$1" "cannot run: $2"
  else
    printf 'SKIP: %s (cannot run: %s)\n' "$1" "$2"
    skipped=$((skipped + 1))
  fi
}

# check NAME CMD...: PASS with the last line CMD printed (what it measured),
# or FAIL with the end of its output. CMD runs in a subshell ($(...)): it
# cannot end the run or change its variables. Returns 0 either way (a failure is
# counted, not fatal), so `set -e` suites go on to their next check. The
# commands print what they saw, never a secret or a token.
check() {
  local name=$1 out why=${cannot_all:-$cannot_phase}
  shift
  if [[ -n $why ]]; then
    cannot "$name" "$why"
    return 0
  fi
  if out=$("$@" 2>&1); then
    out=$(printf '%s' "$out" | tail -n 1 | cut -c1-160)
    pass "$name${out:+: $out}"
  else
    fail "$name" "$(printf '%s' "$out" | tail -n 5 | tr '\n' ' ' | cut -c1-600)"
  fi
  return 0
}

# setup NAME CMD...: a step the checks of this phase need (with GLOBAL=1,
# those of every later phase). It runs in this shell (it may set variables);
# on failure it is a FAIL and those checks cannot run. Returns CMD's status.
setup() {
  local name=$1 out
  shift
  [[ -z $cannot_all && -z $cannot_phase ]] || return 1
  out=$(mktemp)
  if ! "$@" >"$out" 2>&1; then
    tail -n 20 "$out" >&2
    if [[ ${GLOBAL:-0} == 1 ]]; then cannot_all="$name failed"; else cannot_phase="$name failed"; fi
    fail "setup: $name" "$(tail -n 12 "$out" | tr '\n' ' ' | cut -c1-1500)"
    rm -f "$out"
    return 1
  fi
  rm -f "$out"
}

# phase NAME: ends the current phase (printing and recording its time) and
# starts NAME. end_phase ends it without starting another.
phase() {
  end_phase
  phase_name=$1
  phase_start=$SECONDS
  cannot_phase=""
  printf '== %s\n' "$phase_name"
}
end_phase() {
  if [[ -n $phase_name ]]; then
    timings+=("$(printf '%-28s %4d s' "$phase_name" $((SECONDS - phase_start)))")
    printf -- '-- %s: %d s\n' "$phase_name" $((SECONDS - phase_start))
  fi
  phase_name=""
}

# die MESSAGE: the run cannot go on; counted as a failure.
die() {
  fail "${phase_name:-setup}: $1"
  exit 1
}

# report NAME: ends the phase, prints the timings and the last line
# "NAME: N passed, N failed"; returns 1 when a check failed, or was skipped
# under CI=true.
report() {
  end_phase
  echo "== timings"
  printf '   %s\n' "${timings[@]}"
  printf '   %-28s %4d s\n' total $((SECONDS - lib_start))
  local last="$1: $passed passed, $failed failed"
  ((skipped == 0)) || last+=", $skipped skipped"
  echo "$last"
  ((failed == 0)) && { [[ ${CI:-} != true ]] || ((skipped == 0)); }
}

# free_port: a TCP port free on 127.0.0.1 now (the kernel picks it), never
# one handed out before in this run: callers bind it a little later, and use
# $(free_port), so the ports handed out are kept in $LIB_WORK/ports.
free_port() {
  local p
  while :; do
    p=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])') || return 1
    grep -qx "$p" "${LIB_WORK:?LIB_WORK: the run directory}/ports" 2>/dev/null || break
  done
  echo "$p" >>"$LIB_WORK/ports"
  echo "$p"
}

random_hex() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }
