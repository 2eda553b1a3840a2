"""A fleet as its operator sees it: the monitoring host scrapes the server's exporters over TLS with basic auth,
anyone else is refused, a ban and a frozen server reach every channel, and every log is capped.

The tests drive both containers with docker exec (not the `host` fixture, which Molecule's verifier runs once per
host); Prometheus, Alertmanager and the recorder listen on the monitoring host's loopback.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

# molecule/monitoring's helpers: its recorder's notifications, read per channel, and the polling wait.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "monitoring" / "tests"))
from test_agent import wait_for
from test_alerts import notifications as read_notifications

SERVER, MONITOR = "wpzo-fleet-server", "wpzo-fleet-monitor"
SITE, SHOP = "fleet.example.test", "shop.fleet.example.test"
EXPORTERS = {"node": 9100, "nginx": 9113, "mysqld": 9104, "redis": 9121, "process": 9256}
CHANNELS = ("webhook", "slack", "discord", "email", "telegram")
CA = "/etc/prometheus/wpzo-ca/ca.crt"
NETWORK = "wpzo-net-" + os.environ.get("MOLECULE_SCENARIO_NAME", "monitoring_fleet")
STORE = Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "/nonexistent")) / "credentials"
# Detection (scrape 3 s, for: 3 s or 9 s), group_wait (15 s) and delivery, with a wide margin on a loaded machine.
DEADLINE = 180


def run(container, command, stdin=None, timeout=60):
    return subprocess.run(
        ["docker", "exec", "-i", container, "bash", "-c", command],
        input=stdin, capture_output=True, text=True, check=False, timeout=timeout,
    )  # fmt: skip


def api(path):
    """Prometheus's (or, for /api/v2, Alertmanager's) answer on the monitoring host, decoded."""
    port = 9093 if path.startswith("/api/v2") else 9090
    result = run(MONITOR, f"curl -sf --max-time 10 'http://127.0.0.1:{port}{path}'")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def server_ip():
    template = '{{ (index .NetworkSettings.Networks "%s").IPAddress }}' % NETWORK
    return subprocess.run(
        ["docker", "inspect", "-f", template, SERVER], capture_output=True, text=True, check=True
    ).stdout.strip()


@pytest.fixture(scope="module")
def scrape_password():
    """The monitoring host's stored scrape password (never printed; given to curl on stdin)."""
    return (STORE / MONITOR / "monitoring" / "scrape_prometheus").read_text().strip()


def scrape(server_ip, port, user=None, scheme="https"):
    """(HTTP status, body) of a scrape from the monitoring host, with user=(name, password) or anonymous."""
    config = f'user = "{user[0]}:{user[1]}"\n' if user else ""
    result = run(
        MONITOR,
        f"curl -s --max-time 10 --cacert {CA} --config - -w '\\n%{{http_code}}' {scheme}://{server_ip}:{port}/metrics",
        stdin=config,
    )
    body, status = ("\n" + result.stdout).rsplit("\n", 1)
    return status, body


class Monitor:
    """The monitoring host as molecule/monitoring's helpers expect a testinfra host (run(command).stdout)."""

    def run(self, command):
        return run(MONITOR, command)


def notifications():
    """[(channel, status, text)] of everything the recorder received."""
    return read_notifications(Monitor())


def count(marker, alert, status="firing"):
    """{channel: number of notifications of that status naming both marker and alert}."""
    counts = dict.fromkeys(CHANNELS, 0)
    for channel, state, text in notifications():
        if state == status and marker in text and alert in text:
            counts[channel] += 1
    return counts


def targets():
    return api("/api/v1/targets?state=active")["data"]["activeTargets"]


def test_the_monitoring_host_scrapes_every_exporter_over_tls(server_ip):
    def server_targets():
        found = [t for t in targets() if t["labels"].get("server") == SERVER]
        jobs = {t["labels"]["job"] for t in found}
        return found if jobs >= {*EXPORTERS, "sites"} and all(t["health"] == "up" for t in found) else None

    found = wait_for(server_targets, timeout=90)
    assert found, [(t["labels"]["job"], t["health"], t["lastError"]) for t in targets()]
    by_job = {}
    for target in found:
        by_job.setdefault(target["labels"]["job"], []).append(target)
    for job, port in EXPORTERS.items():
        assert [t["scrapeUrl"] for t in by_job[job]] == [f"https://{server_ip}:{port}/metrics"]
    # Each site is probed at the server's public address, with its name as Host and SNI.
    assert sorted(t["labels"]["instance"] for t in by_job["sites"]) == [f"http://{SITE}/", f"http://{SHOP}/"]
    assert all(f"target=http%3A%2F%2F{server_ip}%2F" in t["scrapeUrl"] for t in by_job["sites"])


