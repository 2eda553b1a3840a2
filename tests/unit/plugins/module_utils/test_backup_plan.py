import json
import os

import pytest
from ansible_collections.wpzo.hosting.plugins.module_utils import backup_plan as plan
from ansible_collections.wpzo.hosting.plugins.module_utils.backup_plan import PlanError

# --- retention ---------------------------------------------------------------------------------------------------


def test_retention_args_in_restic_order_and_final_backups_kept():
    args = plan.retention_args({"monthly": 6, "last": 3, "daily": 7, "weekly": 4})
    assert args == [
        "--keep-last", "3", "--keep-daily", "7", "--keep-weekly", "4", "--keep-monthly", "6",
        "--keep-tag", "reason=final",
    ]  # fmt: skip


def test_retention_zero_counts_are_left_out():
    assert plan.retention_args({"last": 2, "daily": 0})[:2] == ["--keep-last", "2"]
    assert "--keep-daily" not in plan.retention_args({"last": 2, "daily": 0})


@pytest.mark.parametrize(
    "policy, message",
    [
        ({}, "keeps nothing"),
        ({"last": 0, "daily": 0}, "keeps nothing"),
        ({"last": -1}, "last must be a whole number"),
        ({"last": "3"}, "last must be a whole number"),
        ({"last": True}, "last must be a whole number"),
        ({"last": 3, "forever": 1}, "forever is not a retention key"),
    ],
)
def test_retention_refuses_policies_that_forget_everything_or_are_wrong(policy, message):
    with pytest.raises(PlanError, match=message):
        plan.retention_args(policy)


# --- repositories ------------------------------------------------------------------------------------------------


def test_repository_of_each_target_type_is_per_site():
    s3 = {"name": "s3", "type": "s3", "endpoint": "http://10.0.0.1:5000/", "bucket": "b", "prefix": "/p/q/"}
    assert plan.repository(s3, "example.com") == "s3:http://10.0.0.1:5000/b/p/q/example.com"
    assert plan.repository(dict(s3, prefix=""), "example.com") == "s3:http://10.0.0.1:5000/b/example.com"
    assert plan.repository(dict(s3, endpoint=""), "a.b") == "s3:s3.amazonaws.com/b/p/q/a.b"
    assert plan.repository({"type": "local", "path": "/var/backups/"}, "a.b") == "/var/backups/a.b"
    assert plan.repository({"type": "restic", "repository": "rclone:azure:c"}, "a.b") == "rclone:azure:c/a.b"
    with pytest.raises(PlanError, match="unknown type"):
        plan.repository({"name": "x", "type": "ftp"}, "a.b")


def test_azure_goes_through_an_rclone_remote_and_gcs_through_restics_own_backend():
    azure = {"name": "far-away", "type": "azure", "container": "backups", "prefix": "/web1/"}
    assert plan.repository(azure, "a.b") == "rclone:wpzo_far_away:backups/web1/a.b"
    assert plan.repository(dict(azure, prefix=""), "a.b") == "rclone:wpzo_far_away:backups/a.b"
    gcs = {"name": "g", "type": "gcs", "bucket": "acme-backups", "prefix": "servers/web1"}
    assert plan.repository(gcs, "a.b") == "gs:acme-backups:/servers/web1/a.b"
    assert plan.repository(dict(gcs, prefix=""), "a.b") == "gs:acme-backups:/a.b"


def test_each_targets_environment_holds_its_credentials_and_nothing_else():
    s3 = {"name": "s3", "type": "s3", "access_key_id": "AK", "secret_access_key": "SK", "env": {"AWS_CA_BUNDLE": "/c"}}
    assert plan.render_environment(plan.target_environment(s3)) == (
        "AWS_ACCESS_KEY_ID=AK\nAWS_CA_BUNDLE=/c\nAWS_SECRET_ACCESS_KEY=SK\n"
    )
    sas = {"name": "far-away", "type": "azure", "container": "c", "sas_url": "https://a.blob.core.windows.net/c?sig=x"}
    assert plan.target_environment(sas) == {
        "RCLONE_CONFIG_WPZO_FAR_AWAY_TYPE": "azureblob",
        "RCLONE_CONFIG_WPZO_FAR_AWAY_SAS_URL": "https://a.blob.core.windows.net/c?sig=x",
    }
    key = {"name": "az", "type": "azure", "container": "c", "account": "acme", "key": "K=="}
    assert plan.target_environment(key) == {
        "RCLONE_CONFIG_WPZO_AZ_TYPE": "azureblob",
        "RCLONE_CONFIG_WPZO_AZ_ACCOUNT": "acme",
        "RCLONE_CONFIG_WPZO_AZ_KEY": "K==",
    }
    gcs = {"name": "g", "type": "gcs", "bucket": "b", "project_id": "acme-1", "credentials": {}}
    assert plan.target_environment(gcs, "/etc/wpzo/backup/targets/g.json") == {
        "GOOGLE_PROJECT_ID": "acme-1",
        "GOOGLE_APPLICATION_CREDENTIALS": "/etc/wpzo/backup/targets/g.json",
    }
    assert plan.target_environment({"name": "l", "type": "local", "path": "/x"}) == {}


