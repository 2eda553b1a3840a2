"""What PHP-FPM does for the three sites of converge.yml, seen the way nginx and an operator see it.

Requests go through the pools' UNIX sockets with cgi-fcgi, as root (or as another user, to show it is
refused), with SCRIPT_FILENAME pointing at the probe script converge.yml put into each site's docroot.
"""

import json
import shlex
import time
import urllib.parse

import pytest

SITES = ("site_a", "site_b", "site_c")
ONDEMAND = ("site_a", "site_b")
PHP = "8.2"
POOL_DIR = f"/etc/php/{PHP}/fpm/pool.d"
STATUS_SOCKET = "/run/php/wpzo-status.sock"
STATUS_DIR = "/usr/local/lib/wpzo/php-fpm-status"
INI_CHECK = "/usr/local/lib/wpzo/php-ini-check"


def socket(site):
    return f"/run/php/{site}.sock"


def probe_script(site):
    return f"/srv/www/{site}/public/probe.php"


def fcgi(host, sock, script, query=None, user=None):
    """One FastCGI GET request; returns (rc, headers, body). ``script`` is SCRIPT_FILENAME and SCRIPT_NAME."""
    env = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_FILENAME": script,
        "SCRIPT_NAME": script if script.startswith("/fpm-") else "/" + script.rsplit("/", 1)[-1],
        "QUERY_STRING": urllib.parse.urlencode(query or {}),
    }
    command = "env " + " ".join(shlex.quote(f"{k}={v}") for k, v in env.items())
    command += " cgi-fcgi -bind -connect " + shlex.quote(sock)
    if user:
        command = f"runuser -u {user} -- {command}"
    result = host.run(command)
    headers, body = ([*result.stdout.split("\r\n\r\n", 1), ""])[:2]
    return result.rc, headers, body + result.stderr


def probe(host, site, **query):
    """Run the probe script in ``site``'s pool; returns its JSON answer."""
    if "ini" in query:
        query["ini"] = ",".join(query["ini"])
    rc, _headers, body = fcgi(host, socket(site), probe_script(site), query)
    assert rc == 0, body
    return json.loads(body)


def pool_processes(host, pool):
    """Number of worker processes of ``pool`` (their title is "php-fpm: pool <name>")."""
    titles = host.run("ps -eo args=").stdout.splitlines()
    return sum(1 for title in titles if title.strip() == f"php-fpm: pool {pool}")


def test_a_check_diff_run_on_the_converged_server_changes_nothing(check_run):
    check_run.assert_changed_nothing()


def test_php_fpm_and_extensions_are_installed(host):
    assert host.service(f"php{PHP}-fpm").is_running
    assert host.service(f"php{PHP}-fpm").is_enabled
    modules = host.run(f"php-fpm{PHP} -m").stdout.splitlines()
    for module in ("mysqli", "curl", "gd", "intl", "mbstring", "xml", "zip", "bcmath", "Zend OPcache", "redis"):
        assert module in modules, f"FPM lacks {module}"


def test_configuration_test_passes(host):
    result = host.run(f"php-fpm{PHP} -t")
    assert result.rc == 0, result.stderr
    assert "test is successful" in result.stderr + result.stdout


def test_debian_default_pool_is_gone(host):
    assert not host.file(f"{POOL_DIR}/www.conf").exists
    assert not host.file(f"/run/php/php{PHP}-fpm.sock").exists


@pytest.mark.parametrize("site", SITES)
def test_pool_socket_belongs_to_www_data_only(host, site):
    sock = host.file(socket(site))
    assert sock.is_socket
    assert sock.user == "www-data"
    assert sock.group == "www-data"
    assert sock.mode == 0o660


def test_only_www_data_and_root_can_connect(host):
    rc, _headers, body = fcgi(host, socket("site_a"), "/fpm-ping", user="www-data")
    assert rc == 0 and body.strip() == "pong"
    # another site's user (and so another site's PHP) cannot open the socket
    rc, _headers, body = fcgi(host, socket("site_a"), "/fpm-ping", user="site_b")
    assert rc != 0
    assert "pong" not in body


@pytest.mark.parametrize("site", SITES)
def test_workers_run_as_the_sites_user(host, site):
    answer = probe(host, site)
    assert answer["euid"] == host.user(site).uid
    assert answer["user"] == site
    assert answer["current_user"] == site


