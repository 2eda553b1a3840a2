# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the pure logic behind wpzo.hosting.mariadb_sites, against an in-memory stand-in for MariaDB."""

import datetime
import gzip
import json
import os
import re
import stat

import pytest
from ansible_collections.wpzo.hosting.plugins.module_utils import mariadb_sites as ms
from ansible_collections.wpzo.hosting.plugins.module_utils import module_shell
from ansible_collections.wpzo.hosting.plugins.module_utils.errors import ApplyError, ModuleError, ValidationError
from ansible_collections.wpzo.hosting.plugins.module_utils.mariadb_sites import (
    HIDDEN,
    HIDDEN_CHANGED,
    Account,
    Actual,
    DumpError,
    apply_plan,
    build_diff,
    desired_state,
    dump_database,
    grant_pattern,
    native_password_hash,
    plan,
    read_actual,
    validate_sites,
)

CHANGED = "changed-" + "password"
TRICKY = 'it\'s "q" \\ $HOME %s 100%#;`x'
NOW = datetime.datetime(2025, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
DB_PRIVILEGES = ["Select_priv", "Insert_priv", "Create_priv", "Drop_priv", "Grant_priv", "Delete_history_priv"]


class FakeServer:
    """Just enough of MariaDB for the statements the module sends; records every (sql, params)."""

    def __init__(self):
        self.databases = {}  # name -> (charset, collation)
        self.accounts = {}  # (user, host) -> dict(plugin, authentication_string, access, [auth_or])
        self.db_grants = {}  # (user, host, db pattern) -> {column: "Y"/"N"}
        self.other_grants = []  # (user, host, db)
        self.statements = []
        self.fail_on = None  # regex: a statement matching it raises
        self.closed = 0

    # DB-API surface
    def cursor(self):
        return FakeCursor(self)

    def close(self):
        self.closed += 1

    def writes(self):
        return [sql for sql, _params in self.statements if not sql.startswith("SELECT")]

    def add_site(self, database, user, password, host="localhost", complete=True, limit=30):
        self.databases[database] = ("utf8mb4", "utf8mb4_unicode_ci")
        self.accounts[(user, host)] = {
            "plugin": "mysql_native_password",
            "authentication_string": native_password_hash(password),
            "access": 0,
            "max_user_connections": limit,
        }
        self.grant(user, host, grant_pattern(database), complete)

    def grant(self, user, host, pattern, complete=True):
        self.db_grants[(user, host, pattern)] = dict(
            (column, "N" if column == "Grant_priv" or (not complete and column == "Drop_priv") else "Y")
            for column in DB_PRIVILEGES
        )


class FakeCursor:
    def __init__(self, server):
        self.server = server
        self.rows = []
        self.description = None

    def fetchall(self):
        return self.rows

    def execute(self, sql, params=None):
        server = self.server
        server.statements.append((sql, params))
        if server.fail_on and re.search(server.fail_on, sql):
            raise RuntimeError("simulated failure of: " + sql.split(" ")[0])
        if params is None:
            assert "%s" not in sql, sql
        else:
            assert sql.count("%s") == len(params), (sql, params)
        self.rows, self.description = [], None
        if sql.startswith("SELECT SCHEMA_NAME"):
            self.rows = [(name,) + server.databases[name] for name in params if name in server.databases]
        elif sql.startswith("SELECT User, Host, Priv"):
            self.rows = [
                (user, host, json.dumps(data)) for (user, host), data in server.accounts.items() if user in params
            ]
        elif sql.startswith("SELECT * FROM mysql.db"):
            self.description = [(c,) for c in ["Host", "Db", "User", *DB_PRIVILEGES]]
            self.rows = [
                (host, db, user, *[privs[c] for c in DB_PRIVILEGES])
                for (user, host, db), privs in server.db_grants.items()
                if user in params
            ]
        elif sql.startswith("SELECT User, Host, Db FROM mysql.tables_priv"):
            self.rows = [grant for grant in server.other_grants if grant[0] in params]
        elif m := re.fullmatch(r"CREATE DATABASE `(\w+)` CHARACTER SET '(\w+)' COLLATE '(\w+)'", sql):
            assert m[1] not in server.databases
            server.databases[m[1]] = (m[2], m[3])
        elif m := re.fullmatch(r"ALTER DATABASE `(\w+)` CHARACTER SET '(\w+)' COLLATE '(\w+)'", sql):
            server.databases[m[1]] = (m[2], m[3])
        elif m := re.fullmatch(r"DROP DATABASE (IF EXISTS )?`(\w+)`", sql):
            assert m[1] or m[2] in server.databases
            server.databases.pop(m[2], None)
        elif sql == "CREATE USER %s@%s IDENTIFIED BY PASSWORD %s WITH MAX_USER_CONNECTIONS %s":
            user, host, hashed, limit = params
            assert re.fullmatch(r"\*[0-9A-F]{40}", hashed), "only hashes are sent"
            assert isinstance(limit, int) and (user, host) not in server.accounts
            server.accounts[(user, host)] = {
                "plugin": "mysql_native_password",
                "authentication_string": hashed,
                "access": 0,
                "max_user_connections": limit,
            }
        elif sql == "ALTER USER %s@%s IDENTIFIED BY PASSWORD %s":
            user, host, hashed = params
            assert re.fullmatch(r"\*[0-9A-F]{40}", hashed), "only hashes are sent"
            assert (user, host) in server.accounts
            server.accounts[(user, host)].update(
                {"plugin": "mysql_native_password", "authentication_string": hashed, "access": 0}
            )
            server.accounts[(user, host)].pop("auth_or", None)
        elif sql == "ALTER USER %s@%s WITH MAX_USER_CONNECTIONS %s":
            user, host, limit = params
            assert isinstance(limit, int) and (user, host) in server.accounts
            server.accounts[(user, host)]["max_user_connections"] = limit
        elif sql == "DROP USER IF EXISTS %s@%s":
            server.accounts.pop(params, None)
            for key in [key for key in server.db_grants if key[:2] == params]:
                del server.db_grants[key]
        elif m := re.fullmatch(r"GRANT ALL PRIVILEGES ON `([^`]+)`\.\* TO %s@%s", sql):
            assert params in server.accounts
            server.grant(params[0], params[1], m[1].replace("%%", "%"))
        elif sql == "REVOKE ALL PRIVILEGES, GRANT OPTION FROM %s@%s":
            server.accounts[params]["access"] = 0
            for key in [key for key in server.db_grants if key[:2] == params]:
                del server.db_grants[key]
            server.other_grants = [g for g in server.other_grants if g[:2] != params]
        else:
            raise AssertionError("unexpected statement: %s" % sql)


class Dumper:
    def __init__(self, fail=False):
        self.calls = []
        self.fail = fail

    def __call__(self, database):
        self.calls.append(database)
        if self.fail:
            raise DumpError("dump of %s failed (exit code 2), nothing was removed: disk full" % database)
        return {"path": "/dumps/%s-20250102T030405Z.sql.gz" % database, "size": 1234}


@pytest.fixture
def server():
    return FakeServer()


def reconcile(sites, check_mode=False, want_diff=False, **kwargs):
    """What the module shell makes of compute(): applied unless in check mode, the diff only in diff mode."""
    return module_shell.finish(ms.compute(sites, **kwargs), check_mode, want_diff)


def run(server, sites, dumper=None, **kwargs):
    return reconcile(sites, connect=lambda: server, dumper=dumper or Dumper(), **kwargs)


def site(domain="example.com", **extra):
    data = {"domain": domain, "password": "secret-" + domain}
    data.update(extra)
    return data


# --- hashing, quoting -----------------------------------------------------------------------------------
def test_native_password_hash_matches_mariadb():
    # SELECT PASSWORD('password') on MariaDB 10.11; the second one was checked by logging in with it.
    assert native_password_hash("password") == "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19"
    assert native_password_hash(TRICKY) == "*71264E4C5C2F3D774542BD1734EEB76315026A50"
    assert native_password_hash("pässword") != native_password_hash("passwrd")


def test_grant_pattern_escapes_wildcards():
    assert grant_pattern("wp_a_b_com") == "wp\\_a\\_b\\_com"
    assert grant_pattern("a%b\\c") == "a\\%b\\\\c"


# --- validation -----------------------------------------------------------------------------------------
def test_normalises_and_derives_names():
    sites, errors = validate_sites([site("Bücher.Example.", hosts=["LOCALHOST", "10.0.0.%", "localhost"])])
    assert errors == []
    assert sites[0]["domain"] == "xn--bcher-kva.example"
    assert sites[0]["database"] == sites[0]["database_user"] == "wp_xn_bcher_kva_example"
    assert sites[0]["hosts"] == ["localhost", "10.0.0.%"]
    assert sites[0]["password_hash"] == native_password_hash("secret-Bücher.Example.")
    assert "password" not in sites[0]


def test_bad_domain_names_the_site_and_the_field():
    with pytest.raises(ValidationError) as info:
        desired_state([site("good.example"), site("bad_name!")])
    assert info.value.errors == ["site 'bad_name!' (sites[1]): domain: 'bad_name!' is not a fully qualified host name"]
    assert "site 'bad_name!' (sites[1]): domain:" in info.value.msg
    assert "nothing was changed" in info.value.msg


def test_every_problem_is_reported_at_once():
    _sites, errors = validate_sites(
        [
            site("a-b.com"),
            site("a.b.com"),
            site("dup.example"),
            site("DUP.example."),
            {"domain": "nopass.example"},
            site("hosts.example", hosts=["bad host"]),
            site("nohosts.example", hosts=[]),
        ]
    )
    assert "sites: database 'wp_a_b_com' is derived from both a-b.com and a.b.com; the sites need distinct names" in (
        errors
    )
    assert any(
        e.startswith("sites: database_user 'wp_a_b_com' is derived from both a-b.com and a.b.com") for e in errors
    )
    assert "site 'DUP.example.' (sites[3]): domain: dup.example is listed twice, also as sites[2]" in errors
    assert any(e.startswith("site 'nopass.example' (sites[4]): password: required") for e in errors)
    assert any(e.startswith("site 'hosts.example' (sites[5]): hosts[0]: 'bad host'") for e in errors)
    assert any(e.startswith("site 'nohosts.example' (sites[6]): hosts: needs at least one") for e in errors)
    assert len(errors) == 7, errors


def test_absent_sites_and_validate_only_need_no_password():
    assert validate_sites([{"domain": "gone.example", "state": "absent"}])[1] == []
    assert validate_sites([{"domain": "new.example"}], require_passwords=False)[1] == []


def test_long_domains_stay_within_mariadb_limits():
    domain = ".".join(["a" * 60] * 4)
    sites, errors = validate_sites([site(domain)])
    assert errors == []
    assert len(sites[0]["database"]) <= 64 and len(sites[0]["database_user"]) <= 80


def test_charset_and_collation_are_checked():
    with pytest.raises(ValidationError) as info:
        desired_state([site()], charset="utf8mb4", collation="latin1_swedish_ci")
    assert info.value.errors == ["collation: 'latin1_swedish_ci' does not belong to character set 'utf8mb4'"]
    with pytest.raises(ValidationError):
        desired_state([site()], charset="utf8mb4'; DROP", collation="utf8mb4_bin")


# --- reading and planning -------------------------------------------------------------------------------
def test_new_site_creates_database_user_and_grant_with_parameters(server):
    sites = desired_state([site("a.b.com", password=TRICKY)])
    the_plan = plan(sites, read_actual(server.cursor(), sites))
    (change,) = the_plan.changes
    assert change.action == "added" and change.dump is False
    assert [s.sql for s in change.steps] == [
        "CREATE DATABASE `wp_a_b_com` CHARACTER SET 'utf8mb4' COLLATE 'utf8mb4_unicode_ci'",
        "CREATE USER %s@%s IDENTIFIED BY PASSWORD %s WITH MAX_USER_CONNECTIONS %s",
        "GRANT ALL PRIVILEGES ON `wp\\_a\\_b\\_com`.* TO %s@%s",
    ]
    assert change.steps[1].params == ("wp_a_b_com", "localhost", native_password_hash(TRICKY), 30)


def test_no_password_in_any_statement(server):
    server.add_site("wp_old_example", "wp_old_example", "old")
    sites = [site("new.example", password=TRICKY), site("old.example", password=TRICKY + "2")]
    result = run(server, sites)
    assert result["added"] == ["new.example"] and result["updated"] == ["old.example"]
    text = json.dumps(server.statements)
    assert TRICKY not in text and "it's" not in text
    for sql, _params in server.statements:
        assert "PASSWORD %s" in sql or "*" + native_password_hash(TRICKY)[1:] not in sql


def test_unchanged_sites_take_four_queries_and_no_change(server):
    sites = [site("s%03d.example.com" % i, hosts=["localhost", "10.0.0.%"]) for i in range(200)]
    run(server, sites)
    server.statements.clear()
    result = run(server, sites)
    assert result["changed"] is False
    assert result["added"] == result["updated"] == result["removed"] == result["dumps"] == []
    assert len(server.statements) == 4
    assert {entry["action"] for entry in result["sites"]} == {"unchanged"}


def test_password_change_alters_the_user_only(server):
    run(server, [site()])
    server.statements.clear()
    result = run(server, [site(password=CHANGED)])
    assert result["updated"] == ["example.com"]
    assert server.writes() == ["ALTER USER %s@%s IDENTIFIED BY PASSWORD %s"]
    assert server.accounts[("wp_example_com", "localhost")]["authentication_string"] == native_password_hash(CHANGED)


def test_other_authentication_is_replaced(server):
    run(server, [site()])
    server.accounts[("wp_example_com", "localhost")] = {"plugin": "unix_socket", "access": 0}
    assert run(server, [site()])["updated"] == ["example.com"]
    assert run(server, [site()])["changed"] is False


def test_hosts_are_reconciled(server):
    run(server, [site(hosts=["localhost", "10.0.0.5"])])
    server.statements.clear()
    result = run(server, [site(hosts=["10.0.0.6", "localhost"])])
    assert result["updated"] == ["example.com"]
    assert set(server.accounts) == {("wp_example_com", "localhost"), ("wp_example_com", "10.0.0.6")}
    assert server.writes() == [
        "CREATE USER %s@%s IDENTIFIED BY PASSWORD %s WITH MAX_USER_CONNECTIONS %s",
        "GRANT ALL PRIVILEGES ON `wp\\_example\\_com`.* TO %s@%s",
        "DROP USER IF EXISTS %s@%s",
    ]


def test_privileges_beyond_the_own_database_are_revoked(server):
    server.add_site("wp_example_com", "wp_example_com", "secret-example.com")
    server.grant("wp_example_com", "localhost", "wp_other")
    server.other_grants.append(("wp_example_com", "localhost", "wp_third"))
    server.accounts[("wp_example_com", "localhost")]["access"] = 1
    result = run(server, [site()], want_diff=True)
    assert result["updated"] == ["example.com"]
    before = result["diff"]["before"]["example.com"]["accounts"]["wp_example_com@localhost"]["privileges"]
    assert before == [
        "global privileges",
        "ALL PRIVILEGES ON `wp\\_example\\_com`.*",
        "ALL PRIVILEGES ON `wp_other`.*",
        "table or routine privileges in `wp_third`",
    ]
    assert server.writes() == [
        "REVOKE ALL PRIVILEGES, GRANT OPTION FROM %s@%s",
        "GRANT ALL PRIVILEGES ON `wp\\_example\\_com`.* TO %s@%s",
    ]
    assert list(server.db_grants) == [("wp_example_com", "localhost", "wp\\_example\\_com")]
    assert run(server, [site()])["changed"] is False


def test_an_unescaped_or_partial_grant_is_replaced(server):
    server.add_site("wp_example_com", "wp_example_com", "secret-example.com", complete=False)
    assert run(server, [site()])["updated"] == ["example.com"]
    assert server.writes() == ["GRANT ALL PRIVILEGES ON `wp\\_example\\_com`.* TO %s@%s"]
    server.db_grants.clear()
    server.grant("wp_example_com", "localhost", "wp_example_com")  # matches wp_exampleXcom too
    server.statements.clear()
    run(server, [site()])
    assert server.writes()[0] == "REVOKE ALL PRIVILEGES, GRANT OPTION FROM %s@%s"
    assert list(server.db_grants) == [("wp_example_com", "localhost", "wp\\_example\\_com")]


def test_charset_change_alters_the_database(server):
    run(server, [site()])
    server.databases["wp_example_com"] = ("latin1", "latin1_swedish_ci")
    assert run(server, [site()])["updated"] == ["example.com"]
    assert server.databases["wp_example_com"] == ("utf8mb4", "utf8mb4_unicode_ci")


# --- removal --------------------------------------------------------------------------------------------
def test_removal_dumps_first_then_drops_the_user_and_keeps_the_database(server):
    server.add_site("wp_old_example", "wp_old_example", "x")
    server.add_site("wp_old_example", "wp_old_example", "x", host="10.0.0.5")
    dumper = Dumper()
    result = run(server, [{"domain": "old.example", "state": "absent"}], dumper)
    assert result["removed"] == ["old.example"]
    assert dumper.calls == ["wp_old_example"]
    assert result["dumps"] == [
        {
            "domain": "old.example",
            "database": "wp_old_example",
            "path": "/dumps/wp_old_example-20250102T030405Z.sql.gz",
            "size": 1234,
        }
    ]
    assert "wp_old_example" in server.databases and server.accounts == {}
    again = Dumper()
    assert run(server, [{"domain": "old.example", "state": "absent"}], again)["changed"] is False
    assert again.calls == []


def test_purge_drops_the_database_after_the_dump(server):
    server.add_site("wp_old_example", "wp_old_example", "x")
    result = run(server, [{"domain": "old.example", "state": "absent", "purge": True}])
    assert result["removed"] == ["old.example"] and len(result["dumps"]) == 1
    assert server.writes() == ["DROP USER IF EXISTS %s@%s", "DROP DATABASE `wp_old_example`"]
    assert server.databases == {}


def test_a_failed_dump_removes_nothing(server):
    server.add_site("wp_old_example", "wp_old_example", "x")
    with pytest.raises(DumpError) as info:
        run(server, [site("new.example"), {"domain": "old.example", "state": "absent", "purge": True}], Dumper(True))
    assert info.value.msg.startswith("site 'old.example' (sites[1]): dump of wp_old_example failed")
    assert "wp_old_example" in server.databases and ("wp_old_example", "localhost") in server.accounts
    assert info.value.details["added"] == ["new.example"] and info.value.details["removed"] == []
    assert info.value.details["changed"] is True


def test_removing_a_site_without_database_needs_no_dump(server):
    server.accounts[("wp_old_example", "localhost")] = {"plugin": "mysql_native_password", "access": 0}
    dumper = Dumper()
    assert run(server, [{"domain": "old.example", "state": "absent", "purge": True}], dumper)["removed"] == [
        "old.example"
    ]
    assert dumper.calls == []


def test_removals_come_after_present_sites(server):
    server.add_site("wp_old_example", "wp_old_example", "x")
    sites = desired_state([{"domain": "old.example", "state": "absent"}, site("new.example")])
    the_plan = plan(sites, read_actual(server.cursor(), sites))
    assert [c.site["domain"] for c in the_plan.changes] == ["new.example", "old.example"]


# --- atomicity, check mode, diff ------------------------------------------------------------------------
def test_a_failing_site_is_undone_and_earlier_sites_stay(server):
    server.fail_on = r"^GRANT"
    with pytest.raises(ApplyError) as info:
        run(server, [site("b.example")])
    assert "site 'b.example' (sites[0]): could not grant" in info.value.msg
    assert "earlier steps were undone" in info.value.msg
    assert server.databases == {} and server.accounts == {}
    assert info.value.details["changed"] is False


def test_failed_password_change_restores_the_old_hash(server):
    run(server, [site()])
    old = dict(server.accounts[("wp_example_com", "localhost")])
    server.grant("wp_example_com", "localhost", "wp_other")
    server.fail_on = r"^REVOKE"
    with pytest.raises(ApplyError):
        run(server, [site(password=CHANGED)])
    assert server.accounts[("wp_example_com", "localhost")] == old


def test_check_mode_changes_nothing(server):
    server.add_site("wp_old_example", "wp_old_example", "x")
    dumper = Dumper()
    result = run(server, [site(), {"domain": "old.example", "state": "absent", "purge": True}], dumper, check_mode=True)
    assert result["changed"] is True
    assert result["added"] == ["example.com"] and result["removed"] == ["old.example"]
    assert result["dumps"] == [] and dumper.calls == []
    assert server.writes() == []
    assert server.closed == 1


def test_diff_masks_passwords(server):
    run(server, [site(password=TRICKY)])
    result = run(server, [site(password=TRICKY + "!"), site("new.example")], want_diff=True)
    diff = result["diff"]
    account = diff["after"]["example.com"]["accounts"]["wp_example_com@localhost"]
    assert account["password"] == HIDDEN_CHANGED
    assert diff["before"]["example.com"]["accounts"]["wp_example_com@localhost"]["password"] == HIDDEN
    assert diff["before"]["new.example"] == {"database": None, "accounts": {}}
    text = json.dumps(result)
    for secret in (TRICKY, native_password_hash(TRICKY), native_password_hash(TRICKY + "!"), "secret-new"):
        assert secret not in text


def test_diff_of_a_removal_names_the_dump():
    actual = Actual(
        databases={"wp_old_example": ("utf8mb4", "utf8mb4_unicode_ci")},
        accounts={"wp_old_example": {"localhost": Account("mysql_native_password", "*AB", 0, False)}},
    )
    sites = desired_state([{"domain": "old.example", "state": "absent", "purge": True}])
    diff = build_diff(plan(sites, actual, dump_dir="/d"))
    assert diff["after"]["old.example"] == {
        "database": None,
        "accounts": {},
        "dump": "/d/wp_old_example-<UTC timestamp>.sql.gz",
    }
    assert diff["before"]["old.example"]["accounts"]["wp_old_example@localhost"]["password"] == HIDDEN


def test_validate_only_never_connects():
    def connect():
        raise AssertionError("must not connect")

    result = reconcile([{"domain": "Example.COM"}], connect=connect, validate_only=True)
    assert result["changed"] is False
    assert result["sites"] == [
        {
            "domain": "example.com",
            "database": "wp_example_com",
            "database_user": "wp_example_com",
            "hosts": ["localhost"],
            "max_user_connections": 30,
            "state": "present",
        }
    ]


def test_apply_plan_reports_what_it_did(server):
    sites = desired_state([site("a.example"), site("b.example")])
    done = apply_plan(server.cursor(), plan(sites, read_actual(server.cursor(), sites)), Dumper())
    assert done == {"added": ["a.example", "b.example"], "updated": [], "removed": [], "dumps": []}


# --- dumps ----------------------------------------------------------------------------------------------
def fake_dump_binary(tmp_path, body, rc=0):
    binary = tmp_path / "mariadb-dump"
    binary.write_text('#!/bin/sh\necho "$@" > "%s/args"\n%s\nexit %d\n' % (tmp_path, body, rc))
    binary.chmod(0o755)
    return str(binary)


def test_dump_is_written_complete_private_and_named_by_utc_time(tmp_path):
    binary = fake_dump_binary(
        tmp_path, "printf -- '-- MariaDB dump\\nCREATE TABLE t (i int);\\n-- Dump completed on x\\n'"
    )
    dump_dir = tmp_path / "backups" / "mariadb"
    result = dump_database("wp_old", str(dump_dir), binary, "/run/mysqld/mysqld.sock", now=NOW)
    assert result["path"] == str(dump_dir / "wp_old-20250102T030405Z.sql.gz")
    assert result["size"] > 0
    assert stat.S_IMODE(os.stat(str(dump_dir)).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(result["path"]).st_mode) == 0o600
    with gzip.open(result["path"]) as handle:
        assert b"CREATE TABLE t" in handle.read()
    args = (tmp_path / "args").read_text().split()
    assert args[0] == "--no-defaults" and "--single-transaction" in args and args[-2:] == ["--databases", "wp_old"]
    assert "--socket=/run/mysqld/mysqld.sock" in args
    second = dump_database("wp_old", str(dump_dir), binary, "/run/mysqld/mysqld.sock", now=NOW)
    assert second["path"] == str(dump_dir / "wp_old-20250102T030405Z-2.sql.gz")


@pytest.mark.parametrize(
    ("body", "rc", "reason"),
    [
        ("echo 'Got error: 1044: Access denied' >&2", 2, "exit code 2"),
        ("true", 0, "no output"),
        ("printf -- '-- MariaDB dump\\nCREATE TABLE'", 0, "the dump is incomplete"),
    ],
)
def test_a_failed_or_incomplete_dump_is_an_error_and_leaves_no_file(tmp_path, body, rc, reason):
    binary = fake_dump_binary(tmp_path, body, rc)
    with pytest.raises(DumpError) as info:
        dump_database("wp_old", str(tmp_path / "d"), binary, "/sock", now=NOW)
    assert reason in info.value.msg
    assert os.listdir(str(tmp_path / "d")) == []


def test_unwritable_dump_dir_is_an_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(DumpError) as info:
        dump_database("wp_old", str(blocker / "dumps"), "/bin/true", "/sock", now=NOW)
    assert "cannot write a dump of wp_old" in info.value.msg


def test_read_errors_are_reported_and_the_connection_closed(server):
    server.fail_on = r"^SELECT User, Host, Priv"
    with pytest.raises(ModuleError) as info:
        run(server, [site()])
    assert info.value.msg.startswith("cannot read the sites' databases and users: simulated failure")
    assert server.closed == 1


def test_missing_dump_program_is_an_error(tmp_path):
    with pytest.raises(DumpError) as info:
        dump_database("wp_old", str(tmp_path), str(tmp_path / "missing"), "/sock", now=NOW)
    assert "could not run" in info.value.msg


def test_site_defaults_are_the_argument_spec_ones():
    assert ms.SITE_DEFAULTS == {
        "domain": None,
        "state": "present",
        "purge": False,
        "password": None,
        "hosts": ["localhost"],
        "max_user_connections": 30,
    }


# --- connection limit per site user (issue 12) ------------------------------------------------------------
def test_new_user_gets_the_connection_limit(server):
    run(server, [site("a.example"), site("b.example", max_user_connections=5)])
    assert server.accounts[("wp_a_example", "localhost")]["max_user_connections"] == 30
    assert server.accounts[("wp_b_example", "localhost")]["max_user_connections"] == 5


def test_a_changed_limit_is_altered_once_and_then_idempotent(server):
    server.add_site("wp_example_com", "wp_example_com", "secret-example.com", limit=0)
    result = run(server, [site(max_user_connections=12)], want_diff=True)
    assert result["updated"] == ["example.com"]
    assert server.writes() == ["ALTER USER %s@%s WITH MAX_USER_CONNECTIONS %s"]
    assert server.statements[-1][1] == ("wp_example_com", "localhost", 12)
    diff = result["diff"]
    assert diff["before"]["example.com"]["accounts"]["wp_example_com@localhost"]["max_user_connections"] == 0
    assert diff["after"]["example.com"]["accounts"]["wp_example_com@localhost"]["max_user_connections"] == 12
    server.statements.clear()
    again = run(server, [site(max_user_connections=12)])
    assert again["changed"] is False and server.writes() == []


def test_a_failed_site_restores_the_previous_limit(server):
    server.add_site("wp_example_com", "wp_example_com", "secret-example.com", limit=7, complete=False)
    server.fail_on = r"^GRANT"
    with pytest.raises(ApplyError):
        run(server, [site(max_user_connections=12)])
    assert server.accounts[("wp_example_com", "localhost")]["max_user_connections"] == 7


@pytest.mark.parametrize("bad", [-1, 2**31, None])
def test_a_bad_limit_names_the_site_and_the_field(bad):
    entry = site()
    entry["max_user_connections"] = bad
    if bad is None:  # None means "not given" for every option: the default applies
        assert validate_sites([entry])[0][0]["max_user_connections"] == 30
        return
    _sites, errors = validate_sites([entry])
    assert len(errors) == 1 and errors[0].startswith("site 'example.com' (sites[0]): max_user_connections: must be")


def test_the_site_model_and_the_module_share_the_limit_rules():
    from ansible_collections.wpzo.hosting.plugins.module_utils import site_model

    assert site_model.MAX_USER_CONNECTIONS == ms.MAX_USER_CONNECTIONS_LIMIT
    assert site_model.DEFAULTS["mariadb"]["max_user_connections"] == ms.DEFAULT_MAX_USER_CONNECTIONS


def test_a_database_too_long_once_escaped_is_refused():
    # A name of 64 characters, 20 of them _, is 84 long in GRANT: MariaDB says "Incorrect database name".
    from ansible_collections.wpzo.hosting.plugins.module_utils import site_names

    long_domain = "a-very-long-subdomain-name-for-testing-limits.customer-department.example"
    sites, errors = validate_sites([site(long_domain)])
    assert errors == []
    assert len(grant_pattern(sites[0]["database"])) <= 64
    assert site_names.escaped_length(sites[0]["database"]) == len(grant_pattern(sites[0]["database"]))
