"""Unit tests of the wpzo.hosting.server_facts module shell: one call, both facts, nothing changed."""

import json

import pytest
from ansible.module_utils.basic import AnsibleModule
from ansible_collections.wpzo.hosting.plugins.modules import server_facts as module
from module_runner import run_module

OUTPUTS = {
    "dpkg-query": "nginx\t1.22.1-9\tamd64\tii \n",
    "list-units": "nginx.service loaded active running nginx\n",
    "list-unit-files": "nginx.service enabled enabled\n",
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


def test_one_call_sets_both_facts_and_changes_nothing(commands, capsys):
    assert run_module(module.main, {}, check_mode=True) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["changed"] is False
    assert out["ansible_facts"]["packages"]["nginx"][0]["version"] == "1.22.1-9"
    assert out["ansible_facts"]["services"]["nginx.service"]["state"] == "running"
    assert [argv[0] for argv, env in commands] == ["dpkg-query", "systemctl", "systemctl"]
    assert all(env == {"LANG": "C", "LC_ALL": "C"} for argv, env in commands)


def test_a_failed_listing_fails_the_module_with_its_error(commands, capsys, monkeypatch):
    monkeypatch.setitem(OUTPUTS, "list-unit-files", None)
    assert run_module(module.main, {}) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["failed"] is True
    assert "systemctl list-unit-files failed (exit 1): database locked" in out["msg"]
