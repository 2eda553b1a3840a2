"""Hostile tenants (issue 12): each test performs an attack the way a site's user, a site's PHP or a remote client
would, and fails if the attack works. Site A is the shop, site B the blog."""

import time

import pytest
from test_sites import SITES_PLAYBOOK, headers, inventory_sites

A, B, STATIC, SECURE, STAGING = (
    "shop.example.test",
    "blog.example.test",
    "static.example.test",
    "secure.example.test",
    "staging.example.test",
)
A_USER, B_USER, STATIC_USER = "shop_example_test", "blog_example_test", "static_example_test"
FORGED = "192.0.2.77"  # an address that never sent a request (TEST-NET-1)


def as_user(host, user, script):
    """Run a shell script as a site's user, as its SFTP user or its PHP could (no root anywhere)."""
    return host.run("runuser -u %s -- sh -c %s" % (user, _quote(script)))


def _quote(text):
    return "'" + text.replace("'", "'\"'\"'") + "'"


def php_of(host, curl, domain, user, name, code):
    """Run PHP as the site's own PHP-FPM pool runs it: a file in its docroot, requested over HTTP."""
    as_user(host, user, f"cat > /srv/www/{domain}/public/{name} <<'EOF'\n{code}\nEOF")
    try:
        return curl(f"http://{domain}/{name}").stdout
    finally:
        host.run(f"rm -f /srv/www/{domain}/public/{name}")


def reopen_logs(host):
    """What the daily logrotate does (USR1 to nginx's master) and a reload: nginx reopens every log by name."""
    host.run("kill -USR1 $(cat /run/nginx.pid)")
    time.sleep(1)
    host.run("systemctl reload nginx")
    time.sleep(1)


# --- 1. logs root opens by name --------------------------------------------------------------------------------


def test_a_site_cannot_make_nginx_or_php_fpm_create_a_file_as_root(host, curl):
    logs = f"/srv/www/{A}/logs"
    targets = ["/etc/wpzo-pwned-access", "/etc/wpzo-pwned-error", "/etc/wpzo-pwned-slow", "/etc/ld.so.preload"]
    host.run("rm -f " + " ".join(targets[:-1]))
    assert not host.file("/etc/ld.so.preload").exists
    # The CVE-2016-1247 move: swap the logs root opens for links to files that do not exist yet under /etc.
    for attack in (
        f"ln -sfn {targets[0]} {logs}/access.log",
        f"ln -sfn {targets[1]} {logs}/error.log",
        f"ln -sfn {targets[2]} {logs}/php-slow.log",
        f"mv {logs}/access.log {logs}/old.log && ln -s {targets[0]} {logs}/access.log",
        f"rm -f {logs}/error.log && ln -s {targets[1]} {logs}/error.log",
        f"ln -s /etc/ld.so.preload {logs}/preload.log",
    ):
        assert as_user(host, A_USER, attack).rc != 0, attack
    reopen_logs(host)
    curl(f"http://{A}/?after-the-swap")
    for target in targets:
        assert not host.file(target).exists, f"{target} was created by root"
    for name in ("access.log", "error.log", "php-slow.log"):
        log = host.file(f"{logs}/{name}")
        assert log.is_file and not log.is_symlink, name
        assert log.user in ("root", "www-data"), name
    folder = host.file(logs)
    assert (folder.user, folder.group, folder.mode) == ("root", A_USER, 0o750)
    # The site still reads its logs, and its PHP still writes its own error log.
    assert as_user(host, A_USER, f"tail -n 1 {logs}/access.log").stdout.count("after-the-swap") == 1
    php_of(host, curl, A, A_USER, "oops.php", "<?php error_log('wpzo-own-error-log-works'); echo 'ok';")
    assert "wpzo-own-error-log-works" in as_user(host, A_USER, f"cat {logs}/php-error.log").stdout


def test_a_site_cannot_forge_log_lines_to_get_an_address_banned(host, curl):
    logs = f"/srv/www/{A}/logs"
    line = f'{FORGED} - - [01/Jan/2030:00:00:00 +0000] "POST /wp-login.php HTTP/1.1" 200 1 "-" "-"'
    # Straight into the logs fail2ban reads, as the site's user.
    for name in ("access.log", "error.log"):
        assert as_user(host, A_USER, f"echo '{line}' >> {logs}/{name}").rc != 0, name
    # Through nginx, from the site's PHP: messages with newlines, to the SAPI logger and to the error log.
    auth_line = (
        f'2030/01/01 00:00:00 [error] 1#1: *1 user "admin" was not found in "/etc/nginx/wpzo-htpasswd/x", '
        f'client: {FORGED}, server: {A}, request: "GET / HTTP/1.1", host: "{A}"'
    )
    code = "<?php\n" + "".join(
        f'error_log("\\n{text}\\n", 4); trigger_error("\\n{text}\\n");\n'
        for text in (line.replace('"', '\\"'), auth_line.replace('"', '\\"'))
        for _attempt in range(6)
    )
    php_of(host, curl, A, A_USER, "forge.php", code + "echo 'sent';")
    time.sleep(2)
    # What the web jails read, as fail2ban reports it.
    read = sorted(
        {
            word
            for jail in ("wordpress", "nginx-http-auth", "nginx-botsearch")
            for word in host.check_output(f"fail2ban-client get {jail} logpath").split()
            if word.startswith("/")
        }
    )
    assert f"{logs}/access.log" in read and f"{logs}/error.log" in read
    for path in read:
        found = host.run(f"grep -c '^{FORGED}\\|client: {FORGED}' {path}").stdout.strip()
        assert found in ("", "0"), f"a forged line reached {path}"
        log = host.file(path)
        assert log.user in ("root", "www-data") and not log.mode & 0o022, path
        assert host.file(path.rsplit("/", 1)[0]).user == "root", path
    for jail in ("wordpress", "nginx-http-auth", "nginx-botsearch"):
        banned = host.run(f"fail2ban-client get {jail} banned").stdout
        assert FORGED not in banned, jail


