# Managed by wpzo.hosting.backups - do not edit.
"""wpzo-backup: the backup runner of wpzo.hosting, run by systemd timers and by playbooks/backup.yml and restore.yml.

  wpzo-backup init [--sites-from-stdin]           initialise the repositories that do not exist (never re-initialise)
  wpzo-backup run [--site D]... [--reason R]      back up sites: dump, files, manifest, verify, copy, then retention
  wpzo-backup check [--site D]...                 restic check --read-data-subset, then a restore drill of each dump
  wpzo-backup restore --site D [--snapshot ID] [--parts both|database|files] [--target T] [--force]
  wpzo-backup restic --site D [--target T] -- ARGS...   restic on the site's repository (the primary by default)
  wpzo-backup dump D DATABASE RESULT              (restic's --stdin-from-command) mariadb-dump, inspected as it streams

Its pure logic is backup_plan.py beside it (plugins/module_utils/backup_plan.py of the collection). Any failure exits
non-zero with one line per site naming the reason, on stderr (the journal).
"""

import argparse
import concurrent.futures
import contextlib
import fcntl
import json
import os
import signal
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
        manifest["files"] = {"paths": paths, "bytes": tree_bytes(paths)}
        manifest["wordpress_version"] = wordpress_version(site["root"])
        manifest_path = os.path.join(state, "manifest.json")
        plan.write_atomic(manifest_path, plan.to_json(manifest), 0o600)
        args = ["backup", "--exclude-caches", *common]
        for pattern in self.config["excludes"]:
            args += ["--exclude", os.path.join(site["root"], pattern)]
        for tag in plan.tags(domain, self.config["server"], run, reason, "files"):
            args += ["--tag", tag]
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
    def restore(self, site, wanted, parts, force, safety, target):
        """Restore a site's run from a target: the primary, or a copy (the same runs, with the same tags)."""
        domain = site["domain"]
        needed = [part for part in ("db", "files") if part in parts]
        run = plan.select_run(self.snapshots(target, domain, "site=" + domain), wanted, needed)
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
        if "db" in needed:
            database = site["database"]
            names = tables(database, base_only=False)
            if names:
                drop = "SET FOREIGN_KEY_CHECKS=0; DROP TABLE IF EXISTS " + ", ".join(map(plan.sql_identifier, names))
                mariadb(["--database=" + database, "-e", drop])
            self.load_dump(target, domain, run["parts"]["db"]["id"], database)
            problems = plan.row_count_problems(manifest["database"]["rows"], row_counts(database))
            if problems:
                raise Failure("restored database differs from the manifest: %s" % "; ".join(problems))
        self.purge_cache(site)
        plan.write_atomic(marker, plan.to_json(dict(done, time=time.time())), 0o600)
        return result

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

    # status -----------------------------------------------------------------------------------------------------
    def record(self, domain, started, error=None, result=None):
        path = os.path.join(self.site_dir(domain), "status.json")
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

    def write_metrics(self):
        directory = self.config.get("textfile_dir")
        if not directory or not os.path.isdir(directory):
            return
        statuses = {}
        for domain in self.monitored:
            path = os.path.join(self.config["state_dir"], domain, "status.json")
            if os.path.exists(path):
                statuses[domain] = load(path)
        plan.write_atomic(os.path.join(directory, "wpzo_backup.prom"), plan.render_metrics(statuses))


def restic_summary(out):
    for line in reversed(out.splitlines()):
        message = json.loads(line)
        if message.get("message_type") == "summary":
            return message
    raise Failure("restic reported no summary")


def last(err):
    lines = [line for line in (err or b"").decode("utf-8", "replace").splitlines() if line.strip()]
    return lines[-1] if lines else "no message"


def mariadb(args):
    result = subprocess.run(["mariadb", "--batch", *args], capture_output=True, check=False)
    if result.returncode != 0:
        raise Failure("mariadb: %s" % last(result.stderr))
    return result.stdout.decode()


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


def tree_bytes(paths):
    total = 0
    for path in paths:
        for directory, _dirs, files in os.walk(path):
            for name in files:
                with contextlib.suppress(OSError):
                    total += os.lstat(os.path.join(directory, name)).st_size
    return total


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
    for line in process.stdout:
        inspector.feed(line)
        out.write(line)
    out.flush()
    err = process.stderr.read()
    result = inspector.result()
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


def main(argv):
    parser = argparse.ArgumentParser(prog="wpzo-backup")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("init", "run", "check", "restore"):
        command = sub.add_parser(name)
        command.add_argument("--site", action="append", default=[])
        command.add_argument("--sites-from-stdin", action="store_true")
    sub.choices["run"].add_argument("--reason", default="scheduled")
    sub.choices["run"].add_argument("--time", help="stamp the snapshots with this time (tests of the retention)")
    sub.choices["restore"].add_argument("--snapshot", default="latest")
    sub.choices["restore"].add_argument("--parts", choices=["both", "database", "files"], default="both")
    sub.choices["restore"].add_argument("--force", action="store_true")
    sub.choices["restore"].add_argument("--no-safety-backup", action="store_true")
    sub.choices["restore"].add_argument("--target", help="restore from this target (a copy) instead of the primary")
    restic_parser = sub.add_parser("restic")
    restic_parser.add_argument("--site", required=True)
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
        os.execve(command[0], command, runner.repo_env(target, args.site))
    unknown = sorted(set(args.site) - set(runner.sites))
    if unknown:
        sys.stderr.write("wpzo-backup: unknown sites: %s\n" % ", ".join(unknown))
        return 2
    chosen = [runner.sites[d] for d in (args.site or sorted(runner.sites))]
    if not (args.site or from_stdin) and args.command != "init":
        chosen = [site for site in chosen if site["state"] == "present"]
    if args.command == "init":
        try:
            print(json.dumps({"initialised": runner.init([site["domain"] for site in chosen])}))
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
                    runner.record(site["domain"], started, result=result)
                    message = "backed up in %.1f s, %d bytes added (%s)" % (
                        time.time() - started,
                        result["added_bytes"],
                        result["run"],
                    )
                elif args.command == "check":
                    result = runner.check(site)
                    message = "checked, drill %s" % result.get("drill", "skipped (no database)")
                else:
                    parts = {"both": ["db", "files"], "database": ["db"], "files": ["files"]}[args.parts]
                    result = runner.restore(site, args.snapshot, parts, args.force, not args.no_safety_backup, target)
                    message = (
                        "restored %s from %s" % (result["run"], result["target"])
                        if result["changed"]
                        else "already restored from %s" % result["run"]
                    )
                print("wpzo-backup: %s: %s" % (site["domain"], message), file=sys.stderr)
                return site["domain"], result, None
            except (Failure, plan.PlanError, OSError, subprocess.SubprocessError, ValueError) as error:
                if args.command == "run":
                    runner.record(site["domain"], started, error=str(error))
                print("wpzo-backup: %s: %s failed: %s" % (site["domain"], args.command, error), file=sys.stderr)
                return site["domain"], None, str(error)

    lower_priority()
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, config["parallel"])) as pool:
        outcomes = list(pool.map(one, chosen))
    results = {domain: result for domain, result, error in outcomes if result}
    errors = {domain: error for domain, result, error in outcomes if error}
    print(json.dumps({"results": results, "errors": errors}))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
