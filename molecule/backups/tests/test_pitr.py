"""Point in time and whole server: the binary logs shipped once each and never lost, one site's database restored to
a time and to a GTID with exactly the rows of that moment, and a physical backup of the whole server restored into a
second MariaDB. Runs after test_backups.py (the blog only); the tests build on each other in file order."""

import json
import shlex
import signal
import time

import pytest
from test_backups import BLOG, figure, moto_signal, playbook, row_counts, run, snapshots, sql, tag

DATABASE = "wp_blog_example_test"
OTHER = "wpzo_pitr_other"  # a second database written meanwhile: the replay must leave it alone
SPOOL = "/var/log/mysql/wpzo-unshipped"
METRICS = "/var/lib/prometheus/node-exporter/wpzo_backup.prom"
SECOND_DATADIR = "/var/lib/wpzo-physical-check"
SECOND_SOCKET = "/run/mysqld/wpzo-physical-check.sock"  # a folder the mysql user may write
RECORDED = {}


@pytest.fixture(scope="module", autouse=True)
def quiet_server(host):
    """The binary logs' timer and WordPress's cron paused: the tests count the logs and rows themselves."""
    host.check_output("systemctl stop wpzo-backup-binlogs.timer 'wpzo-wp-cron-*.timer' 'wpzo-wp-cron-*.service'")
    yield
    host.run("systemctl start wpzo-backup-binlogs.timer 'wpzo-wp-cron-*.timer'")


def shipped(host):
    """(name, bytes) of every binary log snapshot in the server repository."""
    found = json.loads(run(host, "wpzo-backup restic --server -- snapshots --json --no-lock --tag kind=binlog").stdout)
    return [(tag(s, "binlog"), int(tag(s, "bytes"))) for s in found]


def closed_logs(host):
    listing = [line.split("\t") for line in sql(host, "mysql", "SHOW BINARY LOGS").splitlines()]
    return [(name, int(size)) for name, size, *_rest in listing[:-1]]


def write(host, database, table, *values):
    rows = ", ".join("('%s')" % v for v in values)
    sql(host, database, "INSERT INTO %s (v) VALUES %s" % (table, rows))  # noqa: S608 (the tests' own names)


def values(host, database, table):
    return sql(host, database, "SELECT v FROM %s ORDER BY id" % table).split()  # noqa: S608 (the tests' own names)


def next_second(host):
    """Wait until the server's clock is in a new second and return it: what was written before has a binlog
    timestamp below it, what is written after has it or a later one."""
    before = int(run(host, "date +%s").stdout)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        now = int(run(host, "date +%s").stdout)
        if now > before:
            return now
        time.sleep(0.1)
    raise AssertionError("the server's clock did not move")


def test_each_closed_binary_log_is_shipped_once_byte_for_byte(host):
    result = run(host, "wpzo-backup binlogs")
    assert "binary logs shipped" in result.stderr
    logs = shipped(host)
    assert len(logs) == len(set(logs))
    assert set(closed_logs(host)) <= set(logs)
    # Nothing written since: no flush, nothing shipped again.
    again = run(host, "wpzo-backup binlogs")
    assert "wpzo-backup: 0 binary logs shipped" in again.stderr
    assert shipped(host) == logs
    sql(host, "mysql", "CREATE DATABASE IF NOT EXISTS %s" % OTHER)
    sql(host, OTHER, "CREATE TABLE IF NOT EXISTS rows_elsewhere (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(40))")
    current = sql(host, "mysql", "SHOW BINARY LOGS").splitlines()[-1].split("\t")[0]
    assert "1 binary logs shipped" in run(host, "wpzo-backup binlogs").stderr
    now = shipped(host)
    assert len(now) == len(logs) + 1 and (current, dict(closed_logs(host))[current]) in now
    # The shipped copy is the log itself.
    latest = json.loads(
        run(host, "wpzo-backup restic --server -- snapshots --json --no-lock --tag binlog=%s" % current).stdout
    )[-1]
    copy = run(
        host, "wpzo-backup restic --server -- dump --no-lock %s %s | sha256sum" % (latest["id"], latest["paths"][0])
    )
    assert copy.stdout.split()[0] == run(host, "sha256sum /var/log/mysql/%s" % current).stdout.split()[0]
    assert run(host, "ls -A %s" % SPOOL).stdout.strip() == ""
    assert 'wpzo_backup_last_failed{kind="binlogs"} 0' in host.file(METRICS).content_string


