"""What a server converged with base + nginx + fail2ban does to clients that fail to log in.

The tests run in file order and tell one story: an allowlisted client and an attacker (the
probe) on the scenario's network; the attacker is banned by the wordpress jail, the ban lifts
after its short bantime (20 s in converge.yml), then the sshd jail bans it, recidive catches the
second ban, and that ban outlives a restart of nftables. Run them once per converge: fail2ban
remembers the bans of earlier runs (bantime.increment, recidive).
"""

import os
import re
import time

import pytest

SITE = "shop.example.test"
LOGS = f"/srv/www/{SITE}/logs"
ALLOWLISTED_IP_FILE = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "allowlisted_ip")

HTTP_SCRIPT = """
import http.client, sys
address, method, path, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
for _ in range(count):
    try:
        connection = http.client.HTTPConnection(address, 80, timeout=5)
        connection.request(method, path, body="log=admin&pwd=guess",
                           headers={"Host": sys.argv[5], "Content-Type": "application/x-www-form-urlencoded"})
        print(connection.getresponse().status)
    except OSError as error:
        print(type(error).__name__)
"""


def requests(client, address, method, path, count=1):
    """Status codes (or the error) of `count` requests from a client container to the site."""
    result = client.run("python3", "-c", HTTP_SCRIPT, address, method, path, str(count), SITE)
    return result.stdout.split()


def banned(host, jail):
    status = host.check_output(f"fail2ban-client status {jail}")
    return status.split("Banned IP list:", 1)[1].split()


def logpaths(host, jail):
    return [word for word in host.check_output(f"fail2ban-client get {jail} logpath").split() if word.startswith("/")]


