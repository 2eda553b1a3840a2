# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pure logic of the backup runner (roles/backups): what restic is asked, what a dump and a manifest must hold,
which snapshot a restore takes, what the status and the metrics say.

Standard library only: the backups role installs this file beside the runner on each server
(/usr/local/lib/wpzo/backup/), where no Ansible is installed; the unit tests import it from the collection.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re
import tempfile

RETENTION_KEYS = ("last", "hourly", "daily", "weekly", "monthly", "yearly")
# Snapshots of these reasons are never forgotten by the retention policy.
KEPT_REASONS = ("final",)
# A restore of "latest" never picks a safety backup (taken by the restore itself, of what it replaced).
SAFETY_REASON = "safety"
DUMP_TRAILER = b"-- Dump completed"
METRIC_PREFIX = "wpzo_backup_"
METRICS = (
    ("last_success_timestamp_seconds", "Time of the last backup of the site that succeeded and was verified."),
    ("last_attempt_timestamp_seconds", "Time the last backup of the site started."),
    ("last_duration_seconds", "How long the last backup of the site took."),
    ("last_added_bytes", "Bytes the last backup of the site added to its primary repository."),
    ("last_failed", "1 when the last backup of the site failed, else 0."),
)


class PlanError(Exception):
    """A configuration or a result the runner must refuse; the message names what and why."""


def _count(value):
    return not isinstance(value, bool) and isinstance(value, int) and value >= 0


def retention_problems(policy):
    """Every problem of a retention policy, each (its key, or None for the whole policy; what is wrong)."""
    problems = [
        (key, "is not a retention key (known: %s)" % ", ".join(RETENTION_KEYS))
        for key in sorted(set(policy) - set(RETENTION_KEYS), key=str)
    ]
    problems += [
        (key, "must be a whole number >= 0, not %r" % (policy[key],))
        for key in RETENTION_KEYS
        if key in policy and not _count(policy[key])
    ]
    if not any(_count(policy.get(key, 0)) and policy.get(key, 0) > 0 for key in RETENTION_KEYS):
        problems.append((None, "keeps nothing: set at least one of %s" % ", ".join(RETENTION_KEYS)))
    return problems


def retention_args(policy):
    """The arguments of `restic forget` for a policy {last, daily, weekly, monthly, ...}: counts >= 0, one > 0."""
    problems = retention_problems(policy)
    if problems:
        raise PlanError("the retention policy: %s" % "; ".join(" ".join(filter(None, problem)) for problem in problems))
    args = []
    for key in RETENTION_KEYS:
        if policy.get(key, 0):
            args += ["--keep-%s" % key, str(policy[key])]
    for reason in KEPT_REASONS:
        args += ["--keep-tag", "reason=" + reason]
    return args


# The keys each type of target needs (repository and target_environment read them); an azure target needs a
# sas_url, or an account and a key, besides.
TARGET_KEYS = {
    "s3": ("bucket", "access_key_id", "secret_access_key"),
    "local": ("path",),
    "azure": ("container",),
    "gcs": ("bucket", "project_id", "credentials"),
    "restic": ("repository",),
}
# Restic's Azure backend is patched out of Debian's restic (0.16 on): Azure Blob is reached through rclone, whose
# remote is defined by environment variables only (no rclone.conf): RCLONE_CONFIG_<REMOTE>_<OPTION>.


def rclone_remote(target):
    """The name of the rclone remote of an azure target (its environment variables' middle part, upper-cased)."""
    return "wpzo_" + re.sub(r"[^a-z0-9]", "_", target["name"].lower())


def repository(target, domain):
    """The restic repository of one site on one target: one repository per site (its own locks and pruning)."""
    kind = target["type"]
    prefix = target.get("prefix", "").strip("/")
    if kind == "s3":
        endpoint = target["endpoint"].rstrip("/")
        base = "s3:%s/%s" % (endpoint, target["bucket"]) if endpoint else "s3:s3.amazonaws.com/%s" % target["bucket"]
        return "/".join(part for part in (base, prefix, domain) if part)
    if kind == "azure":
        path = "/".join(part for part in (target["container"], prefix, domain) if part)
        return "rclone:%s:%s" % (rclone_remote(target), path)
    if kind == "gcs":
        return "gs:%s:/%s" % (target["bucket"], "/".join(part for part in (prefix, domain) if part))
    if kind == "local":
        return "%s/%s" % (target["path"].rstrip("/"), domain)
    if kind == "restic":
        return "%s/%s" % (target["repository"].rstrip("/"), domain)
    raise PlanError("target %s: unknown type %r (%s)" % (target.get("name"), kind, ", ".join(TARGET_KEYS)))


