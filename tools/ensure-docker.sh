#!/usr/bin/env bash
# Make a Docker engine available: use a running one, else (Debian/Ubuntu, root)
# install Debian's docker.io and start dockerd in the background. The host may
# have no systemd (CI containers, sandboxes), so dockerd is started directly.
set -euo pipefail

log() { printf 'ensure-docker: %s\n' "$*" >&2; }

if docker info >/dev/null 2>&1; then
  exit 0
fi

# shellcheck source=/dev/null
. /etc/os-release 2>/dev/null || true
case "${ID:-}:${ID_LIKE:-}" in
  debian:*|ubuntu:*|*:*debian*) ;;
  *)
    log "no running Docker engine and this is not Debian/Ubuntu (${PRETTY_NAME:-unknown})."
    log "Install and start Docker (or a Docker-compatible engine), then run make again."
    exit 1 ;;
esac
if [ "$(id -u)" -ne 0 ]; then
  log "no running Docker engine; as a non-root user, install docker.io and add yourself to the docker group."
  exit 1
fi

if ! command -v dockerd >/dev/null 2>&1; then
  log "installing Debian's docker.io"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
fi

log "starting dockerd in the background (log: /var/log/wpzo-dockerd.log)"
nohup dockerd >/var/log/wpzo-dockerd.log 2>&1 &
for _ in $(seq 1 60); do
  if docker info >/dev/null 2>&1; then
    exit 0
  fi
  sleep 1
done
log "dockerd did not come up; last lines of its log:"
tail -n 20 /var/log/wpzo-dockerd.log >&2
exit 1
