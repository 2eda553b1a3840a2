# Managed by wpzo.hosting.backups - do not edit.
"""wpzo-backup: the backup runner of wpzo.hosting, run by systemd timers and by playbooks/backup.yml and restore.yml.

  wpzo-backup init [--sites-from-stdin] [--server] initialise the repositories that do not exist (never re-initialise)
  wpzo-backup run [--site D]... [--reason R]      back up sites: dump, files, manifest, verify, copy, then retention
  wpzo-backup check [--site D]...                 restic check --read-data-subset, then a restore drill of each dump
  wpzo-backup restore [--site D]... [--snapshot ID|--before TIME] [--parts both|database|files] [--target T] [--force]
  wpzo-backup restore --site D --at TIME|--gtid GTID [--force]   the site's database to a point in time
  wpzo-backup binlogs                             ship the closed binary logs to the server repository
  wpzo-backup physical                            mariadb-backup of the whole server into the server repository
  wpzo-backup extract-physical --to DIR [--snapshot ID|--before TIME]   a physical backup extracted and prepared
  wpzo-backup restore-physical [--snapshot ID|--before TIME] [--force]   MariaDB's data replaced by a physical backup
  wpzo-backup restic (--site D | --server) [--target T] -- ARGS...   restic on a repository (the primary by default)
  wpzo-backup dump D DATABASE RESULT              (restic's --stdin-from-command) mariadb-dump, inspected as it streams

Its pure logic is backup_plan.py beside it (plugins/module_utils/backup_plan.py of the collection). Any failure exits
non-zero with one line per site naming the reason, on stderr (the journal).
"""

import argparse
import concurrent.futures
import contextlib
import fcntl
import grp
import json
import os
import pwd
import signal
import stat
import subprocess
import sys
import time
import uuid

import backup_plan as plan

CONFIG = "/etc/wpzo/backup/config.json"
SITES = "/etc/wpzo/backup/sites.json"
DUMP_OPTIONS = [
    "--single-transaction",
    "--quick",
    "--master-data=2",
    "--gtid",
    "--hex-blob",
    "--routines",
    "--triggers",
    "--events",
]
DRILL_DATABASE = "wpzo_restore_drill"
# Run by php-cli as the site user in its docroot: WordPress loaded with its object-cache drop-in, then flushed.
OBJECT_CACHE_FLUSH = (
    "define('WP_USE_THEMES', false); require './wp-load.php';"
    " if (!wp_using_ext_object_cache()) { fwrite(STDERR, 'no persistent object cache'); exit(1); }"
    " exit(wp_cache_flush() ? 0 : 1);"
)
SERVER = plan.SERVER_REPOSITORY
PHYSICAL_FILENAME = "mariadb-backup.mbstream"
# MariaDB's data (the mariadb role keeps Debian's), its service and its owner.
DATADIR = "/var/lib/mysql"
MARIADB_SERVICE = "mariadb"
MARIADB_USER = "mysql"


class Failure(Exception):
    pass


def load(path):
    with open(path) as stream:
        return json.load(stream)


def read_env_file(path):
    env = {}
    if path:
        with open(path) as stream:
            for line in stream:
                line = line.strip()
                if line and not line.startswith("#"):
                    key, _sep, value = line.partition("=")
                    env[key] = value
    return env


