import fnmatch
import os
import re
import subprocess

from ansible_collections.wpzo.hosting.plugins.module_utils import site_model, site_resources

SITES = site_model.normalise_sites(
    [
        {"domain": "blog.example", "object_cache": True, "wordpress": {"admin_email": "a@b.example"}},
        {"domain": "static.example", "kind": "static"},
        {"domain": "app.example", "kind": "php", "php": {"max_children": 9}},
        {"domain": "gone.example", "kind": "static", "state": "absent"},
    ]
)


def test_pools_only_for_present_php_sites_with_their_limits():
    pools = site_resources.pools(SITES)
    assert [p["name"] for p in pools] == ["blog_example", "app_example"]
    assert pools[1]["max_children"] == 9
    assert pools[0]["listen"] == "/run/php/blog_example.sock"
    assert pools[0]["php_admin_values"]["post_max_size"] == "64M"
    assert pools[0]["open_basedir"] == []  # PHP's realpath cache stays on: see docs/performance.md


def test_open_basedir_confines_a_sites_php_to_its_root_when_asked():
    sites = site_model.normalise_sites(
        [{"domain": "a.example", "php": {"open_basedir": True}, "wordpress": {"admin_email": "o@a.example"}}]
    )
    assert site_resources.pools(sites)[0]["open_basedir"] == ["/srv/www/a.example"]


def test_accounts_join_the_redis_group_only_for_object_cache_sites():
    accounts = {a["user"]: a for a in site_resources.accounts(SITES, redis_group="redis-clients")}
    assert accounts["blog_example"]["groups"] == ["redis-clients"]
    assert accounts["static_example"]["groups"] == []
    assert accounts["gone_example"]["remove_files"] is True


def test_units_cron_per_wordpress_site_and_one_purge_watcher_for_all():
    files = site_resources.site_units(SITES, "/usr/bin/php8.2", "*:0/5", "/usr/local/sbin/purge")
    names = sorted(f["path"].rsplit("/", 1)[1] for f in files)
    assert names == [
        "cache-purge-watch",
        "wpzo-cache-purge.service",
        "wpzo-wp-cron-blog_example.service",
        "wpzo-wp-cron-blog_example.timer",
    ]
    service = next(f["content"] for f in files if f["path"].endswith("wp-cron-blog_example.service"))
    assert "User=blog_example" in service
    assert "ExecStart=/usr/bin/php8.2 -f /srv/www/blog.example/public/wp-cron.php" in service
    assert "TimeoutStartSec=15min" in service  # a hung run is killed, the next ones start
    timer = next(f["content"] for f in files if f["path"].endswith("wp-cron-blog_example.timer"))
    assert "RandomizedDelaySec=4min\nFixedRandomDelay=true" in timer  # sites start at their own fixed offsets
    watcher = next(f["content"] for f in files if f["path"].endswith("wpzo-cache-purge.service"))
    assert "ExecStart=/usr/local/lib/wpzo/cache-purge-watch" in watcher and "Restart=always" in watcher
    program = next(f for f in files if f["path"].endswith("cache-purge-watch"))
    assert program["mode"] == "0755" and "/usr/local/sbin/purge ${names[$folder]}" in program["content"]
    assert "[/srv/www/blog.example/tmp/]='blog.example'" in program["content"]
    assert all(site_resources.MARKER_LINE in f["content"][:200] for f in files)
    assert site_resources.site_unit_triggers(SITES) == ["wpzo-wp-cron-blog_example.timer", "wpzo-cache-purge.service"]


