# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the wpzo.hosting.mariadb_sites module shell (main(), argument spec, documentation)."""

import importlib.util
import json
import os

import pytest
from ansible_collections.wpzo.hosting.plugins.module_utils import mariadb_sites as ms
from ansible_collections.wpzo.hosting.plugins.modules import mariadb_sites as module
from module_runner import run_module

TRICKY = 'it\'s "q" \\ $HOME %s 100%#;`x'


def _load_fake_server():
    path = os.path.join(os.path.dirname(__file__), "..", "module_utils", "test_mariadb_sites.py")
    spec = importlib.util.spec_from_file_location("mariadb_sites_fakes", path)
    fakes = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fakes)
    return fakes.FakeServer


FakeServer = _load_fake_server()


class FakePyMySQL:
    """Stands in for the pymysql module: connect() hands out the fake server and records its arguments."""

    class Error(Exception):
        pass

    def __init__(self, server, refuse=False):
        self.server = server
        self.refuse = refuse
        self.connects = []

    def connect(self, **kwargs):
        self.connects.append(kwargs)
        if self.refuse:
            raise self.Error('(2002, "Can\'t connect to local server through socket")')
        return self.server


@pytest.fixture
def server():
    return FakeServer()


@pytest.fixture
def pymysql(monkeypatch, server):
    fake = FakePyMySQL(server)
    monkeypatch.setattr(module, "pymysql", fake)
    return fake


def run(check_mode=False, diff=False, **args):
    params = dict(args)
    return run_module(module.main, params, check_mode, diff)


@pytest.fixture
def result(capsys):
    def parse():
        return json.loads(capsys.readouterr().out)

    return parse


def test_creates_sites_over_one_socket_connection(pymysql, server, result):
    code = run(sites=[{"domain": "a.example", "password": TRICKY}, {"domain": "b.example", "password": "x" * 32}])
    out = result()
    assert code == 0, out
    assert out["changed"] is True
    assert out["added"] == ["a.example", "b.example"]
    assert out["updated"] == out["removed"] == out["dumps"] == []
    assert [entry["database"] for entry in out["sites"]] == ["wp_a_example", "wp_b_example"]
    assert pymysql.connects == [
        {
            "unix_socket": "/run/mysqld/mysqld.sock",
            "user": "root",
            "charset": "utf8mb4",
            "autocommit": True,
            "connect_timeout": 30,
        }
    ]
    assert set(server.databases) == {"wp_a_example", "wp_b_example"}
    assert TRICKY not in json.dumps(out) and TRICKY not in json.dumps(server.statements)


def test_second_run_is_idempotent(pymysql, server, result):
    sites = [{"domain": "a.example", "password": TRICKY}]
    run(sites=sites)
    result()
    run(sites=sites)
    out = result()
    assert out["changed"] is False
    assert out["sites"][0]["action"] == "unchanged"


def test_check_and_diff_mode(pymysql, server, result):
    code = run(check_mode=True, diff=True, sites=[{"domain": "a.example", "password": TRICKY}])
    out = result()
    assert code == 0
    assert out["changed"] is True and out["added"] == ["a.example"]
    assert server.writes() == []
    account = out["diff"]["after"]["a.example"]["accounts"]["wp_a_example@localhost"]
    assert account["password"] == ms.HIDDEN
    assert TRICKY not in json.dumps(out) and ms.native_password_hash(TRICKY) not in json.dumps(out)


def test_invalid_sites_fail_before_connecting(pymysql, result):
    code = run(sites=[{"domain": "good.example", "password": "p"}, {"domain": "bad_name!", "password": "p"}])
    out = result()
    assert code == 1
    assert out["failed"] is True
    assert out["errors"] == ["site 'bad_name!' (sites[1]): domain: 'bad_name!' is not a fully qualified host name"]
    assert "site 'bad_name!' (sites[1]): domain:" in out["msg"]
    assert pymysql.connects == []