class Runner:
    def __init__(self, config, sites, monitored):
        self.config = config
        self.sites = {site["domain"]: site for site in sites}
        self.monitored = sorted(set(monitored) | set(self.sites))
        self.targets = config["targets"]
        self.primary = next(target for target in self.targets if not target.get("copy"))
        self.copies = [target for target in self.targets if target.get("copy")]
        self.env = dict(os.environ, RESTIC_CACHE_DIR=config["cache_dir"])
        for target in self.targets:
            self.env.update(read_env_file(target.get("env_file")))

    def target_named(self, name):
        return next((target for target in self.targets if target["name"] == name), None)

    # restic ---------------------------------------------------------------------------------------------------
    def repo_env(self, target, domain):
        env = dict(self.env)
        env["RESTIC_REPOSITORY"] = plan.repository(target, domain)
        env["RESTIC_PASSWORD_FILE"] = os.path.join(self.config["password_dir"], domain)
        return env

    def restic(self, target, domain, args, stdout=subprocess.PIPE, stdin=None, check=True, timeout=None):
        command = [self.config["restic"], *plan.restic_options(target), *args]
        process = subprocess.Popen(
            command,
            env=self.repo_env(target, domain),
            stdout=stdout,
            stderr=subprocess.PIPE,
            stdin=stdin,
            start_new_session=True,
        )
        try:
            out, err = process.communicate(timeout=timeout or self.config["timeout"])
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGTERM)
            process.communicate()
            raise Failure(
                "restic %s on %s timed out after %s s (repository unreachable?)"
                % (args[0], target["name"], timeout or self.config["timeout"])
            ) from None
        if check and process.returncode != 0:
            raise Failure("restic %s on %s failed (%s): %s" % (args[0], target["name"], process.returncode, last(err)))
        return process.returncode, out, err

    def snapshots(self, target, domain, *tags):
        args = ["snapshots", "--json", "--no-lock"]
        for tag in tags:
            args += ["--tag", tag]
        return json.loads(self.restic(target, domain, args)[1] or b"[]")

    # init -------------------------------------------------------------------------------------------------------
    def init(self, domains):
        created = []
        for domain in domains:
            for target in [self.primary, *self.copies]:
                code, _out, err = self.restic(target, domain, ["cat", "config", "--no-lock"], check=False)
                if code == 0:
                    continue
                if code != 10:  # restic: "the repository does not exist"; any other error is not a missing one
                    raise Failure("%s: cannot read the repository on %s: %s" % (domain, target["name"], last(err)))
                args = ["init"]
                if target is not self.primary:
                    args += [*self.from_repo(domain), "--copy-chunker-params"]
                self.restic(target, domain, args)
                created.append("%s on %s" % (domain, target["name"]))
        return created

    def from_repo(self, domain):
        return [
            "--from-repo",
            plan.repository(self.primary, domain),
            "--from-password-file",
            os.path.join(self.config["password_dir"], domain),
        ]

    # backup -----------------------------------------------------------------------------------------------------
    def site_dir(self, domain):
        path = os.path.join(self.config["state_dir"], domain)
        os.makedirs(path, mode=0o700, exist_ok=True)
        return path

    def backup(self, site, reason):
        domain = site["domain"]
        run = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + uuid.uuid4().hex[:6]
        state = self.site_dir(domain)
        stamp = ["--time", self.config["time"]] if self.config.get("time") else []
        common = ["--host", self.config["server"], "--json", *stamp]
        self.restic(self.primary, domain, ["unlock"])  # stale locks only: a live run's lock stays
        added = 0
        ids = {}
        manifest = {"site": domain, "server": self.config["server"], "run": run, "reason": reason}
        if site.get("database"):
            result_path = os.path.join(state, "dump.json")
            if os.path.exists(result_path):
                os.unlink(result_path)
            args = ["backup", "--stdin-from-command", "--stdin-filename", domain + ".sql", *common]
            for tag in plan.tags(domain, self.config["server"], run, reason, "db"):
                args += ["--tag", tag]
            args += ["--", sys.executable, os.path.abspath(__file__), "dump", domain, site["database"], result_path]
            code, out, err = self.restic(self.primary, domain, args, check=False)
            dump = load(result_path) if os.path.exists(result_path) else None
            if code != 0 or dump is None or dump.get("problems"):
                reasons = (dump or {}).get("problems") or [last(err)]
                raise Failure("database dump not saved: %s" % "; ".join(reasons))
            summary = restic_summary(out)
            ids["db"] = summary["snapshot_id"]
            added += summary.get("data_added", 0)
            manifest["database"] = {
                "name": site["database"],
                "rows": dump["rows"],
                "dump_bytes": dump["bytes"],
                "binlog_file": dump["binlog_file"],
                "binlog_position": dump["binlog_position"],
                "gtid": dump["gtid"],
                "snapshot": ids["db"],
            }
        paths = [os.path.join(site["root"], part) for part in self.config["paths"]]
        paths = [path for path in paths if os.path.exists(path)]
        size, uids, gids = tree_facts(paths)
        # The owners by name: a restore onto a server whose ids differ gives the files the same owners by name.
        manifest["files"] = {
            "paths": paths,
            "bytes": size,
            "users": id_names(uids, pwd.getpwuid),
            "groups": id_names(gids, grp.getgrgid),
            "site_user": site["system_user"],
            "site_group": site["system_group"],
        }
        manifest["wordpress_version"] = wordpress_version(site["root"])
        manifest_path = os.path.join(state, "manifest.json")
        plan.write_atomic(manifest_path, plan.to_json(manifest), 0o600)
        args = ["backup", "--exclude-caches", *common]
        for pattern in self.config["excludes"]:
            args += ["--exclude", os.path.join(site["root"], pattern)]
        for tag in plan.tags(domain, self.config["server"], run, reason, "files"):
            args += ["--tag", tag]
        if manifest.get("database", {}).get("binlog_file"):
            # Where the dump stands in the binary logs, read by a point-in-time restore without the manifest.
            database = manifest["database"]
            args += ["--tag", "binlog=%s:%s" % (database["binlog_file"], database["binlog_position"])]
            args += [
                "--tag",
                "gtid=" + plan.tag_gtid(database["gtid"]),
                "--tag",
                "consistent=%.3f" % dump["consistent"],
            ]
        summary = restic_summary(self.restic(self.primary, domain, args + paths + [manifest_path])[1])
        ids["files"] = summary["snapshot_id"]
        added += summary.get("data_added", 0)
        self.verify(self.primary, domain, run, ids, manifest, manifest_path)
        for target in self.copies:
            self.restic(target, domain, ["unlock"])
            self.restic(target, domain, ["copy", *self.from_repo(domain), *sorted(ids.values())])
            self.verify(target, domain, run, None, manifest, manifest_path)
        if reason != plan.SAFETY_REASON:
            for target in [self.primary, *self.copies]:
                retention = plan.retention_args(self.config["retention"])
                self.restic(target, domain, ["forget", "--prune", "--group-by", "host,paths", *retention])
        return {"run": run, "snapshots": ids, "added_bytes": added}

    def verify(self, target, domain, run, ids, manifest, manifest_path):
        found = {plan.tag_value(s, "part"): s for s in self.snapshots(target, domain, "run=" + run)}
        wanted = {"files", "db"} if "database" in manifest else {"files"}
        if set(found) != wanted:
            raise Failure(
                "the snapshots of run %s on %s are %s, not %s" % (run, target["name"], sorted(found), sorted(wanted))
            )
        if ids and any(found[part]["id"] != ids[part] for part in ids):
            raise Failure("the snapshots listed on %s are not those restic saved" % target["name"])
        code, out, _err = self.restic(target, domain, ["dump", found["files"]["id"], manifest_path], check=False)
        read_back = json.loads(out) if code == 0 else None
        problems = plan.manifest_problems(manifest, read_back)
        if problems:
            raise Failure("manifest check on %s: %s" % (target["name"], "; ".join(problems)))

    # check and drill ------------------------------------------------------------------------------------------
    def check(self, site):
        domain = site["domain"]
        for target in [self.primary, *self.copies]:
            self.restic(target, domain, ["check", "--read-data-subset", self.config["check_subset"]])
        if not site.get("database"):
            return {"checked": True}
        run = plan.select_run(self.snapshots(self.primary, domain, "site=" + domain), "latest", ["db", "files"])
        manifest = self.read_manifest(self.primary, domain, run)
        mariadb(["-e", "DROP DATABASE IF EXISTS %s; CREATE DATABASE %s" % ((plan.sql_identifier(DRILL_DATABASE),) * 2)])
        try:
            self.load_dump(self.primary, domain, run["parts"]["db"]["id"], DRILL_DATABASE)
            problems = plan.row_count_problems(manifest["database"]["rows"], row_counts(DRILL_DATABASE))
        finally:
            mariadb(["-e", "DROP DATABASE IF EXISTS " + plan.sql_identifier(DRILL_DATABASE)])
        if problems:
            raise Failure("restore drill of %s: %s" % (run["run"], "; ".join(problems)))
        return {"checked": True, "drill": run["run"]}

    def read_manifest(self, target, domain, run):
        files = run["parts"]["files"]
        path = next(p for p in files["paths"] if p.endswith("/manifest.json"))
        return json.loads(self.restic(target, domain, ["dump", "--no-lock", files["id"], path])[1])

    def load_dump(self, target, domain, snapshot, database):
        dump = subprocess.Popen(
            [self.config["restic"], *plan.restic_options(target), "dump", "--no-lock", snapshot, "/" + domain + ".sql"],
            env=self.repo_env(target, domain),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        load_process = subprocess.run(
            ["mariadb", "--batch", "--database=" + database], stdin=dump.stdout, capture_output=True, check=False
        )
        dump.stdout.close()
        err = dump.stderr.read()
        if dump.wait() != 0:
            raise Failure("restic dump of %s failed: %s" % (snapshot, last(err)))
        if load_process.returncode != 0:
            raise Failure("loading the dump %s into %s failed: %s" % (snapshot, database, last(load_process.stderr)))

    # restore ----------------------------------------------------------------------------------------------------
    def restore(self, site, wanted, parts, force, safety, target, before=None):
        """Restore a site's run from a target: the primary, or a copy (the same runs, with the same tags)."""
        domain = site["domain"]
        needed = [part for part in ("db", "files") if part in parts]
        run = plan.select_run(self.snapshots(target, domain, "site=" + domain), wanted, needed, before)
        marker = os.path.join(self.site_dir(domain), "restored.json")
        done = {"run": run["run"], "parts": sorted(needed)}
        if not force and os.path.exists(marker) and {k: load(marker).get(k) for k in done} == done:
            return dict(done, changed=False)
        manifest = self.read_manifest(target, domain, run)
        result = dict(done, changed=True, target=target["name"])
        if safety:
            result["safety"] = self.backup(site, plan.SAFETY_REASON)["run"]
        if "files" in needed:
            for path in manifest["files"]["paths"]:
                os.makedirs(path, exist_ok=True)
                self.restic(
                    target,
                    domain,
                    ["restore", "%s:%s" % (run["parts"]["files"]["id"], path), "--target", path, "--delete"],
                )
                restore_owners(path, manifest["files"], site)
        if "db" in needed:
            self.replace_database(site, run, manifest, target)
        self.purge_cache(site)
        plan.write_atomic(marker, plan.to_json(dict(done, time=time.time())), 0o600)
        return result

    def replace_database(self, site, run, manifest, target):
        database = site["database"]
        names = tables(database, base_only=False)
        if names:
            drop = "SET FOREIGN_KEY_CHECKS=0; DROP TABLE IF EXISTS " + ", ".join(map(plan.sql_identifier, names))
            mariadb(["--database=" + database, "-e", drop])
        self.load_dump(target, site["domain"], run["parts"]["db"]["id"], database)
        problems = plan.row_count_problems(manifest["database"]["rows"], row_counts(database))
        if problems:
            raise Failure("restored database differs from the manifest: %s" % "; ".join(problems))

    def purge_cache(self, site):
        """After a restore the site serves what was restored: its page cache purged, and its object cache flushed
        by WordPress's own wp_cache_flush() (the drop-in moves the site's Redis keys to a new generation)."""
        purge = self.config.get("cache_purge_command")
        if purge and site.get("page_cache") and os.path.exists(purge):
            subprocess.run([purge, *site["server_names"]], capture_output=True, check=True)
        if site.get("object_cache"):
            flushed = subprocess.run(
                [
                    "setpriv",
                    "--reuid=" + site["system_user"],
                    "--regid=" + site["system_group"],
                    "--init-groups",
                    "--reset-env",
                    "--",
                    "php",
                    "-r",
                    OBJECT_CACHE_FLUSH,
                ],
                cwd=site["docroot"],
                capture_output=True,
                check=False,
            )
            if flushed.returncode != 0:
                raise Failure("the object cache was not flushed: %s" % last(flushed.stderr or flushed.stdout))

    def restore_to_point(self, site, at, gtid, force, safety):
        """The site's database to a point in time: the last dump before it, then the shipped binary logs from the
        dump's binlog position up to it, filtered to the site's database (mariadb-binlog --database)."""
        domain = site["domain"]
        if not site.get("database"):
            raise Failure("the site has no database")
        with locked(SERVER):
            self.ship_binlogs(force_flush=True)  # everything written up to now is in the server repository
        replay = plan.replay_plan(
            self.snapshots(self.primary, domain, "site=" + domain),
            self.binlog_snapshots(),
            at=at,
            gtid=gtid,
        )
        marker = os.path.join(self.site_dir(domain), "restored.json")
        done = {"run": replay["run"]["run"], "parts": ["db"], "point": gtid or at}
        if not force and os.path.exists(marker) and {k: load(marker).get(k) for k in done} == done:
            return dict(done, changed=False)
        manifest = self.read_manifest(self.primary, domain, replay["run"])
        result = dict(done, changed=True, binlogs=[entry["name"] for entry in replay["files"]])
        if safety:
            result["safety"] = self.backup(site, plan.SAFETY_REASON)["run"]
        self.replace_database(site, replay["run"], manifest, self.primary)
        self.replay_binlogs(site["database"], replay)
        self.purge_cache(site)
        plan.write_atomic(marker, plan.to_json(dict(done, time=time.time())), 0o600)
        return result

    def replay_binlogs(self, database, replay):
        scratch = os.path.join(self.site_dir(SERVER), "replay")
        subprocess.run(["rm", "-rf", scratch], check=True)
        os.makedirs(scratch, mode=0o700)
        try:
            files = []
            for entry in replay["files"]:
                path = os.path.join(scratch, "%03d-%s" % (len(files), entry["name"]))
                with open(path, "wb") as stream:
                    self.restic(
                        self.primary, SERVER, ["dump", "--no-lock", entry["snapshot"], entry["path"]], stdout=stream
                    )
                files.append(path)
            command = [
                "mariadb-binlog",
                "--database=" + database,
                "--start-position=" + replay["start"],
                *replay["stop"],
                *files,
            ]
            binlog = subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ, TZ="UTC")
            )
            server = subprocess.Popen(["mariadb", "--batch"], stdin=subprocess.PIPE, stderr=subprocess.PIPE)
            with contextlib.suppress(BrokenPipeError):  # the server stopped at an error: its message follows
                for line in binlog.stdout:
                    line = plan.replay_line(line)
                    if line is not None:
                        server.stdin.write(line)
                server.stdin.close()
            binlog.stdout.close()
            binlog_err = binlog.stderr.read()
            server_err = server.stderr.read()
            if binlog.wait() != 0:
                raise Failure("mariadb-binlog failed: %s" % last(binlog_err))
            if server.wait() != 0:
                raise Failure("replaying the binary logs into %s failed: %s" % (database, last(server_err)))
        finally:
            subprocess.run(["rm", "-rf", scratch], check=False)

    # binary logs and physical backups (the server repository) -------------------------------------------------
    def ship_binlogs(self, force_flush=False):
        """Ship the closed binary logs not shipped yet, oldest first, one snapshot each, then copy them."""
        enabled, basename, binlog_format = mariadb(
            ["-N", "-e", "SELECT @@log_bin, @@log_bin_basename, @@binlog_format"]
        ).split()
        if enabled != "1":
            raise Failure("binary logging is off on this server (mariadb_binlog_enabled)")
        if binlog_format != "ROW":
            raise Failure(
                "binlog_format is %s: point-in-time restores need ROW (mariadb_binlog_format)" % binlog_format
            )
        directory = os.path.dirname(basename)
        state_path = os.path.join(self.site_dir(SERVER), "binlogs-flushed.json")
        listing = binary_logs()
        if force_flush or (load(state_path) if os.path.exists(state_path) else None) != list(listing[-1]):
            mariadb(["-e", "FLUSH BINARY LOGS"])
            listing = binary_logs()
            plan.write_atomic(state_path, plan.to_json(list(listing[-1])), 0o600)
        # Each closed log not shipped yet is hard-linked into the spool before any repository is reached: MariaDB's
        # expiry (or a PURGE) removes its own name only, so a log stays on disk until it is shipped however long
        # that takes. What was shipped is also noted here, so the links need no repository.
        spool = os.path.join(directory, self.config["binlog_spool"])
        os.makedirs(spool, mode=0o700, exist_ok=True)
        noted_path = os.path.join(self.site_dir(SERVER), "binlogs-shipped.json")
        noted = {tuple(entry) for entry in load(noted_path)} if os.path.exists(noted_path) else set()
        for name, size in listing[:-1]:
            if (name, size) not in noted and not os.path.exists(os.path.join(spool, name)):
                with contextlib.suppress(FileNotFoundError):
                    os.link(os.path.join(directory, name), os.path.join(spool, name))
        listed = {name for name, _size in listing}
        # Oldest first: the logs only the spool still holds (MariaDB purged their names), then the listed ones.
        spooled = sorted(name for name in os.listdir(spool) if name not in listed)
        closed = [(name, os.stat(os.path.join(spool, name)).st_size) for name in spooled] + listing[:-1]
        shipped = {(e["name"], e["bytes"]) for e in plan.binlog_entries(self.binlog_snapshots())}
        ids = {}
        added = 0
        sizes = dict(closed)
        for name in plan.binlogs_to_ship(closed, shipped):
            size = sizes[name]
            path = os.path.join(spool, name)
            args = ["backup", "--host", self.config["server"], "--json", path]
            tags = ["kind=binlog", "server=" + self.config["server"], "binlog=" + name, "bytes=%d" % size]
            tags += [
                "closed=%.3f" % os.stat(path).st_mtime,
                "gtid_start=" + plan.tag_gtid(binlog_start_gtid(name) if name in listed else ""),
            ]
            for tag in tags:
                args += ["--tag", tag]
            summary = restic_summary(self.restic(self.primary, SERVER, args)[1])
            ids[name] = summary["snapshot_id"]
            added += summary.get("data_added", 0)
        if ids:
            if not set(ids.values()) <= {s["id"] for s in self.binlog_snapshots()}:
                raise Failure(
                    "the binary logs' snapshots listed on %s are not those restic saved" % self.primary["name"]
                )
            self.copy_server(ids.values())
            shipped |= {(name, size) for name, size in closed if name in ids}
        for name in os.listdir(spool):
            if (name, os.stat(os.path.join(spool, name)).st_size) in shipped:
                os.unlink(os.path.join(spool, name))
        plan.write_atomic(noted_path, plan.to_json(sorted(shipped & set(listing))), 0o600)
        return {"shipped": len(ids), "snapshots": ids, "added_bytes": added}

    def binlog_snapshots(self):
        return self.snapshots(self.primary, SERVER, "kind=binlog")

    def copy_server(self, ids):
        for target in self.copies:
            self.restic(target, SERVER, ["unlock"])
            self.restic(target, SERVER, ["copy", *self.from_repo(SERVER), *sorted(ids)])

    def physical(self):
        """mariadb-backup of the whole server streamed into the server repository (no copy on disk); a producer that
        fails makes no snapshot (restic's --stdin-from-command). Then the server repository's retention."""
        run = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + uuid.uuid4().hex[:6]
        self.restic(self.primary, SERVER, ["unlock"])
        args = [
            "backup",
            "--stdin-from-command",
            "--stdin-filename",
            PHYSICAL_FILENAME,
            "--host",
            self.config["server"],
            "--json",
        ]
        for tag in ("kind=physical", "server=" + self.config["server"], "run=" + run):
            args += ["--tag", tag]
        args += ["--", "mariadb-backup", "--backup", "--stream=mbstream"]
        code, out, err = self.restic(self.primary, SERVER, args, check=False)
        if code != 0:
            raise Failure("physical backup not saved: %s" % last(err))
        summary = restic_summary(out)
        found = self.snapshots(self.primary, SERVER, "run=" + run)
        if [s["id"] for s in found] != [summary["snapshot_id"]]:
            raise Failure(
                "the physical backup's snapshot listed on %s is not the one restic saved" % self.primary["name"]
            )
        self.copy_server([summary["snapshot_id"]])
        for target in [self.primary, *self.copies]:
            policy = plan.retention_args(self.config["physical_retention"])
            self.restic(target, SERVER, ["forget", "--tag", "kind=physical", "--group-by", "host", *policy])
            keep = ["--keep-within", self.config["binlogs_keep_within"]]
            self.restic(target, SERVER, ["forget", "--prune", "--tag", "kind=binlog", "--group-by", "host", *keep])
        return {
            "run": run,
            "snapshots": {"physical": summary["snapshot_id"]},
            "added_bytes": summary.get("data_added", 0),
        }

    def physical_snapshot(self, wanted, before=None):
        """The physical backup a restore takes: `latest` (or the newest taken at or before a time) or an id."""
        found = self.snapshots(self.primary, SERVER, "kind=physical")
        if wanted == "latest":
            snapshot = plan.newest_before(found, before)
        else:
            snapshot = next((s for s in found if plan.is_snapshot(s, wanted)), None)
        if snapshot is None:
            when = "" if before is None else " taken at or before %s" % plan.utc_text(before)
            raise Failure("no physical backup %s%s in the server repository" % (wanted, when))
        return snapshot

    def extract_physical(self, snapshot, destination):
        """A physical backup extracted (restic dump | mbstream -x) into an empty folder and prepared there."""
        if os.path.exists(destination) and os.listdir(destination):
            raise Failure("%s is not empty" % destination)
        os.makedirs(destination, mode=0o700, exist_ok=True)
        dump = subprocess.Popen(
            [
                self.config["restic"],
                *plan.restic_options(self.primary),
                "dump",
                "--no-lock",
                snapshot["id"],
                "/" + PHYSICAL_FILENAME,
            ],
            env=self.repo_env(self.primary, SERVER),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        extract = subprocess.run(
            ["mbstream", "-x", "-C", destination], stdin=dump.stdout, capture_output=True, check=False
        )
        dump.stdout.close()
        err = dump.stderr.read()
        if dump.wait() != 0:
            raise Failure("restic dump of %s failed: %s" % (snapshot["id"], last(err)))
        if extract.returncode != 0:
            raise Failure("mbstream -x failed: %s" % last(extract.stderr))
        prepare = subprocess.run(
            ["mariadb-backup", "--prepare", "--target-dir=" + destination], capture_output=True, check=False
        )
        if prepare.returncode != 0:
            raise Failure("mariadb-backup --prepare failed: %s" % last(prepare.stderr))
        return {"snapshot": snapshot["id"], "time": snapshot["time"], "prepared": destination}

    def restore_physical(self, wanted, before, force, safety):
        """MariaDB's data replaced by a physical backup: extracted and prepared beside the data, MariaDB stopped,
        its data moved aside (kept, to return to) and the backup's moved in, MariaDB started; back to the old data
        if it does not start. With safety, every present site is backed up first (reason=safety)."""
        snapshot = self.physical_snapshot(wanted, before)
        marker = os.path.join(self.site_dir(SERVER), "restored-physical.json")
        if not force and os.path.exists(marker) and load(marker).get("snapshot") == snapshot["id"]:
            return {"snapshot": snapshot["id"], "changed": False}
        staged = DATADIR + ".wpzo-restoring"
        subprocess.run(["rm", "-rf", staged], check=True)  # what a run that failed before left
        self.extract_physical(snapshot, staged)
        result = {"snapshot": snapshot["id"], "time": snapshot["time"], "changed": True, "safety": []}
        if safety:
            for site in self.sites.values():
                if site["state"] == "present":
                    with locked(site["domain"]):
                        result["safety"].append(self.backup(site, plan.SAFETY_REASON)["run"])
        kept = "%s.before-%s" % (DATADIR, time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()))
        mode = os.stat(DATADIR).st_mode & 0o7777
        owner = pwd.getpwnam(MARIADB_USER)
        for path in walk_entries(staged):
            os.lchown(path, owner.pw_uid, owner.pw_gid)
        os.chmod(staged, mode)
        systemctl("stop", MARIADB_SERVICE)
        move(DATADIR, kept)
        move(staged, DATADIR)
        started = subprocess.run(["systemctl", "start", MARIADB_SERVICE], capture_output=True, check=False)
        if started.returncode != 0:
            systemctl("stop", MARIADB_SERVICE)
            move(DATADIR, staged)
            move(kept, DATADIR)
            systemctl("start", MARIADB_SERVICE)
            raise Failure(
                "MariaDB did not start on the physical backup %s (%s): back on its own data, the backup left in %s"
                % (snapshot["short_id"], last(started.stderr), staged)
            )
        result["kept"] = kept
        plan.write_atomic(marker, plan.to_json(dict(result, restored=time.time())), 0o600)
        return result

    # status -----------------------------------------------------------------------------------------------------
    def record(self, path, started, error=None, result=None):
        """A site's or a server job's status after a run (result: added_bytes and the {part: id} of its snapshots)."""
        previous = load(path) if os.path.exists(path) else {}
        status = plan.new_status(
            previous,
            started,
            time.time(),
            error=error,
            added_bytes=(result or {}).get("added_bytes"),
            snapshots=sorted((result or {}).get("snapshots", {}).values()),
        )
        plan.write_atomic(path, plan.to_json(status))
        self.write_metrics()

    def status_path(self, domain=None, job=None):
        return os.path.join(self.site_dir(domain or SERVER), "%s-status.json" % job if job else "status.json")

    def write_metrics(self):
        directory = self.config.get("textfile_dir")
        if not directory or not os.path.isdir(directory):
            return
        statuses = {d: load(self.status_path(d)) for d in self.monitored if os.path.exists(self.status_path(d))}
        paths = {job: self.status_path(job=job) for job in plan.SERVER_JOBS}
        jobs = {job: load(path) for job, path in paths.items() if os.path.exists(path)}
        plan.write_atomic(os.path.join(directory, "wpzo_backup.prom"), plan.render_metrics(statuses, jobs))


