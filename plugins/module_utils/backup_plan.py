# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pure logic of the backup runner (roles/backups): what restic is asked, what a dump and a manifest must hold,
which snapshot a restore takes, what the status and the metrics say.

Standard library only: the backups role installs this file beside the runner on each server
(/usr/local/lib/wpzo/backup/), where no Ansible is installed; the unit tests import it from the collection.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import calendar
import json
import os
import re
import tempfile
import time

RETENTION_KEYS = ("last", "hourly", "daily", "weekly", "monthly", "yearly")
# Snapshots of these reasons are never forgotten by the retention policy.
KEPT_REASONS = ("final",)
# A restore of "latest" never picks a safety backup (taken by the restore itself, of what it replaced).
SAFETY_REASON = "safety"
DUMP_TRAILER = b"-- Dump completed"
METRIC_PREFIX = "wpzo_backup_"
METRICS = (
    ("last_success_timestamp_seconds", "Time of the last backup that succeeded and was verified."),
    ("last_attempt_timestamp_seconds", "Time the last backup started."),
    ("last_duration_seconds", "How long the last backup took."),
    ("last_added_bytes", "Bytes the last backup added to its primary repository."),
    ("last_failed", "1 when the last backup failed, else 0."),
)
# The server repository (physical backups and binary logs) beside the sites' repositories: no domain starts with _.
SERVER_REPOSITORY = "_server"
# The server's own backup jobs, labelled kind="<job>" in the metrics (the sites' are labelled site="<domain>").
SERVER_JOBS = ("binlogs", "physical")


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


def select_run(snapshots, wanted, parts, before=None):
    """The run a restore takes: `latest` (never a safety backup) or a snapshot id (full or short) of either part.

    parts: the parts the restore needs ("db", "files"); a run lacking one of them is not a candidate. before: a Unix
    time; `latest` is then the newest run whose snapshots were all taken at or before it."""
    candidates = [run for run in runs(snapshots) if all(part in run["parts"] for part in parts)]
    if wanted == "latest":
        candidates = [run for run in candidates if run["reason"] != SAFETY_REASON]
        if before is not None:
            candidates = [run for run in candidates if snapshot_time(run["time"]) <= before]
        if not candidates:
            when = "" if before is None else " taken at or before %s" % utc_text(before)
            raise PlanError("no backup%s holds the %s of this site" % (when, " and ".join(parts)))
        return candidates[-1]
    for run in candidates:
        if any(is_snapshot(snapshot, wanted) for snapshot in run["parts"].values()):
            return run
    raise PlanError("no backup of this site with the snapshot %s holds its %s" % (wanted, " and ".join(parts)))


def is_snapshot(snapshot, wanted):
    """Whether wanted names the snapshot: its id, its short id, or a prefix of at least 8 characters of its id."""
    return wanted in (snapshot["id"], snapshot.get("short_id")) or (
        len(wanted) >= 8 and snapshot["id"].startswith(wanted)
    )


_RFC3339 = re.compile(r"^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(\.\d+)?(Z|([+-])(\d{2}):(\d{2}))$")


def snapshot_time(text):
    """A restic snapshot's time (RFC 3339 with nanoseconds and the server's offset) as Unix seconds."""
    match = _RFC3339.match(text)
    if not match:
        raise PlanError("not a snapshot time: %r" % text)
    seconds = calendar.timegm(time.strptime(match.group(1) + " " + match.group(2), "%Y-%m-%d %H:%M:%S"))
    seconds += float(match.group(3) or 0)
    if match.group(5):
        offset = int(match.group(6)) * 3600 + int(match.group(7)) * 60
        seconds -= offset if match.group(5) == "+" else -offset
    return seconds


def newest_before(snapshots, before=None):
    """The newest of snapshots (by time), or the newest taken at or before a Unix time; None if there is none."""
    chosen = [s for s in snapshots if before is None or snapshot_time(s["time"]) <= before]
    return max(chosen, key=lambda s: snapshot_time(s["time"])) if chosen else None


