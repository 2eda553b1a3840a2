"""roles/fail2ban/files/wpzo-nginx-deny, the program of the wpzo-nginx-deny action, run in a temporary folder.

nginx is stood in for by shell commands (WPZO_NGINX_TEST, WPZO_NGINX_RELOAD, WPZO_NGINX_RUNNING) that log
what they are asked to do, so each test sees the ban file nginx would read and whether nginx was reloaded.
"""

import subprocess
from pathlib import Path

import pytest

PROGRAM = Path(__file__).parents[3] / "roles" / "fail2ban" / "files" / "wpzo-nginx-deny"


class Deny:
    def __init__(self, folder):
        self.folder = folder
        self.calls = folder.parent / "calls"
        self.test_ok = True
        self.running = True

    @property
    def bans(self):
        path = self.folder / "fail2ban.conf"
        return path.read_text().splitlines()[1:] if path.exists() else None

    def reloads(self):
        return self.calls.read_text().split().count("reload") if self.calls.exists() else 0

    def stand_in(self, name, body):
        script = self.folder.parent / name
        script.write_text(f"#!/bin/sh\n{body}\n")
        script.chmod(0o755)
        return str(script)

    def __call__(self, *args):
        env = {
            "PATH": "/usr/bin:/bin",
            "WPZO_NGINX_BANS_DIR": str(self.folder),
            "WPZO_NGINX_TEST": self.stand_in("nginx-test", f"echo test >>{self.calls}; {str(self.test_ok).lower()}"),
            "WPZO_NGINX_RELOAD": self.stand_in("nginx-reload", f"echo reload >>{self.calls}"),
            "WPZO_NGINX_RUNNING": str(self.running).lower(),
        }
        return subprocess.run([str(PROGRAM), *args], capture_output=True, text=True, env=env, check=False)


@pytest.fixture
def deny(tmp_path):
    return Deny(tmp_path / "nginx-bans")


def test_a_ban_writes_a_deny_line_and_reloads_nginx_after_the_test(deny):
    assert deny("ban", "wordpress", "203.0.113.9").returncode == 0
    assert deny.bans == ["deny 203.0.113.9;"]
    assert deny.calls.read_text().split() == ["test", "reload"]


def test_the_union_of_the_jails_sorted_and_each_address_once(deny):
    deny("ban", "wordpress", "203.0.113.9")
    deny("ban", "recidive", "203.0.113.9")
    deny("ban", "nginx-limit-req", "2001:db8::7")
    deny("ban", "wordpress", "198.51.100.4")
    assert deny.bans == ["deny 198.51.100.4;", "deny 2001:db8::7;", "deny 203.0.113.9;"]
    # One jail's unban leaves the other jail's ban of the same address.
    deny("unban", "wordpress", "203.0.113.9")
    assert "deny 203.0.113.9;" in deny.bans


def test_nothing_changes_nothing_is_reloaded(deny):
    deny("ban", "wordpress", "203.0.113.9")
    deny("ban", "wordpress", "203.0.113.9")
    deny("ban", "recidive", "203.0.113.9")
    assert deny.reloads() == 1
    assert (deny.folder / "fail2ban.d" / "wordpress").read_text() == "203.0.113.9\n"


def test_the_last_unban_removes_the_file(deny):
    deny("ban", "wordpress", "203.0.113.9")
    assert deny("unban", "wordpress", "203.0.113.9").returncode == 0
    assert deny.bans is None
    assert deny.reloads() == 2
    # Unbanning what is not banned changes nothing.
    assert deny("unban", "wordpress", "203.0.113.9").returncode == 0
    assert deny.reloads() == 2


def test_start_and_stop_empty_the_jails_list_only(deny):
    deny("ban", "wordpress", "203.0.113.9")
    deny("ban", "recidive", "198.51.100.4")
    deny("stop", "wordpress")
    assert deny.bans == ["deny 198.51.100.4;"]
    deny("ban", "wordpress", "203.0.113.9")
    deny("start", "wordpress")
    assert deny.bans == ["deny 198.51.100.4;"]
    deny("flush", "recidive")
    assert deny.bans is None


def test_a_failing_nginx_test_keeps_the_previous_file_and_fails(deny):
    deny("ban", "wordpress", "203.0.113.9")
    deny.test_ok = False
    result = deny("ban", "wordpress", "198.51.100.4")
    assert result.returncode == 1
    assert "previous one is kept" in result.stderr
    assert deny.bans == ["deny 203.0.113.9;"]
    assert deny.reloads() == 1


def test_without_a_running_nginx_the_file_is_written_without_a_reload(deny):
    deny.running = False
    assert deny("ban", "wordpress", "203.0.113.9").returncode == 0
    assert deny.bans == ["deny 203.0.113.9;"]
    assert not deny.calls.exists()


@pytest.mark.parametrize(
    "args",
    [
        ("ban", "wordpress", "203.0.113.9; include /etc/shadow"),
        ("ban", "wordpress", "example.org"),
        ("ban", "wordpress", "12345"),
        ("ban", "wordpress", ""),
        ("ban", "../etc", "203.0.113.9"),
        ("ban", ".hidden", "203.0.113.9"),
        ("ban", "wordpress"),
        ("start",),
        ("restart", "wordpress"),
    ],
)
def test_refuses_what_is_not_a_jail_and_an_address(deny, args):
    result = deny(*args)
    assert result.returncode == 2
    assert deny.bans is None
    assert not (deny.folder / "etc").exists()