def restic_summary(out):
    for line in reversed(out.splitlines()):
        message = json.loads(line)
        if message.get("message_type") == "summary":
            return message
    raise Failure("restic reported no summary")


def last(err):
    lines = [line for line in (err or b"").decode("utf-8", "replace").splitlines() if line.strip()]
    if not lines:
        return "no message"
    with contextlib.suppress(ValueError, AttributeError):
        return json.loads(lines[-1])["message"]  # restic --json reports its error as a JSON line
    return lines[-1]


def mariadb(args):
    result = subprocess.run(["mariadb", "--batch", *args], capture_output=True, check=False)
    if result.returncode != 0:
        raise Failure("mariadb: %s" % last(result.stderr))
    return result.stdout.decode()


def binary_logs():
    """[(name, bytes)] of SHOW BINARY LOGS, oldest first; the last one is being written."""
    lines = mariadb(["-N", "-e", "SHOW BINARY LOGS"]).splitlines()
    return [(fields[0], int(fields[1])) for fields in (line.split("\t") for line in lines)]


def binlog_start_gtid(name):
    """The binlog state a log starts with (its Gtid_list event): the GTIDs written before it."""
    events = mariadb(["-N", "-e", "SHOW BINLOG EVENTS IN %s LIMIT 4" % plan.sql_literal(name)]).splitlines()
    for fields in (line.split("\t") for line in events):
        if len(fields) >= 6 and fields[2] == "Gtid_list":
            return fields[5].strip("[]")
    return ""


