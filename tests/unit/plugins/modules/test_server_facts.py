"""Unit tests of the wpzo.hosting.server_facts module shell: one call, every fact, nothing changed."""

import json

import pytest
from ansible.module_utils.basic import AnsibleModule
from ansible_collections.wpzo.hosting.plugins.modules import server_facts as module
from module_runner import run_module

OUTPUTS = {
    "dpkg-query": "nginx\t1.22.1-9\tamd64\tii \n",
    "list-units": "nginx.service loaded active running nginx\nnftables.service loaded active exited nftables\n"
    "apt-daily.timer loaded active waiting apt\n",
    "list-unit-files": "nginx.service enabled enabled\nnftables.service enabled enabled\n"
    "apt-daily.timer enabled enabled\n",
    "-a": "C\nC.utf8\nPOSIX\nen_US.utf8\n",
}


@pytest.fixture
def commands(monkeypatch):
    """The commands the module ran; each answers from OUTPUTS (rc 1 when its output is None)."""
    ran = []

    def run_command(self, argv, environ_update=None, **kwargs):
        ran.append((argv, environ_update))
        out = OUTPUTS[argv[0] if argv[0] == "dpkg-query" else argv[1]]
        return (1, "", "database locked") if out is None else (0, out, "")

    monkeypatch.setattr(AnsibleModule, "run_command", run_command)
    return ran


@pytest.fixture
def files(monkeypatch, tmp_path):
    """/etc/localtime a link to Etc/UTC, /proc/sys/vm/swappiness holding 10, both under tmp_path."""
    localtime = tmp_path / "localtime"
    localtime.symlink_to("/usr/share/zoneinfo/Etc/UTC")
    monkeypatch.setattr(module.server_facts, "LOCALTIME", str(localtime))
    (tmp_path / "vm").mkdir()
    (tmp_path / "vm" / "swappiness").write_text("10\n")
    monkeypatch.setattr(module.server_facts, "sysctl_path", lambda key: str(tmp_path / key.replace(".", "/")))
    (tmp_path / "group").write_text("root:x:0:\nwww-data:x:33:\nwpzo-admin:x:999:alice\n")
    monkeypatch.setattr(module.server_facts, "GROUP_FILE", str(tmp_path / "group"))
    return tmp_path


def test_one_call_sets_every_fact_and_changes_nothing(commands, files, capsys):
    assert run_module(module.main, {}, check_mode=True) == 0
    out = json.loads(capsys.readouterr().out)
    facts = out["ansible_facts"]
    assert out["changed"] is False
    assert facts["packages"]["nginx"][0]["version"] == "1.22.1-9"
    assert facts["services"]["nginx.service"]["state"] == "running"
    assert sorted(facts["services"]) == ["nftables.service", "nginx.service"]
    assert facts["timers"] == {
        "apt-daily.timer": dict(name="apt-daily.timer", state="running", status="enabled", source="systemd")
    }
    assert facts["active_services"] == ["nftables.service", "nginx.service"]
    assert facts["timezone"] == "Etc/UTC"
    assert facts["locales"] == ["C", "C.utf8", "POSIX", "en_US.utf8"]
    assert facts["sysctl"] == {"vm.swappiness": "10"}
    assert facts["local_groups"] == ["root", "wpzo-admin", "www-data"]
    assert [argv[0] for argv, env in commands] == ["dpkg-query", "systemctl", "systemctl", "locale"]
    assert all(env == {"LANG": "C", "LC_ALL": "C"} for argv, env in commands)


def test_a_timezone_setting_or_group_file_that_cannot_be_read_reads_as_unknown(commands, files, capsys):
    (files / "localtime").unlink()
    (files / "vm" / "swappiness").unlink()
    (files / "group").unlink()
    assert run_module(module.main, {}) == 0
    facts = json.loads(capsys.readouterr().out)["ansible_facts"]
    assert facts["timezone"] == ""
    assert facts["sysctl"] == {}
    assert facts["local_groups"] == []


def test_a_failed_listing_fails_the_module_with_its_error(commands, capsys, monkeypatch):
    monkeypatch.setitem(OUTPUTS, "list-unit-files", None)
    assert run_module(module.main, {}) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["failed"] is True
    assert "systemctl list-unit-files failed (exit 1): database locked" in out["msg"]
