#!/usr/bin/env bash
# End-to-end proof of wpzo.hosting.wordpress in a throwaway systemd container (run by hand; not part of
# `make test`; wordpress.org is not needed):
#
#   tests/integration/wordpress/run.sh          (KEEP=1 keeps the container for a look around)
#
# 1. builds a release-like core archive from Debian's `wordpress` package (tools/wordpress-archive.sh;
#    installs the package on this host when missing) and a small plugin zip;
# 2. starts the test image, installs MariaDB and php-cli from its apt cache, creates two site users with
#    their trees and databases (passwords full of quotes, backslashes and $);
# 3. runs the module: a.example from an archive on the host (core_src), b.example downloaded from an HTTP
#    server inside the container (core_url + sha256), plugins and a theme activated;
# 4. checks as each site user through php-cli: WordPress installed, the admin password works, plugin and theme
#    active, wp-config.php 0600 and owned by the site, a published post writes a purge request;
# 5. runs again: changed=false and no php-cli call; 6. a third site with a wrong checksum fails cleanly,
#    naming the site and the field, with nothing extracted, while the others stay unchanged.
set -euo pipefail
checkout="$(cd "$(dirname "$0")/../../.." && pwd)"
export PATH="$checkout/.venv/bin:$PATH"
export ANSIBLE_FORCE_COLOR=false ANSIBLE_NOCOLOR=1 ANSIBLE_HOST_KEY_CHECKING=false
image="${WPZO_TEST_IMAGE:-wpzo/debian12-systemd:latest}"
container="wpzo-wordpress-e2e-$$"
work="$(mktemp -d)"
cleanup() {
  if [ -z "${KEEP:-}" ]; then docker rm -f "$container" >/dev/null 2>&1 || true; else echo "kept: $container"; fi
  rm -rf "$work"
}
trap cleanup EXIT
step() { printf '\n=== %s\n' "$*"; }
in_ct() { docker exec "$container" "$@"; }
fail() { echo "FAILED: $*" >&2; exit 1; }

