#!/usr/bin/env bash
# moto_server, an S3 endpoint, on the controller for the backups scenario (run under its lock,
# /tmp/wpzo-molecule-backups.lock, so one instance at a time):
#   moto.sh start ADDRESS PORT    a fresh, empty moto_server in the background (a previous one is stopped)
#   moto.sh stop
# Its pid is in /tmp/wpzo-molecule-backups-moto.pid (the verifier pauses it with SIGSTOP), its log beside it.
set -euo pipefail
pid_file=/tmp/wpzo-molecule-backups-moto.pid
log_file=/tmp/wpzo-molecule-backups-moto.log

stop() {
  if [ -f "$pid_file" ]; then
    pid=$(cat "$pid_file")
    kill -CONT "$pid" 2>/dev/null || true
    kill "$pid" 2>/dev/null || true
    # Wait for it to release its port.
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    rm -f "$pid_file"
  fi
}

case "${1:-}" in
  start)
    stop
    setsid moto_server -H "$2" -p "$3" >"$log_file" 2>&1 </dev/null &
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
