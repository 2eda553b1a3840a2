"""Break things and read what the operators receive: one firing notification on every channel, then one resolved.

The recorder of prepare.yml stands in for the webhook, Slack, Discord, Telegram and the mail relay. Breaks that
land in different Alertmanager groups (a site each, or the server) run at the same time, each checked on its own.
"""

import email
import json
import re
import shlex
import time

import pytest
from test_agent import SHOP, STATIC, wait_for

NOTIFICATIONS = "/srv/recorder/notifications.jsonl"
CHANNELS = ("webhook", "slack", "discord", "email", "telegram")
SHOP_INDEX = f"/srv/www/{SHOP}/public/index.php"
STATIC_INDEX = f"/srv/www/{STATIC}/public/index.html"
BACKUP_METRICS = "/var/lib/prometheus/node-exporter/wpzo_backup.prom"
BROKEN_UNIT = "wpzo-test-broken"
# Long enough for detection (scrape 3 s, for: 6 s), group_wait (15 s) and delivery, with a wide margin.
DEADLINE = 180


def notifications(host):
    """[(channel, status, text)] of everything the recorder received."""
    content = host.run(f"cat {NOTIFICATIONS}").stdout
    found = []
    for line in content.splitlines():
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


def count(host, marker, alert):
    """{(channel, status): number} of the notifications naming both marker (the group) and the alert."""
    counts = {}
    for channel, status, text in notifications(host):
        if marker in text and alert in text:
            counts[(channel, status)] = counts.get((channel, status), 0) + 1
    return counts


def arrived(host, breaks, status):
    return all(
        all(count(host, marker, alert).get((channel, status), 0) >= 1 for channel in CHANNELS)
        for marker, alert in breaks
    )


def check_round(host, breaks, fix):
    """breaks: [(marker, alert)], already applied; fix() undoes them."""
    assert wait_for(lambda: arrived(host, breaks, "firing"), timeout=DEADLINE), notifications(host)
    fix()
    assert wait_for(lambda: arrived(host, breaks, "resolved"), timeout=DEADLINE), notifications(host)
    # A repeat or a late duplicate would come within a few group intervals (5 s): watch for three.
    time.sleep(15)
    expected = {(channel, status): 1 for channel in CHANNELS for status in ("firing", "resolved")}
    for marker, alert in breaks:
        assert count(host, marker, alert) == expected, (marker, alert, notifications(host))


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
    write(host, SHOP_INDEX, "<?php http_response_code(500); echo 'Shop of wpzo is open';\n")
    write(host, STATIC_INDEX, "<h1>Under construction</h1>\n")
    host.run(f"systemd-run --unit={BROKEN_UNIT} --property=Type=oneshot /bin/false")

    def fix():
        write(host, SHOP_INDEX, "<?php echo 'Shop of wpzo is open';\n")
        write(host, STATIC_INDEX, "<h1>Static of wpzo</h1>\n")
        host.run(f"systemctl reset-failed {BROKEN_UNIT}.service")

    check_round(host, [(SHOP, "SiteDown"), (STATIC, "SiteWrongContent"), (BROKEN_UNIT, "UnitFailed")], fix)


def test_php_fpm_pool_stopped_and_backup_stale(host, quiet):
    pool = f"/etc/php/8.2/fpm/pool.d/{SHOP.replace('.', '_')}.conf"
    site_down_before = count(host, SHOP, "SiteDown")
    host.run(f"mv {pool} /root/pool.conf.stopped && systemctl reload php8.2-fpm")
    stale = int(time.time()) - 30 * 3600
    write(host, BACKUP_METRICS, f'wpzo_backup_last_success_timestamp_seconds{{site="{STATIC}"}} {stale}\n')

    def fix():
        host.run(f"mv /root/pool.conf.stopped {pool} && systemctl reload php8.2-fpm")
        fresh = int(time.time())
        write(host, BACKUP_METRICS, f'wpzo_backup_last_success_timestamp_seconds{{site="{STATIC}"}} {fresh}\n')

    check_round(host, [(SHOP, "PhpFpmPoolDown"), (STATIC, "BackupTooOld")], fix)
    # The stopped pool makes the shop's check fail too: one failure, one alert, no SiteDown besides.
    assert count(host, SHOP, "SiteDown") == site_down_before
    host.run(f"rm -f {BACKUP_METRICS}")


STATIC_CERTIFICATE = f"/etc/ssl/wpzo/{STATIC}.crt"
FILL_MOUNT = "/mnt/wpzo-test-fill"


def prometheus_value(host, query):
    """The first value of an instant query to Prometheus, or None."""
    url = "http://127.0.0.1:9090/api/v1/query"
    answer = host.check_output(f"curl -s --get --data-urlencode {shlex.quote('query=' + query)} {url}")
    result = json.loads(answer)["data"]["result"]
    return float(result[0]["value"][1]) if result else None


def test_certificate_expiring_tomorrow_and_a_filesystem_filling(host, quiet):
    # A certificate for the static site that expires tomorrow, with the site's own key: critical, not warning.
    host.run(f"cp -p {STATIC_CERTIFICATE} /root/static.crt.kept")
    expiring = host.run(
        f"openssl req -new -x509 -days 1 -key /etc/ssl/wpzo/{STATIC}.key -subj /CN={STATIC}"
        f" -addext subjectAltName=DNS:{STATIC} -out {STATIC_CERTIFICATE}.new"
        f" && mv {STATIC_CERTIFICATE}.new {STATIC_CERTIFICATE} && systemctl reload nginx"
    )
    assert expiring.rc == 0, expiring.stderr
    # A small filesystem the node exporter sees, seen empty first (the trend needs a sample before the fill), then
    # filled past the threshold (15 % free).
    host.run(f"mkdir -p {FILL_MOUNT} && mount -t tmpfs -o size=16m wpzo-test-fill {FILL_MOUNT}")
    seen = f'count_over_time(node_filesystem_avail_bytes{{mountpoint="{FILL_MOUNT}"}}[1m])'
    assert wait_for(lambda: (prometheus_value(host, seen) or 0) >= 2, timeout=60), "the test filesystem is not scraped"
    assert host.run(f"dd if=/dev/zero of={FILL_MOUNT}/fill bs=1M count=15").rc == 0

    def fix():
        host.run(f"mv /root/static.crt.kept {STATIC_CERTIFICATE} && systemctl reload nginx")
        host.run(f"rm -f {FILL_MOUNT}/fill")

    try:
        check_round(host, [(STATIC, "CertificateExpiringSoon"), (FILL_MOUNT, "DiskFilling")], fix)
        # One day left is the critical threshold's alert alone, never the warning's too.
        warnings = [entry for entry in notifications(host) if re.search(r"CertificateExpiring(?!Soon)", entry[2])]
        assert warnings == []
    finally:
        host.run(f"umount {FILL_MOUNT}")
