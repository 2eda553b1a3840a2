"""Behind Cloudflare: the client's address comes from CF-Connecting-IP, and bans land in nginx.

converge.yml trusts the scenario's network as Cloudflare's ranges (nginx_cloudflare_enabled), so the probe
plays a Cloudflare edge: what it sends in CF-Connecting-IP is the client's address, and fail2ban_ban_in_nginx
is on by default. The clients are addresses of a documentation range (203.0.113.0/24) that only ever exist in
that header; the untrusted client is the server itself on 127.0.0.1, outside the trusted ranges.

This file runs after test_fail2ban.py (pytest reads the files alphabetically) and depends on none of its
bans: it lifts any ban of its own addresses and of the probe before it starts.
"""

import json
import re
import uuid

import pytest
from test_fail2ban import banned, wait_for

SITE = "shop.example.test"
ACCESS_LOG = f"/srv/www/{SITE}/logs/access.log"
NGINX_BANS = "/var/lib/wpzo/nginx-bans/fail2ban.conf"
FAIL2BAN_DB = "/var/lib/fail2ban/fail2ban.sqlite3"
CLIENT = "203.0.113.9"
OTHER_CLIENT = "203.0.113.10"
SPOOFED = "203.0.113.77"
RESTORED = "203.0.113.30"
OURS = [CLIENT, OTHER_CLIENT, SPOOFED, RESTORED]
# A GET of the login page: not a failed login, and answered by the application behind nginx's access phase,
# where the bans are (a location answering with `return`, a redirect, answers before it).
LOGIN = "/wp-login.php"

HTTP_SCRIPT = """
import http.client, json, sys
address, method, path, count, headers = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), json.loads(sys.argv[5])
for _ in range(count):
    try:
        connection = http.client.HTTPConnection(address, 80, timeout=5)
        connection.request(method, path, body="log=admin&pwd=guess" if method == "POST" else None,
                           headers=dict({"Content-Type": "application/x-www-form-urlencoded"}, **headers))
        print(connection.getresponse().status)
    except OSError as error:
        print(type(error).__name__)
"""


def requests(client, address, method, path, count=1, client_address=None):
    """Status codes of `count` requests to the site from a client container (or the host), with CF-Connecting-IP."""
    headers = {"Host": SITE}
    if client_address:
        headers["CF-Connecting-IP"] = client_address
    command = ["python3", "-c", HTTP_SCRIPT, address, method, path, str(count), json.dumps(headers)]
    if hasattr(client, "check_output"):  # the server itself (testinfra host), which quotes each argument
        result = client.run(" ".join(["%s"] * len(command)), *command)
    else:
        result = client.run(*command)
    return result.stdout.split()


def mentions(text, address):
    return re.search(rf"(?<![0-9.]){re.escape(address)}(?![0-9.])", text) is not None


def nginx_bans(host):
    return host.run(f"cat {NGINX_BANS}").stdout


def in_database(host, jail, address):
    """fail2ban's database (what it restores bans from) holds a ban of the address in the jail."""
    script = (
        "import sqlite3, sys\n"
        "query = 'select count(*) from bans where jail = ? and ip = ?'\n"
        "print(sqlite3.connect(sys.argv[1]).execute(query, sys.argv[2:]).fetchone()[0])\n"
    )
    return host.run("python3 -c %s %s %s %s", script, FAIL2BAN_DB, jail, address).stdout.strip() not in ("", "0")


def logged_address(host, marker):
    line = host.check_output(f"grep -F -- {marker} {ACCESS_LOG}")
    return line.split()[0]


@pytest.fixture(scope="module")
def proxy(host, probe):
    """The probe as a Cloudflare edge, with no ban of its own or of this file's client addresses left over."""
    address = probe.run("hostname", "-I").stdout.split()[0]
    for banned_address in [address, *OURS]:
        host.run(f"fail2ban-client unban {banned_address}")
    assert wait_for(lambda: not any(mentions(nginx_bans(host), a) for a in [address, *OURS]), 30)
    probe.address = address
    return probe


