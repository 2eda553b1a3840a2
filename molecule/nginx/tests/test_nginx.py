"""What a visitor, an attacker and an operator of a server converged with wpzo.hosting.nginx see.

Requests are made with curl inside the instance against 127.0.0.1 with the site's name resolved
there (so TLS gets the right SNI), and from the probe container where the network matters.
"""

import json
import re
import shlex
import time
import uuid
from dataclasses import dataclass, field

import pytest

CURL_EMPTY_REPLY = 52
CURL_TLS_HANDSHAKE_FAILED = 35


@dataclass
class Response:
    rc: int
    status: int = 0
    version: str = ""
    headers: dict = field(default_factory=dict)
    body: str = ""


def fetch(host, url, *options, method="GET"):
    """Request url from inside the instance, its name resolved to 127.0.0.1; redirects are not followed."""
    name_port = url.split("/")[2]
    name = name_port.split(":")[0]
    port = name_port.split(":")[1] if ":" in name_port else ("443" if url.startswith("https") else "80")
    command = [
        "curl", "-s", "-k", "-i", "--max-time", "10", "-X", method,
        "--resolve", f"{name}:{port}:127.0.0.1", *options, url,
    ]  # fmt: skip
    result = host.run(shlex.join(command))
    response = Response(rc=result.rc)
    if result.rc != 0 or not result.stdout:
        return response
    head, _separator, body = result.stdout.partition("\r\n\r\n")
    status_line, *header_lines = head.split("\r\n")
    response.version, status = status_line.split()[:2]
    response.status = int(status)
    for line in header_lines:
        key, _colon, value = line.partition(":")
        response.headers[key.strip().lower()] = value.strip()
    response.body = body
    return response


def probe_http(probe, address, host_header, path="/", headers=None):
    """GET from the probe container with Python (it has no curl); returns 'status body' or the error's class."""
    script = (
        "import http.client,json,sys\n"
        "c=http.client.HTTPConnection(sys.argv[1],80,timeout=5)\n"
        "try:\n"
        " c.request('GET',sys.argv[3],headers={'Host':sys.argv[2],**json.loads(sys.argv[4])})\n"
        " r=c.getresponse(); print(r.status, r.read().decode())\n"
        "except Exception as e: print(type(e).__name__)\n"
    )
    return probe.run("python3", "-c", script, address, host_header, path, json.dumps(headers or {})).stdout.strip()


# --- the configuration ------------------------------------------------------------------------


def test_a_check_diff_run_on_the_converged_server_changes_nothing(check_run):
    check_run.assert_changed_nothing()


def test_configuration_is_valid(host):
    assert host.run("nginx -t").rc == 0
    assert host.service("nginx").is_enabled
    assert host.service("nginx").is_running


def test_globals_are_split_into_snippets_and_tuned(host):
    config = host.check_output("nginx -T 2>/dev/null")
    snippets = ("http-gzip.conf", "http-tls.conf", "http-real-ip.conf", "http-page-cache.conf", "security-headers.conf")
    for snippet in snippets:
        assert f"/etc/nginx/wpzo/globals/{snippet}" in config
    assert "worker_processes auto;" in config
    assert "worker_connections 4096;" in config
    assert "worker_rlimit_nofile 16384;" in config
    assert "server_tokens off;" in config
    assert not re.search(r"^\s*ssl_dhparam\s", config, re.M)


def test_open_file_limit_of_master_and_workers(host):
    # Read in one go on the server, again if a worker was replaced meanwhile (a reload of an earlier step).
    script = 'm=$(cat /run/nginx.pid); for p in $m $(pgrep -P "$m"); do grep "Max open" /proc/$p/limits || exit 3; done'
    deadline = time.monotonic() + 20
    while (result := host.run(script)).rc != 0 and time.monotonic() < deadline:
        time.sleep(1)
    assert result.rc == 0, result.stderr
    limits = [line.split()[3:5] for line in result.stdout.splitlines()]
    assert len(limits) >= 2, "no worker"
    assert all(limit == ["16384", "16384"] for limit in limits), limits


# --- unknown names ----------------------------------------------------------------------------


def test_unknown_host_gets_no_response_on_port_80(host, probe, instance_ip):
    assert fetch(host, "http://unknown.test/").rc == CURL_EMPTY_REPLY
    assert fetch(host, "http://127.0.0.1/").rc == CURL_EMPTY_REPLY
    assert probe_http(probe, instance_ip, "unknown.test") == "RemoteDisconnected"


