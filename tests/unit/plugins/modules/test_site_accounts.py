# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the wpzo.hosting.site_accounts module: its shell, and the keys file written by the file engine."""

import json
import os
import pwd

import pytest
from ansible_collections.wpzo.hosting.plugins.modules import site_accounts as module
from module_runner import run_module

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGd1YmJpc2g alice@laptop"


@pytest.fixture
def result(capsys):
    return lambda: json.loads(capsys.readouterr().out)


def test_check_mode_plans_a_new_site_and_changes_nothing(tmp_path, result):
    users_before = sorted(u.pw_name for u in pwd.getpwall())
    site = {"user": "wpzo_unit_nobody", "root": str(tmp_path / "srv" / "www" / "a.example")}
    code = run_module(module.main, {"sites": [site], "sftp_keys_dir": str(tmp_path / "keys")}, True, True)
    out = result()
    assert code == 0, out
    assert out["changed"] is True and out["added"] == ["wpzo_unit_nobody"]
    assert "add_user wpzo_unit_nobody" in out["diff"]["after"]
    assert sorted(u.pw_name for u in pwd.getpwall()) == users_before
    assert not (tmp_path / "srv").exists()


def test_a_bad_root_is_refused_before_anything_is_read(tmp_path, result):
    code = run_module(module.main, {"sites": [{"user": "x", "root": "/srv"}]})
    out = result()
    assert code == 1
    assert out["errors"] == ["site x: root '/srv' must be a directory below / such as /srv/www/<domain>"]


def test_the_keys_file_is_written_by_the_file_engine_and_its_mode_put_back(tmp_path):
    path = str(tmp_path / "keys" / "a_example")
    module.write_keys(path, "# alice\n%s\n" % KEY)
    with open(path) as handle:
        assert handle.read() == "# alice\n%s\n" % KEY
    assert os.stat(path).st_mode & 0o7777 == 0o644
    os.chmod(path, 0o666)  # noqa: S103 - the drift a hand makes
    module.write_keys(path, "# alice\n%s\n" % KEY)
    assert os.stat(path).st_mode & 0o7777 == 0o644
    assert [name for name in os.listdir(str(tmp_path / "keys")) if name.startswith(".wpzo-")] == []


def test_a_keys_file_whose_mode_was_changed_by_hand_reads_as_one_to_write_again(tmp_path):
    path = str(tmp_path / "a_example")
    module.write_keys(path, "# alice\n%s\n" % KEY)
    assert module.read_keys(path) == "# alice\n%s\n" % KEY
    os.chmod(path, 0o664)
    assert module.read_keys(path) != "# alice\n%s\n" % KEY
    assert module.read_keys(str(tmp_path / "missing")) is None