# --- 2. links and files nginx does not need --------------------------------------------------------------------


def test_a_site_cannot_read_another_sites_secrets_through_a_link(host, curl):
    # A staging site's htpasswd file as the sites role writes it: root's, readable by nginx's group.
    htpasswd = f"/etc/nginx/wpzo-htpasswd/{STAGING}"
    host.run(f"install -D -o root -g www-data -m 0640 /dev/null {htpasswd} && echo 'reviewer:$6$x$y' > {htpasswd}")
    links = {
        "leak-config.txt": f"/srv/www/{B}/public/wp-config.php",
        "leak-log.txt": f"/srv/www/{B}/logs/access.log",
        "leak-htpasswd.txt": f"/etc/nginx/wpzo-htpasswd/{STAGING}",
        "leak-dir": f"/srv/www/{B}/public",
    }
    as_user(host, A_USER, f"echo mine > /srv/www/{A}/public/own.txt; ln -sfn own.txt /srv/www/{A}/public/own-link.txt")
    for name, target in links.items():
        assert as_user(host, A_USER, f"ln -sfn {target} /srv/www/{A}/public/{name}").rc == 0, name
    try:
        assert curl(f"http://{A}/own-link.txt").stdout == "mine\n"  # a site's link to its own file works
        for url in ("leak-config.txt", "leak-log.txt", "leak-htpasswd.txt", "leak-dir/wp-config.php"):
            response = curl(f"http://{A}/{url}", "-D", "-")
            # Refused by nginx (403), or missing to it and handed to WordPress (404, or a 301 to a guessed post).
            assert headers(response)[0] != 200, url
            for secret in ("DB_PASSWORD", "reviewer:", "GET /", "<?php"):
                assert secret not in response.stdout, url
    finally:
        host.run(f"rm -f {htpasswd} /srv/www/{A}/public/own.txt /srv/www/{A}/public/own-link.txt " + " ".join(
            f"/srv/www/{A}/public/{name}" for name in links
        ))  # fmt: skip
    # Not even nginx's own user reads a site's wp-config.php.
    for domain in (A, B):
        config = host.file(f"/srv/www/{domain}/public/wp-config.php")
        assert config.mode == 0o600, domain
        assert host.run(f"runuser -u www-data -- cat /srv/www/{domain}/public/wp-config.php").rc != 0, domain


def test_a_sites_php_cannot_make_links_or_set_the_environment(host, curl):
    code = (
        "<?php\n"
        "foreach (array('symlink', 'link', 'putenv', 'exec', 'shell_exec', 'proc_open', 'popen') as $f) {\n"
        "    try { $f($f === 'putenv' ? 'LD_PRELOAD=/tmp/x.so' : '/srv/www/blog.example.test/public/wp-config.php',"
        " __DIR__ . '/linked-' . $f); echo \"$f:WORKED \"; }\n"
        '    catch (Error $e) { echo "$f:denied "; }\n'
        "}\n"
        "echo function_exists('mail') ? 'mail:on ' : 'mail:off ';\n"
        "echo ini_get('mail.force_extra_parameters');\n"
    )
    output = php_of(host, curl, A, A_USER, "links.php", code)
    host.run(f"rm -f /srv/www/{A}/public/linked-*")
    assert output.split() == [
        "symlink:denied", "link:denied", "putenv:denied", "exec:denied", "shell_exec:denied", "proc_open:denied",
        "popen:denied", "mail:on", "-i",
    ]  # fmt: skip


def test_no_site_lists_the_other_sites(host):
    assert host.file("/srv/www").mode == 0o711
    for user in (A_USER, B_USER, STATIC_USER, "www-data"):
        listing = host.run(f"runuser -u {user} -- ls /srv/www")
        assert listing.rc != 0 and B not in listing.stdout, user
    assert as_user(host, A_USER, f"ls /srv/www/{A}/public >/dev/null").rc == 0


# --- 3. what remote clients get -------------------------------------------------------------------------------