def test_unknown_name_gets_its_tls_handshake_refused(host):
    assert fetch(host, "https://unknown.test/").rc == CURL_TLS_HANDSHAKE_FAILED
    # Without SNI (a bare address) as well.
    assert fetch(host, "https://127.0.0.1/").rc == CURL_TLS_HANDSHAKE_FAILED


def test_a_known_sni_with_a_foreign_host_header_gets_421(host):
    # 421 Misdirected Request: an HTTP/2 client that reused a connection retries on a new one.
    for options in ((), ("--http2",)):
        response = fetch(host, "https://wp.test/", "-H", "Host: unknown.test", *options)
        assert response.status == 421, options
        assert "wordpress front page" not in response.body


def test_acme_challenges_answer_for_any_name_on_port_80(host):
    for name in ("wp.test", "static.test", "not-yet-a-site.test"):
        response = fetch(host, f"http://{name}/.well-known/acme-challenge/wpzo-test-token")
        assert response.status == 200, name
        assert response.body == "wpzo-test-token.key-authorization\n"


# --- headers, compression, TLS ----------------------------------------------------------------


def test_security_headers_without_hsts_on_a_plain_site(host):
    response = fetch(host, "http://static.test/")
    assert response.status == 200
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "SAMEORIGIN"
    assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert "camera=()" in response.headers["permissions-policy"]
    assert response.headers["server"] == "nginx"
    assert "strict-transport-security" not in response.headers


def test_security_headers_also_on_errors(host):
    response = fetch(host, "http://static.test/missing")
    assert response.status == 404
    assert response.headers["x-content-type-options"] == "nosniff"


def test_hsts_and_http2_on_the_tls_site(host):
    response = fetch(host, "https://wp.test/", "--http2")
    assert response.status == 200
    assert response.version == "HTTP/2"
    assert response.headers["strict-transport-security"] == "max-age=63072000"
    assert response.headers["x-frame-options"] == "SAMEORIGIN"
    assert "x-powered-by" not in response.headers


def test_gzip_for_text_files(host):
    compressed = fetch(host, "http://static.test/big.css", "--compressed")
    assert compressed.status == 200
    assert compressed.headers["content-encoding"] == "gzip"
    assert compressed.headers["vary"] == "Accept-Encoding"
    assert compressed.body.startswith("body { color")
    plain = fetch(host, "http://static.test/big.css")
    assert plain.status == 200 and plain.body.startswith("body { color")
    assert "content-encoding" not in plain.headers


def test_static_files_are_cached_by_browsers(host):
    assert "max-age=2592000" in fetch(host, "http://static.test/big.css").headers["cache-control"]
    page = fetch(host, "http://static.test/")
    assert page.status == 200
    assert "cache-control" not in page.headers


def openssl(host, *options):
    command = "openssl s_client -connect 127.0.0.1:443 -servername wp.test " + " ".join(options) + " </dev/null"
    return host.run(command)


def test_tls_follows_mozilla_intermediate(host):
    tls12 = openssl(host, "-tls1_2")
    assert tls12.rc == 0
    assert "Cipher is ECDHE-" in tls12.stdout
    # Session tickets are off: the server sends none.
    assert "session ticket" not in tls12.stdout.lower()
    assert openssl(host, "-tls1_3").rc == 0
    # TLS 1.1 even with a client that would accept it, and a non-ECDHE cipher, are refused.
    assert openssl(host, "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0").rc != 0
    assert openssl(host, "-tls1_2", "-cipher", "AES128-GCM-SHA256").rc != 0


# --- monitoring -------------------------------------------------------------------------------


def test_stub_status_on_localhost_only(host, probe, instance_ip):
    status = host.check_output("curl -s http://127.0.0.1:8080/nginx_status")
    assert status.startswith("Active connections:")
    assert probe.tcp_connect(instance_ip, 8080) == "refused"


# --- each kind of site ------------------------------------------------------------------------


def test_static_site(host):
    response = fetch(host, "http://static.test/")
    assert response.status == 200
    assert response.body == "<h1>static site works</h1>\n"


def test_dotfiles_are_denied(host):
    response = fetch(host, "http://static.test/.env")
    assert response.status in (403, 404)
    assert "SECRET" not in response.body


def test_static_site_never_runs_or_shows_php(host):
    response = fetch(host, "http://static.test/hello.php")
    assert response.status == 404
    assert "EXECUTED" not in response.body
    assert "<?php" not in response.body


def test_php_site_runs_its_front_controller(host):
    home = fetch(host, "http://php.test/")
    assert home.status == 200
    assert home.body.startswith("php front controller / ")
    route = fetch(host, "http://php.test/some/route")
    assert route.status == 200
    assert route.body.startswith("php front controller /some/route ")


