"""Break things and read what the operators receive: one firing notification on every channel, then one resolved.

The recorder of prepare.yml stands in for the webhook, Slack, Discord, Telegram and the mail relay. Breaks that
land in different Alertmanager groups (a site each, or the server) run at the same time, each checked on its own.
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


def check_round(host, breaks, fix, since):
    """breaks: [(marker, alert)], applied after the recorder held ``since`` notifications; fix() undoes them."""
    assert wait_for(lambda: arrived(host, breaks, "firing", since), timeout=DEADLINE), notifications(host, since)
    fix()
    assert wait_for(lambda: arrived(host, breaks, "resolved", since), timeout=DEADLINE), notifications(host, since)
    # A repeat or a late duplicate would come within a few group intervals (5 s): watch for three.
    time.sleep(15)
    expected = {(channel, status): 1 for channel in CHANNELS for status in ("firing", "resolved")}
    for marker, alert in breaks:
        assert count(host, marker, alert, since) == expected, (marker, alert, notifications(host, since))


def write(host, path, content):
    host.run(f"cat > {path}.new <<'EOF'\n{content}EOF\nmv {path}.new {path}")


@pytest.fixture(scope="module")
def quiet(host):
    """Nothing firing (pending is fine: it notifies nobody) when the breaks start: the server is healthy."""

    def firing():
        alerts = json.loads(host.check_output("curl -s http://127.0.0.1:9090/api/v1/alerts"))["data"]["alerts"]
        names = [alert["labels"]["alertname"] for alert in alerts if alert["state"] == "firing"]
        return [name for name in names if name != "Watchdog"]

    assert wait_for(lambda: not firing(), timeout=DEADLINE), firing()


def test_site_answering_500_wrong_text_and_a_failed_unit(host, quiet):
    since = received(host)
    write(host, SHOP_INDEX, "<?php http_response_code(500); echo 'Shop of wpzo is open';\n")
    write(host, STATIC_INDEX, "<h1>Under construction</h1>\n")
    host.run(f"systemd-run --unit={BROKEN_UNIT} --property=Type=oneshot /bin/false")

    def fix():
        write(host, SHOP_INDEX, "<?php echo 'Shop of wpzo is open';\n")
        write(host, STATIC_INDEX, "<h1>Static of wpzo</h1>\n")
        host.run(f"systemctl reset-failed {BROKEN_UNIT}.service")

    check_round(host, [(SHOP, "SiteDown"), (STATIC, "SiteWrongContent"), (BROKEN_UNIT, "UnitFailed")], fix, since)


def test_php_fpm_pool_stopped_and_backup_stale(host, quiet):
    pool = f"/etc/php/8.2/fpm/pool.d/{SHOP.replace('.', '_')}.conf"
    since = received(host)
    host.run(f"mv {pool} /root/pool.conf.stopped && systemctl reload php8.2-fpm")
    stale = int(time.time()) - 30 * 3600
    write(host, BACKUP_METRICS, f'wpzo_backup_last_success_timestamp_seconds{{site="{STATIC}"}} {stale}\n')

    def fix():
        host.run(f"mv /root/pool.conf.stopped {pool} && systemctl reload php8.2-fpm")
        fresh = int(time.time())
        write(host, BACKUP_METRICS, f'wpzo_backup_last_success_timestamp_seconds{{site="{STATIC}"}} {fresh}\n')

    check_round(host, [(SHOP, "PhpFpmPoolDown"), (STATIC, "BackupTooOld")], fix, since)
    # The stopped pool makes the shop's check fail too: one failure, one alert, no SiteDown besides.
    assert count(host, SHOP, "SiteDown", since) == {}
    host.run(f"rm -f {BACKUP_METRICS}")


def test_certificate_expiring_tomorrow_and_a_filesystem_filled(host, quiet):
    """The static site serves a certificate of its own key and names that expires tomorrow (the critical
    CertificateExpiringSoon, under monitoring_server_certificate_critical_days); the test filesystem fills past its
    threshold (DiskFilling: under the free ratio, and predicted to run out)."""
    since = received(host)
    host.check_output(f"cp -p {STATIC_CERTIFICATE} /root/certificate.valid")
    host.check_output(
        f"openssl req -new -x509 -days 1 -key {STATIC_KEY} -subj /CN={STATIC} -addext subjectAltName=DNS:{STATIC}"
        f" -out {STATIC_CERTIFICATE}.new && mv {STATIC_CERTIFICATE}.new {STATIC_CERTIFICATE} && systemctl reload nginx"
    )
    host.check_output(f"dd if=/dev/zero of={TEST_FILESYSTEM}/fill bs=1K count=15872 status=none")

    def fix():
        host.check_output(f"mv /root/certificate.valid {STATIC_CERTIFICATE} && systemctl reload nginx")
        host.check_output(f"rm {TEST_FILESYSTEM}/fill")

    check_round(host, [(STATIC, "CertificateExpiringSoon"), (TEST_FILESYSTEM, "DiskFilling")], fix, since)
    # About the static site and the test filesystem only: not the warning as well, not the site down, not the
    # container's other filesystems.
    assert {labels["site"] for labels in webhook_labels(host, "CertificateExpiringSoon", since)} == {STATIC}
    assert webhook_labels(host, "CertificateExpiring", since) == []
    assert count(host, STATIC, "SiteDown", since) == {}
    assert {labels["mountpoint"] for labels in webhook_labels(host, "DiskFilling", since)} == {TEST_FILESYSTEM}