def tables(database, base_only=True):
    # Every name in SQL text goes through sql_literal or sql_identifier.
    query = "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s" % plan.sql_literal(database)  # noqa: S608
    return mariadb(["-N", "-e", query + (" AND TABLE_TYPE = 'BASE TABLE'" if base_only else "")]).splitlines()


def row_counts(database):
    names = tables(database)
    if not names:
        return {}
    schema = plan.sql_identifier(database)
    query = " UNION ALL ".join(
        "SELECT %s, COUNT(*) FROM %s.%s" % (plan.sql_literal(name), schema, plan.sql_identifier(name))  # noqa: S608
        for name in names
    )
    lines = mariadb(["-N", "-e", query]).splitlines()
    return {name: int(count) for name, count in (line.split("\t") for line in lines)}


def walk_entries(top):
    """top and every entry under it, links included and never followed."""
    yield top
    for directory, dirs, files in os.walk(top):
        for name in dirs + files:
            yield os.path.join(directory, name)


def tree_facts(paths):
    """The files' total size and the uids and gids owning any entry of the trees."""
    total, uids, gids = 0, set(), set()
    for path in paths:
        for entry in walk_entries(path):
            with contextlib.suppress(OSError):
                found = os.lstat(entry)
                uids.add(found.st_uid)
                gids.add(found.st_gid)
                if not stat.S_ISDIR(found.st_mode):
                    total += found.st_size
    return total, uids, gids


