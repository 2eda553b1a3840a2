# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the wpzo.hosting.wordpress module shell (main(), argument spec, documentation, runner)."""

import json
import os

import pytest
from ansible_collections.wpzo.hosting.plugins.module_utils import module_shell
from ansible_collections.wpzo.hosting.plugins.module_utils import wordpress as wp
from ansible_collections.wpzo.hosting.plugins.module_utils import wordpress_validation as validation
from ansible_collections.wpzo.hosting.plugins.modules import wordpress as module
from module_runner import run_module
from wordpress_fakes import PROGRAMS, environment

SECRET_DB = "db'pa\\ss$word"
SECRET_ADMIN = "admin'secret\\$"
SECRET_REDIS = "redis'secret"


@pytest.fixture
def env(tmp_path, monkeypatch):
    e = environment(tmp_path)
    monkeypatch.setattr(module, "make_runner", lambda m: e.runner)
    monkeypatch.setattr(module, "make_downloader", lambda m: e.downloader)
    return e


def site(env, name="a.example", **kwargs):
    secrets = dict(
        db_password=SECRET_DB, admin_password=SECRET_ADMIN, redis={"username": "web", "password": SECRET_REDIS}
    )
    return env.site(name, **dict(secrets, **kwargs))


def run(env, sites, check_mode=False, diff=False, **args):
    params = {
        "sites": sites,
        "cache_dir": str(env.tmp / "cache"),
        "php_binary": "php",
        "programs_dir": str(PROGRAMS),
    }
    params.update(args)
    return run_module(module.main, params, check_mode, diff)


@pytest.fixture
def result(capsys):
    def parse():
        out = capsys.readouterr().out
        for secret in (SECRET_DB, SECRET_ADMIN, SECRET_REDIS):
            assert secret not in out and json.dumps(secret)[1:-1] not in out, "a secret leaked into the result"
        return json.loads(out)

    return parse


@pytest.fixture(autouse=True)
def ids(monkeypatch):
    """Every site user is the test's own user (the fake runner does not switch users)."""
    original = wp.Context.__init__

    def init(self, *args, **kwargs):
        kwargs["ids"] = lambda owner, group: (os.getuid(), os.getgid())
        original(self, *args, **kwargs)

    monkeypatch.setattr(wp.Context, "__init__", init)


def test_installs_then_is_idempotent(env, result):
    code = run(env, [site(env), site(env, "b.example")])
    out = result()
    assert code == 0, out
    assert out["changed"] is True
    assert out["added"] == ["a.example", "b.example"]
    assert out["sites"]["a.example"]["version"] == "6.1.1"
    assert out["sites"]["a.example"]["url"] == "https://a.example"
    assert out["sites"]["a.example"]["changed"] == ["core", "config", "mu_plugins", "install"]
    assert "diff" not in out

    env.runner.calls.clear()
    code = run(env, [site(env), site(env, "b.example")])
    out = result()
    assert code == 0
    assert out["changed"] is False
    assert out["unchanged"] == ["a.example", "b.example"]
    assert env.runner.calls == []


def test_diff_masks_secrets(env, result):
    code = run(env, [site(env)], diff=True)
    out = result()
    assert code == 0
    config = next(entry for entry in out["diff"] if entry["after_header"].endswith("wp-config.php"))
    assert "define( 'DB_PASSWORD', '********' );" in config["after"]
    assert "define( 'WP_REDIS_PASSWORD', '********' );" in config["after"]
    assert config["after"].count("'********'") == 10  # DB password, Redis password, 8 keys and salts
    headers = [entry["before_header"] for entry in out["diff"]]
    assert any(header.endswith("(WordPress core)") for header in headers)


def test_check_mode_writes_nothing(env, result):
    code = run(env, [site(env)], check_mode=True, diff=True)
    out = result()
    assert code == 0
    assert out["changed"] is True and out["added"] == ["a.example"]
    assert not (env.tmp / "www" / "a.example" / "public").exists()
    assert not (env.tmp / "cache").exists()