@pytest.mark.parametrize("env", [{"not a name": "x"}, {"A": "two\nlines"}])
def test_a_target_environment_that_would_break_the_env_file_is_refused(env):
    with pytest.raises(PlanError, match="not a variable name, or its value spans lines"):
        plan.target_environment({"name": "r", "type": "restic", "repository": "sftp:h:/x", "env": env})


def test_s3_region_is_an_option():
    assert plan.restic_options({"type": "s3", "region": "eu-west-1"}) == ["-o", "s3.region=eu-west-1"]
    assert plan.restic_options({"type": "local"}) == []


# --- the dump stream ---------------------------------------------------------------------------------------------

DUMP = b"""-- MariaDB dump 10.19  Distrib 10.11.6-MariaDB
--
-- CHANGE MASTER TO MASTER_LOG_FILE='mysql-bin.000003', MASTER_LOG_POS=1234;
DROP TABLE IF EXISTS `wp_posts`;
CREATE TABLE `wp_posts` (
  `ID` bigint(20) unsigned NOT NULL AUTO_INCREMENT
);
INSERT INTO `wp_posts` VALUES (1,'a),(b'),(2,'it\\'s),(x'),(3,0x2C28);
INSERT INTO `wp_posts` VALUES (4,'d');
INSERT INTO `wp_options` VALUES
(1,'siteurl','http://a.test','yes'),
(2,'note','ends like a statement);','yes'),
(3,'x','(','no');
CREATE TABLE `wp_empty` (
  `a` int
);
CREATE TABLE `odd``name` (
  `a` int
);
INSERT INTO `odd``name` VALUES (1);
-- SET GLOBAL gtid_slave_pos='0-1-42';
-- Dump completed on 2026-12-01 17:00:00
"""


def inspect(text):
    inspector = plan.DumpInspector()
    for line in text.splitlines(keepends=True):
        inspector.feed(line)
    return inspector.result()


def test_dump_inspector_counts_rows_whatever_the_strings_hold():
    result = inspect(DUMP)
    assert result["rows"] == {"odd`name": 1, "wp_empty": 0, "wp_options": 3, "wp_posts": 4}
    assert (result["binlog_file"], result["binlog_position"], result["gtid"]) == ("mysql-bin.000003", 1234, "0-1-42")
    assert result["completed"] is True
    assert result["bytes"] == len(DUMP)
    assert plan.dump_problems(result, 0) == []


def test_a_dump_cut_short_or_failed_is_refused():
    cut = inspect(DUMP[: DUMP.index(b"-- SET GLOBAL")])
    assert cut["completed"] is False
    assert plan.dump_problems(cut, 0) == ["the dump ended before its completion trailer (%d bytes read)" % cut["bytes"]]
    assert plan.dump_problems(inspect(DUMP), -9) == ["mariadb-dump exited with -9"]


def test_wordpress_version():
    assert plan.wordpress_version("<?php\n$wp_version = '6.1.9';\n$wp_db_version = 53496;\n") == "6.1.9"
    assert plan.wordpress_version("<?php\n") is None


# --- manifest checks ---------------------------------------------------------------------------------------------


def test_manifest_read_back_must_equal_what_was_written():
    written = {"run": "r1", "database": {"rows": {"wp_posts": 4}}}
    assert plan.manifest_problems(written, json.loads(json.dumps(written))) == []
    assert plan.manifest_problems(written, None) == ["the manifest is missing from the snapshot"]
    problems = plan.manifest_problems(written, {"run": "r2", "database": {"rows": {"wp_posts": 4}}})
    assert problems == ["manifest run: wrote 'r1', read back 'r2'"]