def id_names(ids, lookup):
    """{"<id>": name} of the ids this server has a name for (pwd.getpwuid, grp.getgrgid)."""
    names = {}
    for number in sorted(ids):
        with contextlib.suppress(KeyError):
            names[str(number)] = lookup(number)[0]
    return names


def local_id(lookup):
    def find(name):
        try:
            return lookup(name)[2]
        except KeyError:
            return None

    return find


def restore_owners(path, files, site):
    """After restic restored a tree with the numeric owners of the server it was backed up on: each entry given the
    ids this server has for the same names (lchown: links are changed, never followed), the site's own user and
    group being this server's site user and group. A manifest without owners (an older backup) changes nothing."""
    if "users" not in files:
        return
    users = plan.owner_map(files["users"], local_id(pwd.getpwnam), {files["site_user"]: site["system_user"]})
    groups = plan.owner_map(files["groups"], local_id(grp.getgrnam), {files["site_group"]: site["system_group"]})
    if not (users or groups):
        return
    for entry in walk_entries(path):
        found = os.lstat(entry)
        uid, gid = users.get(found.st_uid, found.st_uid), groups.get(found.st_gid, found.st_gid)
        if (uid, gid) != (found.st_uid, found.st_gid):
            os.lchown(entry, uid, gid)
            if stat.S_ISREG(found.st_mode) and found.st_mode & 0o6000:
                os.chmod(entry, stat.S_IMODE(found.st_mode))  # chown clears setuid and setgid: put them back


