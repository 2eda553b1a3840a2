# -*- coding: utf-8 -*-
# Copyright: wpzo.hosting developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure logic behind the ``wpzo.hosting.mariadb_sites`` module.

Pipeline (each step is a small function that unit tests call directly):

1. ``validate_sites(sites, charset, collation)`` -> (normalised sites, errors); every problem at once, each
   naming the site and the field. Names come from ``site_names.derive(normalise_domain(domain))``; a password
   is replaced by its ``mysql_native_password`` hash right here and never kept.
2. ``read_actual(cursor, sites)`` -> ``Actual``: four queries whatever the number of sites.
3. ``plan(sites, actual, charset, collation, dump_dir)`` -> ``Plan``: per site, the SQL steps (statement text
   plus parameters, never a password), whether a dump comes first, before/after views for the diff.
4. ``apply_plan(cursor, plan, dumper)`` -> what was done; a site's steps are undone if one of them fails.

``compute()`` ties the steps together for the module (it reads and plans, and returns a ``module_shell.Change``
whose ``apply`` runs the plan); ``dump_database()`` writes the dump before a removal.
Code here must stay Python 3.8 compatible (it runs on the managed host).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import datetime
import functools
import gzip
import hashlib
import json
import os
import re
import subprocess
import tempfile

from ansible_collections.wpzo.hosting.plugins.module_utils import module_shell, site_names
from ansible_collections.wpzo.hosting.plugins.module_utils.errors import ApplyError, ModuleError, ValidationError

STATES = ("present", "absent")
DEFAULT_HOSTS = ["localhost"]
# A site's user may hold this many connections at once: one site cannot take every connection of the server.
DEFAULT_MAX_USER_CONNECTIONS = 30
MAX_USER_CONNECTIONS_LIMIT = 2147483647
DEFAULT_CHARSET = "utf8mb4"
DEFAULT_COLLATION = "utf8mb4_unicode_ci"
DEFAULT_SOCKET = "/run/mysqld/mysqld.sock"
DEFAULT_DUMP_DIR = "/var/lib/wpzo/backups/mariadb"
DEFAULT_DUMP_BINARY = "/usr/bin/mariadb-dump"

# The module's options: the one place their types and defaults are written.
SITE_SPEC = dict(
    domain=dict(type="str", required=True),
    state=dict(type="str", choices=list(STATES), default="present"),
    purge=dict(type="bool", default=False),
    password=dict(type="str", no_log=True),
    hosts=dict(type="list", elements="str", default=DEFAULT_HOSTS),
    max_user_connections=dict(type="int", default=DEFAULT_MAX_USER_CONNECTIONS),
)
ARGUMENT_SPEC = dict(
    sites=dict(type="list", elements="dict", required=True, options=SITE_SPEC),
    validate_only=dict(type="bool", default=False),
    charset=dict(type="str", default=DEFAULT_CHARSET),
    collation=dict(type="str", default=DEFAULT_COLLATION),
    login_unix_socket=dict(type="path", default=DEFAULT_SOCKET),
    login_user=dict(type="str", default="root"),
    dump_dir=dict(type="path", default=DEFAULT_DUMP_DIR),
    dump_binary=dict(type="path", default=DEFAULT_DUMP_BINARY),
)
SITE_DEFAULTS = module_shell.defaults(SITE_SPEC)

NATIVE_PLUGIN = "mysql_native_password"
DATABASE_MAX = site_names.DATABASE_MAX  # 64
DATABASE_USER_MAX = site_names.DATABASE_USER_MAX  # 80
HOST_MAX = 255
NAME_RE = re.compile(r"[a-z][a-z0-9_]*")
# Host part of an account: names, IPv4/IPv6 addresses, netmasks (10.0.0.0/255.255.255.0) and the % / _ wildcards.
HOST_RE = re.compile(r"[a-z0-9._:%/-]+")
CHARSET_RE = re.compile(r"[a-z0-9_]{1,64}")

HIDDEN = "<hidden>"
HIDDEN_CHANGED = "<hidden, changed>"
DUMP_COMPLETE = b"-- Dump completed"
DUMP_SUFFIX = ".sql.gz"