def served_expiry(server_ip):
    """{exporter job: the expiry (epoch seconds) of the certificate it serves, as the monitoring host reads it}."""
    found = api("/api/v1/query?query=probe_ssl_earliest_cert_expiry%7Bjob%3D%22exporter_certificates%22%7D")
    return {r["metric"]["exporter"]: float(r["value"][1]) for r in found["data"]["result"]
            if r["metric"]["instance"].startswith(server_ip + ":")}  # fmt: skip


def installed_expiry():
    """The expiry (epoch seconds) of the exporters' certificate on the server."""
    end = run(SERVER, "openssl x509 -noout -enddate -in /etc/prometheus/tls/exporter.crt").stdout.strip()
    stamp = subprocess.run(["date", "-ud", end.split("=", 1)[1], "+%s"], capture_output=True, text=True, check=True)
    return float(stamp.stdout)


def test_the_monitoring_host_reads_each_exporters_certificate_expiry(server_ip):
    expiry = installed_expiry()
    # 825 days, signed by this run: far from the renewal window (30 days) and from the alert's (21).
    assert expiry - time.time() > 800 * 86400

    def every_exporter_served():
        served = served_expiry(server_ip)
        return served if set(served) == set(EXPORTERS) else None

    found = wait_for(every_exporter_served, timeout=90)
    assert found == dict.fromkeys(EXPORTERS, expiry)
    firing = api("/api/v1/query?query=ALERTS%7Balertname%3D~%22ExporterCertificate.%2A%22%7D")
    assert firing["data"]["result"] == []


@pytest.mark.parametrize("port", EXPORTERS.values(), ids=EXPORTERS.keys())
def test_an_anonymous_or_wrong_password_scrape_is_refused(server_ip, scrape_password, port):
    assert scrape(server_ip, port)[0] == "401"
    assert scrape(server_ip, port, ("prometheus", scrape_password + "x"))[0] == "401"
    assert scrape(server_ip, port, ("someone", scrape_password))[0] == "401"
    # Plain HTTP gets no metrics either (a TLS server's refusal).
    assert scrape(server_ip, port, ("prometheus", scrape_password), scheme="http")[0] == "400"
    status, body = scrape(server_ip, port, ("prometheus", scrape_password))
    assert status == "200"
    assert "# TYPE " in body


def test_the_nginx_and_redis_exporters_listen_on_loopback_behind_nginx(server_ip):
    for port in (EXPORTERS["nginx"], EXPORTERS["redis"]):
        listeners = run(SERVER, f"ss -Hltnp 'sport = :{port}'").stdout
        assert f"127.0.0.1:{port} " in listeners  # the exporter itself
        assert f"{server_ip}:{port}" in listeners and '"nginx"' in listeners


def test_the_exporters_ports_are_closed_to_any_other_host(server_ip):
    name = f"{SERVER}-outsider"
    subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)
    image = os.environ.get("WPZO_TEST_IMAGE", "wpzo/debian12-systemd:latest")
    subprocess.run(["docker", "run", "-d", "--name", name, "--network", NETWORK, image, "sleep", "infinity"],
                   capture_output=True, check=True)  # fmt: skip
    try:
        for port in EXPORTERS.values():
            result = run(
                name, f"curl -sk --max-time 3 -o /dev/null -w '%{{http_code}}' https://{server_ip}:{port}/metrics"
            )
            assert result.stdout == "000"  # dropped by the firewall: no TLS handshake, no answer
        # The web ports stay open to everyone: the firewall rule names the monitoring host for the exporters only.
        page = f"curl -s --max-time 5 -o /dev/null -w '%{{http_code}}' -H 'Host: {SITE}' http://{server_ip}/"
        assert run(name, page).stdout == "200"
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)


def test_each_ban_is_one_notification_on_every_channel():
    addresses = ("192.0.2.7", "192.0.2.8")
    try:
        for address in addresses:
            assert run(SERVER, f"fail2ban-client set sshd banip {address}").returncode == 0
        for address in addresses:
            arrived = wait_for(lambda a=address: min(count(a, "Fail2banBan").values()) >= 1, timeout=DEADLINE)
            assert arrived, (address, count(address, "Fail2banBan"))
        # A group per ban: each address in exactly one firing notification per channel, not both in one.
        time.sleep(10)  # a second notification would come group_interval (5 s) after the first
        for address in addresses:
            assert count(address, "Fail2banBan") == dict.fromkeys(CHANNELS, 1)
        both = [entry for entry in notifications() if all(a in entry[2] for a in addresses)]
        assert both == []
    finally:
        for address in addresses:
            run(SERVER, f"fail2ban-client set sshd unbanip {address}")
    for address in addresses:
        resolved = wait_for(lambda a=address: min(count(a, "Fail2banBan", "resolved").values()) >= 1, timeout=DEADLINE)
        assert resolved, (address, count(address, "Fail2banBan", "resolved"))