def test_a_log_purged_while_the_repository_is_unreachable_is_still_shipped(host):
    write(host, OTHER, "rows_elsewhere", "written-while-s3-was-down")
    moto_signal(signal.SIGSTOP)
    try:
        failed = run(host, "wpzo-backup binlogs", ok=False)
    finally:
        moto_signal(signal.SIGCONT)
    assert failed.rc != 0 and "binlogs failed: restic snapshots on offsite timed out" in failed.stderr
    assert 'wpzo_backup_last_failed{kind="binlogs"} 1' in host.file(METRICS).content_string
    waiting = run(host, "ls %s" % SPOOL).stdout.split()
    assert len(waiting) == 1
    before = run(host, "sha256sum < %s/%s" % (SPOOL, waiting[0])).stdout
    # MariaDB's expiry (here a PURGE) removes the log's name; the spool's link keeps it until it is shipped.
    current = sql(host, "mysql", "SHOW BINARY LOGS").splitlines()[-1].split("\t")[0]
    sql(host, "mysql", "PURGE BINARY LOGS TO '%s'" % current)
    assert not host.file("/var/log/mysql/" + waiting[0]).exists
    assert "binary logs shipped" in run(host, "wpzo-backup binlogs").stderr
    found = json.loads(
        run(host, "wpzo-backup restic --server -- snapshots --json --no-lock --tag binlog=%s" % waiting[0]).stdout
    )
    copy = run(
        host,
        "wpzo-backup restic --server -- dump --no-lock %s %s | sha256sum" % (found[-1]["id"], found[-1]["paths"][0]),
    )
    assert copy.stdout == before
    assert run(host, "ls -A %s" % SPOOL).stdout.strip() == ""
    assert 'wpzo_backup_last_failed{kind="binlogs"} 0' in host.file(METRICS).content_string


def test_a_database_restored_to_a_time_holds_exactly_the_rows_of_that_time(host):
    sql(host, DATABASE, "CREATE TABLE wpzo_pitr_rows (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(40))")
    write(host, DATABASE, "wpzo_pitr_rows", "before-backup-1", "before-backup-2", "before-backup-3")
    run(host, "wpzo-backup run --site %s" % BLOG)
    write(host, DATABASE, "wpzo_pitr_rows", "after-backup-1")
    RECORDED["gtid"] = sql(host, "mysql", "SELECT @@gtid_binlog_pos").strip()
    write(host, DATABASE, "wpzo_pitr_rows", "after-backup-2")
    write(host, OTHER, "rows_elsewhere", "meanwhile-elsewhere")
    at = next_second(host)
    write(host, DATABASE, "wpzo_pitr_rows", "after-the-time-1")
    sql(host, DATABASE, "DELETE FROM wpzo_pitr_rows WHERE v = 'before-backup-1'")
    write(host, DATABASE, "wpzo_pitr_rows", "after-the-time-2")
    other = values(host, OTHER, "rows_elsewhere")
    started = time.monotonic()
    output = playbook("restore.yml", "-e", "site=" + BLOG, "-e", "at=%d" % at)
    figure(
        "point-in-time restore of one database with playbooks/restore.yml (ship, safety backup, dump, replay)", started
    )
    assert "changed=1" in output
    assert values(host, DATABASE, "wpzo_pitr_rows") == [
        "before-backup-1", "before-backup-2", "before-backup-3", "after-backup-1", "after-backup-2",
    ]  # fmt: skip
    assert values(host, OTHER, "rows_elsewhere") == other
    # What the restore replaced was backed up first.
    safety = [s for s in snapshots(host, BLOG) if tag(s, "reason") == "safety"]
    assert max(s["time"] for s in safety) > max(
        s["time"] for s in snapshots(host, BLOG) if tag(s, "reason") == "scheduled"
    )
    again = playbook("restore.yml", "-e", "site=" + BLOG, "-e", "at=%d" % at)
    assert "changed=0" in again and "failed=0" in again