class DumpError(ApplyError):
    """The dump before a removal failed; nothing was removed."""


# --- names, hashes and quoting ---------------------------------------------------------------------------
def native_password_hash(password):
    """The ``mysql_native_password`` hash MariaDB stores: ``'*' + upper(hex(sha1(sha1(password))))``."""
    # SHA-1 is the server's own scheme for this plugin; the hash is compared, never used for anything else.
    inner = hashlib.sha1(password.encode("utf-8")).digest()  # noqa: S324
    return "*" + hashlib.sha1(inner).hexdigest().upper()  # noqa: S324


def quote_identifier(name):
    """A back-quoted identifier (a back-quote inside is doubled)."""
    return "`" + name.replace("`", "``") + "`"


def grant_pattern(database):
    """The database part of a GRANT matching exactly ``database``: ``_`` and ``%`` are wildcards there.

    ``GRANT ... ON `wp_a_b`.*`` would also grant ``wp_aXb``; ``wp\\_a\\_b`` grants that one database only.
    """
    return database.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%")


def _sql_identifier(name):
    """A quoted identifier to put into a statement that also takes %s parameters (% doubled)."""
    return quote_identifier(name).replace("%", "%%")


def _placeholders(count):
    return ", ".join(["%s"] * count)


def site_label(raw, index):
    return "site %r (sites[%d])" % (raw.get("domain") or "?", index)


# --- validation ------------------------------------------------------------------------------------------
def validate_settings(charset, collation):
    errors = []
    if not CHARSET_RE.fullmatch(charset):
        errors.append("charset: %r is not a character set name" % (charset,))
    if not CHARSET_RE.fullmatch(collation):
        errors.append("collation: %r is not a collation name" % (collation,))
    elif not collation.startswith(charset + "_"):
        errors.append("collation: %r does not belong to character set %r" % (collation, charset))
    return errors


def validate_sites(sites, require_passwords=True):
    """Normalise and validate all sites. Returns ``(normalised, errors)``; ``errors`` lists every problem.

    A normalised site: ``index, label, domain, state, purge, hosts, max_user_connections, password_hash,
    database, database_user``.
    Passwords are hashed here and not kept. Nothing is normalised for an entry that has errors.
    """
    normalised, errors, seen = [], [], {}
    for index, raw in enumerate(sites):
        label = site_label(raw, index)
        site = dict(SITE_DEFAULTS)
        site.update((key, value) for key, value in raw.items() if value is not None)
        problems = []
        err = functools.partial(_add_problem, problems, label)

        try:
            domain = site_names.normalise_domain(site.get("domain"))
        except ValueError as exc:
            err("domain", str(exc))
            domain = None
        hosts = _validate_hosts(site["hosts"], err)
        limit = site["max_user_connections"]
        if not 0 <= limit <= MAX_USER_CONNECTIONS_LIMIT:
            err(
                "max_user_connections",
                "must be an integer from 0 (only the server's max_user_connections) to %d, not %r"
                % (MAX_USER_CONNECTIONS_LIMIT, limit),
            )
        password_hash = None
        if site["state"] == "present":
            password = site["password"]
            if password is None or password == "":
                if require_passwords:
                    err("password", "required when state is present (give one, or use the credential lookup)")
            else:
                password_hash = native_password_hash(password)
            if not hosts:
                err("hosts", "needs at least one host when state is present")
        names = None
        if domain is not None:
            names = site_names.derive(domain)
            for field, limit in (("database", DATABASE_MAX), ("database_user", DATABASE_USER_MAX)):
                value = names[field]
                if len(value) > limit:
                    err(field, "%r is longer than MariaDB's %d characters" % (value, limit))
                elif not NAME_RE.fullmatch(value):
                    err(field, "%r is not a valid name (a-z, 0-9 and _, starting with a letter)" % value)
            if len(grant_pattern(names["database"])) > DATABASE_MAX:
                err(
                    "database", "%r is longer than %d characters as GRANT spells it" % (names["database"], DATABASE_MAX)
                )
            if domain in seen:
                err("domain", "%s is listed twice, also as sites[%d]" % (domain, seen[domain]))
            else:
                seen[domain] = index
        errors.extend(problems)
        if problems:
            continue
        normalised.append(
            {
                "index": index,
                "label": label,
                "domain": domain,
                "state": site["state"],
                "purge": site["purge"],
                "hosts": hosts,
                "max_user_connections": site["max_user_connections"],
                "password_hash": password_hash,
                "database": names["database"],
                "database_user": names["database_user"],
            }
        )
    # Two different domains deriving one database or user name: the check every role uses (site_names).
    derived = [
        dict(_padding(site), domain=site["domain"], database=site["database"], database_user=site["database_user"])
        for site in normalised
    ]
    for problem in site_names.collisions(derived):
        if problem.startswith(("database ", "database_user ")):
            errors.append("sites: %s; the sites need distinct names" % problem)
    return normalised, errors


