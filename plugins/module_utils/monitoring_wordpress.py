# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# Managed by wpzo.hosting: the monitoring_agent role installs this file on servers; changes there are overwritten.
"""The WordPress core version of each site against the one the inventory asks for, as textfile metrics.

A site's core can fall behind the inventory (an update the operator asked for that did not happen, a restore of an
old copy) or be updated by WordPress itself (auto_update_core). This program reads each site's
``wp-includes/version.php`` and writes, for node_exporter's textfile collector, one sample per site:
``wpzo_wordpress_core_behind{site, installed, wanted}``, 1 when the installed core is older than the wanted one or
cannot be read (``installed="unknown"``), else 0. The file is replaced atomically (monitoring_php_fpm's
textfile_program).

The monitoring_agent role copies this file beside monitoring_php_fpm.py on the server, run as ``python3 <file>
--config <json> --output <prom>`` by the same timer; standard library only, Python 3.8 compatible. Its config:
``{"sites": [{"site", "docroot", "wanted"}]}``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import time

try:
    from ansible_collections.wpzo.hosting.plugins.module_utils.monitoring_php_fpm import label, textfile_program
except ImportError:  # on the server: the program beside it
    from monitoring_php_fpm import label, textfile_program

METRIC = "wpzo_wordpress_core_behind"
VERSION_FILE = os.path.join("wp-includes", "version.php")
# version.php is a few hundred bytes; a site's file is never read further.
READ_MAX = 65536
VERSION_RE = re.compile(r"^\$wp_version\s*=\s*'([^']+)'", re.M)


def read_version(docroot):
    """The version in the site's version.php, or None. The file is the site's: read without following a link at
    its name and without blocking on a FIFO (the program runs as root)."""
    path = os.path.join(docroot, VERSION_FILE)
    try:
        handle = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        data = os.read(handle, READ_MAX) if os.path.isfile(path) and not os.path.islink(path) else b""
    finally:
        os.close(handle)
    match = VERSION_RE.search(data.decode("utf-8", "replace"))
    return match.group(1) if match else None


def version_key(version):
    """A comparable key of a WordPress version: 6.4.2 > 6.4 > 6.3.9; a suffix such as -RC1 is ignored."""
    return tuple(int(part) for part in re.findall(r"[0-9]+", version.split("-")[0]))


def behind(installed, wanted):
    """1 when ``installed`` (None: unreadable) is older than ``wanted``; a site without a wanted version is never
    behind once its version is readable."""
    if installed is None:
        return 1
    if not wanted:
        return 0
    return 1 if version_key(installed) < version_key(wanted) else 0


def render(sites, read=read_version):
    lines = [
        "# HELP %s 1 when the site's WordPress core is older than the version the inventory asks for, or unreadable."
        % METRIC,
        "# TYPE %s gauge" % METRIC,
    ]
    for site in sites:
        installed = read(site["docroot"])
        wanted = site.get("wanted") or ""
        lines.append(
            '%s{site="%s",installed="%s",wanted="%s"} %d'
            % (METRIC, label(site["site"]), label(installed or "unknown"), label(wanted), behind(installed, wanted))
        )
    name = "wpzo_wordpress_metrics_timestamp_seconds"
    lines.extend(("# HELP %s When these metrics were written." % name, "# TYPE %s gauge" % name))
    lines.append("%s %d" % (name, time.time()))
    return "\n".join(lines) + "\n"


def main(argv=None):
    return textfile_program(argv, "Write the WordPress core version of each site as textfile metrics.", "sites", render)


if __name__ == "__main__":
    raise SystemExit(main())