def test_web_jails_ban_in_nginx_and_sshd_in_nftables_only(host):
    for jail in ("wordpress", "wordpress-xmlrpc", "nginx-http-auth", "nginx-limit-req", "nginx-botsearch", "recidive"):
        actions = host.check_output(f"fail2ban-client get {jail} actions")
        assert "wpzo-nginx-deny" in actions, jail
        assert "nftables" in actions, jail
    assert "wpzo-nginx-deny" not in host.check_output("fail2ban-client get sshd actions")


def test_client_address_comes_from_cf_connecting_ip_of_a_trusted_proxy(host, proxy, instance_ip):
    marker = f"/proxied-{uuid.uuid4().hex}"
    assert requests(proxy, instance_ip, "GET", marker, client_address=CLIENT) == ["200"]
    assert logged_address(host, marker) == CLIENT


def test_cf_connecting_ip_from_an_untrusted_client_is_ignored(host):
    """127.0.0.1 is not in the trusted ranges: its header is a forgery, and its own address is logged."""
    marker = f"/spoofed-{uuid.uuid4().hex}"
    assert requests(host, "127.0.0.1", "GET", marker, client_address=SPOOFED) == ["200"]
    assert logged_address(host, marker) == "127.0.0.1"


def test_failed_logins_through_the_proxy_ban_the_client_in_nginx(host, proxy, instance_ip):
    assert requests(proxy, instance_ip, "POST", "/wp-login.php", count=3, client_address=CLIENT) == ["200"] * 3
    assert wait_for(lambda: CLIENT in banned(host, "wordpress"), 20)
    # nginx refuses the client on every site, whatever comes through the same proxy for others.
    assert wait_for(lambda: requests(proxy, instance_ip, "GET", LOGIN, client_address=CLIENT) == ["403"], 15)
    assert f"deny {CLIENT};" in nginx_bans(host)
    assert requests(proxy, instance_ip, "GET", LOGIN, client_address=OTHER_CLIENT) == ["200"]
    assert requests(proxy, instance_ip, "GET", LOGIN) == ["200"]
    # The proxy itself is in no ban set of the firewall, and its connections go through.
    assert not mentions(host.check_output("nft list table inet f2b-table"), proxy.address)
    assert proxy.tcp_connect(instance_ip, 80) == "open"


def test_unban_lifts_the_nginx_ban(host, proxy, instance_ip):
    host.run(f"fail2ban-client set wordpress unbanip {CLIENT}")  # or its bantime (20 s) ran out already
    assert wait_for(lambda: CLIENT not in banned(host, "wordpress"), 10)
    assert wait_for(lambda: not mentions(nginx_bans(host), CLIENT), 15)
    assert wait_for(lambda: requests(proxy, instance_ip, "GET", LOGIN, client_address=CLIENT) == ["200"], 15)


def test_bans_are_restored_in_nginx_when_fail2ban_starts(host, proxy, instance_ip):
    """recidive (bantime 10m) holds the ban; stopping fail2ban empties nginx's list, starting it fills it again."""
    host.check_output(f"fail2ban-client set recidive banip {RESTORED}")
    try:
        assert wait_for(lambda: requests(proxy, instance_ip, "GET", LOGIN, client_address=RESTORED) == ["403"], 15)
        assert wait_for(lambda: in_database(host, "recidive", RESTORED), 30)
        host.check_output("systemctl stop fail2ban")
        assert not mentions(nginx_bans(host), RESTORED)
        assert wait_for(lambda: requests(proxy, instance_ip, "GET", LOGIN, client_address=RESTORED) == ["200"], 15)
        host.check_output("systemctl start fail2ban")
        assert wait_for(lambda: host.run("fail2ban-client ping").rc == 0, 30)
        assert wait_for(lambda: mentions(nginx_bans(host), RESTORED), 30)
        assert wait_for(lambda: requests(proxy, instance_ip, "GET", LOGIN, client_address=RESTORED) == ["403"], 15)
    finally:
        host.run(f"fail2ban-client set recidive unbanip {RESTORED}")
    assert wait_for(lambda: not mentions(nginx_bans(host), RESTORED), 15)
