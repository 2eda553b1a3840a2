"""The status page as an operator sees it: rendered by a real browser (headless Chromium on the controller) through
the admin vhost, over TLS with basic auth; refused without credentials (401) and from an address not allowlisted
(403), Prometheus's own UI behind the same door."""

import os
import re
import shutil
import subprocess
import tempfile
import urllib.parse
from pathlib import Path

import pytest
from test_agent import SHOP, STATIC, wait_for

STATUS_NAME = "status.wpzo-monitoring.test"
STATUS_PAGE = "/consoles/wpzo-status.html"
PASSWORD_FILE = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "credentials" / "monitoring" / "status_admin"
HTPASSWD = "/etc/nginx/wpzo-monitoring-status.htpasswd"
STATIC_INDEX = f"/srv/www/{STATIC}/public/index.html"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--ignore-certificate-errors"]  # fmt: skip


class Secret(str):
    """A password pytest does not print in a failure's report."""

    def __repr__(self):
        return "'***'"


@pytest.fixture(scope="module")
def password():
    return Secret(PASSWORD_FILE.read_text().strip())


def fetch(instance_ip, path, password=None):
    """(status, body) of a GET on the admin vhost from the controller (an allowlisted address), with its name as SNI
    (nginx's default TLS server refuses a handshake without one). The credentials go to curl on its stdin."""
    command = ["curl", "-sk", "--max-time", "15", "--resolve", f"{STATUS_NAME}:443:{instance_ip}",
               "-w", "\\n%{http_code}", "-K", "-", f"https://{STATUS_NAME}{path}"]  # fmt: skip
    quoted = (password or "").replace("\\", "\\\\").replace('"', '\\"')
    config = f'user = "admin:{quoted}"\n' if password else ""
    result = subprocess.run(command, input=config, capture_output=True, text=True, timeout=30, check=False)
    body, _newline, status = result.stdout.rpartition("\n")
    return int(status or 0), body


def rendered(instance_ip, password):
    """The page's DOM after Chromium ran it: {site: state} and the DOM."""
    profile = tempfile.mkdtemp(prefix="wpzo-status-chromium-")
    try:
        # The URL carries the test server's throwaway password: Chromium takes basic-auth credentials no other way.
        url = f"https://admin:{urllib.parse.quote(password, safe='')}@{STATUS_NAME}{STATUS_PAGE}"
        command = ["chromium", *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
                   f"--host-resolver-rules=MAP {STATUS_NAME} {instance_ip}", "--dump-dom", url]  # fmt: skip
        dom = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True).stdout
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    rows = re.findall(r'<tr class="site [a-z]+" data-site="([^"]+)" data-server="[^"]*" data-state="([a-z]+)"', dom)
    states = dict(rows)
    return states, dom


def rendered_with(instance_ip, password, expected):
    """The DOM once the page shows these states (Chromium renders it anew each time), or None at the deadline."""

    def dom():
        states, page = rendered(instance_ip, password)
        return page if states == expected else None

    return wait_for(dom, timeout=120)


def test_the_page_lists_both_sites_up_the_server_and_no_alert(instance_ip, password):
    dom = rendered_with(instance_ip, password, {SHOP: "up", STATIC: "up"})
    assert dom, "the page never showed both sites up"
    assert "<title>wpzo.hosting status</title>" in dom
    assert 'data-server="wpzo-monitoring" data-state="up"' in dom
    assert "No alert is firing." in dom
    static_row = dom.split(f'data-site="{STATIC}"')[1].split("</tr>")[0]
    assert '<td class="status-code">200</td>' in static_row
    days = re.search(r'<td class="certificate">([0-9]+)</td>', static_row)
    assert days and int(days.group(1)) > 800, static_row  # the role's self-signed certificate: 825 days


def test_a_broken_site_shows_down(host, instance_ip, password):
    host.run(f"cp -p {STATIC_INDEX} /root/static.index.kept && echo '<h1>Under construction</h1>' > {STATIC_INDEX}")
    try:
        assert rendered_with(instance_ip, password, {SHOP: "up", STATIC: "down"})
    finally:
        host.run(f"mv /root/static.index.kept {STATIC_INDEX}")
    assert rendered_with(instance_ip, password, {SHOP: "up", STATIC: "up"})


def test_an_anonymous_client_gets_401(instance_ip):
    status, _body = fetch(instance_ip, STATUS_PAGE)
    assert status == 401
    assert fetch(instance_ip, "/api/v1/alerts")[0] == 401


def test_a_wrong_password_gets_401(instance_ip):
    assert fetch(instance_ip, STATUS_PAGE, "not-the-password")[0] == 401


def test_prometheus_ui_is_behind_the_same_door(instance_ip, password):
    status, body = fetch(instance_ip, "/api/v1/status/buildinfo", password)
    assert status == 200 and '"version":"2.42' in body


def test_an_address_not_allowlisted_gets_403(probe, instance_ip):
    command = ["curl", "-sk", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10",
               "--resolve", f"{STATUS_NAME}:443:{instance_ip}", f"https://{STATUS_NAME}{STATUS_PAGE}"]  # fmt: skip
    assert probe.run(*command).stdout == "403"


def test_the_server_keeps_a_hash_only(host, password):
    htpasswd = host.file(HTPASSWD)
    assert (htpasswd.user, htpasswd.group, htpasswd.mode) == ("root", "www-data", 0o640)
    content = htpasswd.content_string
    assert password not in content
    assert re.search(r"^admin:\$6\$[^$]+\$[./0-9A-Za-z]{86}$", content, re.M), content
    assert password not in host.check_output("cat /etc/nginx/conf.d/wpzo-monitoring-status.conf")