@pytest.mark.parametrize("site", SITES)
def test_status_and_ping_answer_over_the_socket(host, site):
    rc, _headers, body = fcgi(host, socket(site), "/fpm-ping")
    assert rc == 0 and body.strip() == "pong"
    rc, _headers, body = fcgi(host, socket(site), "/fpm-status")
    assert rc == 0
    assert f"pool:                 {site}" in body


def test_status_pool_answers(host):
    sock = host.file(STATUS_SOCKET)
    assert sock.is_socket and sock.user == "www-data" and sock.mode == 0o660
    rc, _headers, body = fcgi(host, STATUS_SOCKET, "/fpm-ping")
    assert rc == 0 and body.strip() == "pong"
    rc, _headers, body = fcgi(host, STATUS_SOCKET, "/fpm-status")
    assert rc == 0 and "pool:                 wpzo-status" in body


def test_status_pool_runs_only_its_own_scripts(host):
    # a site's script: the status pool's user cannot even see it
    _rc, _headers, body = fcgi(host, STATUS_SOCKET, probe_script("site_a"))
    assert "Primary script unknown" in body
    assert '"euid"' not in body
    # a script anyone may read: open_basedir refuses it, and php.ini's error_log sends the reason to the journal
    outside = f"/tmp/wpzo-outside-{time.time_ns()}.php"
    script = shlex.quote("<?php echo strtoupper('script ran');")
    host.run(f"printf %s {script} > {outside} && chmod 0644 {outside}")
    _rc, _headers, body = fcgi(host, STATUS_SOCKET, outside)
    host.run(f"rm -f {outside}")
    assert "Unable to open primary script" in body
    assert "SCRIPT RAN" not in body
    journal = host.run("journalctl -t php --no-pager -o cat").stdout
    assert f"open_basedir restriction in effect. File({outside})" in journal


def test_opcache_is_on_in_fpm_and_its_api_is_for_the_status_pool_only(host):
    answer = probe(host, "site_a", ini=["opcache.enable", "opcache.validate_permission"])
    assert answer["ini"] == {"opcache.enable": "1", "opcache.validate_permission": "1"}
    # opcache.restrict_api: a site cannot list the scripts of every site
    assert answer["opcache_api"] is False
    rc, headers, body = fcgi(host, STATUS_SOCKET, f"{STATUS_DIR}/opcache-status.php")
    assert rc == 0
    assert "application/json" in headers
    status = json.loads(body)
    assert status["opcache_enabled"] is True
    assert status["opcache_statistics"]["num_cached_scripts"] >= 1
    assert status["memory_usage"]["used_memory"] + status["memory_usage"]["free_memory"] > 200 * 1024 * 1024


def test_fpm_php_ini_is_in_effect(host):
    keys = [
        "expose_php",
        "display_errors",
        "log_errors",
        "upload_max_filesize",
        "post_max_size",
        "max_input_vars",
        "realpath_cache_size",
        "realpath_cache_ttl",
        "opcache.memory_consumption",
        "opcache.interned_strings_buffer",
        "opcache.max_accelerated_files",
        "opcache.validate_timestamps",
        "opcache.revalidate_freq",
        "date.timezone",
        "memory_limit",
    ]
    answer = probe(host, "site_c", ini=keys)
    assert answer["ini"] == {
        "expose_php": "",
        "display_errors": "",
        "log_errors": "1",
        "upload_max_filesize": "64M",
        "post_max_size": "64M",
        "max_input_vars": "3000",
        "realpath_cache_size": "4096K",
        "realpath_cache_ttl": "600",
        "opcache.memory_consumption": "256",
        "opcache.interned_strings_buffer": "32",
        "opcache.max_accelerated_files": "32531",
        "opcache.validate_timestamps": "1",
        "opcache.revalidate_freq": "60",
        "date.timezone": "UTC",
        "memory_limit": "384M",  # the pool's own, not php.ini's
    }
    _rc, headers, _body = fcgi(host, socket("site_c"), probe_script("site_c"))
    assert "X-Powered-By" not in headers


def test_cli_php_ini_differs_where_it_should(host):
    keys = "['memory_limit', 'opcache.enable_cli', 'expose_php', 'display_errors']"
    code = f"echo json_encode(array_map('ini_get', {keys}));"
    result = host.run(f"php{PHP} -r {shlex.quote(code)}")
    assert result.rc == 0, result.stderr
    assert json.loads(result.stdout) == ["512M", "", "", ""]