def test_php_site_runs_no_other_php(host):
    response = fetch(host, "http://php.test/other.php")
    assert response.status == 404
    assert "EXECUTED" not in response.body
    assert "<?php" not in response.body


def test_wordpress_front_page_over_tls(host):
    response = fetch(host, "https://wp.test/a-post/")
    assert response.status == 200
    assert response.body.startswith("wordpress front page /a-post/ ")


def test_tls_site_redirects_port_80_to_https_keeping_the_path(host):
    response = fetch(host, "http://wp.test/a/b?c=d")
    assert response.status == 301
    assert response.headers["location"] == "https://wp.test/a/b?c=d"


def test_redirect_names_go_to_the_primary_in_one_hop(host):
    for url in ("http://www.wp.test/a/b?c=d", "https://www.wp.test/a/b?c=d"):
        response = fetch(host, url)
        assert response.status == 301, url
        assert response.headers["location"] == "https://wp.test/a/b?c=d", url


def test_redirect_site_keeps_the_path(host):
    for name in ("redirect.test", "www.redirect.test"):
        response = fetch(host, f"http://{name}/some/path?x=1")
        assert response.status == 301
        assert response.headers["location"] == "https://wp.test/some/path?x=1"


def test_php_in_uploads_is_not_executed(host):
    response = fetch(host, "https://wp.test/wp-content/uploads/2024/01/evil.php")
    assert response.status == 403
    assert "EXECUTED" not in response.body
    assert "<?php" not in response.body
    assert fetch(host, "https://wp.test/wp-content/uploads/2024/01/photo.txt").body == "an uploaded file\n"


def test_xmlrpc_is_off_unless_the_site_asks_for_it(host):
    response = fetch(host, "https://wp.test/xmlrpc.php", "--data", "<methodCall/>")
    assert response.status == 403
    assert "xmlrpc" not in response.body


def test_editor_and_backup_leftovers_are_denied(host):
    host.run("for f in index.html.bak index.html~ index.html.swp dump.sql debug.log; do"
             " cp /srv/www/static.test/public/index.html /srv/www/static.test/public/$f; done")  # fmt: skip
    try:
        for name in ("index.html.bak", "index.html~", "index.html.swp", "dump.sql", "debug.log"):
            response = fetch(host, f"http://static.test/{name}")
            assert response.status == 403, name
            assert "static site works" not in response.body, name
    finally:
        host.run("cd /srv/www/static.test/public && rm -f index.html.bak index.html~ index.html.swp dump.sql debug.log")


def test_a_link_to_a_file_of_another_owner_is_not_followed(host):
    host.run("ln -sfn /etc/nginx/wpzo-htpasswd/private.test /srv/www/static.test/public/leak.txt"
             " && chown -h nobody /srv/www/static.test/public/leak.txt")  # fmt: skip
    try:
        response = fetch(host, "http://static.test/leak.txt")
        assert response.status in (403, 404)  # try_files treats the refused link as missing
        assert "tester:" not in response.body
    finally:
        host.run("rm -f /srv/www/static.test/public/leak.txt")


def test_wp_config_is_denied(host):
    response = fetch(host, "https://wp.test/wp-config.php")
    assert response.status == 403
    assert "secret" not in response.body


def test_basic_auth_site(host):
    assert fetch(host, "http://private.test/").status == 401
    response = fetch(host, "http://private.test/", "-u", "tester:secret")
    assert response.status == 200
    assert response.body == "<h1>private site</h1>\n"
    assert fetch(host, "http://private.test/.well-known/acme-challenge/wpzo-test-token").status == 200


def test_wp_login_is_rate_limited(host):
    codes = host.check_output(
        "for i in $(seq 12); do curl -sk -o /dev/null -w '%{http_code} ' --resolve wp.test:443:127.0.0.1"
        " https://wp.test/wp-login.php; done"
    ).split()
    assert codes[0] == "200"
    assert codes[-1] == "429"
    assert codes.count("200") <= 1 + 5 + 1  # the first request, the burst, maybe one refilled slot
    log = host.file("/var/log/nginx/error.log").content_string
    assert "limiting requests, excess: 5." in log
    assert 'by zone "wpzo_login", client: 127.0.0.1' in log


# --- page cache -------------------------------------------------------------------------------


def cache_status(host, url, *options):
    response = fetch(host, url, *options)
    assert response.status == 200, (url, response)
    return response.headers.get("x-cache-status"), response.body


def test_page_cache_hit_after_miss(host):
    url = f"https://wp.test/cache-{uuid.uuid4().hex}/"
    first_status, first_body = cache_status(host, url)
    second_status, second_body = cache_status(host, url)
    assert (first_status, second_status) == ("MISS", "HIT")
    assert second_body == first_body


