#!/usr/bin/env bash
# make bench-sites N=200: a hosting server in a container with N WordPress sites.
# Prints the time to create them from nothing, to run playbooks/sites.yml with
# nothing to change, to add one site with -e site=, and php-fpm's memory with
# every pool idle. Exits non-zero only when it could not run.
set -euo pipefail
source "$(dirname "$0")/bench-lib.sh"
checkout="$PWD"
read -r archive version <<<"$(bench_wordpress)"
n="${1:-200}"
container=wpzo-bench
work="$checkout/build/bench-sites"
mkdir -p "$work/inventory/group_vars/all"
bench_server "$container"

# The tiers converge through docker exec (the server has no SSH yet); the sites runs then go over SSH as an
# administrator with sudo, the way an operator reaches a server.
key="$work/admin_ed25519"
[ -f "$key" ] || ssh-keygen -q -t ed25519 -N '' -C bench-admin -f "$key"
connect_with() { # docker | ssh
  local address
  address="$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$container")"
  {
    printf 'all:\n  children:\n    wpzo_servers:\n      hosts:\n        %s:\n' "$container"
    if [ "$1" = docker ]; then
      printf '          ansible_connection: community.docker.docker\n'
    else
      printf '          ansible_host: %s\n          ansible_user: bench\n' "$address"
      printf '          ansible_ssh_private_key_file: %s\n' "$key"
      printf '          ansible_ssh_common_args: -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null\n'
    fi
  } > "$work/inventory/hosts.yml"
}
connect_with docker
sites_file() {
  python3 - "$1" <<'PY'
import sys
count = int(sys.argv[1])
print("wpzo_sites:" + ("" if count else " []"))
for i in range(1, count + 1):
    print(f"  - domain: site-{i:03d}.bench.test")
    print(f"    object_cache: {'true' if i % 2 else 'false'}")
PY
}
cat > "$work/inventory/group_vars/all/main.yml" <<YAML
wpzo_credentials_dir: $work/credentials
base_swap_size_mb: 64
base_admin_users:
  - name: bench
    ssh_keys: ["$(cat "$key.pub")"]
sites_wordpress_version: "$version"
sites_wordpress_src: $archive
sites_defaults:
  wordpress:
    admin_email: bench@example.test
YAML

run() { # label, then ansible-playbook arguments; prints the seconds taken
  local label="$1" start end
  shift
  start=$(date +%s.%N)
  ansible-playbook -i "$work/inventory" "$@" > "$work/$label.log" 2>&1 \
    || { echo "bench-sites: $label failed, see $work/$label.log" >&2; tail -30 "$work/$label.log" >&2
         echo "bench-sites: the server's journal (warnings and worse):" >&2
         docker exec "$container" journalctl -p warning -n 40 --no-pager >&2 || true
         exit 1; }
  end=$(date +%s.%N)
  python3 -c "print(f'{$end - $start:.1f}')"
}

sites_file 0 > "$work/inventory/group_vars/all/sites.yml"
echo "bench-sites: converging the tiers (base, nginx, php_fpm, mariadb, redis)..." >&2
tiers=$(run tiers playbooks/site.yml)
connect_with ssh
sites_file "$n" > "$work/inventory/group_vars/all/sites.yml"
echo "bench-sites: creating $n WordPress sites..." >&2
create=$(run create playbooks/sites.yml)
echo "bench-sites: running again with nothing to change..." >&2
nochange=$(run nochange playbooks/sites.yml)
grep -q 'changed=0' "$work/nochange.log" || echo "bench-sites: warning: the no-change run changed something" >&2
sites_file "$((n + 1))" > "$work/inventory/group_vars/all/sites.yml"
new="site-$(printf '%03d' $((n + 1))).bench.test"
echo "bench-sites: adding $new with -e site=$new..." >&2
addone=$(run addone playbooks/sites.yml -e "site=$new")
sleep 15  # ondemand pools stop their workers after the idle timeout
fpm_kib=$(docker exec "$container" sh -c "ps -C php-fpm8.2 -o rss= | awk '{s+=\$1} END {print s}'")
workers=$(docker exec "$container" sh -c "ps -C php-fpm8.2 -o args= | grep -c 'pool' || true")

printf '\n%-44s %s\n' "bench-sites ($n WordPress sites)" "$(bench_machine)"
printf '%-44s %8s\n' "tiers converged (base, nginx, php, db, redis)" "${tiers} s"
printf '%-44s %8s\n' "create $n sites from nothing" "${create} s"
printf '%-44s %8s\n' "sites.yml with nothing to change" "${nochange} s"
printf '%-44s %8s\n' "add one site (-e site=)" "${addone} s"
printf '%-44s %8s\n' "php-fpm memory, all pools idle" "$((fpm_kib / 1024)) MiB"
printf '%-44s %8s\n' "php-fpm pool workers running while idle" "$workers"
