# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the wpzo.hosting.swap_file module: a dry run writes nothing, a run prepares, the next does nothing."""

import json
import os

import pytest
from ansible.module_utils.basic import AnsibleModule
from ansible_collections.wpzo.hosting.plugins.modules import swap_file as module
from module_runner import run_module


@pytest.fixture
def commands(monkeypatch):
    """The commands the module runs; mkswap writes the signature as the real one would."""
    ran = []

    def run_command(self, argv, **kwargs):
        ran.append(argv)
        if argv[0] == "mkswap":
            with open(argv[1], "r+b") as handle:
                handle.seek(os.sysconf("SC_PAGE_SIZE") - 10)
                handle.write(b"SWAPSPACE2")
        return 0, "", ""

    monkeypatch.setattr(AnsibleModule, "run_command", run_command)
    return ran


@pytest.mark.skipif(os.geteuid() != 0, reason="the file is given to root")
def test_a_dry_run_writes_nothing_a_run_prepares_the_next_changes_nothing(tmp_path, commands, capsys):
    path, fstab = tmp_path / "swapfile", tmp_path / "fstab"
    fstab.write_text("UUID=1 / ext4 defaults 0 1\n")
    args = {"path": str(path), "size_mb": 1, "activate": False, "fstab": str(fstab)}

    def call(**kwargs):
        assert run_module(module.main, args, **kwargs) == 0
        return json.loads(capsys.readouterr().out)

    dry = call(check_mode=True, diff=True)
    assert dry["changed"] and dry["created"] and dry["fstab_changed"] and not path.exists() and commands == []
    assert dry["diff"][1]["after"].endswith("%s none swap sw 0 0\n" % path)
    first = call()
    assert first["created"] and first["formatted"] and commands == [["mkswap", str(path)]]
    assert path.stat().st_size == 1024 * 1024 and path.stat().st_mode & 0o777 == 0o600
    assert fstab.read_text() == "UUID=1 / ext4 defaults 0 1\n%s none swap sw 0 0\n" % path
    assert not call()["changed"] and len(commands) == 1
