# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Has a running service loaded its configuration files? Read from the server, not from a handler.

A run killed after writing a file and before its handler reloaded the service leaves the file on disk and the
service running the old configuration; the next run sees no change and notifies nothing. So whether a reload is
due is read from the server: the moment the running service last loaded its configuration, compared with the
modification times of the files (and of their directories: a file added, renamed or removed changes its
directory's mtime), plus sockets a configured pool must have.

- php-fpm: a reload (SIGUSR2) re-executes the master, which re-reads every file and then rewrites its pid file;
  the pid file's mtime is the last load (``php-fpm -t`` never writes it).
- nginx: a reload (SIGHUP) re-reads the configuration and starts new workers; workers of the old configuration
  retitle themselves "worker process is shutting down". The earliest start of the current workers is the last
  load (the pid file is not rewritten on a reload).

All times are nanoseconds since the epoch. Code here must stay Python 3.8 compatible (it runs on the managed
host).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import time

# A file written this shortly before the last load still counts as not loaded: nginx's worker start times come
# from clock ticks (10 ms) and /proc/uptime (10 ms). In the safe direction: at worst one reload too many.
MARGIN_NS = 50 * 1000 * 1000

NGINX_WORKER_TITLE = b"nginx: worker process"


def _alive(pid, proc="/proc"):
    return os.path.isdir(os.path.join(proc, str(pid)))


def read_pid(pid_file):
    """The pid in ``pid_file``, or None when it is missing or not a number."""
    try:
        with open(pid_file, "rb") as handle:
            text = handle.read(64).strip()
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return None
    return int(text) if text.isdigit() else None


def php_fpm_loaded_at(pid_file, proc="/proc"):
    """When the running php-fpm master last loaded its configuration (its pid file's mtime), None if not running."""
    pid = read_pid(pid_file)
    if pid is None or not _alive(pid, proc):
        return None
    try:
        return os.stat(pid_file).st_mtime_ns
    except FileNotFoundError:
        return None


def boot_time_ns(proc="/proc", now_ns=None):
    """The epoch time of the boot the start times in /proc/<pid>/stat count from (from /proc/uptime)."""
    with open(os.path.join(proc, "uptime")) as handle:
        uptime = float(handle.read().split()[0])
    now = time.time_ns() if now_ns is None else now_ns
    return now - int(uptime * 1e9)


def _stat_fields(proc, pid):
    """(ppid, starttime in clock ticks) from /proc/<pid>/stat; the command name may hold spaces or ')'."""
    with open(os.path.join(proc, pid, "stat"), "rb") as handle:
        data = handle.read()
    fields = data[data.rindex(b")") + 2 :].split()
    return int(fields[1]), int(fields[19])


def nginx_loaded_at(pid_file, proc="/proc", clock_ticks=None, now_ns=None):
    """When the running nginx last loaded its configuration: the earliest start of its current workers.

    None when nginx is not running (no pid file, or no such process); the master's own start when it has no
    current worker (it starts them right after loading).
    """
    master = read_pid(pid_file)
    if master is None or not _alive(master, proc):
        return None
    ticks = clock_ticks or os.sysconf("SC_CLK_TCK")
    starts = []
    master_start = None
    for name in os.listdir(proc):
        if not name.isdigit():
            continue
        try:
            ppid, start = _stat_fields(proc, name)
            if int(name) == master:
                master_start = start
                continue
            if ppid != master:
                continue
            with open(os.path.join(proc, name, "cmdline"), "rb") as handle:
                title = handle.read().rstrip(b"\0 ")
        except (OSError, ValueError, IndexError):
            continue  # a process that ended while we looked
        if title == NGINX_WORKER_TITLE:
            starts.append(start)
    earliest = min(starts) if starts else master_start
    if earliest is None:
        return None
    return boot_time_ns(proc, now_ns) + earliest * 1000 * 1000 * 1000 // ticks


def _walk(path):
    """``path`` and, for a directory, everything below it (no links followed)."""
    yield path
    if os.path.isdir(path) and not os.path.islink(path):
        for root, dirs, files in os.walk(path):
            for name in dirs + files:
                yield os.path.join(root, name)


def newer_than(paths, loaded_at, recursive=False, margin_ns=MARGIN_NS):
    """Paths (files, links, directories; below directories too with ``recursive``) modified after ``loaded_at``
    (less ``margin_ns``); missing paths are skipped."""
    limit = loaded_at - margin_ns
    found = []
    for top in paths:
        for path in _walk(top) if recursive else (top,):
            try:
                if os.lstat(path).st_mtime_ns > limit:
                    found.append(path)
            except FileNotFoundError:
                continue
    return found


def missing_sockets(sockets):
    return [path for path in sockets if not os.path.exists(path)]


def stale_reasons(loaded_at, paths=(), recursive=False, sockets=(), margin_ns=MARGIN_NS):
    """Why the running service must reload: a list of sentences, empty when it runs what is on disk.

    ``loaded_at`` None (not running) gives none: starting a stopped service is not a reload's job.
    """
    if loaded_at is None:
        return []
    reasons = ["%s changed after the last load" % p for p in newer_than(paths, loaded_at, recursive, margin_ns)]
    reasons += ["socket %s is missing" % p for p in missing_sockets(sockets)]
    return reasons


# How each service's last load is read, and how far that moment can be trusted (the margin a file written just
# before it is still counted as not loaded): php-fpm's pid file mtime is exact, nginx's worker start times are not.
SERVICES = {"nginx": (nginx_loaded_at, MARGIN_NS), "php-fpm": (php_fpm_loaded_at, 0)}


def last_load(service, pid_file, proc="/proc"):
    """When the running ``service`` last loaded its configuration; None when it is not running."""
    return SERVICES[service][0](pid_file, proc)


def reload_reasons(service, loaded_at, paths=(), recursive=False, sockets=()):
    """``stale_reasons`` with the margin of ``service``."""
    return stale_reasons(loaded_at, paths, recursive, sockets, SERVICES[service][1])
