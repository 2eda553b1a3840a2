"""Break things and read what the operators receive: one firing notification on every channel, then one resolved.

The recorder of prepare.yml stands in for the webhook, Slack, Discord, Telegram and the mail relay. Breaks that
land in different Alertmanager groups (a site each, or the server) run at the same time, each checked on its own.
Every break's undo runs whatever happens (the ``breaks`` fixture), and every case starts with nothing firing: a case
that fails halfway leaves nothing broken for the next.
"""

import email
import json
import time

import pytest
from test_agent import SHOP, STATIC, wait_for

NOTIFICATIONS = "/srv/recorder/notifications.jsonl"
CHANNELS = ("webhook", "slack", "discord", "email", "telegram")
SHOP_INDEX = f"/srv/www/{SHOP}/public/index.php"
STATIC_INDEX = f"/srv/www/{STATIC}/public/index.html"
BACKUP_METRICS = "/var/lib/prometheus/node-exporter/wpzo_backup.prom"
BROKEN_UNIT = "wpzo-test-broken"
STATIC_CERTIFICATE, STATIC_KEY = f"/etc/ssl/wpzo/{STATIC}.crt", f"/etc/ssl/wpzo/{STATIC}.key"
# prepare.yml's 16 MiB tmpfs; 15.5 MiB leave 3 % free, under molecule.yml's monitoring_server_disk_free_ratio (5 %).
TEST_FILESYSTEM = "/mnt/wpzo-test-fill"
# prepare.yml's WordPress core of the shop, at the version molecule.yml's monitoring_agent_wordpress_sites asks for.
WORDPRESS_VERSION = "/srv/wpzo-test-wordpress/wp-includes/version.php"
# Long enough for detection (scrape 3 s, for: 6 s), group_wait (15 s) and delivery, with a wide margin.
DEADLINE = 180


def notifications(host, since=0):
    """[(channel, status, text)] of what the recorder received, from its line ``since`` on."""
    content = host.run(f"cat {NOTIFICATIONS}").stdout
    found = []
    for line in content.splitlines()[since:]:
        entry = json.loads(line)
        channel, text = entry["channel"], entry["text"]
        if channel == "webhook":
            status = json.loads(text)["status"]
        elif channel == "telegram":
            status = "firing" if "Alerts Firing" in text else "resolved"
        else:
            if channel == "email":
                text = email.message_from_string(text)["Subject"]
            status = "firing" if "[FIRING" in text else "resolved" if "[RESOLVED]" in text else "unknown"
        found.append((channel, status, text))
    return found


def webhook_labels(host, alert, since=0):
    """The labels of every alert named ``alert`` in the webhook's notifications from line ``since`` on."""
    return [
        found["labels"]
        for channel, _status, text in notifications(host, since)
        if channel == "webhook"
        for found in json.loads(text)["alerts"]
        if found["labels"]["alertname"] == alert
    ]


def received(host):
    """How many notifications the recorder holds: what a test breaks is counted from there on (the converge can
    send some while the sites are not ready yet)."""
    return len(host.run(f"cat {NOTIFICATIONS}").stdout.splitlines())


def count(host, marker, alert, since=0):
    """{(channel, status): number} of the notifications naming both marker (the group) and the alert."""
    counts = {}
    for channel, status, text in notifications(host, since):
        if marker in text and alert in text:
            counts[(channel, status)] = counts.get((channel, status), 0) + 1
    return counts


def arrived(host, breaks, status, since):
    return all(
        all(count(host, marker, alert, since).get((channel, status), 0) >= 1 for channel in CHANNELS)
        for marker, alert in breaks
    )


class Breaks:
    """A case's undos, registered before each break: run by the case's fix, or else at its teardown."""

    def __init__(self):
        self.undos = []

    def undo(self, action):
        self.undos.append(action)

    def fix(self):
        while self.undos:
            self.undos.pop()()


@pytest.fixture
def breaks():
    found = Breaks()
    yield found
    found.fix()


def check_round(host, breaks, expected, since):
    """expected: [(marker, alert)], from the breaks made after the recorder held ``since`` notifications."""
    assert wait_for(lambda: arrived(host, expected, "firing", since), timeout=DEADLINE), notifications(host, since)
    breaks.fix()
    assert wait_for(lambda: arrived(host, expected, "resolved", since), timeout=DEADLINE), notifications(host, since)
    # A repeat or a late duplicate would come within a few group intervals (5 s): watch for three.
    time.sleep(15)
    counts = {(channel, status): 1 for channel in CHANNELS for status in ("firing", "resolved")}
    for marker, alert in expected:
        assert count(host, marker, alert, since) == counts, (marker, alert, notifications(host, since))


def write(host, path, content):
    host.run(f"cat > {path}.new <<'EOF'\n{content}EOF\nmv {path}.new {path}")