step "Core archive from Debian's wordpress package"
if [ ! -f /usr/share/wordpress/wp-includes/version.php ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q wordpress >/dev/null
fi
"$checkout/tools/wordpress-archive.sh" "$work/wordpress.tar.gz" | tee "$work/archive.txt"
version="$(sed -n 's/^version=//p' "$work/archive.txt")"
sha256="$(grep '^sha256:' "$work/archive.txt")"

step "Test data: plugin zip, site variables, SQL, checks"
python3 - "$work" "$version" "$sha256" <<'PY'
import json, sys, zipfile
work, version, sha256 = sys.argv[1:4]
with zipfile.ZipFile(work + "/hello-wpzo.zip", "w") as z:
    z.writestr("hello-wpzo/hello-wpzo.php", "<?php\n/**\n * Plugin Name: Hello wpzo\n */\n")
secrets = {
    "a.example": {"db": "a'db\\pa$$word\"", "admin": "Adm'in\\pa$$ \"x\""},
    "b.example": {"db": "b'db\\$", "admin": "b-admin'\\"},
    "c.example": {"db": "c-db'secret", "admin": "c-admin'secret"},
}
def site(domain, user, **extra):
    value = {
        "domain": domain, "path": "/srv/www/%s/public" % domain, "owner": user, "version": version,
        "db_name": "wp_" + user, "db_user": "wp_" + user, "db_password": secrets[domain]["db"],
        "admin_user": "siteadmin", "admin_email": "admin@" + domain, "admin_password": secrets[domain]["admin"],
        "title": "Site %s with 'quotes' & \\backslash" % domain,
    }
    value.update(extra)
    return value
a = site("a.example", "site_a", core_src="/root/wordpress.tar.gz", core_checksum=sha256, page_cache=True,
         redis={"username": "site_a", "password": "re'dis\\"},
         extra_constants={"WP_POST_REVISIONS": 5, "WPZO_E2E_TOKEN": "t0k'en"},
         plugins=[{"name": "hello-wpzo", "src": "/root/hello-wpzo.zip", "activate": True},
                  {"name": "akismet", "activate": True}],
         themes=[{"name": "twentytwentythree", "activate": True}])
b = site("b.example", "site_b", url="http://b.example", core_checksum=sha256,
         core_url="http://127.0.0.1:8088/wordpress-%s.tar.gz" % version)
c = site("c.example", "site_c", core_checksum="sha256:" + "0" * 64,
         core_url="http://127.0.0.1:8088/wordpress-%s.tar.gz" % version, version=version)
json.dump({"wp_sites": [a, b]}, open(work + "/run1.json", "w"))
json.dump({"wp_sites": [a, b, c]}, open(work + "/run3.json", "w"))
def sql(value):
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
with open(work + "/setup.sql", "w") as f:
    for s in (a, b, c):
        f.write("CREATE DATABASE IF NOT EXISTS %s;\n" % s["db_name"])
        f.write("CREATE USER IF NOT EXISTS %s@'localhost' IDENTIFIED BY %s;\n" % (sql(s["db_user"]), sql(s["db_password"])))
        f.write("GRANT ALL ON %s.* TO %s@'localhost';\n" % (s["db_name"], sql(s["db_user"])))
def php(value):
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
for s in (a, b):
    with open(work + "/check-%s.php" % s["domain"], "w") as f:
        f.write("""<?php
$_SERVER['HTTP_HOST'] = %(domain)s;
require %(load)s;
require_once ABSPATH . 'wp-admin/includes/plugin.php';
// A login through wp-login.php: WordPress adds slashes to $_POST before checking the password.
$user = wp_authenticate( %(user)s, wp_slash( %(password)s ) );
$wrong = wp_authenticate( %(user)s, wp_slash( %(password)s . 'x' ) );
$post = wp_insert_post( array( 'post_title' => 'e2e', 'post_status' => 'publish', 'post_author' => 1 ) );
echo json_encode( array(
    'installed' => is_blog_installed(),
    'siteurl' => get_option( 'siteurl' ),
    'home' => home_url(),
    'blogname' => get_option( 'blogname' ),
    'login' => ! is_wp_error( $user ) && is_wp_error( $wrong ),
    'plugins' => get_option( 'active_plugins' ),
    'stylesheet' => get_stylesheet(),
    'post' => $post,
    'version' => $GLOBALS['wp_version'],
) ), "\\n";
""" % {"domain": php(s["domain"]), "load": php(s["path"] + "/wp-load.php"), "user": php(s["admin_user"]),
       "password": php(s["admin_password"])})
PY

cat >"$work/playbook.yml" <<'YAML'
- name: Reconcile the WordPress sites
  hosts: all
  gather_facts: false
  tasks:
    - name: Run wpzo.hosting.wordpress
      wpzo.hosting.wordpress:
        sites: "{{ wp_sites }}"
      register: wp_result
      ignore_errors: true
    - name: Save the result on the controller
      ansible.builtin.copy:
        content: "{{ wp_result | to_nice_json }}"
        dest: "{{ result_file }}"
        mode: "0600"
      delegate_to: localhost
YAML
reconcile() { # reconcile VARS.json RESULT.json [ansible-playbook options]
  local vars="$1" out="$2"
  shift 2
  ansible-playbook -i "$container," -c community.docker.docker "$work/playbook.yml" -e "@$vars" \
    -e "result_file=$out" "$@"
}
check() { # check RESULT.json PYTHON-EXPRESSION (r is the result)
  python3 - "$1" "$2" <<'PY' || { echo "--- $1"; cat "$1"; fail "$2"; }
import html, json, sys
r = json.load(open(sys.argv[1]))
sys.exit(0 if eval(sys.argv[2]) else 1)
PY
  echo "ok: $2"
}

step "Container $container"
docker run -d --name "$container" --cap-add SYS_ADMIN --cap-add NET_ADMIN --cgroupns host \
  -v /sys/fs/cgroup:/sys/fs/cgroup:ro --tmpfs /run --tmpfs /run/lock "$image" >/dev/null
for _ in $(seq 60); do
  state="$(in_ct systemctl is-system-running 2>/dev/null || true)"
  case "$state" in running | degraded) break ;; esac
  sleep 1
done
in_ct env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends mariadb-server \
  php8.2-cli php8.2-mysql php8.2-xml php8.2-mbstring php8.2-curl php8.2-gd php8.2-zip php8.2-intl >/dev/null
in_ct systemctl start mariadb # the test image carries the package, disabled
in_ct systemctl is-active mariadb
for file in wordpress.tar.gz hello-wpzo.zip setup.sql check-a.example.php check-b.example.php; do
  docker cp "$work/$file" "$container:/root/$file"
done
in_ct sh -c 'mariadb < /root/setup.sql'
# What the sites role's install task does: the module's programs and drop-ins into its programs_dir.
in_ct install -d -m 0755 /usr/local/lib/wpzo
docker cp "$checkout/roles/sites/files/wordpress" "$container:/usr/local/lib/wpzo/wordpress"
in_ct sh -c 'chown -R root:root /usr/local/lib/wpzo/wordpress && chmod 0755 /usr/local/lib/wpzo/wordpress && chmod 0644 /usr/local/lib/wpzo/wordpress/*'
for pair in a.example:site_a b.example:site_b c.example:site_c; do
  domain="${pair%%:*}" user="${pair##*:}"
  in_ct useradd --system --user-group --home-dir "/srv/www/$domain" --no-create-home --shell /usr/sbin/nologin "$user"
  in_ct install -d -o "$user" -g "$user" -m 0710 "/srv/www/$domain"
  in_ct install -d -o "$user" -g "$user" -m 2750 "/srv/www/$domain/public"
  in_ct install -d -o "$user" -g "$user" -m 0700 "/srv/www/$domain/tmp"
