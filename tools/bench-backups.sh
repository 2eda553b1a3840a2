#!/usr/bin/env bash
# make bench-backups: one WordPress site with 1 GiB of files (incompressible, like media) and a 200 MiB database
# on a hosting server in a container, backed up by the backups role into a local repository. Prints the first
# backup's and a full restore's time and peak memory, the time and size added by a second backup with nothing
# changed, and, as the reference, raw `tar | zstd` of the same files and `mariadb-dump | zstd` to the same disk.
# Figures only (docs/performance.md); exits non-zero only when it could not run.
# WPZO_BENCH_FILES_MIB and WPZO_BENCH_DB_MIB change the sizes.
set -euo pipefail
source "$(dirname "$0")/bench-lib.sh"
checkout="$PWD"
read -r archive version <<<"$(bench_wordpress)"
container=wpzo-bench-backups
work="$checkout/build/bench-backups"
files_mib="${WPZO_BENCH_FILES_MIB:-1024}"
db_mib="${WPZO_BENCH_DB_MIB:-200}"
site=bench.example.test
root="/srv/www/$site"
mkdir -p "$work/inventory/group_vars/all"
bench_server "$container"

printf 'all:\n  children:\n    wpzo_servers:\n      hosts:\n        %s:\n          ansible_connection: community.docker.docker\n' \
  "$container" > "$work/inventory/hosts.yml"
cat > "$work/inventory/group_vars/all/main.yml" <<YAML
wpzo_credentials_dir: $work/credentials
base_swap_size_mb: 64
sites_wordpress_version: "$version"
sites_wordpress_src: $archive
sites_defaults:
  wordpress:
    admin_email: bench@example.test
wpzo_sites:
  - domain: $site
    wordpress:
      title: Backup bench
backups_targets:
  - name: local
    type: local
    path: /var/backups/wpzo
YAML

echo "bench-backups: converging the server (playbooks/site.yml)..." >&2
ansible-playbook -i "$work/inventory" playbooks/site.yml > "$work/converge.log" 2>&1 \
  || { echo "bench-backups: the converge failed, see $work/converge.log" >&2; tail -30 "$work/converge.log" >&2; exit 1; }

on_server() { docker exec "$container" bash -c "$1"; }
echo "bench-backups: writing ${files_mib} MiB of files and a ${db_mib} MiB table..." >&2
on_server "mkdir -p $root/public/wp-content/uploads/bench && cd $root/public/wp-content/uploads/bench \
  && for i in \$(seq $files_mib); do head -c 1048576 /dev/urandom > file-\$i.bin; done"
# Rows of 1 KiB (hex of random bytes: compressible about 2:1, like text), through MariaDB's sequence engine.
database=$(on_server "python3 -c 'import json; print(next(s[\"database\"] for s in json.load(open(\"/etc/wpzo/backup/sites.json\"))[\"sites\"]))'")
on_server "mariadb $database -e 'CREATE TABLE wp_bench (id INT PRIMARY KEY AUTO_INCREMENT, payload TEXT) ENGINE=InnoDB;
  INSERT INTO wp_bench (payload) SELECT HEX(RANDOM_BYTES(512)) FROM seq_1_to_$((db_mib * 1024))'"
on_server "command -v zstd >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq zstd >/dev/null"

# The command's wall time and the peak resident memory of its largest process (getrusage of the children).
docker exec -i "$container" tee /root/measure.py >/dev/null <<'PY'
import resource, subprocess, sys, time
started = time.monotonic()
result = subprocess.run(sys.argv[1], shell=True, capture_output=True, text=True)
if result.returncode:
    sys.exit("bench-backups: %s failed: %s" % (sys.argv[1], result.stderr[-2000:]))
print("%.1f %d" % (time.monotonic() - started, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024))
PY
measure() { docker exec "$container" python3 /root/measure.py "$1"; }
added() { on_server "python3 -c 'import json; print(json.load(open(\"/var/lib/wpzo/backups/$site/status.json\"))[\"last_added_bytes\"])'"; }

echo "bench-backups: first backup..." >&2
read -r first_s first_mib <<<"$(measure "wpzo-backup run --site $site")"
first_added=$(( $(added) / 1048576 ))
echo "bench-backups: second backup, nothing changed..." >&2
read -r second_s second_mib <<<"$(measure "wpzo-backup run --site $site")"
second_added=$(added)
echo "bench-backups: full restore (the 1 GiB of files deleted first; the database dropped and loaded)..." >&2
on_server "rm -rf $root/public/wp-content/uploads/bench"
read -r restore_s restore_mib <<<"$(measure "wpzo-backup restore --site $site --force --no-safety-backup")"
echo "bench-backups: reference, tar and mariadb-dump through zstd to the same disk..." >&2
read -r tar_s tar_mib <<<"$(measure "tar -C $root -cf - public private | zstd -q -T0 -3 -o /var/backups/reference-files.tar.zst")"
read -r dump_s dump_mib <<<"$(measure "mariadb-dump --single-transaction --quick $database | zstd -q -T0 -3 -o /var/backups/reference-db.sql.zst")"
repository_mib=$(on_server "du -sm /var/backups/wpzo/$site | cut -f1")
reference_mib=$(on_server "du -cm /var/backups/reference-files.tar.zst /var/backups/reference-db.sql.zst | tail -1 | cut -f1")

printf '\n%-58s %s\n' "bench-backups (${files_mib} MiB of files, ${db_mib} MiB table)" "$(bench_machine)"
printf '%-58s %8s s %6s MiB peak, %s MiB added\n' "first backup (dump, files, verification, retention)" "$first_s" "$first_mib" "$first_added"
printf '%-58s %8s s %6s MiB peak, %s bytes added\n' "second backup, nothing changed" "$second_s" "$second_mib" "$second_added"
printf '%-58s %8s s %6s MiB peak\n' "full restore (files with --delete, database, row counts)" "$restore_s" "$restore_mib"
printf '%-58s %8s s %6s MiB peak\n' "reference: tar | zstd -3 of the files" "$tar_s" "$tar_mib"
printf '%-58s %8s s %6s MiB peak\n' "reference: mariadb-dump | zstd -3" "$dump_s" "$dump_mib"
printf '%-58s %8s MiB\n' "repository after two backups and the restore" "$repository_mib"
printf '%-58s %8s MiB (every run, again)\n' "reference archives (files and dump)" "$reference_mib"