def _add_problem(problems, label, field, message):
    problems.append("%s: %s: %s" % (label, field, message))


def _padding(entry):
    """Unique filler for the fields of site_names.collisions() this module does not manage."""
    return dict(
        (field, "%s:%s" % (field, entry["domain"])) for field in ("system_user", "redis_user", "php_socket", "root")
    )


def _validate_hosts(hosts, err):
    result = []
    for position, host in enumerate(hosts):
        if not host.strip():
            err("hosts[%d]" % position, "must be a non-empty string")
            continue
        value = host.strip().lower()
        if len(value) > HOST_MAX or not HOST_RE.fullmatch(value):
            err("hosts[%d]" % position, "%r is not a host name, address, netmask or pattern" % host)
            continue
        if value not in result:
            result.append(value)
    return result


def desired_state(sites, charset=DEFAULT_CHARSET, collation=DEFAULT_COLLATION, require_passwords=True):
    """Validate everything; return the normalised sites or raise ValidationError naming every problem."""
    normalised, errors = validate_sites(sites, require_passwords)
    errors = validate_settings(charset, collation) + errors
    if errors:
        raise ValidationError(
            "invalid sites, nothing was changed (%d problem(s)): %s" % (len(errors), "; ".join(errors)), errors
        )
    return normalised


# --- reading ---------------------------------------------------------------------------------------------
Account = collections.namedtuple("Account", "plugin auth access auth_or max_user_connections", defaults=(0,))

# The four reading queries. Only "%s" placeholders are put into their IN (...) lists; names travel as parameters.
SCHEMATA_SQL = (
    "SELECT SCHEMA_NAME, DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA "
    "WHERE SCHEMA_NAME IN (%s)"
)
ACCOUNTS_SQL = "SELECT User, Host, Priv FROM mysql.global_priv WHERE User IN (%s)"
DB_GRANTS_SQL = "SELECT * FROM mysql.db WHERE User IN (%s)"
OTHER_GRANTS_SQL = (
    "SELECT User, Host, Db FROM mysql.tables_priv WHERE User IN (%s) "
    "UNION SELECT User, Host, Db FROM mysql.procs_priv WHERE User IN (%s)"
)


class Actual(object):
    """What the server has for the sites' databases and users."""

    def __init__(self, databases=None, accounts=None, db_grants=None, other_grants=None):
        self.databases = databases or {}  # name -> (charset, collation)
        self.accounts = accounts or {}  # user -> {host: Account}
        self.db_grants = db_grants or {}  # (user, host) -> {db pattern: (all privileges, grant option)}
        self.other_grants = other_grants or {}  # (user, host) -> sorted table/routine grant databases


def _text(value):
    return value.decode("utf-8") if isinstance(value, bytes) else value