def test_row_counts_compared_table_by_table():
    assert plan.row_count_problems({"a": 1, "b": 0}, {"a": 1, "b": 0}) == []
    assert plan.row_count_problems({"a": 1, "b": 2}, {"a": 3, "c": 0}) == [
        "table a has 3 rows, the manifest says 1",
        "table b is missing (2 rows expected)",
        "table c is not in the manifest (0 rows)",
    ]


# --- which run a restore takes -------------------------------------------------------------------------------------


def snapshot(id_, run, part, reason="scheduled", time="2026-12-01T02:00:00Z"):
    return {
        "id": id_ * 8,
        "short_id": id_ * 4,
        "time": time,
        "tags": ["run=" + run, "part=" + part, "reason=" + reason],
    }


SNAPSHOTS = [
    snapshot("a", "r1", "db", time="2026-11-30T02:00:00Z"),
    snapshot("b", "r1", "files", time="2026-11-30T02:00:05Z"),
    snapshot("c", "r2", "db", time="2026-12-01T02:00:00Z"),
    snapshot("d", "r2", "files", time="2026-12-01T02:00:05Z"),
    snapshot("e", "r3", "db", reason="safety", time="2026-12-01T09:00:00Z"),
    snapshot("f", "r3", "files", reason="safety", time="2026-12-01T09:00:05Z"),
    snapshot("g", "r4", "files", time="2026-12-01T10:00:00Z"),  # a run whose dump failed: no db part
]


def test_latest_is_the_newest_run_with_the_parts_never_a_safety_backup():
    assert plan.select_run(SNAPSHOTS, "latest", ["db", "files"])["run"] == "r2"
    assert plan.select_run(SNAPSHOTS, "latest", ["files"])["run"] == "r4"


def test_a_snapshot_id_of_either_part_selects_its_run():
    assert plan.select_run(SNAPSHOTS, "aaaa", ["db", "files"])["run"] == "r1"
    assert plan.select_run(SNAPSHOTS, "bbbbbbbb", ["db", "files"])["run"] == "r1"
    assert plan.select_run(SNAPSHOTS, "ffff", ["db"])["run"] == "r3"  # named explicitly, a safety backup restores
    with pytest.raises(PlanError, match="no backup of this site with the snapshot gggg holds its db"):
        plan.select_run(SNAPSHOTS, "gggg", ["db"])
    with pytest.raises(PlanError, match="no backup holds"):
        plan.select_run([], "latest", ["db"])


def test_latest_before_a_time_is_the_newest_run_taken_at_or_before_it():
    """A whole-server restore to a time: each site's last backup then (its run's time: its later part's)."""
    before = plan.parse_time("2026-12-01 02:00:05")
    assert plan.select_run(SNAPSHOTS, "latest", ["db", "files"], before)["run"] == "r2"
    assert plan.select_run(SNAPSHOTS, "latest", ["db", "files"], before - 1)["run"] == "r1"
    assert plan.select_run(SNAPSHOTS, "latest", ["files"], plan.parse_time("2026-12-01 09:30:00"))["run"] == "r2"
    with pytest.raises(PlanError, match="no backup taken at or before 2026-11-30 02:00:04 holds the db and files"):
        plan.select_run(SNAPSHOTS, "latest", ["db", "files"], plan.parse_time("2026-11-30 02:00:04"))


def test_snapshot_times_with_nanoseconds_and_offsets_are_unix_seconds():
    assert plan.snapshot_time("2026-12-01T02:00:05Z") == plan.parse_time("2026-12-01 02:00:05")
    assert plan.snapshot_time("2026-12-01T03:00:05.25+01:00") == plan.parse_time("2026-12-01 02:00:05") + 0.25
    assert plan.snapshot_time("2026-11-30T21:30:05.123456789-04:30") == pytest.approx(
        plan.parse_time("2026-12-01 02:00:05") + 0.123456789
    )
    with pytest.raises(PlanError, match="not a snapshot time"):
        plan.snapshot_time("yesterday")


def test_the_newest_physical_backup_at_or_before_a_time():
    physical = [{"id": "pppppppp", "time": "2026-12-01T03:15:00Z"}, SNAPSHOTS[0]]
    assert plan.newest_before(physical)["id"] == "pppppppp"
    assert plan.newest_before(physical, plan.parse_time("2026-12-01 03:14:59"))["id"] == "aaaaaaaa"
    assert plan.newest_before(physical, plan.parse_time("2026-11-29 00:00:00")) is None


