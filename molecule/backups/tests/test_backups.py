"""The backups of two WordPress sites, into moto_server's S3 and copied into a local directory and Azure Blob
(Azurite, through rclone): what lands, what a restore gives back byte for byte (also from a copy), what a failure
leaves. The tests run in file order and build on each other (then test_pitr.py, then test_recovery.py: the whole
server onto a fresh one)."""

import base64
import json
import os
import shlex
import signal
import subprocess
import time
import uuid

import pytest

BLOG = "blog.example.test"
SHOP = "shop.example.test"
SERVER = "wpzo-backups"
MOTO_PID_FILE = "/tmp/wpzo-molecule-backups-moto.pid"  # molecule/backups/endpoints.sh
PLAYBOOKS = os.path.join(os.environ.get("MOLECULE_PROJECT_DIRECTORY", "."), "playbooks")
# Recorded by one test, read by the later ones.
RECORDED = {}
# Durations of backups and restores, printed for docs/recovery.md (figures, never assertions).
FIGURES = os.path.join(os.environ.get("MOLECULE_PROJECT_DIRECTORY", "."), "build", "molecule", "backups-figures.txt")


def figure(what, started):
    os.makedirs(os.path.dirname(FIGURES), exist_ok=True)
    with open(FIGURES, "a") as stream:
        stream.write("%s: %.1f s\n" % (what, time.monotonic() - started))


def run(host, command, ok=True):
    result = host.run(command)
    if ok:
        assert result.rc == 0, "%s: %s %s" % (command, result.stdout, result.stderr)
    return result


def sql(host, database, query):
    return run(host, "mariadb -N -B %s -e %s" % (database, shlex.quote(query))).stdout


@pytest.fixture(scope="module", autouse=True)
def wordpress_cron_paused(host):
    """WordPress's cron writes rows of its own (wp_options transients) at any time: paused while rows are compared."""
    host.check_output("systemctl stop 'wpzo-wp-cron-*.timer' 'wpzo-wp-cron-*.service'")
    yield
    host.run("systemctl start 'wpzo-wp-cron-*.timer'")


def row_counts(host, database):
    tables = sql(host, database, "SHOW TABLES").split()
    query = " UNION ALL ".join("SELECT '%s', COUNT(*) FROM `%s`" % (table, table) for table in tables)  # noqa: S608
    return {name: int(count) for name, count in (line.split("\t") for line in sql(host, database, query).splitlines())}


def table_checksums(host, database):
    tables = sql(host, database, "SHOW TABLES").split()
    return sql(host, database, "CHECKSUM TABLE %s" % ", ".join("`%s`" % table for table in tables))


def file_hashes(host, root):
    """sha256 of every file the backup keeps (caches left out), by path."""
    listing = run(
        host,
        "cd %s && find public private -path public/wp-content/cache -prune -o -type f -print0 "
        "| sort -z | xargs -0 sha256sum" % root,
    ).stdout
    return dict(reversed(line.split("  ", 1)) for line in listing.splitlines())


def restic(host, site, target, args, ok=True):
    """restic on one site's repository of one target, as the runner calls it."""
    return run(host, "wpzo-backup restic --site %s --target %s -- %s" % (site, target, args), ok=ok)


def snapshots(host, site, target="offsite", tag=None):
    args = "snapshots --json --no-lock" + (" --tag %s" % tag if tag else "")
    return json.loads(restic(host, site, target, args).stdout)


def tag(snapshot, key):
    return next(t.split("=", 1)[1] for t in snapshot["tags"] if t.startswith(key + "="))


def latest_run(host, site, target="offsite"):
    found = [s for s in snapshots(host, site, target) if tag(s, "reason") != "safety"]
    run_id = tag(max(found, key=lambda s: s["time"]), "run")
    return {tag(s, "part"): s for s in found if tag(s, "run") == run_id}


def manifest(host, site, files_snapshot, target="offsite"):
    path = "/var/lib/wpzo/backups/%s/manifest.json" % site
    return json.loads(restic(host, site, target, "dump --no-lock %s %s" % (files_snapshot["id"], path)).stdout)