def test_the_journal_is_capped_on_both_hosts():
    for container in (SERVER, MONITOR):
        log = run(container, "journalctl -b -u systemd-journald --no-pager -o cat").stdout
        assert "max 1.0G" in log, (container, log[-500:])


def test_prometheus_keeps_its_data_within_the_retention():
    flags = api("/api/v1/status/flags")["data"]
    # The role's 2GB: Prometheus's units are powers of two, and it prints them so.
    assert (flags["storage.tsdb.retention.time"], flags["storage.tsdb.retention.size"]) == ("30d", "2GiB")
    assert api("/api/v1/status/runtimeinfo")["data"]["storageRetention"] == "30d or 2GiB"


def test_logrotate_rotates_every_log_file_on_the_server():
    # bootstrap.log: written once when the image was built (debootstrap), by nothing since.
    files = set(run(SERVER, "find /var/log /srv/www -type f -name '*.log'").stdout.split()) - {"/var/log/bootstrap.log"}
    assert f"/srv/www/{SITE}/logs/access.log" in files
    considered = run(SERVER, "logrotate --debug /etc/logrotate.conf 2>&1").stdout.splitlines()
    rotated = {line.split("considering log ", 1)[1].strip() for line in considered if "considering log " in line}
    assert files - rotated == set()


# Last: freezes the server (docker pause: every process stopped, nothing answers, as a hung or cut-off server)
# and thaws it afterwards.
def test_a_frozen_server_is_one_server_down_notification_no_site_alert_and_its_exporters_held_back():
    before, sites_before = count(SERVER, "ServerDown"), count(SITE, "SiteDown")
    exporters_before = count(SERVER, "ExporterDown")
    subprocess.run(["docker", "pause", SERVER], check=True, capture_output=True)
    try:
        arrived = wait_for(lambda: all(count(SERVER, "ServerDown")[c] > before[c] for c in CHANNELS), timeout=DEADLINE)
        assert arrived, count(SERVER, "ServerDown")

        def failing_checks():
            query = "probe_success%7Bjob%3D%22sites%22%7D%20%3D%3D%200"
            results = api(f"/api/v1/query?query={query}")["data"]["result"]
            found = sorted(r["metric"]["site"] for r in results if r["metric"].get("server") == SERVER)
            return found if found == [SITE, SHOP] else None

        def site_alerts():
            results = api("/api/v1/query?query=ALERTS%7Balertname%3D%22SiteDown%22%7D")["data"]["result"]
            return [r["metric"] for r in results if r["metric"].get("server") == SERVER]

        # Both sites' checks fail, yet SiteDown never goes pending (its rule leaves out a server whose node_exporter
        # does not answer): after its for and a group_wait more, no site alert and no site notification.
        assert wait_for(failing_checks, timeout=DEADLINE), api("/api/v1/query?query=probe_success")
        assert site_alerts() == []
        time.sleep(25)
        assert site_alerts() == []
        assert count(SITE, "SiteDown") == sites_before  # SITE is in SHOP's name too: both sites counted

        # The server's other exporters are down too: Prometheus fires ExporterDown for each, Alertmanager holds them
        # back (inhibited by ServerDown, the same server label), and none is sent.
        def exporters_inhibited():
            alerts = api("/api/v2/alerts?filter=alertname%3D%22ExporterDown%22")
            found = {a["labels"]["job"]: a["status"] for a in alerts if a["labels"].get("server") == SERVER}
            return found if set(found) == set(EXPORTERS) - {"node"} else None

        inhibited = wait_for(exporters_inhibited, timeout=DEADLINE)
        assert inhibited, api("/api/v2/alerts")
        assert all(status["state"] == "suppressed" and status["inhibitedBy"] for status in inhibited.values())
        time.sleep(20)
        assert count(SERVER, "ExporterDown") == exporters_before
    finally:
        subprocess.run(["docker", "unpause", SERVER], check=False, capture_output=True)
    assert wait_for(
        lambda: all(t["health"] == "up" for t in targets() if t["labels"].get("server") == SERVER), timeout=DEADLINE
    )