def test_a_database_restored_to_a_gtid_holds_the_rows_up_to_that_transaction(host):
    write(host, DATABASE, "wpzo_pitr_rows", "after-the-first-restore")
    started = time.monotonic()
    playbook("restore.yml", "-e", "site=" + BLOG, "-e", "gtid=" + RECORDED["gtid"])
    figure("point-in-time restore of one database to a GTID", started)
    assert values(host, DATABASE, "wpzo_pitr_rows") == [
        "before-backup-1",
        "before-backup-2",
        "before-backup-3",
        "after-backup-1",
    ]
    # The replayed transactions got new GTIDs of this server, after every earlier one.
    position = sql(host, "mysql", "SELECT @@gtid_binlog_pos").strip()
    assert int(position.split("-")[-1]) > int(RECORDED["gtid"].split("-")[-1])


def test_a_physical_backup_restores_into_a_second_server_with_the_same_rows(host):
    started = time.monotonic()
    result = run(host, "wpzo-backup physical")
    figure("physical backup of the whole server (mariadb-backup streamed into restic)", started)
    assert "physical backup" in result.stderr
    expected = {database: row_counts(host, database) for database in (DATABASE, OTHER)}
    run(host, "rm -rf %s" % SECOND_DATADIR)
    started = time.monotonic()
    run(host, "wpzo-backup extract-physical --to %s" % SECOND_DATADIR)
    run(host, "chown -R mysql:mysql %s" % SECOND_DATADIR)
    run(
        host,
        "systemd-run --unit=wpzo-physical-check /usr/sbin/mariadbd --no-defaults --user=mysql --datadir=%s "
        "--port=3307 --bind-address=127.0.0.1 --socket=%s --skip-log-bin" % (SECOND_DATADIR, SECOND_SOCKET),
    )
    try:
        deadline = time.monotonic() + 60
        while run(host, "mariadb-admin --socket=%s ping" % SECOND_SOCKET, ok=False).rc != 0:
            assert time.monotonic() < deadline, host.run("journalctl -u wpzo-physical-check --no-pager").stdout
            time.sleep(0.5)
        figure("whole server from the physical backup: extract, prepare, start (second port)", started)
        for database, counts in expected.items():
            query = " UNION ALL ".join("SELECT '%s', COUNT(*) FROM `%s`" % (t, t) for t in counts)  # noqa: S608
            found = run(
                host, "mariadb --socket=%s -N -B %s -e %s" % (SECOND_SOCKET, database, shlex.quote(query))
            ).stdout
            assert {name: int(count) for name, count in (line.split("\t") for line in found.splitlines())} == counts
    finally:
        host.run("systemctl stop wpzo-physical-check")
        host.run("rm -rf %s" % SECOND_DATADIR)
    metrics = host.file(METRICS).content_string
    assert 'wpzo_backup_last_failed{kind="physical"} 0' in metrics


def test_a_physical_backup_that_fails_makes_no_snapshot(host):
    count = len(
        json.loads(run(host, "wpzo-backup restic --server -- snapshots --json --no-lock --tag kind=physical").stdout)
    )
    run(
        host,
        "mkdir -p /tmp/broken && printf '#!/bin/sh\\nhead -c 100000 /dev/zero\\nexit 1\\n' > /tmp/broken/mariadb-backup"
        " && chmod +x /tmp/broken/mariadb-backup",
    )
    result = run(host, "PATH=/tmp/broken:$PATH wpzo-backup physical", ok=False)
    assert result.rc != 0 and "physical failed: physical backup not saved" in result.stderr
    after = json.loads(
        run(host, "wpzo-backup restic --server -- snapshots --json --no-lock --tag kind=physical").stdout
    )
    assert len(after) == count
    assert 'wpzo_backup_last_failed{kind="physical"} 1' in host.file(METRICS).content_string
