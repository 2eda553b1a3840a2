#!/usr/bin/env bash
# The storage endpoints of the backups scenario, on the controller (run under its lock,
# /tmp/wpzo-molecule-backups.lock, so one instance of each at a time): moto_server (S3, from the virtualenv) and
# Azurite (Azure Blob Storage's emulator, installed from the npm registry into build/azurite/ on first use).
#   endpoints.sh start ADDRESS MOTO_PORT AZURITE_PORT    fresh, empty endpoints in the background (previous ones stopped)
#   endpoints.sh stop
# Pids in /tmp/wpzo-molecule-backups-{moto,azurite}.pid (the verifier pauses moto_server with SIGSTOP), logs beside
# them. Azurite runs with --disableTelemetry: otherwise it reaches out to the internet.
set -euo pipefail
azurite_version=3.37.0
azurite_prefix="$(cd "$(dirname "$0")/../.." && pwd)/build/azurite"
azurite="$azurite_prefix/node_modules/.bin/azurite-blob"
state=/tmp/wpzo-molecule-backups

stop() { # name
  if [ -f "$state-$1.pid" ]; then
    pid=$(cat "$state-$1.pid")
    kill -CONT "$pid" 2>/dev/null || true
    kill "$pid" 2>/dev/null || true
    # Wait for it to release its port.
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    rm -f "$state-$1.pid"
  fi
}

start() { # name, command...
  setsid "${@:2}" >"$state-$1.log" 2>&1 </dev/null &
  echo $! >"$state-$1.pid"
}

case "${1:-}" in
  start)
    stop moto
    stop azurite
    rm -rf "$state-azurite"
    if [ "$("$azurite" --version 2>/dev/null)" != "$azurite_version" ]; then
      mkdir -p "$azurite_prefix"
      npm install --prefix "$azurite_prefix" --no-audit --no-fund --loglevel=error "azurite@$azurite_version" >&2
    fi
    mkdir -p "$state-azurite"
    start moto moto_server -H "$2" -p "$3"
    start azurite "$azurite" --blobHost "$2" --blobPort "$4" --location "$state-azurite" --disableTelemetry --silent
    ;;
  stop)
    stop moto
    stop azurite
    rm -rf "$state-azurite"
    ;;
  *)
    echo "usage: $0 start ADDRESS MOTO_PORT AZURITE_PORT | stop" >&2
    exit 2
    ;;
esac