@pytest.mark.parametrize(
    "path,options",
    [
        ("/", ("-H", "Cookie: wordpress_logged_in_x=admin")),
        ("/", ("-H", "Cookie: comment_author_x=a; other=1")),
        ("/", ("-H", "Cookie: woocommerce_items_in_cart=1")),
        ("/?s=search", ()),
        ("/wp-json/wp/v2/posts", ("-H", "X-WP-Nonce: abc123")),
        ("/wp-json/wp/v2/posts?_wpnonce=abc123", ()),
        ("/wp-admin/", ()),
        ("/feed/", ()),
        ("/", ("-X", "POST")),
        ("/", ("-u", "someone:password")),
    ],
)
def test_page_cache_bypass(host, path, options):
    url = "https://wp.test" + path
    cache_status(host, url)
    assert cache_status(host, url, *options)[0] == "BYPASS"


def test_page_cache_not_on_static_files(host):
    response = fetch(host, "https://wp.test/wp-content/uploads/2024/01/photo.txt")
    assert response.status == 200 and response.body == "an uploaded file\n"
    assert "x-cache-status" not in response.headers


def test_purge_clears_one_site_only(host):
    wp_url = f"https://wp.test/purge-{uuid.uuid4().hex}/"
    php_url = f"http://php.test/purge-{uuid.uuid4().hex}/"
    for url in (wp_url, php_url):
        cache_status(host, url)
        assert cache_status(host, url)[0] == "HIT"
    purge = host.run("/usr/local/sbin/wpzo-nginx-cache-purge WP.test")
    assert purge.rc == 0, purge.stderr
    assert purge.stdout.startswith("purged ")
    assert cache_status(host, wp_url)[0] == "MISS"
    assert cache_status(host, php_url)[0] == "HIT"


def test_the_program_an_older_version_installed_is_gone(host):
    # prepare.yml leaves it, as a server converged before the one-call configuration holds it
    assert not host.file("/usr/local/lib/wpzo/nginx-check-candidate").exists


def test_purge_refuses_bad_names(host):
    assert host.run("/usr/local/sbin/wpzo-nginx-cache-purge '../etc'").rc == 2
    assert host.run("/usr/local/sbin/wpzo-nginx-cache-purge 'a b'").rc == 2


# --- real client address ----------------------------------------------------------------------


def test_real_ip_behind_a_trusted_load_balancer(host, probe, instance_ip):
    marker = f"/real-ip-{uuid.uuid4().hex}"
    assert probe_http(probe, instance_ip, "static.test", marker, {"X-Forwarded-For": "203.0.113.7"}).startswith("404")
    line = host.check_output(f"grep {marker} /srv/www/static.test/logs/access.log")
    assert line.startswith("203.0.113.7 ")
    assert "rt=" in line and "urt=" in line and "host=static.test" in line


# --- a run killed between writing a vhost and its reload handler ------------------------------------------
# Last in this file: it converges again. The state such a run leaves is made by hand, faithfully: the vhost on
# disk is exactly what converge.yml writes (so converge sees nothing to write and notifies nothing), but the
# running nginx has not loaded it.
def test_a_vhost_a_killed_run_wrote_is_served_after_the_next_converge(host, ansible_playbook):
    vhost = "/etc/nginx/wpzo/sites/redirect.test.conf"
    host.check_output(f"cp -p {vhost} /root/redirect.test.conf.desired && rm {vhost}")
    host.check_output("systemctl reload nginx && sleep 2")
    assert fetch(host, "http://redirect.test/").rc == CURL_EMPTY_REPLY  # not a site any more: the 444 server
    # the killed run: the vhost staged and renamed as managed_files does it, no reload
    host.check_output(
        "install -o root -g root -m 0644 /root/redirect.test.conf.desired /etc/nginx/wpzo/sites/.wpzo-killed"
        f" && mv /etc/nginx/wpzo/sites/.wpzo-killed {vhost} && rm /root/redirect.test.conf.desired"
    )
    assert fetch(host, "http://redirect.test/").rc == CURL_EMPTY_REPLY  # the bug: on disk, not served
    recovery = ansible_playbook()
    assert recovery.recap["changed"] >= 1
    assert "RUNNING HANDLER [wpzo.hosting.nginx : Reload nginx]" in recovery.stdout
    response = fetch(host, "http://redirect.test/some/path")
    assert response.status == 301 and response.headers["location"] == "https://wp.test/some/path"
    assert ansible_playbook().recap["changed"] == 0
