# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# Managed by wpzo.hosting: the monitoring_agent role installs this file on servers; changes there are overwritten.
"""PHP-FPM pool status per site, written as metrics for node_exporter's textfile collector.

No PHP-FPM exporter is packaged in Debian 12, so this program asks each site's pool for its status page over
the pool's own socket (FastCGI, the way nginx talks to it) and writes one file of metrics for all pools,
atomically (a temporary file in the same folder, then a rename), so the collector never reads half a file.

The monitoring_agent role copies this file to the server as a program (``python3 <file> --config <json>
--output <prom>``), run by a systemd timer; it uses the standard library only and must stay Python 3.8
compatible. Its config lists the pools: ``{"pools": [{"site", "pool", "socket", "status_path",
"max_children"}]}``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import argparse
import json
import os
import socket
import struct
import sys
import tempfile
import time

FCGI_VERSION = 1
FCGI_BEGIN_REQUEST = 1
FCGI_END_REQUEST = 3
FCGI_PARAMS = 4
FCGI_STDIN = 5
FCGI_STDOUT = 6
FCGI_RESPONDER = 1
REQUEST_ID = 1
HEADER = struct.Struct("!BBHHBx")

# Fields of PHP-FPM's JSON status page -> (metric name, type, help): the workers, the queue and the counters the
# alert rules and an operator read. The page's other fields (accepted connections, the listen queue's longest and
# size, total and most-active workers, start time) are left out: at 300 pools they were 1,800 series of the
# monitoring budget (docs/performance.md) that nothing reads.
STATUS_FIELDS = (
    ("listen queue", "listen_queue", "gauge", "Requests waiting for a free worker."),
    ("idle processes", "idle_processes", "gauge", "Idle workers."),
    ("active processes", "active_processes", "gauge", "Busy workers (this status request included)."),
    (
        "max children reached",
        "max_children_reached_total",
        "counter",
        "Times the pool hit pm.max_children since it started.",
    ),
    ("slow requests", "slow_requests_total", "counter", "Requests slower than request_slowlog_timeout."),
)
PREFIX = "wpzo_php_fpm_"


def _pair(name, value):
    def length(data):
        return struct.pack("!B", len(data)) if len(data) < 128 else struct.pack("!I", len(data) | 0x80000000)

    name, value = name.encode("utf-8"), value.encode("utf-8")
    return length(name) + length(value) + name + value


def _record(kind, content=b""):
    return HEADER.pack(FCGI_VERSION, kind, REQUEST_ID, len(content), 0) + content


def status_request(status_path):
    """The bytes of one FastCGI request for the pool's status page, in JSON."""
    params = {
        "SCRIPT_NAME": status_path,
        "SCRIPT_FILENAME": status_path,
        "REQUEST_URI": status_path + "?json",
        "QUERY_STRING": "json",
        "REQUEST_METHOD": "GET",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "GATEWAY_INTERFACE": "CGI/1.1",
    }
    body = b"".join(_pair(name, value) for name, value in params.items())
    begin = struct.pack("!HB5x", FCGI_RESPONDER, 0)
    return _record(FCGI_BEGIN_REQUEST, begin) + _record(FCGI_PARAMS, body) + _record(FCGI_PARAMS) + _record(FCGI_STDIN)


def parse_response(data):
    """The body of a FastCGI response (its STDOUT records, CGI headers removed) and whether it ended.

    Raises ValueError on a malformed response or a status other than 200.
    """
    stdout, offset, ended = b"", 0, False
    while offset + HEADER.size <= len(data):
        version, kind, _request, length, padding = HEADER.unpack_from(data, offset)
        if version != FCGI_VERSION:
            raise ValueError("not a FastCGI response")
        offset += HEADER.size
        if kind == FCGI_STDOUT:
            stdout += data[offset : offset + length]
        elif kind == FCGI_END_REQUEST:
            ended = True
        offset += length + padding
    if not ended:
        raise ValueError("incomplete FastCGI response")
    head, _sep, body = stdout.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"status:") and not line.split(b":", 1)[1].strip().startswith(b"200"):
            raise ValueError("status page answered %s" % line.split(b":", 1)[1].strip().decode("ascii", "replace"))
    return body


def query_pool(socket_path, status_path, timeout=5.0):
    """The pool's status as a dict, asked over its socket."""
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.settimeout(timeout)
    try:
        client.connect(socket_path)
        client.sendall(status_request(status_path))
        chunks = []
        while True:
            chunk = client.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        client.close()
    return json.loads(parse_response(b"".join(chunks)).decode("utf-8"))


def label(value):
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def render(results, now):
    """Metrics text for node_exporter from [(pool entry, status dict or None)]."""
    samples = {}

    def add(name, kind, help_text, labels, value):
        entry = samples.setdefault(name, (kind, help_text, []))
        entry[2].append((labels, value))

    for pool, status in results:
        labels = 'site="%s",pool="%s"' % (label(pool["site"]), label(pool["pool"]))
        add("up", "gauge", "1 if the pool answered its status page.", labels, 1 if status is not None else 0)
        add("max_children", "gauge", "pm.max_children of the pool.", labels, pool.get("max_children", 0))
        for field, name, kind, help_text in STATUS_FIELDS:
            if status is not None and field in status:
                add(name, kind, help_text, labels, status[field])
    lines = []
    for name, (kind, help_text, values) in samples.items():
        lines.append("# HELP %s%s %s" % (PREFIX, name, help_text))
        lines.append("# TYPE %s%s %s" % (PREFIX, name, kind))
        lines.extend("%s%s{%s} %s" % (PREFIX, name, labels, value) for labels, value in values)
    name = PREFIX + "metrics_timestamp_seconds"
    lines.extend(("# HELP %s When these metrics were written." % name, "# TYPE %s gauge" % name))
    lines.append("%s %d" % (name, now))
    return "\n".join(lines) + "\n"


def write_atomically(path, text, mode=0o644):
    """Replace path with text through a temporary file in the same folder (a rename is atomic)."""
    folder = os.path.dirname(path) or "."
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".%s." % os.path.basename(path))
    try:
        with os.fdopen(handle, "w") as stream:
            stream.write(text)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def collect(pools, query=query_pool):
    """[(pool entry, status or None)]; a pool that does not answer is reported down, never skipped."""
    results = []
    for pool in pools:
        try:
            status = query(pool["socket"], pool["status_path"])
        except (OSError, ValueError) as error:
            sys.stderr.write("%s: %s\n" % (pool["pool"], error))
            status = None
        results.append((pool, status))
    return results


def textfile_program(argv, description, listing, metrics):
    """The command line of a textfile metrics program: ``--config`` (JSON whose key ``listing`` lists what to
    read), ``--output`` (the .prom file replaced atomically with ``metrics(entries)``)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--config", required=True, help="JSON file listing the %s" % listing)
    parser.add_argument("--output", required=True, help="the .prom file to replace")
    args = parser.parse_args(argv)
    with open(args.config) as stream:
        entries = json.load(stream)[listing]
    write_atomically(args.output, metrics(entries))
    return 0


def main(argv=None):
    return textfile_program(
        argv,
        "Write PHP-FPM pool status as textfile metrics.",
        "pools",
        lambda pools: render(collect(pools), int(time.time())),
    )


if __name__ == "__main__":
    raise SystemExit(main())