# --- owners on another server ------------------------------------------------------------------------------------


def test_restored_files_get_this_servers_ids_of_the_names_they_had():
    here = {"root": 0, "www-data": 33, "blog_example": 1002, "other": 1001}.get
    recorded = {"0": "root", "33": "www-data", "1001": "blog_example", "1005": "gone", "1010": "old_site"}
    assert plan.owner_map(recorded, here) == {1001: 1002}  # same ids left out, a name this server lacks kept
    # The site's own user may have another name here: mapped by the site, not by name.
    assert plan.owner_map(recorded, here, {"old_site": "blog_example"}) == {1001: 1002, 1010: 1002}
    assert plan.owner_map({}, here) == {}


# --- binlog window -------------------------------------------------------------------------------------------------


def snapshot(id_, time_, **tags):
    return {
        "id": id_,
        "short_id": id_[:8],
        "time": time_,
        "paths": ["/p"],
        "tags": ["%s=%s" % kv for kv in tags.items()],
    }


def site_run(run, time_, consistent, binlog="mysql-bin.000002:1234", gtid="0-1-10", reason="scheduled"):
    return [
        snapshot(run + "db", time_, run=run, part="db", reason=reason),
        snapshot(
            run + "files", time_, run=run, part="files", reason=reason, binlog=binlog, gtid=gtid, consistent=consistent
        ),
    ]


def binlog(name, closed, gtid_start="", bytes_=1000):
    found = snapshot(
        "b" + name[-1] + str(closed),
        "t",
        kind="binlog",
        binlog=name,
        bytes=bytes_,
        closed=closed,
        gtid_start=gtid_start,
    )
    found["paths"] = ["/var/log/mysql/wpzo-unshipped/" + name]
    return found


SITE = site_run("r1", "2026-12-01T01:00:00Z", "1000.5", "mysql-bin.000001:400", "0-1-5") + site_run(
    "r2", "2026-12-01T02:00:00Z", "2000.5", "mysql-bin.000002:1234", "0-1-10"
)
LOGS = [
    binlog("mysql-bin.000001", 1500, "0-1-2"),
    binlog("mysql-bin.000002", 2500, "0-1-8"),
    binlog("mysql-bin.000003", 3000, "0-1-14"),
    binlog("mysql-bin.000004", 4000, "0-1-20"),
]


def names(replay):
    return [entry["name"] for entry in replay["files"]]


def test_replay_takes_the_last_dump_before_the_time_and_the_logs_up_to_it():
    replay = plan.replay_plan(SITE, LOGS, at=2800)
    assert replay["run"]["run"] == "r2"
    assert replay["start"] == "1234"
    assert names(replay) == ["mysql-bin.000002", "mysql-bin.000003"]
    assert replay["stop"] == ["--stop-datetime", "1970-01-01 00:46:40"]
    assert replay["files"][1]["path"] == "/var/log/mysql/wpzo-unshipped/mysql-bin.000003"
    # A time inside the dump's own log needs that log only.
    assert names(plan.replay_plan(SITE, LOGS, at=2400)) == ["mysql-bin.000002"]
    # A log closed exactly at the time holds nothing after it: the next log is not needed.
    assert names(plan.replay_plan(SITE, LOGS, at=2500)) == ["mysql-bin.000002"]
    # Before the second dump's consistent point: the first dump, from its own log on.
    earlier = plan.replay_plan(SITE, LOGS, at=2000)
    assert (earlier["run"]["run"], names(earlier)) == ("r1", ["mysql-bin.000001", "mysql-bin.000002"])


def test_replay_never_starts_from_a_safety_backup_or_a_dump_without_coordinates():
    safety = site_run("r3", "2026-12-01T03:00:00Z", "2600", reason="safety")
    old = [
        snapshot("r0db", "2026-11-30T00:00:00Z", run="r0", part="db"),
        snapshot("r0files", "2026-11-30T00:00:00Z", run="r0", part="files"),
    ]
    assert plan.replay_plan(SITE + safety + old, LOGS, at=2800)["run"]["run"] == "r2"
    with pytest.raises(
        PlanError, match="no dump of this site with binlog coordinates was taken before 1970-01-01 00:15:00"
    ):
        plan.replay_plan(SITE + old, LOGS, at=900)


