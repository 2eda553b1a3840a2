# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The controller-side credentials store: one file per secret, generated once, reused on every run."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import secrets
import string
import tempfile

# Printable ASCII without whitespace; consumers (SQL, PHP, Redis ACL) must escape, never avoid, these.
PRINTABLE = string.ascii_letters + string.digits + string.punctuation
ALPHANUMERIC = string.ascii_letters + string.digits
CHARSETS = {"printable": PRINTABLE, "alphanumeric": ALPHANUMERIC}
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_.@-]+(/[A-Za-z0-9_.@-]+)*$")


def generate(length, charset="printable"):
    alphabet = CHARSETS[charset]
    return "".join(secrets.choice(alphabet) for _position in range(length))


def credential_path(store, name):
    if not NAME_PATTERN.match(name) or any(part in (".", "..") for part in name.split("/")):
        raise ValueError("invalid credential name %r: use letters, digits, '_.@-' and '/' between parts" % name)
    return os.path.join(store, name)


def read_or_create(store, name, length=32, charset="printable"):
    """Return the stored secret, creating it (0600, in 0700 directories) on first use."""
    path = credential_path(store, name)
    try:
        with open(path) as handle:
            value = handle.read().rstrip("\n")
        if value:
            return value
    except FileNotFoundError:
        pass
    directory = os.path.dirname(path)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    value = generate(length, charset)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(value + "\n")
        os.chmod(tmp, 0o600)
        # link() fails if another process created the file meanwhile: then its value wins.
        try:
            os.link(tmp, path)
        except FileExistsError:
            with open(path) as handle:
                value = handle.read().rstrip("\n")
    finally:
        os.unlink(tmp)
    return value