def target_environment(target, credentials_file=None):
    """restic's environment for a target, from the target as the inventory gives it (with its secrets): what the
    role writes into the target's env file (0600), never into the runner's configuration.

    credentials_file: where the role writes a gcs target's service-account key (restic reads it from a file)."""
    kind = target["type"]
    env = {}
    if kind == "s3":
        env = {"AWS_ACCESS_KEY_ID": target["access_key_id"], "AWS_SECRET_ACCESS_KEY": target["secret_access_key"]}
    elif kind == "azure":
        remote = "RCLONE_CONFIG_%s_" % rclone_remote(target).upper()
        env = {remote + "TYPE": "azureblob"}
        if target.get("sas_url"):
            env[remote + "SAS_URL"] = target["sas_url"]
        else:
            env.update({remote + "ACCOUNT": target["account"], remote + "KEY": target["key"]})
    elif kind == "gcs":
        env = {"GOOGLE_PROJECT_ID": target["project_id"], "GOOGLE_APPLICATION_CREDENTIALS": credentials_file}
    env.update(target.get("env") or {})
    for key, value in env.items():
        if not re.match(r"^[A-Z_][A-Z0-9_]*$", key) or "\n" in str(value):
            raise PlanError("target %s: %r is not a variable name, or its value spans lines" % (target["name"], key))
    return env


def render_environment(env):
    """The text of a target's env file (one KEY=value a line, read by the runner's read_env_file)."""
    return "".join("%s=%s\n" % (key, env[key]) for key in sorted(env))


def restic_options(target):
    """The `-o` options restic needs for a target (the S3 region)."""
    if target["type"] == "s3" and target.get("region"):
        return ["-o", "s3.region=" + target["region"]]
    return []


def tags(site, server, run, reason, part):
    return ["site=" + site, "server=" + server, "run=" + run, "reason=" + reason, "part=" + part]


def sql_identifier(name):
    return "`%s`" % name.replace("`", "``")


def sql_literal(text):
    return "'%s'" % text.replace("\\", "\\\\").replace("'", "\\'")


def tag_value(snapshot, key):
    prefix = key + "="
    for tag in snapshot.get("tags") or []:
        if tag.startswith(prefix):
            return tag[len(prefix) :]
    return None


_INSERT = re.compile(rb"^INSERT INTO `((?:[^`]|``)+)` VALUES\s*")
_STRING = re.compile(rb"'(?:[^'\\]|\\.)*'")
_POSITION = re.compile(rb"^-- CHANGE MASTER TO MASTER_LOG_FILE='([^']+)', MASTER_LOG_POS=(\d+);")
_GTID = re.compile(rb"^-- SET GLOBAL gtid_slave_pos='([^']*)';")
_TABLE = re.compile(rb"^CREATE TABLE `((?:[^`]|``)+)` \(")


class DumpInspector:
    """Reads a mariadb-dump stream line by line as it passes to restic: table row counts, the binlog position and
    GTID of the dump, and whether its completion trailer came. Memory: one line (bounded by net_buffer_length)."""

    def __init__(self):
        self.rows = {}
        self.binlog_file = None
        self.binlog_position = None
        self.gtid = None
        self.completed = False
        self.bytes = 0
        self._table = None  # the table of the INSERT whose rows are being read (MariaDB 10.11: one row a line)

    def feed(self, line):
        self.bytes += len(line)
        if self._table is not None:
            self._count(line)
            return
        if line.startswith(b"INSERT INTO "):
            match = _INSERT.match(line)
            if match:
                self._table = match.group(1).replace(b"``", b"`").decode("utf-8")
                self.rows.setdefault(self._table, 0)
                self._count(line[match.end() :])
            return
        if line.startswith(b"CREATE TABLE "):
            match = _TABLE.match(line)
            if match:
                self.rows.setdefault(match.group(1).replace(b"``", b"`").decode("utf-8"), 0)
            return
        if line.startswith(b"-- "):
            if line.startswith(DUMP_TRAILER):
                self.completed = True
            match = _POSITION.match(line)
            if match:
                self.binlog_file = match.group(1).decode()
                self.binlog_position = int(match.group(2))
            match = _GTID.match(line)
            if match:
                self.gtid = match.group(1).decode()

    def _count(self, values):
        """Rows in a piece of an INSERT's values: strings blanked, then one row per `(` opening a tuple."""
        values = _STRING.sub(b"''", values).strip()
        if values.startswith(b"("):
            self.rows[self._table] += values.count(b"),(") + 1
        if values.endswith(b";"):
            self._table = None

    def result(self):
        return {
            "rows": dict(sorted(self.rows.items())),
            "binlog_file": self.binlog_file,
            "binlog_position": self.binlog_position,
            "gtid": self.gtid,
            "completed": self.completed,
            "bytes": self.bytes,
        }


def dump_problems(dump, exit_code):
    """Why a dump must not become a snapshot: the producer failed, or the stream stopped before its trailer."""
    problems = []
    if exit_code != 0:
        problems.append("mariadb-dump exited with %s" % exit_code)
    if not dump["completed"]:
        problems.append("the dump ended before its completion trailer (%d bytes read)" % dump["bytes"])
    return problems


_WP_VERSION = re.compile(r"^\$wp_version\s*=\s*'([^']+)';", re.M)


def wordpress_version(version_php):
    """The version in the text of wp-includes/version.php, or None."""
    match = _WP_VERSION.search(version_php)
    return match.group(1) if match else None


