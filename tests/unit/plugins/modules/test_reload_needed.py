# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the wpzo.hosting.reload_needed module shell."""

import json
import os

import pytest
from ansible_collections.wpzo.hosting.plugins.modules import reload_needed as module
from module_runner import run_module


@pytest.fixture
def result(capsys):
    return lambda: json.loads(capsys.readouterr().out)


@pytest.fixture
def fpm(tmp_path):
    conf = tmp_path / "fpm"
    (conf / "pool.d").mkdir(parents=True)
    (conf / "pool.d" / "a.conf").write_text("[a]\n")
    pid_file = tmp_path / "php-fpm.pid"
    pid_file.write_text(str(os.getpid()))  # a running "master": this process
    for path in (conf / "pool.d" / "a.conf", conf / "pool.d", conf):
        os.utime(str(path), ns=(10**9, 10**9))
    os.utime(str(pid_file), ns=(2 * 10**9, 2 * 10**9))
    return conf, str(pid_file)


def test_all_loaded_is_ok(fpm, result):
    conf, pid_file = fpm
    assert run_module(module.main, {"service": "php-fpm", "pid_file": pid_file, "paths": [str(conf)]}) == 0
    out = result()
    assert (out["changed"], out["reasons"], out["running"]) == (False, [], True)


def test_a_file_newer_than_the_last_load_or_a_missing_socket_means_reload(fpm, result, tmp_path):
    conf, pid_file = fpm
    (conf / "pool.d" / "b.conf").write_text("[b]\n")  # written now, after the 'master' loaded
    params = {"service": "php-fpm", "pid_file": pid_file, "paths": [str(conf)], "sockets": [str(tmp_path / "b.sock")]}
    assert run_module(module.main, params, check_mode=True) == 0
    out = result()
    assert out["changed"] is True
    assert out["reasons"] == [
        "%s changed after the last load" % (conf / "pool.d"),
        "%s changed after the last load" % (conf / "pool.d" / "b.conf"),
        "socket %s is missing" % (tmp_path / "b.sock"),
    ]


def test_a_stopped_service_needs_no_reload(fpm, result, tmp_path):
    conf, _pid_file = fpm
    (conf / "pool.d" / "b.conf").write_text("[b]\n")
    assert (
        run_module(module.main, {"service": "nginx", "pid_file": str(tmp_path / "none.pid"), "paths": [str(conf)]}) == 0
    )
    out = result()
    assert (out["changed"], out["reasons"], out["running"]) == (False, [], False)
