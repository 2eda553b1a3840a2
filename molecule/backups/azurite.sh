#!/usr/bin/env bash
# Azurite, Azure Blob Storage's emulator, on the controller for the backups scenario (run under its lock,
# /tmp/wpzo-molecule-backups.lock, so one instance at a time). Installed from the npm registry into
# build/azurite/ of the checkout on first use:
#   azurite.sh start ADDRESS PORT    a fresh, empty Azurite blob service in the background (a previous one is stopped)
#   azurite.sh stop
# --disableTelemetry: otherwise it reaches out to the internet. Its pid is in /tmp/wpzo-molecule-backups-azurite.pid,
# its data and log beside it.
set -euo pipefail
version=3.37.0
prefix="$(cd "$(dirname "$0")/../.." && pwd)/build/azurite"
program="$prefix/node_modules/.bin/azurite-blob"
pid_file=/tmp/wpzo-molecule-backups-azurite.pid
log_file=/tmp/wpzo-molecule-backups-azurite.log
data_dir=/tmp/wpzo-molecule-backups-azurite

stop() {
  if [ -f "$pid_file" ]; then
    pid=$(cat "$pid_file")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    rm -f "$pid_file"
  fi
  rm -rf "$data_dir"
}

case "${1:-}" in
  start)
    stop
    if [ ! -x "$program" ] || [ "$("$program" --version 2>/dev/null)" != "$version" ]; then
      mkdir -p "$prefix"
      npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error "azurite@$version" >&2
    fi
    mkdir -p "$data_dir"
    setsid "$program" --blobHost "$2" --blobPort "$3" --location "$data_dir" --disableTelemetry --silent \
      >"$log_file" 2>&1 </dev/null &
    echo $! >"$pid_file"
    ;;
  stop)
    stop
    ;;
  *)
    echo "usage: $0 start ADDRESS PORT | stop" >&2
    exit 2
    ;;
esac
