#!/usr/bin/env bash
# Wait until systemd in each of these containers has finished booting (running, or degraded: a unit failed):
#
#   tools/wait-booted.sh CONTAINER...
#
# Ansible's first module must not race the boot: systemd mounts /tmp and starts its units after `docker run`
# returns, and a module staged in /tmp before that vanishes (seen on a loaded machine). The one boot wait of
# tools/server-container.sh (make demo, the benchmarks) and of every Molecule scenario's prepare (molecule/boot.yml).
set -euo pipefail
if [ "$#" -lt 1 ]; then
  echo "usage: $0 CONTAINER..." >&2
  exit 2
fi
deadline=$((SECONDS + 120))
for name in "$@"; do
  # Before PID 1 answers, systemctl fails at once: ask again until the deadline.
  until state="$(docker exec "$name" systemctl is-system-running --wait 2>/dev/null)"; [[ "$state" =~ ^(running|degraded)$ ]]; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "wait-booted: $name has not finished booting after 120 s (state: ${state:-unknown})" >&2
      exit 1
    fi
    sleep 1
  done
done
