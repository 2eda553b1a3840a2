# -*- coding: utf-8 -*-
# Copyright: wpzo.hosting developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The programs of the ``wpzo.hosting.wordpress`` module, which are files, not strings in Python.

A module can only ship Python to the host, so the sites role installs them (from ``roles/sites/files/wordpress``)
into ``PROGRAMS_DIR``, and the module reads or runs them there:

- ``site_helper.py``: extracts archives and writes files inside a site's tree, run as the site user
  (``python3 -I site_helper.py ...``, its payload on standard input);
- ``install.php`` and ``activate.php`` (with ``wpzo.php``, what they share): run as the site user with php-cli
  (``php install.php``, their input as JSON on standard input, so a secret never reaches a command line), they
  answer with one ``WPZO-RESULT:<json>`` line;
- the files the module keeps in each site's ``wp-content``: ``wpzo-cache-purge.php`` (a must-use plugin) and
  ``object-cache.php`` (the Redis object cache, for sites with Redis).

Python 3.8 compatible (it runs on the managed host).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import json
import os
import re

from ansible_collections.wpzo.hosting.plugins.module_utils.errors import SiteError
from ansible_collections.wpzo.hosting.plugins.module_utils.wordpress_config import is_managed

SITE_HELPER = "site_helper.py"
INSTALL_PHP = "install.php"
ACTIVATE_PHP = "activate.php"
# The files kept in a site, by path below wp-content, and the program file each is a copy of.
MU_PLUGINS = collections.OrderedDict((("mu-plugins/wpzo-cache-purge.php", "wpzo-cache-purge.php"),))
OBJECT_CACHE = ("object-cache.php", "object-cache.php")
RESULT_PREFIX = "WPZO-RESULT:"


class Programs:
    """The program files in ``directory``, read once each."""

    def __init__(self, directory):
        self.directory = directory
        self.texts = {}

    def path(self, name):
        return os.path.join(self.directory, name)

    def text(self, name):
        """The content of a program file, or None when it is not installed (check mode before the sites role
        ever ran). A file without the module's marker is refused: it would be written into every site."""
        if name not in self.texts:
            try:
                with open(self.path(name), "rb") as handle:
                    data = handle.read()
            except FileNotFoundError:
                data = None
            if data is not None and name.endswith(".php") and not is_managed(data):
                raise SiteError("%s lacks the module's marker; reinstall it with the sites role" % self.path(name))
            self.texts[name] = None if data is None else data.decode("utf-8")
        return self.texts[name]

    def installed(self, name):
        return os.path.isfile(self.path(name))

    def required(self, name):
        """The path of a program the module runs; SiteError when it is not installed."""
        path = self.path(name)
        if not self.installed(name):
            raise SiteError("%s is missing: the sites role installs it (programs_dir)" % path)
        return path

    def drop_ins(self, site):
        """``{path below wp-content: content or None}``: the must-use plugins, and the object cache with Redis."""
        files = collections.OrderedDict((dest, self.text(name)) for dest, name in MU_PLUGINS.items())
        if site.get("redis"):
            files[OBJECT_CACHE[0]] = self.text(OBJECT_CACHE[1])
        return files


def parse_php_result(stdout):
    """The JSON after the last ``WPZO-RESULT:`` line, or None."""
    found = None
    for line in (stdout or "").splitlines():
        if line.startswith(RESULT_PREFIX):
            found = line[len(RESULT_PREFIX) :]
    if found is None:
        return None
    try:
        return json.loads(found)
    except ValueError:
        return None


def plain(text, limit=600):
    """Tool output made readable for an error message: tags dropped, white space squeezed, cut."""
    text = re.sub(r"(?is)<(head|style|script)\b.*?</\1\s*>", " ", text or "")
    text = re.sub(r"<[^>]+>", " ", text)
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= limit else text[:limit] + " ..."
