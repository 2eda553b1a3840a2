"""When did the running service last load its configuration, and is anything newer: on a fake /proc."""

import os
import time

import pytest
from ansible_collections.wpzo.hosting.plugins.module_utils import service_state as ss

SECOND = 1000 * 1000 * 1000
TICKS = 100


def process(proc, pid, ppid, start_ticks, title, comm="nginx"):
    directory = proc / str(pid)
    directory.mkdir()
    fields = ["S", str(ppid)] + ["0"] * 17 + [str(start_ticks)] + ["0"] * 10
    (directory / "stat").write_text("%d (%s) %s\n" % (pid, comm, " ".join(fields)))
    (directory / "cmdline").write_bytes(title + b"\0" * 8)


@pytest.fixture
def proc(tmp_path):
    """Booted 1000 s before 'now' (2000 s after the epoch); nginx master 10 with workers of two generations."""
    root = tmp_path / "proc"
    root.mkdir()
    (root / "uptime").write_text("1000.00 3000.00\n")
    (root / "self").mkdir()
    process(root, 10, 1, 500 * TICKS, b"nginx: master process /usr/sbin/nginx")
    process(root, 11, 10, 600 * TICKS, b"nginx: worker process is shutting down")
    process(root, 12, 10, 900 * TICKS, b"nginx: worker process")
    process(root, 13, 10, 901 * TICKS, b"nginx: worker process")  # respawned after a crash: later
    process(root, 14, 10, 900 * TICKS, b"nginx: cache manager process")
    process(root, 20, 1, 100 * TICKS, b"nginx: worker process", comm="a) b")  # someone else's
    return root


NOW = 2000 * SECOND


def test_nginx_loaded_at_is_the_earliest_current_worker(proc, tmp_path):
    pid_file = tmp_path / "nginx.pid"
    pid_file.write_text("10\n")
    loaded = ss.nginx_loaded_at(str(pid_file), str(proc), clock_ticks=TICKS, now_ns=NOW)
    assert loaded == (1000 + 900) * SECOND  # boot at 1000 s, workers started 900 s after


def test_nginx_without_current_workers_counts_from_its_master(proc, tmp_path):
    for pid in ("12", "13"):
        (proc / pid / "cmdline").write_bytes(b"nginx: worker process is shutting down\0")
    pid_file = tmp_path / "nginx.pid"
    pid_file.write_text("10")
    assert ss.nginx_loaded_at(str(pid_file), str(proc), clock_ticks=TICKS, now_ns=NOW) == 1500 * SECOND


@pytest.mark.parametrize("content", [None, "", "abc", "99\n"])
def test_a_service_that_is_not_running_has_no_load_time(proc, tmp_path, content):
    pid_file = tmp_path / "x.pid"
    if content is not None:
        pid_file.write_text(content)
    assert ss.nginx_loaded_at(str(pid_file), str(proc), clock_ticks=TICKS, now_ns=NOW) is None
    assert ss.php_fpm_loaded_at(str(pid_file), str(proc)) is None


def test_php_fpm_loaded_at_is_its_pid_files_mtime(proc, tmp_path):
    pid_file = tmp_path / "php-fpm.pid"
    pid_file.write_text("10")
    os.utime(str(pid_file), ns=(5 * SECOND, 7 * SECOND))
    assert ss.php_fpm_loaded_at(str(pid_file), str(proc)) == 7 * SECOND


def test_stale_reasons(tmp_path):
    conf = tmp_path / "conf"
    (conf / "sub").mkdir(parents=True)
    old, new = conf / "old.conf", conf / "sub" / "new.conf"
    old.write_text("x")
    new.write_text("y")
    sock = tmp_path / "a.sock"
    sock.write_text("")
    for path, seconds in ((old, 10), (conf / "sub", 10), (conf, 10), (new, 30)):
        os.utime(str(path), ns=(seconds * SECOND, seconds * SECOND))
    loaded = 20 * SECOND
    assert ss.stale_reasons(loaded, [str(conf)], recursive=True, sockets=[str(sock)]) == [
        "%s changed after the last load" % new
    ]
    assert ss.stale_reasons(loaded, [str(conf)], recursive=False) == []
    assert ss.stale_reasons(loaded, [str(old), str(tmp_path / "missing")], sockets=[str(tmp_path / "b.sock")]) == [
        "socket %s is missing" % (tmp_path / "b.sock")
    ]
    # a file written just before the load counts as not loaded (at worst one reload too many), unless margin 0
    assert ss.stale_reasons(10 * SECOND + 1, [str(old)]) == ["%s changed after the last load" % old]
    assert ss.stale_reasons(10 * SECOND + 1, [str(old)], margin_ns=0) == []
    # not running: nothing to reload
    assert ss.stale_reasons(None, [str(conf)], recursive=True, sockets=[str(tmp_path / "b.sock")]) == []


def test_this_machine_reads_its_own_clock(tmp_path):
    # the real /proc: this process (a master without workers) started a moment ago
    pid_file = tmp_path / "self.pid"
    pid_file.write_text(str(os.getpid()))
    now = time.time_ns()
    assert now - 3600 * SECOND < ss.nginx_loaded_at(str(pid_file)) <= now + SECOND


def test_each_service_has_its_own_margin(tmp_path):
    conf = tmp_path / "old.conf"
    conf.write_text("x")
    os.utime(str(conf), ns=(10 * SECOND, 10 * SECOND))
    # nginx's load time is only known to ~10 ms; php-fpm's (its pid file's mtime) exactly.
    assert ss.reload_reasons("nginx", 10 * SECOND + 1, [str(conf)]) == ["%s changed after the last load" % conf]
    assert ss.reload_reasons("php-fpm", 10 * SECOND + 1, [str(conf)]) == []
