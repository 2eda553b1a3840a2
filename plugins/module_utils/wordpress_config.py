# -*- coding: utf-8 -*-
# Copyright: wpzo.hosting developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""wp-config.php for the ``wpzo.hosting.wordpress`` module: PHP literals, reading an existing file's defines and
salts, rendering, and the diff with every secret masked. Python 3.8 compatible (it runs on the managed host).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import math
import re
import secrets
import string

from ansible_collections.wpzo.hosting.plugins.module_utils import value_syntax

MARKER = "Managed by wpzo.hosting.wordpress - do not edit"
MARKER_SCAN_BYTES = 512
CONFIG_NAME = "wp-config.php"
CONFIG_MODE = 0o600

SALT_NAMES = (
    "AUTH_KEY",
    "SECURE_AUTH_KEY",
    "LOGGED_IN_KEY",
    "NONCE_KEY",
    "AUTH_SALT",
    "SECURE_AUTH_SALT",
    "LOGGED_IN_SALT",
    "NONCE_SALT",
)
SALT_LENGTH = 64
# Printable ASCII without whitespace, quotes and backslash included: the renderer escapes, never avoids.
SALT_ALPHABET = string.ascii_letters + string.digits + string.punctuation
SALT_PLACEHOLDER = "put your unique phrase here"

SECRET_CONSTANT_RE = re.compile(r"PASS|SECRET|KEY|SALT|TOKEN|AUTH", re.I)

# Constants the module renders itself; extra_constants must not set them.
MANAGED_CONSTANTS = frozenset(
    (
        "DB_NAME",
        "DB_USER",
        "DB_PASSWORD",
        "DB_HOST",
        "DB_CHARSET",
        "DB_COLLATE",
        "WP_HOME",
        "WP_SITEURL",
        "FORCE_SSL_ADMIN",
        "DISALLOW_FILE_EDIT",
        "WP_AUTO_UPDATE_CORE",
        "DISABLE_WP_CRON",
        "WP_CACHE",
        "WPZO_PURGE_REQUEST_FILE",
        "WP_REDIS_SCHEME",
        "WP_REDIS_PATH",
        "WP_REDIS_HOST",
        "WP_REDIS_PORT",
        "WP_REDIS_PASSWORD",
        "WP_REDIS_DATABASE",
        "WP_REDIS_PREFIX",
        "WP_CACHE_KEY_SALT",
        "ABSPATH",
        "WP_INSTALLING",
        *SALT_NAMES,
    )
)
ALWAYS_SECRET = frozenset(("DB_PASSWORD", "WP_REDIS_PASSWORD", *SALT_NAMES))
MASK = "********"


# --- PHP values ----------------------------------------------------------------------------------------------
def php_string(value):
    """A PHP single-quoted string literal: only ``\\`` and ``'`` are special there."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def php_value(value):
    """A PHP literal for a YAML/JSON value (str, bool, int, float, None, list, dict)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("%r is not a finite number" % value)
        return repr(value)
    if isinstance(value, str):
        return php_string(value)
    if isinstance(value, (list, tuple)):
        return "[ " + ", ".join(php_value(item) for item in value) + " ]" if value else "[]"
    if isinstance(value, dict):
        if not value:
            return "[]"
        items = []
        for key in value:
            if isinstance(key, bool) or not isinstance(key, (str, int)):
                raise ValueError("array key %r must be a string or an integer" % (key,))
            items.append("%s => %s" % (php_value(key), php_value(value[key])))
        return "[ " + ", ".join(items) + " ]"
    raise ValueError("values of type %s cannot be written to PHP" % type(value).__name__)


def check_php_value(value, where, err):
    """Report control characters in strings (the file is line-oriented) and unsupported types."""
    if isinstance(value, str):
        if value_syntax.CONTROL.search(value):
            err("%s: must not contain control characters such as newlines" % where)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            check_php_value(item, "%s[%d]" % (where, index), err)
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and value_syntax.CONTROL.search(key):
                err("%s: key %r must not contain control characters" % (where, key))
            check_php_value(item, "%s[%r]" % (where, key), err)
    try:
        php_value(value)
    except ValueError as exc:
        err("%s: %s" % (where, exc))


_SQ_STRING = r"'((?:[^'\\]|\\.)*)'"
_DQ_STRING = r'"((?:[^"\\$]|\\["\\$])*)"'
# A define() value: quoted strings are atomic tokens, so "');" inside a salt cannot end the match.
_VALUE = r"""((?:'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"|[^'"\n;])*?)"""
_DEFINE_RE = re.compile(
    r"""^[ \t]*define\([ \t]*(['"])([A-Za-z_][A-Za-z0-9_]*)\1[ \t]*,[ \t]*""" + _VALUE + r"""[ \t]*\)[ \t]*;""",
    re.M,
)
_PREFIX_RE = re.compile(r"^[ \t]*\$table_prefix[ \t]*=[ \t]*(.*?)[ \t]*;", re.M)


def parse_php_string(literal):
    """The value of a PHP string literal (single- or simple double-quoted), or None if it is something else."""
    match = re.match(r"^%s$" % _SQ_STRING, literal, re.S)
    if match:
        return re.sub(r"\\([\\'])", r"\1", match.group(1))
    match = re.match(r"^%s$" % _DQ_STRING, literal, re.S)
    if match:
        return re.sub(r'\\(["\\$])', r"\1", match.group(1))
    return None


def read_defines(text):
    """``{NAME: literal}`` for every one-line ``define( 'NAME', literal );`` in a PHP file."""
    return dict((m.group(2), m.group(3)) for m in _DEFINE_RE.finditer(text))