def read_actual(cursor, sites):
    """Read the state of every site's database and user in at most four queries."""
    actual = Actual()
    databases = sorted(set(site["database"] for site in sites))
    users = sorted(set(site["database_user"] for site in sites))
    if databases:
        cursor.execute(SCHEMATA_SQL % _placeholders(len(databases)), tuple(databases))
        for name, charset, collation in cursor.fetchall():
            actual.databases[_text(name)] = (_text(charset), _text(collation))
    if not users:
        return actual
    in_users = _placeholders(len(users))
    cursor.execute(ACCOUNTS_SQL % in_users, tuple(users))
    for user, host, priv in cursor.fetchall():
        try:
            data = json.loads(_text(priv) or "{}")
        except ValueError:
            data = {}
        account = Account(
            data.get("plugin"),
            data.get("authentication_string"),
            data.get("access", 0),
            "auth_or" in data,
            data.get("max_user_connections", 0),
        )
        actual.accounts.setdefault(_text(user), {})[_text(host).lower()] = account
    cursor.execute(DB_GRANTS_SQL % in_users, tuple(users))
    columns = [column[0] for column in cursor.description]
    for row in cursor.fetchall():
        record = dict((columns[position], _text(value)) for position, value in enumerate(row))
        privileges = [name for name in columns if name.endswith("_priv") and name != "Grant_priv"]
        complete = all(record[name] == "Y" for name in privileges)
        key = (record["User"], record["Host"].lower())
        actual.db_grants.setdefault(key, {})[record["Db"]] = (complete, record.get("Grant_priv") == "Y")
    cursor.execute(OTHER_GRANTS_SQL % (in_users, in_users), tuple(users) * 2)
    for user, host, database in cursor.fetchall():
        grants = actual.other_grants.setdefault((_text(user), _text(host).lower()), [])
        grants.append(_text(database))
        grants.sort()
    return actual


# --- planning --------------------------------------------------------------------------------------------
Step = collections.namedtuple("Step", "description sql params undo")
SitePlan = collections.namedtuple("SitePlan", "site action steps dump before after")


class Plan(collections.namedtuple("Plan", "changes unchanged")):
    """``changes``: SitePlans that do something, present sites first; ``unchanged``: the other domains."""

    __slots__ = ()

    @property
    def changed(self):
        return bool(self.changes)

    def domains(self, action):
        return [change.site["domain"] for change in self.changes if change.action == action]


def _step(description, sql, params=None, undo=None):
    return Step(description, sql, tuple(params) if params is not None else None, undo)


def _grant_step(user, host, database):
    sql = "GRANT ALL PRIVILEGES ON %s.* TO %%s@%%s" % _sql_identifier(grant_pattern(database))
    return _step("grant %s@%s all privileges on %s" % (user, host, database), sql, (user, host))


def _limit_step(user, host, limit, undo=None):
    return _step(
        "limit %s@%s to %d connections" % (user, host, limit),
        "ALTER USER %s@%s WITH MAX_USER_CONNECTIONS %s",
        (user, host, limit),
        undo=undo,
    )


def _revoke_step(user, host):
    return _step(
        "revoke every privilege of %s@%s" % (user, host), "REVOKE ALL PRIVILEGES, GRANT OPTION FROM %s@%s", (user, host)
    )


def _drop_user_step(user, host):
    return _step("drop user %s@%s" % (user, host), "DROP USER IF EXISTS %s@%s", (user, host))


def _privileges_view(actual, user, host):
    """What an account may do, for the diff."""
    account = actual.accounts.get(user, {}).get(host)
    view = []
    if account is not None and account.access:
        view.append("global privileges")
    for pattern, (complete, grant_option) in sorted(actual.db_grants.get((user, host), {}).items()):
        text = "%s PRIVILEGES ON %s.*" % ("ALL" if complete else "SOME", quote_identifier(pattern))
        view.append(text + (" WITH GRANT OPTION" if grant_option else ""))
    view.extend(
        "table or routine privileges in %s" % quote_identifier(db) for db in actual.other_grants.get((user, host), [])
    )
    return view or ["USAGE"]


def _database_view(name, charset_collation):
    if charset_collation is None:
        return None
    return {"name": name, "charset": charset_collation[0], "collation": charset_collation[1]}


def _site_before(site, actual):
    user = site["database_user"]
    accounts = {}
    for host, account in sorted(actual.accounts.get(user, {}).items()):
        accounts["%s@%s" % (user, host)] = {
            "authentication": account.plugin if not account.auth_or else "%s or more" % account.plugin,
            "password": HIDDEN,
            "privileges": _privileges_view(actual, user, host),
            "max_user_connections": account.max_user_connections,
        }
    return {"database": _database_view(site["database"], actual.databases.get(site["database"])), "accounts": accounts}