def wait_for(predicate, timeout, interval=1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def wait_for_ban_set(host, jail, address, timeout=15):
    """The address in the jail's nftables set: fail2ban records a ban before its nftables action has run."""
    return wait_for(lambda: address in host.run(f"nft list set inet f2b-table addr-set-{jail}").stdout, timeout)


def client_ip(client):
    return client.run("hostname", "-I").stdout.split()[0]


def install_ssh_client(client):
    """openssh-client from the test image's apt cache."""
    result = client.run("apt-get", "install", "-y", "-q", "--no-download", "openssh-client", timeout=180)
    assert result.returncode == 0, result.stderr


def ssh_as_unknown_users(client, address, attempts):
    """Log in as users that do not exist, without a key: sshd logs "Invalid user" for each.

    Stops at the first attempt that is not refused by sshd: a ban landed before or during it. A client whose
    packets a new ban drops gives up on its own (keep-alives unanswered, or the bounded wait of `timeout`),
    so no attempt hangs; the callers assert the ban itself, never how long a cut-off client took.
    """
    for attempt in range(attempts):
        result = client.run(
            "timeout", "20", "ssh", "-F", "/dev/null", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=5", "-o", "ServerAliveInterval=2",
            "-o", "ServerAliveCountMax=2", f"intruder{attempt}@{address}", "true",
            timeout=40,
        )  # fmt: skip
        if "Permission denied (publickey)" not in result.stderr:
            return


@pytest.fixture(scope="module")
def attacker(probe):
    """The probe, with an SSH client."""
    install_ssh_client(probe)
    return probe


@pytest.fixture(scope="module")
def allowlisted(probe, instance_name):
    """The client prepare.yml started, whose address converge.yml put in fail2ban_ignoreip."""
    client = type(probe)(f"{instance_name}-allowlisted")
    with open(ALLOWLISTED_IP_FILE) as recorded:
        assert client_ip(client) == recorded.read().strip()
    install_ssh_client(client)
    return client


def test_a_check_diff_run_on_the_converged_server_changes_nothing(check_run):
    check_run.assert_changed_nothing()


def test_every_jail_runs_with_the_sites_logs(host):
    jails = host.check_output("fail2ban-client status").split("Jail list:", 1)[1]
    assert sorted(j.strip() for j in jails.split(",")) == [
        "nginx-botsearch", "nginx-http-auth", "nginx-limit-req", "recidive", "sshd", "wordpress", "wordpress-xmlrpc",
    ]  # fmt: skip
    # The sites' logs come from jail.d/wpzo-sites.local, read after the jails: the order says nothing.
    assert sorted(logpaths(host, "wordpress")) == sorted([f"{LOGS}/access.log", "/var/log/nginx/access.log"])
    assert sorted(logpaths(host, "nginx-limit-req")) == sorted([f"{LOGS}/error.log", "/var/log/nginx/error.log"])
    for config in ("/etc/fail2ban/jail.d/wpzo.conf", "/etc/fail2ban/jail.d/wpzo-sites.local"):
        assert "old.example.test" not in host.file(config).content_string, config
    # The journal, not a log file, for sshd: Debian 12 has no auth.log.
    assert "_COMM=sshd" in host.check_output("fail2ban-client get sshd journalmatch")
    assert host.run("fail2ban-client --test").rc == 0


def test_ban_chain_runs_before_the_base_firewall(host):
    """fail2ban's input chain has priority -1, the base role's table inet wpzo priority 0 (filter)."""
    host.check_output("fail2ban-client set wordpress banip 192.0.2.99")
    try:
        chain = host.check_output("nft list chain inet f2b-table f2b-chain")
        assert "hook input priority filter - 1" in chain
        assert "ip saddr @addr-set-wordpress drop" in chain
        assert "hook input priority filter;" in host.check_output("nft list chain inet wpzo input")
    finally:
        host.run("fail2ban-client set wordpress unbanip 192.0.2.99")


def test_allowlisted_client_is_never_banned(host, allowlisted, instance_ip):
    address = client_ip(allowlisted)
    statuses = requests(allowlisted, instance_ip, "POST", "/wp-login.php", count=15)
    # The nginx role's rate limit turns the requests beyond the burst into 429s.
    assert statuses.count("200") >= 5 and "429" in statuses, statuses
    assert wait_for(
        lambda: f"[wordpress] Ignore {address} by ip" in host.file("/var/log/fail2ban.log").content_string, 15
    )
    ssh_as_unknown_users(allowlisted, instance_ip, 4)
    assert wait_for(lambda: f"[sshd] Ignore {address} by ip" in host.file("/var/log/fail2ban.log").content_string, 15)
    for jail in ("wordpress", "nginx-limit-req", "sshd"):
        assert address not in banned(host, jail)
    assert allowlisted.tcp_connect(instance_ip, 80) == "open"
    assert allowlisted.tcp_connect(instance_ip, 22) == "open"


def test_rate_limited_requests_are_what_nginx_limit_req_reads(host, allowlisted):
    """The 429s above left "limiting requests" lines that Debian's filter matches, with the client's address."""
    address = client_ip(allowlisted)
    matched = host.run(f"fail2ban-regex -o ip {LOGS}/error.log nginx-limit-req")
    assert matched.rc == 0, matched.stderr
    assert address in matched.stdout.split()


def test_successful_logins_do_not_count(host, attacker, instance_ip):
    """Three successful logins (302) with maxretry 3: no ban."""
    address = client_ip(attacker)
    assert requests(attacker, instance_ip, "POST", "/wp-login.php?login=ok", count=3) == ["302"] * 3
    # The jail's own filter over the logs it reads: none of the attacker's lines (its 302s) is a failure.
    for path in logpaths(host, "wordpress"):
        matched = host.run(f"fail2ban-regex -o ip {path} /etc/fail2ban/filter.d/wpzo-wordpress.conf")
        assert matched.rc == 0, matched.stderr
        assert address not in matched.stdout.split()
    assert address not in banned(host, "wordpress")
    assert attacker.tcp_connect(instance_ip, 80) == "open"


def test_failed_logins_ban_the_attacker_on_every_port(host, attacker, instance_ip):
    address = client_ip(attacker)
    assert requests(attacker, instance_ip, "POST", "/wp-login.php", count=3) == ["200"] * 3
    assert wait_for(lambda: address in banned(host, "wordpress"), 20)
    assert wait_for_ban_set(host, "wordpress", address)
    assert attacker.tcp_connect(instance_ip, 80) == "timeout"
    assert attacker.tcp_connect(instance_ip, 22) == "timeout"
    notices = host.check_output("journalctl -t wpzo-fail2ban-notify --no-pager -o cat")
    assert f"ban wordpress {address}" in notices


def test_ban_lifts_after_the_bantime(host, attacker, instance_ip):
    address = client_ip(attacker)
    with_time = host.check_output("fail2ban-client get wordpress banip --with-time")
    seconds = int(re.search(rf"^{re.escape(address)}\s.*\+ (\d+) =", with_time, re.M).group(1))
    assert seconds == 20  # the first ban of this address: no increment yet
    assert wait_for(lambda: address not in banned(host, "wordpress"), seconds + 20)
    assert wait_for(lambda: attacker.tcp_connect(instance_ip, 80) == "open", 10)
    assert requests(attacker, instance_ip, "GET", "/") == ["200"]
    notices = host.check_output("journalctl -t wpzo-fail2ban-notify --no-pager -o cat")
    assert f"unban wordpress {address}" in notices


def test_failed_ssh_logins_ban_the_attacker(host, attacker, instance_ip):
    """Unknown users, no password (base turns password authentication off): banned by the sshd jail."""
    address = client_ip(attacker)
    ssh_as_unknown_users(attacker, instance_ip, 3)
    assert wait_for(lambda: address in banned(host, "sshd"), 20)
    assert wait_for_ban_set(host, "sshd", address)
    assert attacker.tcp_connect(instance_ip, 22) == "timeout"


def test_repeat_offender_is_caught_by_recidive(host, attacker, instance_ip):
    """Two bans (wordpress, then sshd) with recidive's maxretry 2: banned on all ports for long."""
    address = client_ip(attacker)
    assert wait_for(lambda: address in banned(host, "recidive"), 30)
    assert wait_for_ban_set(host, "recidive", address)
    assert attacker.tcp_connect(instance_ip, 80) == "timeout"


def test_ban_survives_an_nftables_restart(host, attacker, instance_ip):
    """Restarting nftables flushes every table; fail2ban restarts with it and restores the bans."""
    address = client_ip(attacker)
    host.check_output("systemctl restart nftables")
    assert host.service("fail2ban").is_running
    assert wait_for_ban_set(host, "recidive", address, 30)
    assert attacker.tcp_connect(instance_ip, 80) == "timeout"
