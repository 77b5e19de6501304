#!/bin/sh
# podman-healthchecks.sh runs the healthchecks of a compose project's running
# containers, every few seconds, until stopped. Podman schedules healthchecks
# with systemd timers; without systemd (containers, CI machines, WSL) none
# runs ("unable to get systemd connection to add healthchecks"), every
# container stays "starting" and each `condition: service_healthy` of
# docker-compose.yaml waits forever. Run this next to `docker compose up`:
#
#   deploy/compose/podman-healthchecks.sh &
#
# Arguments: global podman options (e.g. --root DIR --runroot DIR), passed to
# every podman call. Env: COMPOSE_PROJECT_NAME (uploader), HEALTHCHECK_EVERY
# (seconds, 3). A check that fails is recorded by podman like any other; the
# container's own retries and start period apply.
set -u
project=${COMPOSE_PROJECT_NAME:-uploader}
every=${HEALTHCHECK_EVERY:-3}
while :; do
  # Only containers with a healthcheck show a health state in their status.
  podman "$@" ps --filter "label=com.docker.compose.project=$project" --format '{{.ID}} {{.Status}}' 2>/dev/null |
    while read -r id status; do
      case $status in
      *"(starting)"* | *"(healthy)"* | *"(unhealthy)"*) podman "$@" healthcheck run "$id" </dev/null >/dev/null 2>&1 ;;
      esac
    done
  sleep "$every"
done