def _plan_present(site, actual, charset, collation):
    database, user, wanted_hash = site["database"], site["database_user"], site["password_hash"]
    limit = site["max_user_connections"]
    pattern = grant_pattern(database)
    steps = []
    current_db = actual.databases.get(database)
    if current_db is None:
        steps.append(
            _step(
                "create database %s" % database,
                "CREATE DATABASE %s CHARACTER SET '%s' COLLATE '%s'" % (quote_identifier(database), charset, collation),
                undo=_step(
                    "drop database %s created by this run" % database,
                    "DROP DATABASE IF EXISTS %s" % quote_identifier(database),
                ),
            )
        )
    elif current_db != (charset, collation):
        steps.append(
            _step(
                "set the default character set of %s" % database,
                "ALTER DATABASE %s CHARACTER SET '%s' COLLATE '%s'" % (quote_identifier(database), charset, collation),
            )
        )
    accounts = actual.accounts.get(user, {})
    after_accounts = {}
    for host in site["hosts"]:
        account = accounts.get(host)
        password_view = HIDDEN
        if account is None:
            steps.append(
                _step(
                    "create user %s@%s" % (user, host),
                    "CREATE USER %s@%s IDENTIFIED BY PASSWORD %s WITH MAX_USER_CONNECTIONS %s",
                    (user, host, wanted_hash, limit),
                    undo=_drop_user_step(user, host),
                )
            )
            steps.append(_grant_step(user, host, database))
        else:
            if account.plugin != NATIVE_PLUGIN or account.auth != wanted_hash or account.auth_or:
                undo = None
                if account.plugin == NATIVE_PLUGIN and not account.auth_or and account.auth:
                    undo = _step(
                        "restore the password of %s@%s" % (user, host),
                        "ALTER USER %s@%s IDENTIFIED BY PASSWORD %s",
                        (user, host, account.auth),
                    )
                steps.append(
                    _step(
                        "set the password of %s@%s" % (user, host),
                        "ALTER USER %s@%s IDENTIFIED BY PASSWORD %s",
                        (user, host, wanted_hash),
                        undo=undo,
                    )
                )
                password_view = HIDDEN_CHANGED
            if account.max_user_connections != limit:
                steps.append(_limit_step(user, host, limit, undo=_limit_step(user, host, account.max_user_connections)))
            grants = actual.db_grants.get((user, host), {})
            extra = (
                account.access != 0
                or bool(actual.other_grants.get((user, host)))
                or any(db != pattern for db in grants)
                or any(grant_option for _complete, grant_option in grants.values())
            )
            if extra:
                steps.append(_revoke_step(user, host))
            if extra or not grants.get(pattern, (False, False))[0]:
                steps.append(_grant_step(user, host, database))
        after_accounts["%s@%s" % (user, host)] = {
            "authentication": NATIVE_PLUGIN,
            "password": password_view,
            "privileges": ["ALL PRIVILEGES ON %s.*" % quote_identifier(pattern)],
            "max_user_connections": limit,
        }
    for host in sorted(set(accounts) - set(site["hosts"])):
        steps.append(_drop_user_step(user, host))
    if not steps:
        return None
    action = "added" if current_db is None and not accounts else "updated"
    after = {"database": {"name": database, "charset": charset, "collation": collation}, "accounts": after_accounts}
    return SitePlan(site, action, steps, False, _site_before(site, actual), after)


def _plan_absent(site, actual, dump_dir):
    database, user = site["database"], site["database_user"]
    steps = [_drop_user_step(user, host) for host in sorted(actual.accounts.get(user, {}))]
    exists = database in actual.databases
    if site["purge"] and exists:
        steps.append(_step("drop database %s" % database, "DROP DATABASE %s" % quote_identifier(database)))
    if not steps:
        return None
    kept = None if site["purge"] else _database_view(database, actual.databases.get(database))
    after = {"database": kept, "accounts": {}}
    if exists:
        after["dump"] = os.path.join(dump_dir, "%s-<UTC timestamp>%s" % (database, DUMP_SUFFIX))
    return SitePlan(site, "removed", steps, exists, _site_before(site, actual), after)