def manifest_problems(written, read_back):
    """What differs between the manifest the runner wrote and the one read back from the snapshot."""
    if read_back is None:
        return ["the manifest is missing from the snapshot"]
    problems = []
    for key in sorted(set(written) | set(read_back)):
        if written.get(key) != read_back.get(key):
            problems.append("manifest %s: wrote %r, read back %r" % (key, written.get(key), read_back.get(key)))
    return problems


def row_count_problems(expected, found):
    """Tables whose row counts differ between a manifest (expected) and a restored database (found)."""
    problems = []
    for table in sorted(set(expected) | set(found)):
        if table not in found:
            problems.append("table %s is missing (%d rows expected)" % (table, expected[table]))
        elif table not in expected:
            problems.append("table %s is not in the manifest (%d rows)" % (table, found[table]))
        elif expected[table] != found[table]:
            problems.append("table %s has %d rows, the manifest says %d" % (table, found[table], expected[table]))
    return problems


def runs(snapshots):
    """Group a site's snapshots into runs (their db and files parts, by their run tag), oldest first."""
    grouped = {}
    for snapshot in snapshots:
        run = tag_value(snapshot, "run")
        if run is None:
            continue
        entry = grouped.setdefault(run, {"run": run, "reason": tag_value(snapshot, "reason"), "parts": {}})
        entry["parts"][tag_value(snapshot, "part")] = snapshot
        entry["time"] = max(entry.get("time", ""), snapshot["time"])
    return sorted(grouped.values(), key=lambda entry: entry["time"])


def select_run(snapshots, wanted, parts):
    """The run a restore takes: `latest` (never a safety backup) or a snapshot id (full or short) of either part.

    parts: the parts the restore needs ("db", "files"); a run lacking one of them is not a candidate."""
    candidates = [run for run in runs(snapshots) if all(part in run["parts"] for part in parts)]
    if wanted == "latest":
        candidates = [run for run in candidates if run["reason"] != SAFETY_REASON]
        if not candidates:
            raise PlanError("no backup holds the %s of this site" % " and ".join(parts))
        return candidates[-1]
    for run in candidates:
        for snapshot in run["parts"].values():
            if wanted in (snapshot["id"], snapshot.get("short_id")) or (
                len(wanted) >= 8 and snapshot["id"].startswith(wanted)
            ):
                return run
    raise PlanError("no backup of this site with the snapshot %s holds its %s" % (wanted, " and ".join(parts)))


def binlog_window(binlogs, start_file, start_position, stop_time):
    """The binary logs to replay from a dump's position up to a point in time.

    binlogs: [{name, first_event_time}] as the server lists them (oldest first, names sort in order);
    returns [{name, start_position or None}] and refuses a time before the dump or past the last log."""
    names = [entry["name"] for entry in binlogs]
    if start_file not in names:
        raise PlanError("the binary log %s of the dump is not among the shipped logs" % start_file)
    window = []
    for entry in binlogs[names.index(start_file) :]:
        if window and entry["first_event_time"] > stop_time:
            break
        window.append({"name": entry["name"], "start_position": start_position if not window else None})
    return window


def new_status(previous, started, finished, error=None, added_bytes=None, snapshots=None):
    """A site's status after a run: the last success survives a failure, the failure's reason is kept."""
    status = dict(previous or {})
    status.update({"last_attempt": started, "last_duration": round(finished - started, 3), "failed": bool(error)})
    if error:
        status.update({"last_failure": finished, "last_error": error})
    else:
        status.update({"last_success": finished, "last_added_bytes": added_bytes or 0, "snapshots": snapshots or []})
        status.pop("last_error", None)
    return status


def _label(value):
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render_metrics(statuses):
    """node_exporter textfile metrics for {site: status}."""
    values = {
        "last_success_timestamp_seconds": lambda s: s.get("last_success", 0),
        "last_attempt_timestamp_seconds": lambda s: s.get("last_attempt", 0),
        "last_duration_seconds": lambda s: s.get("last_duration", 0),
        "last_added_bytes": lambda s: s.get("last_added_bytes", 0),
        "last_failed": lambda s: 1 if s.get("failed") else 0,
    }
    lines = []
    for name, help_text in METRICS:
        lines += ["# HELP %s%s %s" % (METRIC_PREFIX, name, help_text), "# TYPE %s%s gauge" % (METRIC_PREFIX, name)]
        for site in sorted(statuses):
            lines.append('%s%s{site="%s"} %s' % (METRIC_PREFIX, name, _label(site), values[name](statuses[site])))
    return "\n".join(lines) + "\n"


def write_atomic(path, text, mode=0o644):
    """Replace a file in one rename: a reader (node_exporter, a monitor) sees the old content or the new."""
    directory = os.path.dirname(path)
    handle, staged = tempfile.mkstemp(prefix=".wpzo-", dir=directory)
    try:
        with os.fdopen(handle, "w") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(staged, mode)
        os.rename(staged, path)
    except BaseException:
        os.unlink(staged)
        raise


def to_json(value):
    return json.dumps(value, indent=2, sort_keys=True) + "\n"
