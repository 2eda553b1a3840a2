# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the wpzo.hosting.php_fpm_pool module shell (main(), argument spec, documentation)."""

import json
import os

import pytest
from ansible_collections.wpzo.hosting.plugins.module_utils import php_fpm_pool as fpm
from ansible_collections.wpzo.hosting.plugins.modules import php_fpm_pool as module
from module_runner import run_module

MARKER = fpm.MARKER


@pytest.fixture
def env(tmp_path):
    """A pool dir holding Debian's unmarked www.conf, php-fpm.conf and fake php-fpm binaries."""
    pool_dir = tmp_path / "pool.d"
    pool_dir.mkdir()
    (pool_dir / "www.conf").write_text("[www]\nuser = www-data\n")
    config = tmp_path / "php-fpm.conf"
    config.write_text("[global]\ninclude=%s/*.conf\n" % pool_dir)
    calls = tmp_path / "calls.log"
    binaries = {}
    for name, rc, message in (
        ("ok", 0, "NOTICE: configuration file test is successful"),
        ("bad", 78, "ERROR: [pool a] cannot get uid for user 'web1'"),
    ):
        binary = tmp_path / ("php-fpm-" + name)
        binary.write_text('#!/bin/sh\necho "$@" >> "%s"\necho "%s" >&2\nexit %d\n' % (calls, message, rc))
        binary.chmod(0o755)
        binaries[name] = str(binary)

    class Env:
        pass

    e = Env()
    e.tmp_path, e.pool_dir, e.config, e.calls, e.binaries = tmp_path, pool_dir, str(config), calls, binaries
    e.call_lines = lambda: calls.read_text().splitlines() if calls.exists() else []
    return e


def pools(*names):
    return [{"name": n, "user": "web", "root": "/srv/www/" + n} for n in names]


def run(env, check_mode=False, diff=False, binary="ok", **args):
    params = {"pool_dir": str(env.pool_dir), "php_fpm_binary": env.binaries[binary], "php_fpm_config": env.config}
    params.update(args)
    return run_module(module.main, params, check_mode, diff)


@pytest.fixture
def result(capsys):
    def parse():
        return json.loads(capsys.readouterr().out)

    return parse


def listing(env):
    return {name: (env.pool_dir / name).read_bytes() for name in sorted(os.listdir(str(env.pool_dir)))}


def test_creates_pools_and_runs_config_test(env, result):
    code = run(env, pools=pools("a.example", "b.example"))
    out = result()
    assert code == 0, out
    assert out["changed"] is True
    assert out["added"] == ["a.example", "b.example"]
    assert out["updated"] == [] and out["removed"] == []
    assert out["pools"] == ["a.example", "b.example"]
    assert "diff" not in out
    # php-fpm tests a copy of the main configuration that includes the staged pools, not the live files
    (call,) = env.call_lines()
    assert call.startswith("-t -y /") and call.endswith("/php-fpm.conf") and "wpzo-validate-" in call
    assert call != "-t -y %s" % env.config
    content = (env.pool_dir / "a.example.conf").read_text()
    assert content.startswith(MARKER + "\n[a.example]\n")
    assert "php_admin_value[open_basedir] = /srv/www/a.example\n" in content


def test_second_run_is_idempotent_and_skips_config_test(env, result):
    run(env, pools=pools("a", "b"), purge=True)
    result()
    state = {name: os.stat(str(env.pool_dir / name)).st_mtime_ns for name in os.listdir(str(env.pool_dir))}
    code = run(env, pools=pools("a", "b"), purge=True)
    out = result()
    assert code == 0
    assert out["changed"] is False
    assert out["added"] == out["updated"] == out["removed"] == []
    assert len(env.call_lines()) == 1
    assert {name: os.stat(str(env.pool_dir / name)).st_mtime_ns for name in os.listdir(str(env.pool_dir))} == state


def test_update_and_purge_with_diff(env, result):
    run(env, pools=pools("a", "b"))
    result()
    changed = pools("a")
    changed[0]["memory_limit"] = "512M"
    code = run(env, diff=True, pools=changed, purge=True)
    out = result()
    assert code == 0
    assert (out["added"], out["updated"], out["removed"]) == ([], ["a"], ["b"])
    assert sorted(os.listdir(str(env.pool_dir))) == ["a.conf", "www.conf"]
    diff = {entry["before_header"]: entry for entry in out["diff"]}
    a_path, b_path = str(env.pool_dir / "a.conf"), str(env.pool_dir / "b.conf")
    assert set(diff) == {a_path, b_path}
    assert "memory_limit] = 256M" in diff[a_path]["before"]
    assert "memory_limit] = 512M" in diff[a_path]["after"]
    assert diff[b_path]["after"] == "" and diff[b_path]["before"].startswith(MARKER)
    assert all(set(entry) == {"before_header", "after_header", "before", "after"} for entry in out["diff"])