done
in_ct install -d /srv/dl
in_ct cp /root/wordpress.tar.gz "/srv/dl/wordpress-$version.tar.gz"
docker exec -d "$container" python3 -m http.server 8088 --bind 127.0.0.1 --directory /srv/dl
in_ct chmod 0644 /root/check-a.example.php /root/check-b.example.php
in_ct chmod 0711 /root
for _ in $(seq 20); do in_ct python3 -c 'import urllib.request; urllib.request.urlopen("http://127.0.0.1:8088/")' 2>/dev/null && break; sleep 0.5; done

step "Run 1: install two sites (core_src and core_url)"
reconcile "$work/run1.json" "$work/r1.json" --diff
check "$work/r1.json" 'not r.get("failed") and r["changed"] and r["added"] == ["a.example", "b.example"]'
check "$work/r1.json" 'r["sites"]["a.example"]["changed"] == ["core", "config", "mu_plugins", "plugins", "install", "activation"]'
check "$work/r1.json" 'r["sites"]["b.example"]["version"] == "'"$version"'" and r["sites"]["b.example"]["url"] == "http://b.example"'
check "$work/r1.json" '"a'"'"'db" not in json.dumps(r) and "Adm'"'"'in" not in json.dumps(r)'
in_ct test -f "/var/lib/wpzo/wordpress/core/wordpress-$version.tar.gz" || fail "core archive not cached"
in_ct test -f /var/lib/wpzo/wordpress/installed/a.example || fail "installed-marker missing"

step "Checks as the site users through php-cli"
for pair in a.example:site_a b.example:site_b; do
  domain="${pair%%:*}" user="${pair##*:}"
  in_ct setpriv --reuid="$user" --regid="$user" --init-groups --reset-env -- php "/root/check-$domain.php" \
    | tail -n 1 >"$work/check-$domain.json"
  cat "$work/check-$domain.json"
  check "$work/check-$domain.json" 'r["installed"] is True and r["login"] is True and r["post"] > 0'
  check "$work/check-$domain.json" 'r["version"] == "'"$version"'" and html.unescape(r["blogname"]) == "Site '"$domain"' with '"'"'quotes'"'"' & \\backslash"'
  stat_line="$(in_ct stat -c '%U:%G %a' "/srv/www/$domain/public/wp-config.php")"
  [ "$stat_line" = "$user:$user 600" ] || fail "wp-config.php of $domain is $stat_line"
  in_ct head -n 2 "/srv/www/$domain/public/wp-config.php"
done
check "$work/check-a.example.json" 'r["siteurl"] == "https://a.example" and sorted(r["plugins"]) == ["akismet/akismet.php", "hello-wpzo/hello-wpzo.php"]'
check "$work/check-a.example.json" 'r["stylesheet"] == "twentytwentythree"'
check "$work/check-b.example.json" 'r["home"] == "http://b.example" and r["plugins"] == []'
in_ct cat /srv/www/a.example/tmp/.wpzo-purge-request || fail "no purge request written for a.example"
purge_owner="$(in_ct stat -c '%U' /srv/www/a.example/tmp/.wpzo-purge-request)"
[ "$purge_owner" = site_a ] || fail "purge request owned by $purge_owner"
if in_ct test -e /srv/www/b.example/tmp/.wpzo-purge-request; then fail "b.example has no page cache"; fi

step "Run 2: nothing to do"
start="$(date +%s.%N)"
reconcile "$work/run1.json" "$work/r2.json"
end="$(date +%s.%N)"
check "$work/r2.json" 'not r.get("failed") and r["changed"] is False and r["unchanged"] == ["a.example", "b.example"]'
echo "second run (ansible-playbook, 2 sites, incl. connection set-up): $(python3 -c "print(round($end - $start, 2))") s"

step "Run 3: a new site with a wrong checksum fails cleanly, the others stay unchanged"
reconcile "$work/run3.json" "$work/r3.json"
check "$work/r3.json" 'r["failed"] is True and r["unchanged"] == ["a.example", "b.example"]'
check "$work/r3.json" '"site '"'"'c.example'"'"' (sites[2]): core_checksum: the archive downloaded from http://127.0.0.1:8088/" in r["msg"]'
check "$work/r3.json" '"nothing was extracted" in r["msg"]'
leftovers="$(in_ct sh -c 'ls -A /srv/www/c.example/public /srv/www/c.example | grep -v -e "^public$" -e "^tmp$" -e "^/" -e "^$" || true')"
[ -z "$leftovers" ] || fail "leftovers for c.example: $leftovers"
in_ct sh -c 'ls -A /var/lib/wpzo/wordpress/core' | grep -v "^wordpress-$version.tar.gz$" && fail "temp files left in the cache"
in_ct test ! -e /var/lib/wpzo/wordpress/installed/c.example || fail "c.example has an installed-marker"

step "All end-to-end checks passed"