def test_errors_are_logged_not_displayed(host):
    marker = f"wpzo-warning-{time.time_ns()}"
    rc, _headers, body = fcgi(host, socket("site_b"), probe_script("site_b"), {"warn": marker})
    assert rc == 0
    assert marker not in body
    log = host.file("/srv/www/site_b/logs/php-error.log")
    assert marker in log.content_string


def test_a_site_reads_its_own_files(host):
    answer = probe(host, "site_a", read="/srv/www/site_a/private/secret.txt")
    assert answer["read"] == "secret of site_a\n"


@pytest.mark.parametrize("path", ["/srv/www/site_b/private/secret.txt", "/etc/passwd"])
def test_open_basedir_keeps_a_site_in_its_tree(host, path):
    answer = probe(host, "site_a", read=path)
    assert answer["read"] is False
    assert any("open_basedir restriction in effect" in error for error in answer["read_errors"]), answer


def test_file_permissions_keep_sites_apart_without_open_basedir(host):
    code = "var_dump(@file_get_contents('/srv/www/site_b/private/secret.txt')); echo error_get_last()['message'];"
    result = host.run(f"runuser -u site_a -- php{PHP} -n -r {shlex.quote(code)}")
    assert "bool(false)" in result.stdout
    assert "Permission denied" in result.stdout


@pytest.mark.parametrize("site", ONDEMAND)
def test_ondemand_pools_keep_no_idle_workers(host, site):
    probe(host, site)
    assert pool_processes(host, site) >= 1
    deadline = time.monotonic() + 20  # pm.process_idle_timeout is 3s in converge.yml
    while pool_processes(host, site) > 0 and time.monotonic() < deadline:
        time.sleep(1)
    assert pool_processes(host, site) == 0


def test_dynamic_pool_keeps_spare_workers(host):
    assert pool_processes(host, "site_c") >= 1


def test_purge_removed_the_dropped_sites_pool(host):
    assert not host.file(f"{POOL_DIR}/site_d.conf").exists
    assert not host.file(socket("site_d")).exists
    assert pool_processes(host, "site_d") == 0
    for site in SITES:
        assert probe(host, site)["user"] == site


def test_php_ini_check_accepts_the_drop_ins_and_rejects_mistakes(host):
    for sapi in ("fpm", "cli"):
        dest = f"/etc/php/{PHP}/{sapi}/conf.d/90-wpzo.ini"
        result = host.run(f"{INI_CHECK} /usr/bin/php{PHP} {dest} {dest}")
        assert result.rc == 0, result.stderr
    dest = f"/etc/php/{PHP}/fpm/conf.d/90-wpzo.ini"
    for content, message in (
        ("opcache.memory_consumpton = 128\n", "unknown directive"),
        ("opcache.interned_strings_buffer = 99999\n", "PHP rejected"),
        ("memory_limit = lots\n", "Invalid"),
        ('memory_limit = "256M\n', "syntax error"),
    ):
        host.run(f"printf %s {shlex.quote(content)} > /tmp/candidate.ini")
        result = host.run(f"{INI_CHECK} /usr/bin/php{PHP} {dest} /tmp/candidate.ini")
        assert result.rc == 1, content
        assert message in result.stderr, result.stderr
    host.run("rm -f /tmp/candidate.ini")


# --- a run killed between writing the pools and its reload handler --------------------------------------------
# The state such a run leaves is made by hand, faithfully: the pool files on disk are exactly what converge.yml
# writes (so converge sees nothing to write and notifies nothing), but the running master has not loaded them.
# Then converge.yml runs again, and every site must answer through its socket. Last in this file: it converges.
PID_FILE = f"/run/php/php{PHP}-fpm.pid"


def reload_and_wait(host):
    """Reload php-fpm by hand and wait until the re-executed master has rewritten its pid file."""
    before = host.run(f"stat -c %Y.%y {PID_FILE}").stdout
    host.check_output(f"systemctl reload php{PHP}-fpm")
    for _attempt in range(50):
        if host.run(f"stat -c %Y.%y {PID_FILE}").stdout != before:
            break
        time.sleep(0.1)
    time.sleep(0.5)