def run_watcher(tmp_path, sites, folders):
    """Run the watcher program with a stand-in inotifywait that reports these folders; (purges, its arguments)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "inotifywait").write_text(
        '#!/bin/sh\nprintf "%%s\\n" "$@" > %s\nprintf "%s"\n' % (tmp_path / "args", "".join(f + "\\n" for f in folders))
    )
    purged = tmp_path / "purged"
    (bin_dir / "purge").write_text('#!/bin/sh\necho "$*" >> %s\n' % purged)
    for tool in bin_dir.iterdir():
        tool.chmod(0o755)
    files = site_resources.site_units(sites, "/usr/bin/php8.2", "*:0/5", str(bin_dir / "purge"))
    program = tmp_path / "watch"
    program.write_text(next(f["content"] for f in files if f["path"].endswith("cache-purge-watch")))
    env = dict(os.environ, PATH="%s:%s" % (bin_dir, os.environ["PATH"]))
    subprocess.run(["bash", str(program)], env=env, check=True, timeout=20)
    purges = purged.read_text().splitlines() if purged.exists() else []
    return purges, (tmp_path / "args").read_text().splitlines()


def test_the_purge_watcher_purges_every_name_of_the_site_that_asked_and_throttles_bursts(tmp_path):
    sites = site_model.normalise_sites(
        [
            {"domain": "blog.example", "aliases": ["www.blog.example"], "wordpress": {"admin_email": "a@b.example"}},
            {"domain": "shop.example", "wordpress": {"admin_email": "a@b.example"}},
        ]
    )
    blog, unknown = "/srv/www/blog.example/tmp/", "/srv/www/other.example/tmp/"
    purges, _args = run_watcher(tmp_path, sites, [blog, unknown, blog, blog])
    # The first request at once; the two that came within the interval once, when the watcher ends.
    assert purges == ["blog.example www.blog.example"] * 2


def test_the_purge_watcher_hears_only_the_request_file_by_its_whole_path(tmp_path):
    _purges, args = run_watcher(tmp_path, SITES, [])
    include = re.compile(args[args.index("--include") + 1])
    assert args[args.index("--format") + 1] == "%w"
    assert include.match("/srv/www/blog.example/tmp/.wpzo-purge-request")
    for crafted in (
        "/srv/www/blog.example/tmp/x.wpzo-purge-request",
        "/srv/www/blog.example/tmp/.wpzo-purge-request\n/srv/www/other.example/tmp/",
        "/srv/www/blogXexample/tmp/.wpzo-purge-request",
        "/srv/www/blog.example/tmp/sub/.wpzo-purge-request",
    ):
        assert not include.match(crafted), crafted


def test_wordpress_input_carries_names_secrets_and_core_source():
    secrets = {"blog.example": {"database": "d", "admin": "a", "redis": "r"}}
    (entry,) = site_resources.wordpress(
        SITES, secrets, {"version": "6.1.9", "url": "http://x/wp.tgz", "checksum": "sha256:00"}, "/run/redis/other.sock"
    )
    assert entry["db_name"] == "wp_blog_example" and entry["db_password"] == "d"
    # The redis role's redis_socket, as the sites role passes it: the object cache connects where Redis listens.
    assert entry["redis"] == {
        "path": "/run/redis/other.sock",
        "username": "blog_example",
        "password": "r",
        "prefix": "blog_example:",
    }
    assert entry["core_url"] == "http://x/wp.tgz" and "core_src" not in entry
    (local,) = site_resources.wordpress(
        SITES, secrets, {"version": "6.1.9", "src": "/var/lib/wpzo/wordpress/wp.tgz"}, "/run/redis/redis-server.sock"
    )
    assert local["core_src"] == "/var/lib/wpzo/wordpress/wp.tgz" and "core_url" not in local


def test_site_logs_nginx_and_php_fpm_write_are_roots_and_php_writes_only_its_error_log():
    accounts = {a["user"]: a for a in site_resources.accounts(SITES)}
    assert accounts["blog_example"]["log_files"] == ["access.log", "error.log", "php-slow.log"]
    assert accounts["blog_example"]["own_log_files"] == ["php-error.log"]
    assert accounts["static_example"]["log_files"] == ["access.log", "error.log"]
    assert accounts["static_example"]["own_log_files"] == []


def test_hsts_only_with_a_certificate_browsers_trust_and_xmlrpc_only_when_asked():
    sites = site_model.normalise_sites(
        [
            {"domain": "self.example", "kind": "static", "tls": "selfsigned"},
            {"domain": "acme.example", "kind": "static", "tls": {"mode": "letsencrypt", "hsts_preload": True}},
            {"domain": "wp.example", "wordpress": {"admin_email": "a@b.example"}},
            {"domain": "jetpack.example", "xmlrpc": True, "wordpress": {"admin_email": "a@b.example"}},
            {"domain": "plain.example", "kind": "static", "xmlrpc": True},
        ]
    )
    vhosts = {v["domain"]: v for v in site_resources.vhosts(sites)}
    assert (vhosts["self.example"]["tls"]["hsts"], vhosts["self.example"]["tls"]["hsts_preload"]) == (False, False)
    assert (vhosts["acme.example"]["tls"]["hsts"], vhosts["acme.example"]["tls"]["hsts_preload"]) == (True, True)
    assert {domain: v["xmlrpc"] for domain, v in vhosts.items()} == {
        "self.example": False,
        "acme.example": False,
        "wp.example": False,
        "jetpack.example": True,
        "plain.example": False,
    }


def test_xmlrpc_must_be_a_boolean():
    try:
        site_model.normalise_sites(
            [{"domain": "a.example", "xmlrpc": "yes", "wordpress": {"admin_email": "a@b.example"}}]
        )
    except site_model.SiteModelError as exc:
        assert exc.errors == ["site a.example (wpzo_sites[0]): xmlrpc: must be true or false"]
    else:
        raise AssertionError("xmlrpc: yes was accepted")


def test_the_units_step_purges_and_finds_exactly_what_the_units_are():
    plan = site_resources.units(SITES, "/usr/bin/php8.2", "*:0/5", "/usr/local/sbin/purge")
    assert plan["files"] == site_resources.site_units(SITES, "/usr/bin/php8.2", "*:0/5", "/usr/local/sbin/purge")
    # Every file written is one the purge would remove once its site is gone, and nothing else of the server.
    for written in plan["files"]:
        assert any(fnmatch.fnmatch(written["path"], glob) for glob in plan["purge"]), written["path"]
    for foreign in ("/etc/systemd/system/ssh.service", "/usr/local/lib/wpzo/mariadb-check-config"):
        assert not any(fnmatch.fnmatch(foreign, glob) for glob in plan["purge"]), foreign
    # Every unit enabled is one the step finds enabled the next time (else it would enable it on every run).
    assert plan["enable"] == ["wpzo-wp-cron-blog_example.timer", "wpzo-cache-purge.service"]
    for name in plan["enable"]:
        assert any(fnmatch.fnmatch(name, pattern) for pattern in plan["enabled_patterns"]), name
    assert plan["watcher"] in plan["enable"]
    assert all(folder.startswith("/etc/systemd/system/") for folder in plan["enabled_dirs"])


def test_tier_inputs_carry_only_what_each_tier_needs():
    secrets = {"blog.example": {"database": "d", "admin": "a", "redis": "r"}}
    sites = SITES + site_model.normalise_sites(
        [{"domain": "old.example", "state": "absent", "purge": True, "wordpress": {"admin_email": "a@b.example"}}]
    )
    assert site_resources.databases(sites, secrets) == [
        {"domain": "blog.example", "state": "present", "purge": False, "max_user_connections": 30, "password": "d"},
        {"domain": "old.example", "state": "absent", "purge": True, "max_user_connections": 30},
    ]
    assert site_resources.redis_users(sites, secrets) == [{"domain": "blog.example", "password": "r"}]
    # A site outside this run (-e site=) has no secret here: the redis role reads it from the credential store.
    assert site_resources.redis_users(sites, {}) == [{"domain": "blog.example"}]
    logs = site_resources.site_logs(sites)
    assert logs["access"] == [
        f"/srv/www/{d}/logs/access.log" for d in ("blog.example", "static.example", "app.example")
    ]
    assert logs["error"] == [f"/srv/www/{d}/logs/error.log" for d in ("blog.example", "static.example", "app.example")]


def test_the_backups_list_names_every_site_with_what_a_restore_purges():
    entries = {entry["domain"]: entry for entry in site_resources.backups(SITES)}
    assert sorted(entries) == ["app.example", "blog.example", "gone.example", "static.example"]
    assert entries["blog.example"] == {
        "domain": "blog.example",
        "root": "/srv/www/blog.example",
        "docroot": "/srv/www/blog.example/public",
        "state": "present",
        "database": "wp_blog_example",
        "server_names": ["blog.example"],
        "page_cache": True,
        "object_cache": True,
        "system_user": "blog_example",
        "system_group": "blog_example",
    }
    # A site without WordPress has no database to dump; an absent one stays listed (its final backup).
    assert entries["static.example"]["database"] == ""
    assert entries["gone.example"]["state"] == "absent"


def test_moving_the_certificate_folder_moves_every_path_that_names_a_certificate(monkeypatch):
    monkeypatch.setattr(site_model, "CERT_DIR", "/etc/ssl/elsewhere")
    (site,) = site_model.normalise_sites([{"domain": "tls.example", "kind": "static", "tls": "selfsigned"}])
    # What certificate_names checks is what the certificate is written to and what nginx reads: the same path,
    # so a moved folder gives one new certificate, not a new one on every run.
    (checked,) = site_resources.certificates([site])
    (vhost,) = site_resources.vhosts([site])
    assert (
        checked["path"]
        == site["tls"]["certificate"]
        == vhost["tls"]["certificate"]
        == "/etc/ssl/elsewhere/tls.example.crt"
    )
    assert vhost["tls"]["certificate_key"] == "/etc/ssl/elsewhere/tls.example.key"


def test_the_purge_watcher_runs_the_nginx_roles_purge_command_unless_told_otherwise():
    (watcher,) = [f for f in site_resources.units(SITES, "/usr/bin/php8.2", "*:0/5")["files"]
                  if f["path"] == site_resources.PURGE_WATCH_PROGRAM]  # fmt: skip
    assert "/usr/local/sbin/wpzo-nginx-cache-purge ${names[$folder]}" in watcher["content"]


def test_monitored_pools_are_the_present_php_sites_pools_with_their_limit():
    assert site_resources.monitored_pools(SITES) == [
        {
            "domain": "blog.example",
            "pool": "blog_example",
            "php_socket": "/run/php/blog_example.sock",
            "max_children": 5,
        },
        {"domain": "app.example", "pool": "app_example", "php_socket": "/run/php/app_example.sock", "max_children": 9},
    ]


def test_monitored_wordpress_wants_the_sites_own_version_else_the_inventorys():
    sites = site_model.normalise_sites(
        [
            {"domain": "old.example", "wordpress": {"admin_email": "a@b.example", "version": "6.1.1"}},
            {"domain": "new.example", "wordpress": {"admin_email": "a@b.example"}},
            {"domain": "php.example", "kind": "php"},
            {"domain": "gone.example", "state": "absent", "wordpress": {"admin_email": "a@b.example"}},
        ]
    )
    wanted = {s["domain"]: s["version"] for s in site_resources.monitored_wordpress(sites, version="6.4.2")}
    assert wanted == {"old.example": "6.1.1", "new.example": "6.4.2"}
    assert site_resources.monitored_wordpress(sites)[1] == {
        "domain": "new.example",
        "docroot": "/srv/www/new.example/public",
        "version": "",
    }


def test_probes_check_each_present_site_at_the_servers_address_with_its_name():
    sites = site_model.normalise_sites(
        [
            {"domain": "blog.example", "wordpress": {"admin_email": "a@b.example", "title": "My blog"}},
            {"domain": "shop.example", "kind": "php", "tls": "selfsigned"},
            {"domain": "old.example", "kind": "redirect", "redirect_to": "https://blog.example"},
            {"domain": "gone.example", "kind": "static", "state": "absent"},
        ]
    )
    checks = {"shop.example": {"expect": "Open", "path": "/health"}}
    probes = {p["site"]: p for p in site_resources.probes(sites, "web-1.lan", "2001:db8::1", checks=checks)}
    assert sorted(probes) == ["blog.example", "old.example", "shop.example"]
    blog, shop, old = probes["blog.example"], probes["shop.example"], probes["old.example"]
    assert blog["module"] == "site_web_1_lan_blog_example"
    assert (blog["target"], blog["url"], blog["host"]) == (
        "http://[2001:db8::1]/",
        "http://blog.example/",
        "blog.example",
    )
    assert (blog["expect"], blog["status_codes"], blog["insecure"]) == ("My blog", [200], False)
    assert (shop["target"], shop["expect"], shop["insecure"]) == ("https://[2001:db8::1]/health", "Open", True)
    assert (old["expect"], old["status_codes"], old["follow"]) == ("", [301, 302, 307, 308], False)
    assert site_resources.probes(sites, "web-1", "10.0.0.5")[0]["target"] == "http://10.0.0.5/"