def existing_salts(text):
    """Salts found in an existing wp-config.php (placeholders and empty values skipped)."""
    found = {}
    defines = read_defines(text or "")
    for name in SALT_NAMES:
        value = parse_php_string(defines.get(name, ""))
        if value and value != SALT_PLACEHOLDER:
            found[name] = value
    return found


def generate_salt(length=SALT_LENGTH):
    return "".join(secrets.choice(SALT_ALPHABET) for _position in range(length))


def complete_salts(found, generate=generate_salt):
    """All eight salts: those found are kept, the missing ones generated."""
    return collections.OrderedDict((name, found[name] if name in found else generate()) for name in SALT_NAMES)


# --- rendering -----------------------------------------------------------------------------------------------
def _define(name, value):
    return "define( %s, %s );" % (php_string(name), php_value(value))


def _auto_update_value(policy):
    return {"minor": "minor", "major": True, "false": False}[policy]


def render_config(site, salts):
    """The complete ``wp-config.php`` of a normalised site with the given salts (deterministic)."""
    lines = [
        "<?php",
        "// %s: changes are overwritten on the next run." % MARKER,
        "// WordPress configuration of %s." % site["domain"],
        "",
        "// Database",
        _define("DB_NAME", site["db_name"]),
        _define("DB_USER", site["db_user"]),
        _define("DB_PASSWORD", site["db_password"]),
        _define("DB_HOST", site["db_host"]),
        _define("DB_CHARSET", "utf8mb4"),
        _define("DB_COLLATE", ""),
        "",
        "// Authentication keys and salts: generated once, kept on later runs",
    ]
    lines += [_define(name, salts[name]) for name in SALT_NAMES]
    lines += [
        "",
        "$table_prefix = %s;" % php_string(site["table_prefix"]),
        "",
        "// Site",
        _define("WP_HOME", site["url"]),
        _define("WP_SITEURL", site["url"]),
    ]
    if site["tls"]:
        lines.append(_define("FORCE_SSL_ADMIN", True))
    lines += [
        _define("DISALLOW_FILE_EDIT", True),
        _define("WP_AUTO_UPDATE_CORE", _auto_update_value(site["auto_update_core"])),
    ]
    if site["disable_wp_cron"]:
        lines.append("// WordPress cron runs from a system timer")
        lines.append(_define("DISABLE_WP_CRON", True))
    lines.append(_define("WP_CACHE", bool(site["page_cache"])))
    if site["page_cache"] and site["purge_request_file"]:
        lines.append("// The wpzo-cache-purge must-use plugin writes purge requests here")
        lines.append(_define("WPZO_PURGE_REQUEST_FILE", site["purge_request_file"]))
    redis = site["redis"]
    if redis:
        lines += ["", "// Redis object cache (the redis-cache plugin)"]
        if redis["path"]:
            lines += [_define("WP_REDIS_SCHEME", "unix"), _define("WP_REDIS_PATH", redis["path"])]
        else:
            lines += [
                _define("WP_REDIS_SCHEME", "tcp"),
                _define("WP_REDIS_HOST", redis["host"]),
                _define("WP_REDIS_PORT", redis["port"]),
            ]
        if redis["username"] is not None:
            lines.append(_define("WP_REDIS_PASSWORD", [redis["username"], redis["password"]]))
        elif redis["password"] is not None:
            lines.append(_define("WP_REDIS_PASSWORD", redis["password"]))
        lines += [
            _define("WP_REDIS_DATABASE", redis["database"]),
            _define("WP_REDIS_PREFIX", redis["prefix"]),
            _define("WP_CACHE_KEY_SALT", redis["prefix"]),
        ]
    if site["extra_constants"]:
        lines += ["", "// Extra constants"]
        lines += [_define(name, site["extra_constants"][name]) for name in sorted(site["extra_constants"])]
    lines += [
        "",
        "if ( ! defined( 'ABSPATH' ) ) {",
        "\tdefine( 'ABSPATH', __DIR__ . '/' );",
        "}",
        "",
        "require_once ABSPATH . 'wp-settings.php';",
    ]
    return "\n".join(lines) + "\n"


def secret_names(site=None, text=None):
    """Constant names whose values are masked in diffs."""
    names = set(ALWAYS_SECRET)
    for name in (site or {}).get("extra_constants") or {}:
        if SECRET_CONSTANT_RE.search(name) and name not in MANAGED_CONSTANTS:
            names.add(name)
    for name in read_defines(text or ""):
        if SECRET_CONSTANT_RE.search(name) and name not in MANAGED_CONSTANTS:
            names.add(name)
    return names


def mask_config(text, names, changed=()):
    """Replace the values of the given constants by a mask; ``changed`` ones say so."""

    def replace(match):
        name = match.group(2)
        if name not in names:
            return match.group(0)
        token = MASK + " (changed)" if name in changed else MASK
        whole = match.string
        return whole[match.start(0) : match.start(3)] + php_string(token) + whole[match.end(3) : match.end(0)]

    return _DEFINE_RE.sub(replace, text)


def config_diff_texts(site, before, after):
    """``(before, after)`` texts of wp-config.php for a diff with every secret masked."""
    names = secret_names(site, before) | secret_names(site, after)
    old, new = read_defines(before or ""), read_defines(after)
    changed = set(name for name in names if name in new and old.get(name) != new.get(name) and before)
    return mask_config(before or "", names), mask_config(after, names, changed)


def is_managed(data):
    """Whether the bytes of a file in a site carry the module's marker."""
    return MARKER.encode("utf-8") in data[:MARKER_SCAN_BYTES]
