#!/usr/bin/env bash
# `make demo`: a hosting server in a local container, provisioned with
# playbooks/site.yml and inventories/demo; `make demo-clean` removes it.
set -euo pipefail
checkout="$(cd "$(dirname "$0")/.." && pwd)"
container=wpzo-demo
image="${WPZO_TEST_IMAGE:-wpzo/debian12-systemd:latest}"
http_port="${WPZO_DEMO_HTTP_PORT:-8080}"
https_port="${WPZO_DEMO_HTTPS_PORT:-8443}"

case "${1:-up}" in
  down)
    docker rm -f "$container" >/dev/null 2>&1 || true
    echo "demo: removed the container $container"
    exit 0 ;;
  up) ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac

if [ -z "$(docker ps -q --filter "name=^${container}$")" ]; then
  docker rm -f "$container" >/dev/null 2>&1 || true
  docker run -d --name "$container" --hostname "$container" \
    --cap-add SYS_ADMIN --cap-add NET_ADMIN --cgroupns host \
    -v /sys/fs/cgroup:/sys/fs/cgroup:ro --tmpfs /run --tmpfs /run/lock \
    -p "127.0.0.1:${http_port}:80" -p "127.0.0.1:${https_port}:443" "$image" >/dev/null
  echo "demo: started the container $container"
fi

start=$SECONDS
cd "$checkout"
ansible-playbook -i inventories/demo playbooks/site.yml
echo
echo "demo: provisioned in $((SECONDS - start)) s"
echo "demo: HTTP  http://127.0.0.1:${http_port}/   HTTPS https://127.0.0.1:${https_port}/"
echo "demo: a shell on the server: docker exec -it $container bash"