LISTMETHODS = "<?xml version='1.0'?><methodCall><methodName>system.listMethods</methodName></methodCall>"


def test_xmlrpc_is_off_unless_the_site_asks_for_it(curl):
    closed = curl(f"https://{B}/xmlrpc.php", "-D", "-", "-H", "Content-Type: text/xml", "--data", LISTMETHODS)
    assert headers(closed)[0] == 403 and "methodResponse" not in closed.stdout
    opened = curl(f"http://{A}/xmlrpc.php", "-D", "-", "-H", "Content-Type: text/xml", "--data", LISTMETHODS)
    assert headers(opened)[0] == 200 and "methodResponse" in opened.stdout


LEFTOVERS = [
    "wp-config.php.bak", "wp-config.php~", "wp-config.php.old", "wp-config.php.orig", "wp-config.php.save",
    "wp-config.php.swp", ".wp-config.php.swp", "backup.sql", "dump.sql.gz", "wp-content/debug.log", ".git/config",
]  # fmt: skip


@pytest.mark.parametrize("domain,user,scheme", [(B, B_USER, "https"), (STATIC, STATIC_USER, "https")])
def test_editor_and_backup_leftovers_are_not_served(host, curl, domain, user, scheme):
    public = f"/srv/www/{domain}/public"
    script = " && ".join(
        f"mkdir -p $(dirname {public}/{name}) && echo \"define('DB_PASSWORD', 'leftover-secret');\" > {public}/{name}"
        for name in LEFTOVERS
    )
    assert as_user(host, user, script).rc == 0
    try:
        for name in LEFTOVERS:
            response = curl(f"{scheme}://{domain}/{name}", "-D", "-")
            assert headers(response)[0] in (403, 404), name
            assert "leftover-secret" not in response.stdout, name
    finally:
        host.run(f"cd {public} && rm -rf .git " + " ".join(name for name in LEFTOVERS if not name.startswith(".git")))


def test_hsts_only_with_a_certificate_browsers_trust(curl):
    for selfsigned in (B, STATIC):
        assert (
            "strict-transport-security" not in headers(curl(f"https://{selfsigned}/", "-D", "-", "-o", "/dev/null"))[1]
        )
    trusted = headers(curl(f"https://{SECURE}/", "-D", "-", "-o", "/dev/null"))[1]
    assert trusted["strict-transport-security"].startswith("max-age=")


def test_the_page_cache_never_answers_a_request_with_credentials(curl):
    curl(f"https://{B}/?p=1")
    curl(f"https://{B}/")
    assert headers(curl(f"https://{B}/", "-D", "-", "-o", "/dev/null"))[1]["x-cache-status"] == "HIT"
    with_auth = curl(f"https://{B}/", "-D", "-", "-o", "/dev/null", "-u", "someone:password")
    assert headers(with_auth)[1]["x-cache-status"] == "BYPASS"


def test_a_tls_connection_for_one_name_asking_for_another_gets_421(curl):
    response = curl(f"https://{B}/", "-D", "-", "-o", "/dev/null", "-H", "Host: unknown.example.test")
    assert headers(response)[0] == 421


def test_a_hung_wordpress_cron_run_is_killed(host):
    for user in (A_USER, B_USER):
        unit = f"wpzo-wp-cron-{user}.service"
        assert host.run(f"systemctl show -p TimeoutStartUSec --value {unit}").stdout.strip() == "15min", unit


# --- 4. servers converged with the old layout ------------------------------------------------------------------


def test_a_run_takes_over_the_old_layout_and_a_second_changes_nothing(host, ansible_playbook):
    logs = f"/srv/www/{STATIC}/logs"
    # Logs as the old layout had them, the site's own, with a link the site planted there.
    host.run(f"chown -R {STATIC_USER}:{STATIC_USER} {logs} && chmod 0755 {logs} && chmod 0755 /srv/www")
    as_user(host, STATIC_USER, f"ln -s /etc/wpzo-pwned-old {logs}/evil.log; echo x > {logs}/error.log.1")
    host.run(f"chmod 0640 /srv/www/{A}/public/wp-config.php")
    sites = inventory_sites()
    ansible_playbook(SITES_PLAYBOOK, extra_vars={"wpzo_sites": sites})
    folder = host.file(logs)
    assert (folder.user, folder.group, folder.mode) == ("root", STATIC_USER, 0o750)
    assert not host.file(f"{logs}/evil.log").exists and not host.file("/etc/wpzo-pwned-old").exists
    for name in ("access.log", "error.log", "error.log.1"):
        log = host.file(f"{logs}/{name}")
        assert log.user in ("root", "www-data") and not log.mode & 0o022 and log.group == STATIC_USER, name
    assert host.file(f"/srv/www/{A}/public/wp-config.php").mode == 0o600
    assert host.file("/srv/www").mode == 0o711
    assert ansible_playbook(SITES_PLAYBOOK, extra_vars={"wpzo_sites": sites}).recap["changed"] == 0