def status(host, site):
    return json.loads(host.file("/var/lib/wpzo/backups/%s/status.json" % site).content_string)


def page(host, site):
    return run(host, "curl -fsS -H 'Host: %s' http://127.0.0.1/" % site).stdout


def page_showing(host, site, text, deadline=60):
    """The site's page once it shows text: a post written through WordPress asks the purge watcher to drop the
    cached page, which it does a moment later."""
    stop = time.monotonic() + deadline
    while True:
        found = page(host, site)
        if text in found or time.monotonic() > stop:
            assert text in found, "%s still not on the page of %s after %s s" % (text, site, deadline)
            return found
        time.sleep(1)


def published_titles(host, database):
    return sql(host, database, "SELECT post_title FROM wp_posts WHERE post_status = 'publish' ORDER BY ID")


def playbook(name, *extra, limit=SERVER, ok=True):
    """ansible-playbook on one host of the scenario (ansible_playbook of molecule/conftest.py reads the first
    server's recap only); its output, or with ok=False the completed run."""
    result = subprocess.run(
        [
            "ansible-playbook",
            "-i",
            os.path.dirname(os.environ["MOLECULE_INVENTORY_FILE"]),
            "--limit",
            limit,
            os.path.join(PLAYBOOKS, name),
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
        env=dict(os.environ, ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1"),
    )
    if not ok:
        return result
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def moto_signal(sig):
    with open(MOTO_PID_FILE) as stream:
        os.kill(int(stream.read().strip()), sig)


def test_a_backup_lands_with_its_manifest(host):
    started = time.monotonic()
    result = run(host, "wpzo-backup run")
    figure("first backup of both sites (dump, files, verify, copy, retention)", started)
    assert "%s: backed up" % BLOG in result.stderr
    assert "%s: backed up" % SHOP in result.stderr
    for site, database in ((BLOG, "wp_blog_example_test"), (SHOP, "wp_shop_example_test")):
        parts = latest_run(host, site)
        assert sorted(parts) == ["db", "files"]
        for snapshot in parts.values():
            assert {"site=" + site, "server=" + SERVER, "reason=scheduled"} <= set(snapshot["tags"])
        found = manifest(host, site, parts["files"])
        assert found["wordpress_version"] == "6.1.9"
        assert found["database"]["rows"] == row_counts(host, database)
        assert found["database"]["rows"]["wp_posts"] >= 1
        assert found["database"]["binlog_file"] or found["database"]["gtid"] is not None
        assert found["files"]["bytes"] > 10_000_000  # the WordPress core
        assert found["database"]["snapshot"] == parts["db"]["id"]
        # The owners by name, for a restore onto a server whose ids differ.
        entry = site_entry(host, site)
        assert found["files"]["users"][str(host.user(entry["system_user"]).uid)] == entry["system_user"]
        assert found["files"]["site_group"] == entry["system_group"]
        # The copy targets hold the same run.
        for copy in ("local", "azure"):
            assert {p: tag(s, "run") for p, s in latest_run(host, site, copy).items()} == {
                p: tag(s, "run") for p, s in parts.items()
            }
        assert status(host, site)["failed"] is False
    RECORDED["first"] = latest_run(host, BLOG)
    RECORDED["rows"] = row_counts(host, "wp_blog_example_test")
    RECORDED["checksums"] = table_checksums(host, "wp_blog_example_test")
    RECORDED["files"] = file_hashes(host, "/srv/www/" + BLOG)
    metrics = host.file("/var/lib/prometheus/node-exporter/wpzo_backup.prom").content_string
    assert 'wpzo_backup_last_failed{site="%s"} 0' % BLOG in metrics
    assert 'wpzo_backup_last_success_timestamp_seconds{site="%s"}' % SHOP in metrics


def test_a_new_post_and_upload_are_in_the_next_backup(host):
    sql(
        host,
        "wp_blog_example_test",
        "INSERT INTO wp_posts (post_author, post_date, post_date_gmt, post_content, post_title, post_excerpt, "
        "post_status, post_name, to_ping, pinged, post_modified, post_modified_gmt, post_content_filtered, "
        "post_type) VALUES (1, NOW(), UTC_TIMESTAMP(), 'Written after the first backup.', 'After the first backup', "
        "'', 'publish', 'after-the-first-backup', '', '', NOW(), UTC_TIMESTAMP(), '', 'post')",
    )
    uploads = "/srv/www/%s/public/wp-content/uploads/2026/12" % BLOG
    RECORDED["upload"] = "%s/photo-%s.jpg" % (uploads, uuid.uuid4().hex[:8])
    run(host, "mkdir -p %s && head -c 300000 /dev/urandom > %s" % (uploads, RECORDED["upload"]))
    assert "After the first backup" in page(host, BLOG)  # and now in the page cache
    started = time.monotonic()
    result = run(host, "wpzo-backup run --site %s" % BLOG)
    figure("second backup of one site (a post and a 300 kB upload added)", started)
    assert "%s: backed up" % BLOG in result.stderr
    parts = latest_run(host, BLOG)
    assert parts["files"]["id"] != RECORDED["first"]["files"]["id"]
    found = manifest(host, BLOG, parts["files"])
    assert found["database"]["rows"]["wp_posts"] == RECORDED["rows"]["wp_posts"] + 1
    listing = restic(host, BLOG, "offsite", "ls --no-lock %s" % parts["files"]["id"]).stdout
    assert RECORDED["upload"] in listing.splitlines()
    # Deduplicated: the second backup adds the upload and the changed tables, not the site again.
    assert 300_000 <= status(host, BLOG)["last_added_bytes"] < 3_000_000


def test_restoring_the_first_backup_gives_back_its_rows_and_files_byte_for_byte(host):
    started = time.monotonic()
    output = playbook("restore.yml", "-e", "site=" + BLOG, "-e", "snapshot=" + RECORDED["first"]["db"]["short_id"])
    figure("restore of one site with playbooks/restore.yml (safety backup, files, database, purge)", started)
    assert "changed=1" in output
    assert row_counts(host, "wp_blog_example_test") == RECORDED["rows"]
    assert table_checksums(host, "wp_blog_example_test") == RECORDED["checksums"]
    assert file_hashes(host, "/srv/www/" + BLOG) == RECORDED["files"]
    assert not host.file(RECORDED["upload"]).exists
    # The page cache was purged: the post written after the first backup is gone from the page.
    assert "After the first backup" not in page(host, BLOG)
    # What the restore replaced was backed up first.
    safety = [s for s in snapshots(host, BLOG) if tag(s, "reason") == "safety"]
    assert sorted(tag(s, "part") for s in safety) == ["db", "files"]
    # Again: nothing to do.
    again = playbook("restore.yml", "-e", "site=" + BLOG, "-e", "snapshot=" + RECORDED["first"]["db"]["short_id"])
    assert "changed=0" in again and "failed=0" in again


def test_retention_keeps_exactly_the_right_snapshots(host):
    """Policy of the scenario: last 2, daily 3, weekly 2, monthly 3 (today is after 2026-11-30)."""
    stamps = [
        "2026-09-15 02:00:00",
        "2026-10-20 02:00:00",
        "2026-11-10 02:00:00",
        "2026-11-20 02:00:00",
        "2026-11-26 02:00:00",
        "2026-11-27 02:00:00",
        "2026-11-27 03:00:00",
    ]
    for number, stamp in enumerate(stamps):
        restic(
            host,
            SHOP,
            "offsite",
            "backup --stdin --stdin-filename %s.sql --host %s --time %s --tag site=%s,part=db,run=stamp%d,"
            "reason=scheduled < /etc/os-release" % (SHOP, SERVER, shlex.quote(stamp), SHOP, number),
        )
    run(host, "wpzo-backup run --site %s" % SHOP)
    db = [s for s in snapshots(host, SHOP) if tag(s, "part") == "db"]
    real = sorted(s["time"] for s in db if not tag(s, "run").startswith("stamp"))
    # last 2: the two newest real runs; daily 3: today, 11-27 03:00, 11-26; weekly 2: today, 11-27 03:00;
    # monthly 3: today, 11-27 03:00, 10-20. Everything else goes.
    assert sorted(s["time"][:19] for s in db if tag(s, "run").startswith("stamp")) == [
        "2026-10-20T02:00:00",
        "2026-11-26T02:00:00",
        "2026-11-27T03:00:00",
    ]
    assert len(real) == 2
    files = [s for s in snapshots(host, SHOP) if tag(s, "part") == "files"]
    assert sorted(s["time"] for s in files)[-1] > real[-1]  # the files of the newest run
    assert len(files) == 2


def test_an_unresponsive_s3_endpoint_fails_the_run_and_forgets_nothing(host):
    before = sorted(s["id"] for s in snapshots(host, BLOG))
    last_success = status(host, BLOG)["last_success"]
    moto_signal(signal.SIGSTOP)
    try:
        result = run(host, "wpzo-backup run --site %s" % BLOG, ok=False)
    finally:
        moto_signal(signal.SIGCONT)
    assert result.rc != 0
    failure = [line for line in result.stderr.splitlines() if "failed" in line]
    assert failure == [failure[0]] and "%s: run failed: restic" % BLOG in failure[0] and "timed out" in failure[0]
    found = status(host, BLOG)
    assert found["failed"] is True and "timed out" in found["last_error"]
    assert found["last_success"] == last_success
    metrics = host.file("/var/lib/prometheus/node-exporter/wpzo_backup.prom").content_string
    assert 'wpzo_backup_last_failed{site="%s"} 1' % BLOG in metrics
    assert sorted(s["id"] for s in snapshots(host, BLOG)) == before
    # The next run clears the killed run's stale lock and succeeds.
    run(host, "wpzo-backup run --site %s" % BLOG)
    assert status(host, BLOG)["failed"] is False


@pytest.mark.parametrize(
    "producer, reason",
    [
        # Killed mid-stream: half of the dump written, then SIGKILL.
        ('head -c "$(( $(wc -c < /tmp/full.sql) / 2 ))" /tmp/full.sql; kill -9 $$', "mariadb-dump exited with -9"),
        # Cut short but exiting 0: no completion trailer.
        ('head -c "$(( $(wc -c < /tmp/full.sql) / 2 ))" /tmp/full.sql', "before its completion trailer"),
    ],
)
def test_a_dump_cut_short_never_becomes_a_snapshot(host, producer, reason):
    before = latest_run(host, BLOG)
    count = len(snapshots(host, BLOG))
    wrapper = '#!/bin/sh\n/usr/bin/mariadb-dump "$@" > /tmp/full.sql\n%s\n' % producer
    encoded = base64.b64encode(wrapper.encode()).decode()
    run(
        host,
        "mkdir -p /tmp/cut && echo %s | base64 -d > /tmp/cut/mariadb-dump && chmod +x /tmp/cut/mariadb-dump" % encoded,
    )
    result = run(host, "PATH=/tmp/cut:$PATH wpzo-backup run --site %s" % BLOG, ok=False)
    assert result.rc != 0
    assert reason in result.stderr
    assert reason in status(host, BLOG)["last_error"]
    assert len(snapshots(host, BLOG)) == count
    assert {p: s["id"] for p, s in latest_run(host, BLOG).items()} == {p: s["id"] for p, s in before.items()}


def test_a_corrupted_pack_is_found_by_the_check(host):
    packs = run(host, "find /var/backups/wpzo/%s/data -type f -size +100k" % SHOP).stdout.split()
    pack = packs[0]
    run(host, "cp -p %s /tmp/pack.saved && printf 'corrupt' | dd of=%s bs=1 seek=5000 conv=notrunc" % (pack, pack))
    try:
        result = run(host, "wpzo-backup check --site %s" % SHOP, ok=False)
        assert result.rc != 0
        assert "%s: check failed: restic check on local failed" % SHOP in result.stderr
    finally:
        run(host, "cp -p /tmp/pack.saved %s" % pack)


def test_the_restore_drill_passes(host):
    started = time.monotonic()
    result = run(host, "wpzo-backup check")
    figure("check (read all data) and restore drill of both sites", started)
    for site in (BLOG, SHOP):
        assert "%s: checked, drill %s" % (site, tag(latest_run(host, site)["db"], "run")) in result.stderr
    assert "wpzo_restore_drill" not in sql(host, "mysql", "SHOW DATABASES")


def test_the_copy_restores(host):
    parts = latest_run(host, SHOP, "local")
    run(host, "rm -rf /tmp/copy && mkdir /tmp/copy")
    restic(host, SHOP, "local", "restore --no-lock %s --target /tmp/copy" % parts["files"]["id"])
    assert file_hashes(host, "/tmp/copy/srv/www/" + SHOP) == file_hashes(host, "/srv/www/" + SHOP)
    sql(host, "mysql", "CREATE DATABASE copy_check")
    try:
        restic(host, SHOP, "local", "dump --no-lock %s /%s.sql | mariadb copy_check" % (parts["db"]["id"], SHOP))
        assert row_counts(host, "copy_check") == row_counts(host, "wp_shop_example_test")
    finally:
        sql(host, "mysql", "DROP DATABASE copy_check")


def site_entry(host, site):
    """The site as the backup runner knows it (its system user, docroot)."""
    sites = json.loads(host.file("/etc/wpzo/backup/sites.json").content_string)["sites"]
    return next(entry for entry in sites if entry["domain"] == site)


def wordpress_php(host, site, code):
    """PHP run inside the site's WordPress, as its user (what a post written in the admin does)."""
    entry = site_entry(host, site)
    program = "define('WP_USE_THEMES', false); require './wp-load.php'; " + code
    return run(
        host,
        "cd %s && setpriv --reuid=%s --regid=%s --init-groups php -r %s"
        % (entry["docroot"], entry["system_user"], entry["system_group"], shlex.quote(program)),
    ).stdout


def test_a_restore_from_the_azure_copy_serves_the_restored_content_through_the_object_cache(host):
    """shop has Redis's object cache and no page cache: a post written through WordPress (its queries and the post
    cached in Redis) is gone from the page after a restore from the copy in Azure Blob; the same restore again
    changes nothing."""
    run(host, "wpzo-backup run --site %s" % SHOP)
    backed_up = latest_run(host, SHOP, "azure")
    wordpress_php(
        host,
        SHOP,
        "wp_insert_post(['post_title' => 'Gone after the restore', 'post_content' => 'Written after the backup.', "
        "'post_status' => 'publish']);",
    )
    assert "Gone after the restore" in page(host, SHOP)
    assert "Gone after the restore" in page(host, SHOP)  # served again, from the object cache
    assert wordpress_php(host, SHOP, "echo wp_using_ext_object_cache() ? 'redis' : 'none';").strip() == "redis"
    started = time.monotonic()
    output = playbook("restore.yml", "-e", "site=" + SHOP, "-e", "target=azure")
    figure("restore of one site from the Azure copy with playbooks/restore.yml", started)
    assert "changed=1" in output and "from azure" in output
    assert tag(backed_up["db"], "run") in output
    assert "Gone after the restore" not in page(host, SHOP)
    again = playbook("restore.yml", "-e", "site=" + SHOP, "-e", "target=azure")
    assert "changed=0" in again and "failed=0" in again


def test_removing_a_site_takes_its_final_backup_into_the_repositories_first(host, tmp_path):
    sites = tmp_path / "sites.json"
    sites.write_text(json.dumps({"wpzo_sites": [{"domain": BLOG}, {"domain": SHOP, "state": "absent"}]}))
    playbook("sites.yml", "-e", "@%s" % sites, "-e", "site=" + SHOP)
    assert not host.file("/srv/www/" + SHOP).exists
    final = [s for s in snapshots(host, SHOP) if tag(s, "reason") == "final"]
    assert sorted(tag(s, "part") for s in final) == ["db", "files"]
    assert len({tag(s, "run") for s in final}) == 1
    assert sorted(tag(s, "part") for s in snapshots(host, SHOP, "local") if tag(s, "reason") == "final") == [
        "db",
        "files",
    ]