def owner_map(recorded, local_id, renamed=None):
    """{old id: new id} a restore applies to the restored files (lchown) so they keep their owners by name on a
    server whose ids differ: recorded is {"<id on the backed-up server>": "<name>"} (the manifest's files.users or
    files.groups), local_id(name) this server's id of a name or None, renamed {old name: name here} (the site's own
    user and group, named by the site as the sites role sets it here). Ids whose name this server lacks, and ids
    that stay the same, are left out: the file keeps the id it has."""
    renamed = renamed or {}
    mapping = {}
    for old, name in recorded.items():
        new = local_id(renamed.get(name, name))
        if new is not None and new != int(old):
            mapping[int(old)] = new
    return mapping


def gtid_positions(text):
    """A GTID list (`0-1-42,1-2-7`, as mariadb-dump and the binary logs write it) as {domain: (server, seq)}."""
    positions = {}
    for item in (text or "").replace("+", ",").split(","):
        item = item.strip()
        if not item:
            continue
        parts = item.split("-")
        if len(parts) != 3 or not all(part.isdigit() for part in parts):
            raise PlanError("not a GTID: %r (domain-server-sequence)" % item)
        positions[int(parts[0])] = (int(parts[1]), int(parts[2]))
    return positions


def tag_gtid(text):
    """A GTID list as one restic tag value (restic splits --tag values on commas)."""
    return (text or "").replace(",", "+")


def binlogs_to_ship(closed, shipped):
    """The closed binary logs not shipped yet, in the order given (oldest first).

    closed: [(name, bytes)] of the logs no longer written (SHOW BINARY LOGS less its last one, and those kept in the
    spool only); shipped: the (name, bytes) pairs the server repository holds. A log is known by its name and size,
    so a rebuilt server whose logs restart at 000001 still ships its new ones."""
    known = set(shipped)
    return [name for name, size in closed if (name, size) not in known]


def binlog_entries(snapshots):
    """The shipped binary logs of the server repository, in the order they were written (closing time, name):
    [{name, bytes, closed, gtid_start, snapshot, path}]."""
    entries = []
    for snapshot in snapshots:
        name = tag_value(snapshot, "binlog")
        if name is None:
            continue
        entries.append(
            {
                "name": name,
                "bytes": int(tag_value(snapshot, "bytes") or 0),
                "closed": float(tag_value(snapshot, "closed") or 0),
                "gtid_start": tag_value(snapshot, "gtid_start") or "",
                "snapshot": snapshot["id"],
                "path": (snapshot.get("paths") or [""])[0],
            }
        )
    return sorted(entries, key=lambda entry: (entry["closed"], entry["name"]))


def _gtid_reached(positions, stop):
    """True when a binlog state (positions) already holds every GTID of stop."""
    return all(domain in positions and positions[domain][1] >= seq for domain, (_server, seq) in stop.items())