def plan(sites, actual, charset=DEFAULT_CHARSET, collation=DEFAULT_COLLATION, dump_dir=DEFAULT_DUMP_DIR):
    """Compare the normalised sites with the server. Present sites come first, removals after them."""
    changes, removals, unchanged = [], [], []
    for site in sites:
        if site["state"] == "present":
            change = _plan_present(site, actual, charset, collation)
            target = changes
        else:
            change = _plan_absent(site, actual, dump_dir)
            target = removals
        if change is None:
            unchanged.append(site["domain"])
        else:
            target.append(change)
    return Plan(changes + removals, unchanged)


def build_diff(the_plan):
    """Ansible diff of the changed sites; passwords are never shown, only whether they change."""
    return {
        "before": dict((change.site["domain"], change.before) for change in the_plan.changes),
        "after": dict((change.site["domain"], change.after) for change in the_plan.changes),
    }


# --- applying --------------------------------------------------------------------------------------------
def _execute(cursor, step):
    if step.params is None:
        cursor.execute(step.sql)
    else:
        cursor.execute(step.sql, step.params)


def _undo(cursor, applied):
    problems = []
    for step in reversed(applied):
        if step.undo is None:
            continue
        try:
            _execute(cursor, step.undo)
        except Exception as exc:  # report every failed undo, keep going
            problems.append("could not %s: %s" % (step.undo.description, exc))
    return problems


def apply_plan(cursor, the_plan, dumper):
    """Apply the changes site by site; a fresh dump comes before any removal that has a database.

    If a statement fails, the statements already run for that site are undone where possible (a database or
    user it created is dropped, a password it changed restored) and ApplyError says what happened; sites done
    before stay done and are listed in its details.
    """
    done = {"added": [], "updated": [], "removed": [], "dumps": []}
    for change in the_plan.changes:
        site = change.site
        if change.dump:
            try:
                dump = dumper(site["database"])
            except ModuleError as exc:
                exc.msg = "%s: %s" % (site["label"], exc.msg)
                exc.details.update(done)
                raise
            done["dumps"].append(dict(domain=site["domain"], database=site["database"], **dump))
        applied = []
        for step in change.steps:
            try:
                _execute(cursor, step)
            except Exception as exc:
                problems = _undo(cursor, applied)
                msg = "%s: could not %s: %s" % (site["label"], step.description, exc)
                if problems:
                    msg += "; undo incomplete: " + "; ".join(problems)
                elif applied:
                    msg += "; its earlier steps were undone"
                raise ApplyError(msg, problems, done) from exc
            applied.append(step)
        done[change.action].append(site["domain"])
    return done


# --- dumps -----------------------------------------------------------------------------------------------
def dump_command(dump_binary, database, socket, user="root"):
    """The dump of one database: consistent for InnoDB, with routines, triggers and events, self-contained."""
    return [
        dump_binary,
        "--no-defaults",
        "--socket=" + socket,
        "--user=" + user,
        "--single-transaction",
        "--quick",
        "--routines",
        "--triggers",
        "--events",
        "--hex-blob",
        "--max-allowed-packet=1G",
        "--default-character-set=utf8mb4",
        "--databases",
        database,
    ]


def dump_path(dump_dir, database, now):
    return os.path.join(dump_dir, "%s-%s%s" % (database, now.strftime("%Y%m%dT%H%M%SZ"), DUMP_SUFFIX))