def test_bad_checksum_fails_with_site_and_field(env, result):
    url = "https://dl.example/wordpress-6.1.1.tar.gz"
    bad = site(env, core_src=None, core_url=url, core_checksum="sha1:" + "0" * 40)
    code = run(env, [bad, site(env, "b.example")])
    out = result()
    assert code == 1
    assert out["failed"] is True  # Ansible's own flag; the per-site messages are in msg
    assert out["msg"].startswith("1 site(s) failed: site 'a.example' (sites[0]): core_checksum: ")
    assert "nothing was extracted" in out["msg"]
    assert out["added"] == ["b.example"]
    assert not (env.tmp / "www" / "a.example" / "public" / "index.php").exists()


def test_validation_errors_are_all_reported(env, result):
    code = run(env, [site(env, table_prefix="wp-"), site(env, "b.example", core_src=None)])
    out = result()
    assert code == 1
    assert out["errors"] == [
        "site 'a.example' (sites[0]): table_prefix: 'wp-' must be letters, digits and _ only, at most 20",
        "site 'b.example' (sites[1]): core_checksum: required when the core archive is downloaded "
        "(sha1:<hex> or sha256:<hex>)",
    ]
    assert env.runner.calls == []


def test_argument_spec_rejects_unknown_suboption(env, result):
    code = run(env, [site(env, colour="blue")])
    out = result()
    assert code == 1
    assert "colour" in out["msg"]


def test_yaml_boolean_auto_update_is_accepted(env, result):
    code = run(env, [site(env, auto_update_core=False)])
    out = result()
    assert code == 0, out
    text = (env.tmp / "www" / "a.example" / "public" / "wp-config.php").read_text()
    assert "define( 'WP_AUTO_UPDATE_CORE', false );" in text


# --- the runner ------------------------------------------------------------------------------------------------
class FakeModule:
    def __init__(self):
        self.commands = []

    def get_bin_path(self, name, required=False):
        return "/usr/bin/" + name

    def run_command(self, argv, **kwargs):
        self.commands.append((argv, kwargs))
        return 0, "ok", ""


def test_runner_drops_privileges_with_setpriv_as_root(monkeypatch):
    monkeypatch.setattr(module.os, "geteuid", lambda: 0)
    fake = FakeModule()
    run_ = module.make_runner(fake)
    assert run_(["php"], user="web", group="webgrp", data=b"<?php", cwd="/srv") == (0, "ok", "")
    argv, kwargs = fake.commands[0]
    assert argv == [
        "/usr/bin/setpriv",
        "--reuid=web",
        "--regid=webgrp",
        "--init-groups",
        "--reset-env",
        "--",
        "php",
    ]
    assert kwargs["data"] == b"<?php" and kwargs["binary_data"] is True and kwargs["umask"] == 0o022


def test_runner_refuses_another_user_without_root(monkeypatch):
    monkeypatch.setattr(module.os, "geteuid", lambda: 4242)
    fake = FakeModule()
    rc, _out, err = module.make_runner(fake)(["php"], user="web")
    assert rc == 1 and "needs root" in err
    assert fake.commands == []


# --- argument spec vs. DOCUMENTATION ------------------------------------------------------------------------


def test_secrets_are_no_log():
    assert validation.SITE_SPEC["db_password"]["no_log"] is True
    assert validation.SITE_SPEC["admin_password"]["no_log"] is True
    assert validation.REDIS_SPEC["password"]["no_log"] is True


def test_the_pure_logic_defaults_are_the_argument_spec_ones():
    assert module_shell.defaults(validation.SITE_SPEC) == validation.SITE_DEFAULTS
    assert validation.REQUIRED_SITE_OPTIONS == ("domain", "path", "owner", "version")
    assert validation.SITE_DEFAULTS["table_prefix"] == "wp_" and validation.REDIS_DEFAULTS["port"] == 6379


@pytest.mark.parametrize(
    "overrides, word",
    [
        ({"colour": "blue"}, "colour"),
        ({"state": "absent"}, "state"),
        ({"tls": "perhaps"}, "tls"),
        ({"redis": {"port": "sixty"}}, "port"),
        ({"plugins": [{"name": "x", "activate": "maybe"}]}, "activate"),
    ],
)
def test_the_argument_spec_refuses_what_the_pure_logic_no_longer_checks(env, result, overrides, word):
    code = run(env, [site(env, **overrides)])
    out = result()
    assert code == 1
    assert word in out["msg"]
    assert env.runner.calls == [] and not (env.tmp / "www" / "a.example" / "public").exists()
