# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the wpzo.hosting.redis_acl module shell (main(), argument spec, documentation)."""

import grp
import importlib.util
import json
import os
import shutil
import tempfile

import pytest
import yaml
from ansible_collections.wpzo.hosting.plugins.module_utils import redis_acl as acl
from ansible_collections.wpzo.hosting.plugins.modules import redis_acl as module
from module_runner import run_module

# The fake Redis server of the module_utils tests.
_spec = importlib.util.spec_from_file_location(
    "redis_acl_utils_tests",
    os.path.join(os.path.dirname(__file__), os.pardir, "module_utils", "test_redis_acl.py"),
)
_utils_tests = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_utils_tests)
FakeRedis = _utils_tests.FakeRedis

SITE_PASSWORD = "s'i\"t$e`p\\a#s>s"
ADMIN_PASSWORD = "admin-secret-1"


@pytest.fixture
def env(monkeypatch):
    directory = tempfile.mkdtemp(prefix="raclm", dir="/tmp")
    monkeypatch.setattr(acl.os, "fchown", lambda fd, uid, gid: None)
    monkeypatch.setattr(acl.os, "chown", lambda path, uid, gid: None)

    class Env:
        pass

    e = Env()
    e.aclfile = os.path.join(directory, "users.acl")
    e.group = grp.getgrgid(os.getgid()).gr_name
    e.redis = FakeRedis(directory, e.aclfile, loaded="user admin on >%s ~* &* +@all\n" % ADMIN_PASSWORD)
    yield e
    e.redis.close()
    shutil.rmtree(directory)


def run(env, check_mode=False, diff=False, **args):
    params = {
        "users": [
            {"name": "admin", "password": ADMIN_PASSWORD, "keys": ["*"], "channels": ["*"], "commands": ["+@all"]},
            {"name": "default", "enabled": False},
        ],
        "sites": [{"domain": "a.example", "password": SITE_PASSWORD}, {"domain": "B.example"}],
        "aclfile": env.aclfile,
        "group": env.group,
        "socket": env.redis.path,
        "purge": True,
    }
    params["sites"][1]["password"] = "second-site"
    params.update(args)
    return run_module(module.main, params, check_mode, diff)


@pytest.fixture
def result(capsys):
    def parse():
        captured = capsys.readouterr().out
        return json.loads(captured), captured

    return parse


def test_creates_users_loads_them_and_never_prints_a_password(env, result):
    code = run(env, diff=True)
    out, raw = result()
    assert code == 0, out
    assert out["changed"] is True and out["reloaded"] is True
    assert out["added"] == ["a_example", "admin", "b_example", "default"]
    assert out["users"] == ["a_example", "admin", "b_example", "default"]
    assert out["sites"] == [
        {"domain": "a.example", "state": "present", "redis_user": "a_example", "redis_prefix": "a_example:"},
        {"domain": "b.example", "state": "present", "redis_user": "b_example", "redis_prefix": "b_example:"},
    ]
    for secret in (SITE_PASSWORD, ADMIN_PASSWORD, acl.password_hash(SITE_PASSWORD)):
        assert secret not in raw
    assert "user a_example on #<new password hash> ~a_example:* &a_example:* -@all +auth" in out["diff"]["after"]
    assert "ACL LOAD" in env.redis.commands
    with open(env.aclfile) as handle:
        assert "#%s" % acl.password_hash(SITE_PASSWORD) in handle.read()


def test_second_run_changes_nothing(env, result):
    run(env)
    result()
    code = run(env)
    out = result()[0]
    assert code == 0
    assert out["changed"] is False and out["reloaded"] is False
    assert out["added"] == out["updated"] == out["removed"] == []


def test_absent_site_is_removed(env, result):
    run(env)
    result()
    code = run(
        env, sites=[{"domain": "a.example", "password": SITE_PASSWORD}, {"domain": "b.example", "state": "absent"}]
    )
    out = result()[0]
    assert code == 0
    assert out["removed"] == ["b_example"]
    assert "b_example" not in env.redis.loaded
    assert out["sites"][1] == {
        "domain": "b.example",
        "state": "absent",
        "redis_user": "b_example",
        "redis_prefix": "b_example:",
    }


def test_check_mode_writes_nothing(env, result):
    code = run(env, check_mode=True, diff=True)
    out = result()[0]
    assert code == 0
    assert out["changed"] is True
    assert not os.path.exists(env.aclfile)
    assert "ACL LOAD" not in env.redis.commands


def test_validation_errors_fail_before_anything(env, result):
    code = run(
        env, sites=[{"domain": "a.example", "password": "pw-one-1"}, {"domain": "A.EXAMPLE", "password": "pw-two-2"}]
    )
    out = result()[0]
    assert code == 1
    assert out["errors"] == ["sites[1] (A.EXAMPLE): domain: a.example is listed twice (also sites[0])"]
    assert env.redis.commands == [] and not os.path.exists(env.aclfile)


@pytest.mark.parametrize(
    "args, word",
    [
        ({"sites": [{"domain": "a.example", "state": "gone"}]}, "state"),
        ({"users": [{"name": "k", "enabled": False, "colour": "blue"}]}, "colour"),
        ({"users": [{"name": "k", "enabled": "maybe"}]}, "enabled"),
        ({"users": [{"name": "k", "enabled": False, "keys": {"a": 1}}]}, "keys"),
        ({"sites": [{"state": "present"}]}, "domain"),
    ],
)
def test_argument_spec_rejects_what_the_pure_logic_no_longer_checks(env, result, args, word):
    code = run(env, **args)
    out = result()[0]
    assert code == 1
    assert word in out["msg"]
    assert env.redis.commands == [] and not os.path.exists(env.aclfile)


def test_refused_acl_load_fails_with_redis_message(env, result):
    run(env)
    result()
    env.redis.refuse_load = "/etc/redis/users.acl:1: Error in applying operation '+nosuch'"
    code = run(env, site_commands=["+@all", "+nosuch"])
    out = result()[0]
    assert code == 1
    assert out["redis_error"].startswith("ERR /etc/redis/users.acl:1")
    assert "previous file was restored" in out["msg"]


def test_validate_only(env, result):
    code = run(env, users=[], sites=[{"domain": "Shop.Example"}], validate_only=True)
    out = result()[0]
    assert code == 0
    assert out["changed"] is False
    assert out["sites"][0]["redis_prefix"] == "shop_example:"
    assert env.redis.commands == []


# --- argument spec vs. DOCUMENTATION ------------------------------------------------------------------------
DOC = yaml.safe_load(module.DOCUMENTATION)


def test_passwords_are_no_log():
    assert acl.USER_SPEC["password"]["no_log"] is True
    assert acl.SITE_SPEC["password"]["no_log"] is True
    assert acl.ARGUMENT_SPEC["login_password"]["no_log"] is True


def test_documented_defaults_are_the_argument_spec_ones():
    assert DOC["options"]["site_commands"]["default"] == acl.DEFAULT_SITE_COMMANDS
    for spec, doc in ((acl.USER_SPEC, DOC["options"]["users"]), (acl.SITE_SPEC, DOC["options"]["sites"])):
        assert set(spec) == set(doc["suboptions"])
        for name, option in spec.items():
            assert doc["suboptions"][name].get("default") == option.get("default"), name