def test_check_mode_writes_nothing(env, result):
    before = listing(env)
    code = run(env, check_mode=True, diff=True, pools=pools("a"), purge=True)
    out = result()
    assert code == 0
    assert out["changed"] is True
    assert out["added"] == ["a"]
    assert out["diff"][0]["after"].startswith(MARKER)
    assert listing(env) == before
    assert env.call_lines() == []


def test_rollback_when_config_test_fails(env, result):
    run(env, pools=pools("a", "gone"))
    result()
    before = listing(env)
    changed = pools("a", "new")
    changed[0]["max_children"] = 9
    code = run(env, binary="bad", pools=changed, purge=True)
    out = result()
    assert code == 1
    assert out["failed"] is True
    assert "cannot get uid for user 'web1'" in out["msg"]
    assert "nothing changed" in out["msg"]
    assert out["rc"] == 78
    assert listing(env) == before


def test_invalid_input_reports_all_errors_and_writes_nothing(env, result):
    before = listing(env)
    bad = pools("a", "a")
    bad[0]["open_basedir"] = ["/etc"]
    bad[1]["user"] = "root"
    code = run(env, pools=bad)
    out = result()
    assert code == 1
    assert out["failed"] is True
    assert len(out["errors"]) == 3, out["errors"]
    assert any("pool 'a' (pools[0]): open_basedir:" in e for e in out["errors"])
    assert any("pool 'a' (pools[1]): user:" in e for e in out["errors"])
    assert any("pool 'a' (pools[1]): name: duplicate" in e for e in out["errors"])
    assert listing(env) == before
    assert env.call_lines() == []


def test_argument_spec_rejects_unknown_suboption(env, result):
    bad = pools("a")
    bad[0]["colour"] = "blue"
    code = run(env, pools=bad)
    out = result()
    assert code == 1
    assert "colour" in out["msg"]


def test_validate_false_never_runs_binary(env, result):
    code = run(env, binary="bad", validate=False, pools=pools("a"))
    out = result()
    assert code == 0
    assert out["added"] == ["a"]
    assert env.call_lines() == []


def test_unmarked_file_is_never_overwritten(env, result):
    code = run(env, pools=pools("www"), purge=True)
    out = result()
    assert code == 1
    assert "not managed" in out["errors"][0]
    assert (env.pool_dir / "www.conf").read_text() == "[www]\nuser = www-data\n"


# --- argument spec vs. DOCUMENTATION ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides, word",
    [
        ({"name": None}, "name"),
        ({"user": None}, "user"),
        ({"root": None}, "root"),
        ({"pm": "adaptive"}, "pm"),
        ({"max_children": "five"}, "max_children"),
        ({"open_basedir": {"a": "b"}}, "open_basedir"),
        ({"env": "KEY"}, "env"),
        ({"color": "blue"}, "color"),
    ],
)
def test_the_argument_spec_refuses_what_the_pure_logic_no_longer_checks(env, result, overrides, word):
    bad = [dict(pools("a")[0], **overrides)]
    bad[0] = dict((k, v) for k, v in bad[0].items() if v is not None)
    code = run(env, pools=bad)
    out = result()
    assert code == 1
    assert word in out["msg"]
    assert listing(env) == {"www.conf": b"[www]\nuser = www-data\n"}


def test_pools_must_be_a_list_of_dicts(env, result):
    assert run(env, pools="a") == 1
    assert "dictionary requested" in result()["msg"]
    assert listing(env) == {"www.conf": b"[www]\nuser = www-data\n"}


def test_a_pool_file_changed_by_hand_is_put_back(env, result):
    run(env, pools=pools("a"))
    result()
    path = env.pool_dir / "a.conf"
    path.chmod(0o644)
    os.chown(str(path), 1, 1)
    assert run(env, pools=pools("a")) == 0
    out = result()
    assert (out["changed"], out["updated"]) == (True, ["a"])
    st = path.stat()
    assert (st.st_mode & 0o7777, st.st_uid, st.st_gid) == (0o640, 0, 0)
    assert run(env, pools=pools("a")) == 0
    assert result()["changed"] is False