def systemctl(action, unit):
    result = subprocess.run(["systemctl", action, unit], capture_output=True, check=False)
    if result.returncode != 0:
        raise Failure("systemctl %s %s failed: %s" % (action, unit, last(result.stderr)))


def move(source, destination):
    """mv, which renames, or copies where a rename cannot (a folder of a container's image layer)."""
    result = subprocess.run(["mv", "-T", source, destination], capture_output=True, check=False)
    if result.returncode != 0:
        raise Failure("mv %s %s failed: %s" % (source, destination, last(result.stderr)))


def wordpress_version(root):
    try:
        with open(os.path.join(root, "public", "wp-includes", "version.php")) as stream:
            return plan.wordpress_version(stream.read())
    except OSError:
        return None


def dump(domain, result_path, database):
    """Stream mariadb-dump to stdout for restic, inspecting it; fail (no snapshot) if it did not complete."""
    inspector = plan.DumpInspector()
    process = subprocess.Popen(
        ["mariadb-dump", *DUMP_OPTIONS, database], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out = sys.stdout.buffer
    consistent = None
    for line in process.stdout:
        inspector.feed(line)
        if consistent is None and inspector.binlog_file is not None:
            consistent = time.time()  # the dump's consistent snapshot was taken before it printed its position
        out.write(line)
    out.flush()
    err = process.stderr.read()
    result = inspector.result()
    result["consistent"] = consistent
    result["problems"] = plan.dump_problems(result, process.wait())
    if result["problems"] and err.strip():
        result["problems"].append(last(err))
    plan.write_atomic(result_path, plan.to_json(result), 0o600)
    if result["problems"]:
        sys.stderr.write("wpzo-backup: %s: %s\n" % (domain, "; ".join(result["problems"])))
        return 1
    return 0


def lower_priority():
    """Idle IO and the lowest CPU priority, also when a playbook starts the runner (the timers' units set both)."""
    os.setpriority(os.PRIO_PROCESS, 0, 19)
    subprocess.run(["ionice", "-c", "3", "-p", str(os.getpid())], check=False)


@contextlib.contextmanager
def locked(domain):
    """Hold the site's lock while a command works on it: one at a time per site, whatever started it."""
    os.makedirs("/run/wpzo-backup", mode=0o700, exist_ok=True)
    with open("/run/wpzo-backup/%s.lock" % domain, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def point_in_time(text):
    """--at and --before, read once as the arguments are: a time that is not one ends the command as argparse's own
    usage errors do (exit 2), before any site is touched."""
    try:
        return plan.parse_time(text)
    except plan.PlanError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def main(argv):
    parser = argparse.ArgumentParser(prog="wpzo-backup")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("init", "run", "check", "restore"):
        command = sub.add_parser(name)
        command.add_argument("--site", action="append", default=[])
        command.add_argument("--sites-from-stdin", action="store_true")
    sub.choices["run"].add_argument("--reason", default="scheduled")
    sub.choices["run"].add_argument("--time", help="stamp the snapshots with this time (tests of the retention)")
    sub.choices["init"].add_argument("--server", action="store_true", help="the server repository too")
    point = sub.choices["restore"].add_mutually_exclusive_group()
    point.add_argument(
        "--at", type=point_in_time, help="the database as it was at this time (Unix seconds or YYYY-MM-DD HH:MM:SS UTC)"
    )
    point.add_argument("--gtid", help="the database as it was right after this transaction (a GTID list)")
    for name in plan.SERVER_JOBS:
        sub.add_parser(name)
    extract_parser = sub.add_parser("extract-physical")
    extract_parser.add_argument("--to", required=True, help="an empty folder on the disk MariaDB's data goes to")
    restore_physical_parser = sub.add_parser("restore-physical")
    restore_physical_parser.add_argument("--force", action="store_true")
    restore_physical_parser.add_argument("--no-safety-backup", action="store_true")
    for command in (extract_parser, restore_physical_parser, sub.choices["restore"]):
        chosen = command.add_mutually_exclusive_group()
        chosen.add_argument("--snapshot", default="latest")
        chosen.add_argument(
            "--before", type=point_in_time, help="the newest backup taken at or before this time (as --at)"
        )
    sub.choices["restore"].add_argument("--parts", choices=["both", "database", "files"], default="both")
    sub.choices["restore"].add_argument("--force", action="store_true")
    sub.choices["restore"].add_argument("--no-safety-backup", action="store_true")
    sub.choices["restore"].add_argument("--target", help="restore from this target (a copy) instead of the primary")
    restic_parser = sub.add_parser("restic")
    restic_repository = restic_parser.add_mutually_exclusive_group(required=True)
    restic_repository.add_argument("--site")
    restic_repository.add_argument("--server", action="store_true", help="the server repository")
    restic_parser.add_argument("--target")
    restic_parser.add_argument("args", nargs=argparse.REMAINDER)
    dump_parser = sub.add_parser("dump")
    dump_parser.add_argument("domain")
    dump_parser.add_argument("database")
    dump_parser.add_argument("result")
    args = parser.parse_args(argv)

    if args.command == "dump":
        return dump(args.domain, args.result, args.database)
    config = load(CONFIG)
    listed = load(SITES)["sites"] if os.path.exists(SITES) else []
    # Scheduled runs take the listed sites that are present; a removal's final backup gives its sites on stdin.
    from_stdin = getattr(args, "sites_from_stdin", False)
    sites = json.load(sys.stdin) if from_stdin else listed
    if getattr(args, "time", None):
        config["time"] = args.time
    runner = Runner(config, sites, [site["domain"] for site in listed if site["state"] == "present"])
    # restic and restore take a target by name (the primary by default).
    target = runner.target_named(args.target) if getattr(args, "target", None) else runner.primary
    if target is None:
        sys.stderr.write("wpzo-backup: unknown target: %s\n" % args.target)
        return 2
    if args.command == "restic":
        restic_args = args.args[1:] if args.args[:1] == ["--"] else args.args
        command = [config["restic"], *plan.restic_options(target), *restic_args]
        os.execve(command[0], command, runner.repo_env(target, SERVER if args.server else args.site))
    if args.command in plan.SERVER_JOBS or args.command in ("extract-physical", "restore-physical"):
        return server_job(runner, args)
    unknown = sorted(set(args.site) - set(runner.sites))
    if unknown:
        sys.stderr.write("wpzo-backup: unknown sites: %s\n" % ", ".join(unknown))
        return 2
    chosen = [runner.sites[d] for d in (args.site or sorted(runner.sites))]
    if not (args.site or from_stdin) and args.command != "init":
        chosen = [site for site in chosen if site["state"] == "present"]
    if args.command == "init":
        try:
            domains = [site["domain"] for site in chosen] + ([SERVER] if args.server else [])
            print(json.dumps({"initialised": runner.init(domains)}))
        except Failure as error:
            sys.stderr.write("wpzo-backup: init failed: %s\n" % error)
            return 1
        return 0

    def one(site):
        with locked(site["domain"]):
            started = time.time()
            try:
                if args.command == "run":
                    result = runner.backup(site, args.reason)
                    runner.record(runner.status_path(site["domain"]), started, result=result)
                    message = "backed up in %.1f s, %d bytes added (%s)" % (
                        time.time() - started,
                        result["added_bytes"],
                        result["run"],
                    )
                elif args.command == "check":
                    result = runner.check(site)
                    message = "checked, drill %s" % result.get("drill", "skipped (no database)")
                elif args.at is not None or args.gtid:
                    result = runner.restore_to_point(site, args.at, args.gtid, args.force, not args.no_safety_backup)
                    message = ("restored %s to %s" if result["changed"] else "already restored from %s to %s") % (
                        result["run"],
                        args.gtid or plan.utc_text(args.at),
                    )
                else:
                    parts = {"both": ["db", "files"], "database": ["db"], "files": ["files"]}[args.parts]
                    result = runner.restore(
                        site, args.snapshot, parts, args.force, not args.no_safety_backup, target, args.before
                    )
                    message = (
                        "restored %s from %s" % (result["run"], result["target"])
                        if result["changed"]
                        else "already restored from %s" % result["run"]
                    )
                print("wpzo-backup: %s: %s" % (site["domain"], message), file=sys.stderr)
                return site["domain"], result, None
            except (Failure, plan.PlanError, OSError, subprocess.SubprocessError, ValueError) as error:
                if args.command == "run":
                    runner.record(runner.status_path(site["domain"]), started, error=str(error))
                print("wpzo-backup: %s: %s failed: %s" % (site["domain"], args.command, error), file=sys.stderr)
                return site["domain"], None, str(error)

    lower_priority()
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, config["parallel"])) as pool:
        outcomes = list(pool.map(one, chosen))
    results = {domain: result for domain, result, error in outcomes if result}
    errors = {domain: error for domain, result, error in outcomes if error}
    print(json.dumps({"results": results, "errors": errors}))
    return 1 if errors else 0


