#!/usr/bin/env bash
# `make demo`: a full hosting server in a local container, provisioned with
# playbooks/site.yml and inventories/demo; run again, it changes nothing.
# `make demo-clean` removes it. Options after `up` go to ansible-playbook (tools/demo.sh up -vvv).
set -euo pipefail
checkout="$(cd "$(dirname "$0")/.." && pwd)"
container=wpzo-demo
http_port="${WPZO_DEMO_HTTP_PORT:-80}"
archive="$checkout/build/wordpress.tar.gz"
credentials="$checkout/credentials/demo/$container"

case "${1:-up}" in
  down)
    docker rm -f "$container" >/dev/null 2>&1 || true
    echo "demo: removed the container $container (its passwords stay in $credentials)"
    exit 0 ;;
  up) ;;
  *) echo "usage: $0 up [ansible-playbook options] | down" >&2; exit 2 ;;
esac

cd "$checkout"
start=$SECONDS
# wordpress.org cannot be reached from every machine: the demo always installs a
# local release archive packed from Debian's WordPress.
version="$(tools/wordpress-archive.sh "$archive" | sed -n 's/^version=//p')"
echo "demo: WordPress $version from the local archive $archive (no download from wordpress.org)"

if [ -z "$(docker ps -q --filter "name=^${container}$")" ]; then
  tools/server-container.sh "$container" -p "127.0.0.1:${http_port}:80" \
    || { echo "demo: could not start the container; is port ${http_port} free? (WPZO_DEMO_HTTP_PORT picks another)" >&2; exit 1; }
  echo "demo: started the container $container"
fi

ansible-playbook -i inventories/demo playbooks/site.yml \
  -e "sites_wordpress_version=$version" -e "sites_wordpress_src=$archive" "${@:2}"

port_suffix=""
[ "$http_port" = 80 ] || port_suffix=":$http_port"
cat <<TEXT

demo: provisioned in $((SECONDS - start)) s
  WordPress   http://wordpress.localhost${port_suffix}/     (admin: http://wordpress.localhost${port_suffix}/wp-admin/)
  static site http://static.localhost${port_suffix}/
  admin user  siteadmin
  password    in $credentials/wordpress/wordpress_localhost-admin (0600, gitignored; ansible-vault view it if encrypted)
  shell       docker exec -it $container bash
TEXT