def dump_database(database, dump_dir, dump_binary, socket, user="root", now=None, popen=subprocess.Popen):
    """Dump one database to ``<dump_dir>/<database>-<UTC timestamp>.sql.gz`` (0600, directory 0700).

    The dump is streamed through gzip into a hidden temp file and renamed into place only if the dump program
    succeeded and its output is complete (non-empty, ending with ``-- Dump completed``); otherwise DumpError.
    Returns ``{"path", "size"}`` (size: uncompressed bytes).
    """
    now = now or datetime.datetime.now(datetime.timezone.utc)
    final = dump_path(dump_dir, database, now)
    base, counter = final[: -len(DUMP_SUFFIX)], 1
    try:
        if not os.path.isdir(dump_dir):
            os.makedirs(dump_dir, 0o700)
        while os.path.exists(final):
            counter += 1
            final = "%s-%d%s" % (base, counter, DUMP_SUFFIX)
        fd, tmp = tempfile.mkstemp(dir=dump_dir, prefix="." + database + "-", suffix=DUMP_SUFFIX + ".part")
    except OSError as exc:
        raise DumpError(
            "cannot write a dump of %s into %s, nothing was removed: %s" % (database, dump_dir, exc)
        ) from exc
    size, tail, process = 0, b"", None
    try:
        with tempfile.TemporaryFile() as errors, os.fdopen(fd, "wb") as raw:
            try:
                command = dump_command(dump_binary, database, socket, user)
                process = popen(command, stdout=subprocess.PIPE, stderr=errors)
            except OSError as exc:
                raise DumpError("could not run %s to dump %s: %s" % (dump_binary, database, exc)) from exc
            with gzip.GzipFile(filename=os.path.basename(final)[:-3], mode="wb", fileobj=raw, mtime=0) as packed:
                for chunk in iter(lambda: process.stdout.read(1 << 16), b""):
                    packed.write(chunk)
                    size += len(chunk)
                    tail = (tail + chunk)[-512:]
            process.stdout.close()
            rc = process.wait()
            raw.flush()
            os.fsync(raw.fileno())
            errors.seek(0)
            stderr = errors.read().decode("utf-8", "replace").strip()
        if rc != 0 or size == 0 or DUMP_COMPLETE not in tail:
            reason = "exit code %s" % rc if rc != 0 else ("no output" if size == 0 else "the dump is incomplete")
            raise DumpError(
                "dump of %s failed (%s), nothing was removed: %s" % (database, reason, stderr or "no error output"),
                details={"rc": rc, "stderr": stderr},
            )
        os.rename(tmp, final)
    except BaseException:
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return {"path": final, "size": size}


# --- orchestration ---------------------------------------------------------------------------------------
def summary(sites, the_plan=None):
    actions = {}
    if the_plan is not None:
        actions = dict((change.site["domain"], change.action) for change in the_plan.changes)
    result = []
    for site in sites:
        fields = ("domain", "database", "database_user", "hosts", "max_user_connections", "state")
        entry = dict((key, site[key]) for key in fields)
        if the_plan is not None:
            entry["action"] = actions.get(site["domain"], "unchanged")
        result.append(entry)
    return result


def compute(
    sites,
    connect=None,
    dumper=None,
    charset=DEFAULT_CHARSET,
    collation=DEFAULT_COLLATION,
    dump_dir=DEFAULT_DUMP_DIR,
    validate_only=False,
):
    """Validate, read and plan; return a ``module_shell.Change`` whose ``apply`` runs the plan, or raise
    ModuleError.

    ``connect()`` returns a DB-API connection (autocommit), ``dumper(database)`` a ``{"path", "size"}`` dict.
    With ``validate_only`` nothing is read or changed and passwords are not required. The change's ``close``
    closes the connection.
    """
    normalised = desired_state(sites, charset, collation, require_passwords=not validate_only)
    if validate_only:
        return module_shell.Change(module_shell.outcome([], [], [], sites=summary(normalised), dumps=[]), None)
    connection = connect()
    try:
        cursor = connection.cursor()
        actual = read_actual(cursor, normalised)
    except Exception as exc:  # the driver's errors: no change was made yet
        connection.close()
        raise ModuleError("cannot read the sites' databases and users: %s" % exc) from exc
    the_plan = plan(normalised, actual, charset, collation, dump_dir)
    result = module_shell.outcome(
        the_plan.domains("added"),
        the_plan.domains("updated"),
        the_plan.domains("removed"),
        build_diff(the_plan),
        changed=the_plan.changed,
        sites=summary(normalised, the_plan),
        dumps=[],
    )

    def apply():
        try:
            done = apply_plan(cursor, the_plan, dumper)
        except ModuleError as exc:
            # Report what was really done before the failure, not what was planned.
            details = dict(result)
            details.pop("diff")
            details.update(exc.details)
            details["changed"] = any(details.get(key) for key in ("added", "updated", "removed", "dumps"))
            exc.details = details
            raise
        return {"dumps": done["dumps"]}

    return module_shell.Change(result, apply if the_plan.changed else None, connection.close)