def replay_plan(site_snapshots, binlog_snapshots, at=None, gtid=None):
    """What a point-in-time restore of a site's database replays: the last dump before the point, then the shipped
    binary logs from the dump's position up to the point.

    at: a Unix time in whole seconds (mariadb-binlog's --stop-datetime stops at the first event of that second:
    the state at the start of that second); gtid: a GTID list, inclusive (the state right after that transaction).
    Dumps are candidates when their files snapshot carries the dump's binlog coordinates (gtid=, binlog=,
    consistent=: the time the dump's consistent snapshot was taken, at the latest). Returns {run, start (the
    --start-position in the first log), files: [binlog entries], stop: the --stop-datetime or --stop-position}."""
    if (at is None) == (gtid is None):
        raise PlanError("name either a time or a GTID to restore to")
    stop_gtid = gtid_positions(gtid) if gtid is not None else None
    if stop_gtid is not None and not stop_gtid:
        raise PlanError("an empty GTID names no point to restore to")
    candidates = []
    for run in runs(site_snapshots):
        files = run["parts"].get("files")
        if run["reason"] == SAFETY_REASON or "db" not in run["parts"] or files is None:
            continue
        coordinates = tag_value(files, "binlog")
        consistent = tag_value(files, "consistent")
        if coordinates is None or consistent is None:
            continue
        dump = {
            "run": run,
            "binlog_file": coordinates.rsplit(":", 1)[0],
            "position": coordinates.rsplit(":", 1)[-1],
            "gtid": tag_value(files, "gtid") or "",
            "consistent": float(consistent),
        }
        if at is not None and dump["consistent"] > at:
            continue
        if stop_gtid is not None:
            positions = gtid_positions(dump["gtid"])
            if any(positions.get(domain, (0, 0))[1] > seq for domain, (_server, seq) in stop_gtid.items()):
                continue
        candidates.append(dump)
    if not candidates:
        raise PlanError("no dump of this site with binlog coordinates was taken before %s" % (gtid or utc_text(at)))
    dump = max(candidates, key=lambda candidate: candidate["consistent"])
    shipped = binlog_entries(binlog_snapshots)
    # The dump's log is the one of that name written last before the dump (a rebuilt server reuses names).
    starts = [
        index
        for index, entry in enumerate(shipped)
        if entry["name"] == dump["binlog_file"] and entry["closed"] >= dump["consistent"] - 1
    ]
    if not starts:
        raise PlanError(
            "the binary log %s of the dump %s is not among the shipped logs" % (dump["binlog_file"], dump["run"]["run"])
        )
    files = []
    for entry in shipped[starts[0] :]:
        if files:
            # A log holds events written after the previous one closed: past the point, nothing more is needed.
            if at is not None and files[-1]["closed"] >= at:
                break
            if stop_gtid is not None and _gtid_reached(gtid_positions(entry["gtid_start"]), stop_gtid):
                break
        files.append(entry)
    if at is not None and files[-1]["closed"] < at:
        raise PlanError(
            "the shipped binary logs reach %s only, before %s: ship them first (wpzo-backup binlogs) or pick an "
            "earlier time" % (utc_text(files[-1]["closed"]), utc_text(at))
        )
    stop = ["--stop-datetime", utc_text(at)] if at is not None else ["--stop-position", gtid.replace("+", ",")]
    # The dump's position in its own log, not its GTID: mariadb-binlog fails when a start GTID is not in the logs it
    # reads (the dump's GTID can be the last of the log before), and a position applies to the first log only.
    return {"run": dump["run"], "start": dump["position"], "files": files, "stop": stop}


def utc_text(epoch):
    """A Unix time as `YYYY-MM-DD HH:MM:SS` (UTC), as restores take and print it."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(epoch))


def parse_time(text):
    """A point in time given to a restore: Unix seconds, or `YYYY-MM-DD HH:MM:SS` / `YYYY-MM-DDTHH:MM:SSZ` in UTC;
    whole seconds (the binary logs' resolution)."""
    text = str(text).strip()
    if re.match(r"^\d+(\.\d+)?$", text):
        return int(float(text))
    match = re.match(r"^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(Z|\+00:00| UTC)?$", text)
    try:
        if match:
            return calendar.timegm(time.strptime(match.group(1) + " " + match.group(2), "%Y-%m-%d %H:%M:%S"))
    except ValueError:  # a month 13, a 31 February
        pass
    raise PlanError("not a time: %r (Unix seconds or YYYY-MM-DD HH:MM:SS in UTC)" % text)


_GTID_SEQ_NO = re.compile(rb"^/\*M?!\d+ SET @@session\.gtid_seq_no=\d+\*/")


def replay_line(line):
    """A line of mariadb-binlog's output as the replay sends it to the server: the original sequence numbers are
    dropped, so the replayed transactions get new GTIDs of this server (the originals are already in its binlog
    history, and reusing them would put them out of order)."""
    if line.startswith(b"/*") and _GTID_SEQ_NO.match(line):
        return None
    return line


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


def render_metrics(statuses, jobs=None):
    """node_exporter textfile metrics for {site: status} (labelled site=) and {job: status} (labelled kind=)."""
    values = {
        "last_success_timestamp_seconds": lambda s: s.get("last_success", 0),
        "last_attempt_timestamp_seconds": lambda s: s.get("last_attempt", 0),
        "last_duration_seconds": lambda s: s.get("last_duration", 0),
        "last_added_bytes": lambda s: s.get("last_added_bytes", 0),
        "last_failed": lambda s: 1 if s.get("failed") else 0,
    }
    series = [("site", name, status) for name, status in sorted(statuses.items())]
    series += [("kind", name, status) for name, status in sorted((jobs or {}).items())]
    lines = []
    for name, help_text in METRICS:
        lines += ["# HELP %s%s %s" % (METRIC_PREFIX, name, help_text), "# TYPE %s%s gauge" % (METRIC_PREFIX, name)]
        for label, value, status in series:
            lines.append('%s%s{%s="%s"} %s' % (METRIC_PREFIX, name, label, _label(value), values[name](status)))
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