def test_replay_to_a_gtid_stops_at_the_log_that_already_follows_it():
    replay = plan.replay_plan(SITE, LOGS, gtid="0-1-16")
    assert replay["run"]["run"] == "r2"
    assert names(replay) == ["mysql-bin.000002", "mysql-bin.000003"]
    assert replay["stop"] == ["--stop-position", "0-1-16"]
    # Inside the dump's own log (000003 starts after 0-1-14): that log only.
    assert names(plan.replay_plan(SITE, LOGS, gtid="0-1-13")) == ["mysql-bin.000002"]
    # A GTID before the second dump: the first.
    assert plan.replay_plan(SITE, LOGS, gtid="0-1-7")["run"]["run"] == "r1"
    # Exactly the second dump's position: that dump, nothing to replay past it.
    assert names(plan.replay_plan(SITE, LOGS, gtid="0-1-10")) == ["mysql-bin.000002"]


def test_replay_refuses_what_it_cannot_do_exactly():
    with pytest.raises(PlanError, match="either a time or a GTID"):
        plan.replay_plan(SITE, LOGS)
    with pytest.raises(PlanError, match="either a time or a GTID"):
        plan.replay_plan(SITE, LOGS, at=1, gtid="0-1-1")
    with pytest.raises(PlanError, match=r"mysql-bin\.000002 of the dump r2 is not among the shipped logs"):
        plan.replay_plan(SITE, LOGS[:1], at=2800)
    with pytest.raises(PlanError, match="reach 1970-01-01 01:06:40 only, before 1970-01-01 01:23:20: ship them first"):
        plan.replay_plan(SITE, LOGS, at=5000)
    with pytest.raises(PlanError, match="not a GTID"):
        plan.replay_plan(SITE, LOGS, gtid="0-1")


def test_replay_of_a_rebuilt_server_takes_the_log_written_after_the_dump():
    rebuilt = [*LOGS, binlog("mysql-bin.000001", 6000, "0-1-30"), binlog("mysql-bin.000002", 7000, "0-1-40")]
    site = SITE + site_run("r4", "2026-12-02T00:00:00Z", "6500", "mysql-bin.000002:300", "0-1-35")
    replay = plan.replay_plan(site, rebuilt, at=6900)
    assert [(e["name"], e["closed"]) for e in replay["files"]] == [("mysql-bin.000002", 7000.0)]


def test_gtid_lists_are_parsed_and_fit_in_one_restic_tag():
    assert plan.gtid_positions("0-1-42,1-2-7") == {0: (1, 42), 1: (2, 7)}
    assert plan.gtid_positions("0-1-42+1-2-7") == plan.gtid_positions(plan.tag_gtid("0-1-42,1-2-7"))
    assert plan.gtid_positions("") == {}
    with pytest.raises(PlanError, match="not a GTID: 'x-1-2'"):
        plan.gtid_positions("x-1-2")


def test_only_closed_logs_not_shipped_yet_are_shipped_known_by_name_and_size():
    closed = [("mysql-bin.000001", 500), ("mysql-bin.000002", 800), ("mysql-bin.000003", 900)]
    assert plan.binlogs_to_ship(closed, {("mysql-bin.000001", 500)}) == ["mysql-bin.000002", "mysql-bin.000003"]
    assert plan.binlogs_to_ship(closed, set(closed)) == []
    # A rebuilt server's new 000001 is another log than the shipped one of that name.
    assert plan.binlogs_to_ship([("mysql-bin.000001", 365)], {("mysql-bin.000001", 500)}) == ["mysql-bin.000001"]


def test_binlog_entries_in_the_order_they_were_written():
    entries = plan.binlog_entries([LOGS[2], LOGS[0], snapshot("x", "t", kind="physical")])
    assert [(e["name"], e["closed"], e["gtid_start"], e["bytes"]) for e in entries] == [
        ("mysql-bin.000001", 1500.0, "0-1-2", 1000),
        ("mysql-bin.000003", 3000.0, "0-1-14", 1000),
    ]


def test_times_of_a_restore_in_utc_whole_seconds():
    assert plan.parse_time("1764547200") == 1764547200
    assert plan.parse_time("1764547200.9") == 1764547200
    assert plan.parse_time("2025-12-01 00:00:00") == 1764547200
    assert plan.parse_time("2025-12-01T00:00:00Z") == 1764547200
    with pytest.raises(PlanError, match="not a time"):
        plan.parse_time("yesterday")