def test_validate_only_needs_no_pymysql_and_no_password(monkeypatch, result):
    monkeypatch.setattr(module, "pymysql", None)
    code = run(validate_only=True, sites=[{"domain": "Shop.Example.org"}, {"domain": "x.example", "state": "absent"}])
    out = result()
    assert code == 0, out
    assert out["changed"] is False
    assert [(s["domain"], s["database_user"]) for s in out["sites"]] == [
        ("shop.example.org", "wp_shop_example_org"),
        ("x.example", "wp_x_example"),
    ]


def test_missing_pymysql_is_reported(monkeypatch, result):
    monkeypatch.setattr(module, "pymysql", None)
    code = run(sites=[{"domain": "a.example", "password": "p"}])
    out = result()
    assert code == 1
    assert "PyMySQL" in out["msg"]


def test_connection_failure_is_reported(monkeypatch, server, result):
    monkeypatch.setattr(module, "pymysql", FakePyMySQL(server, refuse=True))
    code = run(sites=[{"domain": "a.example", "password": "p"}])
    out = result()
    assert code == 1
    assert out["msg"].startswith("cannot connect to MariaDB as root through /run/mysqld/mysqld.sock")


def test_removal_reports_the_dump(pymysql, server, result, tmp_path):
    server.add_site("wp_old_example", "wp_old_example", "x")
    binary = tmp_path / "mariadb-dump"
    binary.write_text("#!/bin/sh\nprintf -- '-- dump\\nCREATE TABLE t (i int);\\n-- Dump completed on now\\n'\n")
    binary.chmod(0o755)
    dump_dir = tmp_path / "dumps"
    code = run(
        sites=[{"domain": "old.example", "state": "absent", "purge": True}],
        dump_dir=str(dump_dir),
        dump_binary=str(binary),
    )
    out = result()
    assert code == 0, out
    assert out["removed"] == ["old.example"]
    (dump,) = out["dumps"]
    assert dump["database"] == "wp_old_example" and dump["path"].startswith(str(dump_dir) + "/wp_old_example-")
    assert os.path.exists(dump["path"])
    assert server.databases == {}


def test_failed_dump_fails_and_keeps_the_database(pymysql, server, result, tmp_path):
    server.add_site("wp_old_example", "wp_old_example", "x")
    binary = tmp_path / "mariadb-dump"
    binary.write_text("#!/bin/sh\necho 'mariadb-dump: Got error: 2002' >&2\nexit 2\n")
    binary.chmod(0o755)
    code = run(
        sites=[{"domain": "old.example", "state": "absent", "purge": True}],
        dump_dir=str(tmp_path / "dumps"),
        dump_binary=str(binary),
    )
    out = result()
    assert code == 1
    assert "Got error: 2002" in out["msg"] and "nothing was removed" in out["msg"]
    assert out["rc"] == 2 and out["removed"] == []
    assert "wp_old_example" in server.databases


def test_argument_spec_rejects_unknown_suboption(pymysql, result):
    code = run(sites=[{"domain": "a.example", "password": "p", "colour": "blue"}])
    assert code == 1
    assert "colour" in result()["msg"]


# --- argument spec vs. DOCUMENTATION --------------------------------------------------------------------


def test_password_is_no_log():
    assert ms.SITE_SPEC["password"]["no_log"] is True


@pytest.mark.parametrize(
    "entry, word",
    [
        ({"domain": "a.example", "password": "pw-long-enough", "state": "gone"}, "state"),
        ({"domain": "a.example", "password": "pw-long-enough", "purge": "perhaps"}, "purge"),
        (
            {"domain": "a.example", "password": "pw-long-enough", "max_user_connections": "thirty"},
            "max_user_connections",
        ),
        ({"domain": "a.example", "password": "pw-long-enough", "hosts": {"a": 1}}, "hosts"),
        ({"password": "pw-long-enough"}, "domain"),
    ],
)
def test_the_argument_spec_refuses_what_the_pure_logic_no_longer_checks(pymysql, result, entry, word):
    code = run(sites=[entry])
    assert code == 1
    assert word in result()["msg"]
    assert pymysql.connects == []
