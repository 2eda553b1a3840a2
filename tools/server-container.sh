#!/usr/bin/env bash
# Start a fresh Debian 12 server in a container of the test image (systemd as PID 1, what the roles need: the
# capabilities for nftables and namespaces, the host's cgroups), replacing any container of that name:
#
#   tools/server-container.sh NAME [docker run options...]     e.g. -p 127.0.0.1:80:80
#
# Used by make demo, make bench-sites, make bench-converge and the collection-install test. No CPU or memory
# limit: the server has the machine's cores and memory.
set -euo pipefail
if [ "$#" -lt 1 ] || [ -z "$1" ]; then
  echo "usage: $0 NAME [docker run options...]" >&2
  exit 2
fi
name="$1"
image="${WPZO_TEST_IMAGE:-wpzo/debian12-systemd:latest}"
docker rm -f "$name" >/dev/null 2>&1 || true
docker run -d --name "$name" --hostname "$name" \
  --cap-add SYS_ADMIN --cap-add NET_ADMIN --cgroupns host \
  -v /sys/fs/cgroup:/sys/fs/cgroup:ro --tmpfs /run --tmpfs /run/lock \
  "${@:2}" "$image" >/dev/null
"$(dirname "$0")/wait-booted.sh" "$name"