def write_as_the_module_does(host, path, content_file):
    """The bytes, owner and mode php_fpm_pool writes; staged beside the target, then renamed, as it does."""
    host.check_output(f"install -o root -g root -m 0640 {content_file} {POOL_DIR}/.wpzo-killed && "
                      f"mv {POOL_DIR}/.wpzo-killed {path}")  # fmt: skip


def test_a_killed_run_leaves_nothing_a_second_converge_does_not_repair(host, ansible_playbook):
    added, updated = "site_b", "site_c"
    for site in (added, updated):
        host.check_output(f"cp -p {POOL_DIR}/{site}.conf /root/{site}.conf.desired")

    # The server before the killed run: site_b not there yet, site_c with an older setting.
    host.check_output(f"rm {POOL_DIR}/{added}.conf")
    host.check_output(
        f"sed 's/memory_limit] = 384M/memory_limit] = 128M/' /root/{updated}.conf.desired > /root/{updated}.conf.old"
    )
    write_as_the_module_does(host, f"{POOL_DIR}/{updated}.conf", f"/root/{updated}.conf.old")
    reload_and_wait(host)
    assert not host.file(socket(added)).exists
    assert probe(host, updated, ini=["memory_limit"])["ini"] == {"memory_limit": "128M"}

    # The killed run: both pools written as the module writes them, a staged candidate left over, no reload.
    time.sleep(0.05)
    write_as_the_module_does(host, f"{POOL_DIR}/{added}.conf", f"/root/{added}.conf.desired")
    write_as_the_module_does(host, f"{POOL_DIR}/{updated}.conf", f"/root/{updated}.conf.desired")
    host.check_output(f"install -m 0640 /root/{added}.conf.desired {POOL_DIR}/.wpzo-stray")
    assert not host.file(socket(added)).exists  # the 502 of the issue: nginx would find no socket
    assert probe(host, updated, ini=["memory_limit"])["ini"] == {"memory_limit": "128M"}

    # The recovery run writes nothing, but reads from the server that php-fpm must reload.
    recovery = ansible_playbook()
    assert recovery.recap["changed"] >= 1
    assert "RUNNING HANDLER [wpzo.hosting.php_fpm : Reload php-fpm]" in recovery.stdout
    for _attempt in range(50):
        if host.file(socket(added)).is_socket:
            break
        time.sleep(0.1)
    assert host.file(socket(added)).is_socket
    rc, _headers, body = fcgi(host, socket(added), "/fpm-ping")
    assert rc == 0 and body.strip() == "pong"
    assert probe(host, added)["user"] == added
    assert probe(host, updated, ini=["memory_limit"])["ini"] == {"memory_limit": "384M"}
    assert not host.file(f"{POOL_DIR}/.wpzo-stray").exists

    # And the run after that has nothing to do.
    assert ansible_playbook().recap["changed"] == 0
    host.run(f"rm -f /root/{added}.conf.desired /root/{updated}.conf.desired /root/{updated}.conf.old")


# --- a pool file changed by hand -----------------------------------------------------------------------------
POOL_TASK = "TASK [wpzo.hosting.php_fpm : Manage the role's pools in one call, checked with php-fpm -t and rolled back"
# Reports the write the pool task just made (the pool file is newer than the master's last load) and notifies the
# same reload handler: a consequence of the write, not a second change.
RELOAD_CHECK = "TASK [wpzo.hosting.php_fpm : Reload PHP-FPM if it has not loaded its configuration"


def test_a_pool_file_whose_mode_and_owner_were_changed_by_hand_is_put_back(host, ansible_playbook):
    path = f"{POOL_DIR}/site_b.conf"  # site_b's pool holds an env value: it must not stay world-readable
    content = host.file(path).content
    host.check_output(f"chmod 0644 {path} && chown site_b:site_b {path}")
    assert host.file(path).mode == 0o644 and host.file(path).user == "site_b"

    repair = ansible_playbook()
    tasks = [name for name in repair.changed_tasks if name.startswith("TASK [")]
    assert [name for name in tasks if name.startswith(POOL_TASK)], tasks
    assert all(name.startswith((POOL_TASK, RELOAD_CHECK)) for name in tasks), tasks
    pool_file = host.file(path)
    assert (pool_file.mode, pool_file.user, pool_file.group) == (0o640, "root", "root")
    assert pool_file.content == content
    assert probe(host, "site_b")["user"] == "site_b"

    assert ansible_playbook().recap["changed"] == 0