@pytest.fixture
def quiet(host):
    """Nothing firing (pending is fine: it notifies nobody) when a case starts: the server is healthy. After what an
    earlier case left firing, three group intervals more (5 s each) for its resolved notifications to arrive."""

    def firing():
        alerts = json.loads(host.check_output("curl -s http://127.0.0.1:9090/api/v1/alerts"))["data"]["alerts"]
        names = [alert["labels"]["alertname"] for alert in alerts if alert["state"] == "firing"]
        return [name for name in names if name != "Watchdog"]

    if firing():
        assert wait_for(lambda: not firing(), timeout=DEADLINE), firing()
        time.sleep(15)


def test_site_answering_500_wrong_text_and_a_failed_unit(host, quiet, breaks):
    since = received(host)
    breaks.undo(lambda: write(host, SHOP_INDEX, "<?php echo 'Shop of wpzo is open';\n"))
    write(host, SHOP_INDEX, "<?php http_response_code(500); echo 'Shop of wpzo is open';\n")
    breaks.undo(lambda: write(host, STATIC_INDEX, "<h1>Static of wpzo</h1>\n"))
    write(host, STATIC_INDEX, "<h1>Under construction</h1>\n")
    breaks.undo(lambda: host.run(f"systemctl reset-failed {BROKEN_UNIT}.service"))
    host.run(f"systemd-run --unit={BROKEN_UNIT} --property=Type=oneshot /bin/false")

    check_round(host, breaks, [(SHOP, "SiteDown"), (STATIC, "SiteWrongContent"), (BROKEN_UNIT, "UnitFailed")], since)


def test_php_fpm_pool_stopped_and_backup_stale(host, quiet, breaks):
    pool = f"/etc/php/8.2/fpm/pool.d/{SHOP.replace('.', '_')}.conf"
    since = received(host)
    breaks.undo(lambda: host.run(f"mv /root/pool.conf.stopped {pool} && systemctl reload php8.2-fpm"))
    host.run(f"mv {pool} /root/pool.conf.stopped && systemctl reload php8.2-fpm")
    breaks.undo(
        lambda: write(
            host, BACKUP_METRICS, f'wpzo_backup_last_success_timestamp_seconds{{site="{STATIC}"}} {int(time.time())}\n'
        )
    )
    stale = int(time.time()) - 30 * 3600
    write(host, BACKUP_METRICS, f'wpzo_backup_last_success_timestamp_seconds{{site="{STATIC}"}} {stale}\n')

    check_round(host, breaks, [(SHOP, "PhpFpmPoolDown"), (STATIC, "BackupTooOld")], since)
    # The stopped pool makes the shop's check fail too: one failure, one alert, no SiteDown besides.
    assert count(host, SHOP, "SiteDown", since) == {}
    host.run(f"rm -f {BACKUP_METRICS}")


def test_certificate_expiring_tomorrow_a_filesystem_filled_and_wordpress_behind(host, quiet, breaks):
    """The static site serves a certificate of its own key and names that expires tomorrow (the critical
    CertificateExpiringSoon, under monitoring_server_certificate_critical_days); the test filesystem fills past its
    threshold (DiskFilling: under the free ratio, and predicted to run out); the shop's WordPress core goes back to
    an older version than the inventory asks for (WordPressBehind)."""
    since = received(host)
    host.check_output(f"cp -p {STATIC_CERTIFICATE} /root/certificate.valid")
    breaks.undo(lambda: host.check_output(f"mv /root/certificate.valid {STATIC_CERTIFICATE} && systemctl reload nginx"))
    host.check_output(
        f"openssl req -new -x509 -days 1 -key {STATIC_KEY} -subj /CN={STATIC} -addext subjectAltName=DNS:{STATIC}"
        f" -out {STATIC_CERTIFICATE}.new && mv {STATIC_CERTIFICATE}.new {STATIC_CERTIFICATE} && systemctl reload nginx"
    )
    breaks.undo(lambda: host.check_output(f"rm -f {TEST_FILESYSTEM}/fill"))
    host.check_output(f"dd if=/dev/zero of={TEST_FILESYSTEM}/fill bs=1K count=15872 status=none")
    wanted = host.file(WORDPRESS_VERSION).content_string
    breaks.undo(lambda: write(host, WORDPRESS_VERSION, wanted))
    write(host, WORDPRESS_VERSION, wanted.replace("'6.4.2'", "'6.3.1'"))

    check_round(
        host,
        breaks,
        [(STATIC, "CertificateExpiringSoon"), (TEST_FILESYSTEM, "DiskFilling"), (SHOP, "WordPressBehind")],
        since,
    )
    # About the static site and the test filesystem only: not the warning as well, not the site down, not the
    # container's other filesystems.
    assert {labels["site"] for labels in webhook_labels(host, "CertificateExpiringSoon", since)} == {STATIC}
    assert webhook_labels(host, "CertificateExpiring", since) == []
    assert count(host, STATIC, "SiteDown", since) == {}
    assert {labels["mountpoint"] for labels in webhook_labels(host, "DiskFilling", since)} == {TEST_FILESYSTEM}
    assert [
        (labels["site"], labels["installed"], labels["wanted"])
        for labels in webhook_labels(host, "WordPressBehind", since)
    ] == [(SHOP, "6.3.1", "6.4.2")] * 2
