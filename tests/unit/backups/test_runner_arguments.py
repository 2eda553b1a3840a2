"""The backup runner's command line: a time it cannot read ends the command before any site or repository is
touched, with argparse's usage error (exit 2) naming the option, for every command that takes one."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
RUNNER = ROOT / "roles" / "backups" / "files" / "wpzo-backup.py"


def run(*argv):
    # The runner imports backup_plan from beside it, as it is installed on a server.
    env = dict(os.environ, PYTHONPATH=str(ROOT / "plugins" / "module_utils"))
    return subprocess.run([sys.executable, str(RUNNER), *argv], capture_output=True, text=True, env=env, check=False)


@pytest.mark.parametrize(
    "argv, option",
    [
        (["restore", "--before", "yesterday"], "--before"),
        (["restore", "--at", "2026-13-01 00:00:00"], "--at"),
        (["restore-physical", "--before", "2026-02-31 12:00:00"], "--before"),
        (["extract-physical", "--to", "/nonexistent", "--before", "soon"], "--before"),
    ],
)
def test_an_unreadable_time_is_a_usage_error_naming_its_option(argv, option):
    result = run(*argv)
    assert result.returncode == 2
    assert "error: argument %s: not a time" % option in result.stderr
    assert result.stdout == ""