def test_the_replay_drops_the_original_gtid_sequence_numbers_only():
    assert plan.replay_line(b"/*M!100001 SET @@session.gtid_seq_no=7*//*!*/;\n") is None
    for kept in (b"/*M!100001 SET @@session.gtid_domain_id=0*//*!*/;\n", b"INSERT INTO t VALUES (1)\n", b"BINLOG '\n"):
        assert plan.replay_line(kept) == kept


# --- status and metrics ----------------------------------------------------------------------------------------------


def test_a_failure_keeps_the_last_success_and_says_why():
    ok = plan.new_status({}, 100.0, 112.5, added_bytes=2048, snapshots=["s1", "s2"])
    assert ok == {
        "last_attempt": 100.0, "last_duration": 12.5, "failed": False, "last_success": 112.5,
        "last_added_bytes": 2048, "snapshots": ["s1", "s2"],
    }  # fmt: skip
    failed = plan.new_status(ok, 200.0, 230.0, error="restic backup on offsite timed out after 30 s")
    assert failed["failed"] is True
    assert failed["last_success"] == 112.5
    assert failed["last_error"] == "restic backup on offsite timed out after 30 s"
    assert (failed["last_attempt"], failed["last_failure"]) == (200.0, 230.0)
    again = plan.new_status(failed, 300.0, 301.0, added_bytes=0)
    assert "last_error" not in again
    assert again["failed"] is False


def test_metrics_per_site_in_the_textfile_format():
    text = plan.render_metrics(
        {
            "b.example": {"last_success": 10, "last_attempt": 20, "last_duration": 1.5, "failed": True},
            'a"x': {"last_success": 5, "last_attempt": 5, "last_duration": 2, "last_added_bytes": 7, "failed": False},
        }
    )
    lines = text.splitlines()
    assert "# TYPE wpzo_backup_last_success_timestamp_seconds gauge" in lines
    assert 'wpzo_backup_last_success_timestamp_seconds{site="b.example"} 10' in lines
    assert 'wpzo_backup_last_failed{site="b.example"} 1' in lines
    assert 'wpzo_backup_last_failed{site="a\\"x"} 0' in lines
    assert 'wpzo_backup_last_added_bytes{site="b.example"} 0' in lines
    assert 'wpzo_backup_last_duration_seconds{site="a\\"x"} 2' in lines
    assert text.endswith("\n")
    names = {line.split("{")[0] for line in lines if not line.startswith("#")}
    assert names == {plan.METRIC_PREFIX + name for name, _help in plan.METRICS}


def test_metrics_of_the_server_jobs_are_labelled_by_kind():
    text = plan.render_metrics({"a.example": {"failed": False}}, {"binlogs": {"last_success": 9, "failed": True}})
    lines = text.splitlines()
    assert 'wpzo_backup_last_failed{kind="binlogs"} 1' in lines
    assert 'wpzo_backup_last_success_timestamp_seconds{kind="binlogs"} 9' in lines
    assert 'wpzo_backup_last_failed{site="a.example"} 0' in lines


def test_write_atomic_replaces_in_one_rename_and_leaves_nothing_behind(tmp_path):
    target = tmp_path / "wpzo_backup.prom"
    target.write_text("old\n")
    plan.write_atomic(str(target), "new\n", 0o600)
    assert target.read_text() == "new\n"
    assert oct(os.stat(target).st_mode & 0o777) == "0o600"
    assert sorted(os.listdir(tmp_path)) == ["wpzo_backup.prom"]


def test_write_atomic_keeps_the_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "status.json"
    target.write_text("old\n")

    class Unwritable:
        def __str__(self):
            raise RuntimeError("cannot render")

    with pytest.raises(TypeError):
        plan.write_atomic(str(target), Unwritable())
    assert target.read_text() == "old\n"
    assert sorted(os.listdir(tmp_path)) == ["status.json"]


def test_sql_quoting():
    assert plan.sql_identifier("odd`name") == "`odd``name`"
    assert plan.sql_literal("it's \\ here") == "'it\\'s \\\\ here'"


@pytest.mark.parametrize(
    "wanted, named",
    [
        ("0123456789abcdef", True),
        ("01234567", True),
        ("0123abcd", True),
        ("0123456", False),
        ("01234568", False),
        ("latest", False),
    ],
)
def test_a_snapshot_is_named_by_its_id_short_id_or_a_prefix_of_eight(wanted, named):
    assert plan.is_snapshot({"id": "0123456789abcdef", "short_id": "0123abcd"}, wanted) is named