def server_job(runner, args):
    """binlogs, physical (recorded in the status and metrics as jobs) and extract-physical, under the server's lock."""
    lower_priority()
    started = time.time()
    with locked(SERVER):
        try:
            if args.command == "binlogs":
                result = runner.ship_binlogs()
                message = "%d binary logs shipped" % result["shipped"]
            elif args.command == "physical":
                result = runner.physical()
                message = "physical backup %s saved in %.1f s, %d bytes added" % (
                    result["run"],
                    time.time() - started,
                    result["added_bytes"],
                )
            elif args.command == "restore-physical":
                result = runner.restore_physical(args.snapshot, args.before, args.force, not args.no_safety_backup)
                message = "MariaDB %s the physical backup %s" % (
                    "restored from" if result["changed"] else "already restored from",
                    result["snapshot"][:8],
                )
                if result["changed"]:
                    message += " in %.1f s, its data before kept in %s" % (time.time() - started, result["kept"])
            else:
                result = runner.extract_physical(runner.physical_snapshot(args.snapshot, args.before), args.to)
                message = "physical backup %s prepared in %s in %.1f s" % (
                    result["snapshot"][:8],
                    args.to,
                    time.time() - started,
                )
        except (Failure, plan.PlanError, OSError, subprocess.SubprocessError, ValueError) as error:
            if args.command in plan.SERVER_JOBS:
                runner.record(runner.status_path(job=args.command), started, error=str(error))
            print("wpzo-backup: %s failed: %s" % (args.command, error), file=sys.stderr)
            return 1
    if args.command in plan.SERVER_JOBS:
        runner.record(runner.status_path(job=args.command), started, result=result)
    print("wpzo-backup: %s" % message, file=sys.stderr)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
