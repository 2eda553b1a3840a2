# -*- coding: utf-8 -*-
# Copyright: wpzo.hosting developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure logic behind the ``wpzo.hosting.wordpress`` module.

One call reconciles every WordPress site of a server. Per site (each step a small function unit tests call):

1. ``validate_sites(sites)`` -> (normalised sites, errors); every problem at once, naming site and field.
2. ``read_site(site, cache_dir)`` -> ``SiteState``: cheap reads only (core version file, ``wp-config.php``,
   the must-use plugins, plugin/theme directories, the installed-marker).
3. ``plan_site(site, state, ...)`` -> ``SitePlan``: the rendered ``wp-config.php`` (salts kept from the existing
   file), what must be extracted, written, installed or activated.
4. ``apply_site(site, state, plan, ctx)`` -> changes; everything inside the site's tree is done *as the site
   user* through ``ctx.runner`` (the ``SITE_HELPER`` Python program for extraction and file writes, php-cli for
   the installer and activation). Only the download cache and the markers under ``cache_dir`` are written as
   root.

``reconcile()`` ties the steps together for the module. The side effects come in through ``Context`` (runner,
downloader, user lookups) so unit tests run everything with fakes.

Code here must stay Python 3.8 compatible (it runs on the managed host).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import contextlib
import errno
import grp
import hashlib
import json
import math
import os
import posixpath
import pwd
import re
import secrets
import stat
import string
import tempfile
import time

from ansible_collections.wpzo.hosting.plugins.module_utils import site_names
from ansible_collections.wpzo.hosting.plugins.module_utils.wordpress_object_cache import OBJECT_CACHE_DROP_IN

MARKER = "Managed by wpzo.hosting.wordpress - do not edit"
MARKER_SCAN_BYTES = 512
CONFIG_NAME = "wp-config.php"
# The site's PHP alone reads it: the web server, in the site's group, never needs the database password.
CONFIG_MODE = 0o600
MU_PLUGIN_MODE = 0o644
MARKER_FILE_MODE = 0o600

OFFICIAL_CORE_URL = "https://wordpress.org/wordpress-%s.tar.gz"
DEFAULT_REDIS_SOCKET = "/run/redis/redis-server.sock"
DEFAULT_PURGE_REQUEST_NAME = "tmp/.wpzo-purge-request"

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

AUTO_UPDATE_CHOICES = ("minor", "major", "true", "false", "none")
STATE_CHOICES = ("present",)

# Option defaults of a site that do not depend on other options. ``None`` means "derived" or "not set".
# Keep in sync with the module's argument_spec (a unit test checks it).
SITE_DEFAULTS = {
    "group": None,
    "url": None,
    "core_url": None,
    "core_checksum": None,
    "core_src": None,
    "db_name": None,
    "db_user": None,
    "db_password": None,
    "db_host": "localhost",
    "table_prefix": "wp_",
    "title": None,
    "admin_user": None,
    "admin_email": None,
    "admin_password": None,
    "locale": "en_US",
    "tls": None,
    "auto_update_core": "minor",
    "disable_wp_cron": True,
    "redis": None,
    "page_cache": False,
    "extra_constants": None,
    "plugins": None,
    "themes": None,
    "purge_request_file": None,
    "adopt_config": False,
    "state": "present",
}
REQUIRED_SITE_OPTIONS = ("domain", "path", "owner", "version")
SITE_OPTIONS = REQUIRED_SITE_OPTIONS + tuple(SITE_DEFAULTS)
REDIS_DEFAULTS = {
    "path": None,
    "host": None,
    "port": 6379,
    "username": None,
    "password": None,
    "database": 0,
    "prefix": None,
}
EXTENSION_DEFAULTS = {"src": None, "url": None, "checksum": None, "activate": False}
EXTENSION_OPTIONS = ("name", *EXTENSION_DEFAULTS)

POSIX_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,31}$")
TABLE_PREFIX_RE = re.compile(r"^[A-Za-z0-9_]+$")
VERSION_RE = re.compile(r"^[0-9]+\.[0-9]+(\.[0-9]+)?([-.][A-Za-z0-9]+)*$")
CHECKSUM_RE = re.compile(r"^(sha1|sha256):([0-9A-Fa-f]+)$")
CHECKSUM_LENGTHS = {"sha1": 40, "sha256": 64}
URL_RE = re.compile(r"^https?://[^\s/?#]+(/[^\s]*)?$")
SITE_URL_RE = re.compile(r"^https?://[^\s/?#'\"\\]+(/[^\s?#'\"\\]*)?$")
WP_USER_RE = re.compile(r"^[A-Za-z0-9 _.@-]{1,60}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
LOCALE_RE = re.compile(r"^[a-z]{2,3}(_[A-Z]{2})?(_[A-Za-z0-9]+)?$")
SLUG_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
CONSTANT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
SECRET_CONSTANT_RE = re.compile(r"PASS|SECRET|KEY|SALT|TOKEN|AUTH", re.I)
DB_HOST_RE = re.compile(r"^[A-Za-z0-9_.:\[\]/-]+$")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")

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


class WordPressError(Exception):
    """Any failure the module reports; ``errors`` lists every problem, ``details`` goes into the result."""

    def __init__(self, msg, errors=None, details=None):
        super(WordPressError, self).__init__(msg)
        self.msg = msg
        self.errors = list(errors or [])
        self.details = dict(details or {})


class SiteValidationError(WordPressError):
    pass


class SiteError(WordPressError):
    """A failure of one site; the other sites go on."""


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


def _check_php_value(value, where, err):
    """Report control characters in strings (the file is line-oriented) and unsupported types."""
    if isinstance(value, str):
        if _CONTROL_RE.search(value):
            err("%s: must not contain control characters such as newlines" % where)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _check_php_value(item, "%s[%d]" % (where, index), err)
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and _CONTROL_RE.search(key):
                err("%s: key %r must not contain control characters" % (where, key))
            _check_php_value(item, "%s[%r]" % (where, key), err)
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


# --- validation ----------------------------------------------------------------------------------------------
def _normalised_path(value):
    return (
        isinstance(value, str)
        and value.startswith("/")
        and posixpath.normpath(value) == value
        and value != "/"
        and not _CONTROL_RE.search(value)
    )


def _check_checksum(value, field, err):
    match = CHECKSUM_RE.match(value or "")
    if not match or len(match.group(2)) != CHECKSUM_LENGTHS[match.group(1)]:
        err("%s: %r must be sha1:<40 hex digits> or sha256:<64 hex digits>" % (field, value))
        return None
    return "%s:%s" % (match.group(1), match.group(2).lower())


def _validate_extensions(site, kind, err):
    entries = site.get(kind) or []
    normalised = []
    seen = set()
    for index, raw in enumerate(entries):
        where = "%s[%d]" % (kind, index)
        if not isinstance(raw, dict):
            err("%s: must be a dict with name and src or url + checksum" % where)
            continue
        entry = dict(EXTENSION_DEFAULTS)
        entry.update(dict((k, v) for k, v in raw.items() if v is not None or k not in EXTENSION_DEFAULTS))
        unknown = sorted(set(entry) - set(EXTENSION_OPTIONS))
        if unknown:
            err("%s: unknown option(s) %s" % (where, ", ".join(unknown)))
        name = entry.get("name")
        if not isinstance(name, str) or not SLUG_RE.match(name) or name in (".", ".."):
            err("%s.name: %r must be the directory name (slug) such as akismet" % (where, name))
        elif name in seen:
            err("%s.name: %s is listed twice" % (where, name))
        else:
            seen.add(name)
        if entry["src"] is not None and not _normalised_path(entry["src"]):
            err("%s.src: %r must be an absolute path of a zip archive on the host" % (where, entry["src"]))
        if entry["url"] is not None and not URL_RE.match(str(entry["url"])):
            err("%s.url: %r is not an http(s) URL" % (where, entry["url"]))
        if entry["checksum"] is not None:
            entry["checksum"] = _check_checksum(entry["checksum"], where + ".checksum", err)
        elif entry["src"] is None and entry["url"] is not None:
            err("%s.checksum: required with url (sha1:<hex> or sha256:<hex>)" % where)
        if not isinstance(entry["activate"], bool):
            err("%s.activate: must be true or false" % where)
        normalised.append(entry)
    if kind == "themes" and sum(1 for entry in normalised if entry.get("activate")) > 1:
        err("themes: only one theme can be activated")
    return normalised


def _validate_redis(site, err):
    raw = site.get("redis")
    if raw is None:
        return None
    if not isinstance(raw, dict):
        err("redis: must be a dict or null")
        return None
    redis = dict(REDIS_DEFAULTS)
    redis.update(dict((k, v) for k, v in raw.items() if v is not None))
    for key in sorted(set(redis) - set(REDIS_DEFAULTS)):
        err("redis.%s: unknown option" % key)
    if redis["path"] is not None and redis["host"] is not None:
        err("redis: give either path (a unix socket) or host, not both")
    if redis["path"] is None and redis["host"] is None:
        redis["path"] = DEFAULT_REDIS_SOCKET
    if redis["path"] is not None and not _normalised_path(redis["path"]):
        err("redis.path: %r must be the absolute path of a unix socket" % redis["path"])
    if redis["host"] is not None and not re.match(r"^[A-Za-z0-9_.:-]+$", str(redis["host"])):
        err("redis.host: %r is not a host name or address" % redis["host"])
    for field, low, high in (("port", 1, 65535), ("database", 0, 15)):
        value = redis[field]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            err("redis.%s: %r must be an integer from %d to %d" % (field, value, low, high))
    if redis["username"] is not None and redis["password"] is None:
        err("redis.password: required with redis.username (an ACL user)")
    if redis["prefix"] is None:
        try:
            redis["prefix"] = site_names.derive(site_names.normalise_domain(site["domain"]))["redis_prefix"]
        except (ValueError, TypeError):
            redis["prefix"] = ""
    for field in ("username", "password", "prefix"):
        if redis[field] is not None:
            _check_php_value(redis[field], "redis." + field, err)
    return redis


def _check_auto_update(value, err):
    text = str(value).lower() if value is not None else "minor"
    if text in ("yes", "on", "1"):
        text = "true"
    if text in ("no", "off", "0"):
        text = "false"
    if text not in AUTO_UPDATE_CHOICES:
        err("auto_update_core: %r is not one of %s" % (value, ", ".join(AUTO_UPDATE_CHOICES)))
        return "minor"
    return {"true": "major", "none": "false"}.get(text, text)


def validate_site(raw):
    """Normalise one site: ``(site, errors)``; each error names the field."""
    errors = []
    err = errors.append
    site = dict.fromkeys(REQUIRED_SITE_OPTIONS)
    site.update(SITE_DEFAULTS)
    site.update(dict((k, v) for k, v in raw.items() if v is not None or k not in SITE_DEFAULTS))
    for key in sorted(set(site) - set(SITE_OPTIONS)):
        err("%s: unknown option" % key)
    for key in REQUIRED_SITE_OPTIONS:
        if not site.get(key):
            err("%s: required" % key)
    domain_ok = False
    try:
        site["domain"] = site_names.normalise_domain(site.get("domain"))
        domain_ok = True
    except ValueError as exc:
        if site.get("domain"):
            err("domain: %s" % exc)
    path = site.get("path")
    if path and not _normalised_path(path):
        err("path: %r must be an absolute, normalised path (no trailing /, . or ..) other than /" % path)
    owner = site.get("owner")
    if owner and (not POSIX_NAME_RE.match(str(owner)) or owner == "root"):
        err("owner: %r must be the site's system user (not root)" % owner)
    site["group"] = site["group"] or owner
    if site["group"] and (not POSIX_NAME_RE.match(str(site["group"])) or site["group"] == "root"):
        err("group: %r must be the site's system group (not root)" % site["group"])

    if site["state"] not in STATE_CHOICES:
        err("state: %r is not one of %s" % (site["state"], ", ".join(STATE_CHOICES)))
    if site["version"] and not VERSION_RE.match(str(site["version"])):
        err("version: %r is not a WordPress version such as 6.1.1" % site["version"])
    checksum_given = site["core_checksum"] is not None
    if checksum_given:
        site["core_checksum"] = _check_checksum(site["core_checksum"], "core_checksum", err)
    if site["core_src"] is not None:
        if not _normalised_path(site["core_src"]):
            err("core_src: %r must be the absolute path of a .tar.gz archive on the host" % site["core_src"])
    else:
        if site["core_url"] is None and site["version"] and VERSION_RE.match(str(site["version"])):
            site["core_url"] = OFFICIAL_CORE_URL % site["version"]
        if site["core_url"] is not None and not URL_RE.match(str(site["core_url"])):
            err("core_url: %r is not an http(s) URL" % site["core_url"])
        if not checksum_given:
            err("core_checksum: required when the core archive is downloaded (sha1:<hex> or sha256:<hex>)")

    for field in ("db_name", "db_user", "db_password", "admin_user", "admin_email", "admin_password"):
        value = site[field]
        if value is None or value == "":
            err("%s: required" % field)
        elif not isinstance(value, str):
            err("%s: must be a string" % field)
        elif _CONTROL_RE.search(value):
            err("%s: must not contain control characters such as newlines" % field)
    if isinstance(site["db_name"], str) and not re.match(r"^[A-Za-z0-9_$-]{1,64}$", site["db_name"]):
        err("db_name: %r must be 1-64 letters, digits, _ $ or -" % site["db_name"])
    if not isinstance(site["db_host"], str) or not DB_HOST_RE.match(site["db_host"]):
        err("db_host: %r must be a host name, host:port or localhost:/path/to/socket" % site["db_host"])
    if not isinstance(site["table_prefix"], str) or not TABLE_PREFIX_RE.match(site["table_prefix"]):
        err("table_prefix: %r must be letters, digits and _ only" % site["table_prefix"])
    if isinstance(site["admin_user"], str) and site["admin_user"] and not WP_USER_RE.match(site["admin_user"]):
        err("admin_user: %r must be 1-60 letters, digits, space, _ . @ or -" % site["admin_user"])
    if isinstance(site["admin_email"], str) and site["admin_email"] and not EMAIL_RE.match(site["admin_email"]):
        err("admin_email: %r is not an e-mail address" % site["admin_email"])
    password = site["admin_password"]
    if isinstance(password, str) and password and password != password.strip():
        err("admin_password: must not start or end with white space (WordPress trims it)")
    if not isinstance(site["locale"], str) or not LOCALE_RE.match(site["locale"]):
        err("locale: %r is not a WordPress locale such as en_US or de_DE_formal" % site["locale"])

    if site["tls"] is not None and not isinstance(site["tls"], bool):
        err("tls: must be true or false")
    if site["url"] is None and domain_ok:
        site["url"] = ("http://" if site["tls"] is False else "https://") + site["domain"]
    if site["url"] is not None:
        site["url"] = str(site["url"]).rstrip("/")
        if not SITE_URL_RE.match(site["url"]):
            err("url: %r must be the site's http(s) URL such as https://example.com" % raw.get("url"))
    if site["tls"] is None:
        site["tls"] = bool(site["url"] and site["url"].startswith("https://"))
    if site["title"] is None and domain_ok:
        site["title"] = site["domain"]
    if isinstance(site["title"], str) and _CONTROL_RE.search(site["title"]):
        err("title: must not contain control characters")
    site["auto_update_core"] = _check_auto_update(site["auto_update_core"], err)
    for field in ("disable_wp_cron", "page_cache", "adopt_config"):
        if not isinstance(site[field], bool):
            err("%s: must be true or false" % field)

    site["redis"] = _validate_redis(site, err)
    extra = site["extra_constants"] or {}
    if not isinstance(extra, dict):
        err("extra_constants: must be a dict of NAME: value")
        extra = {}
    for name in sorted(extra, key=str):
        if not isinstance(name, str) or not CONSTANT_RE.match(name):
            err("extra_constants: %r is not a PHP constant name" % (name,))
        elif name.upper() in MANAGED_CONSTANTS:
            err("extra_constants.%s: set by the module itself; use the dedicated option" % name)
        else:
            _check_php_value(extra[name], "extra_constants.%s" % name, err)
    site["extra_constants"] = extra
    site["plugins"] = _validate_extensions(site, "plugins", err)
    site["themes"] = _validate_extensions(site, "themes", err)

    purge = site["purge_request_file"]
    if purge is None and path and _normalised_path(path):
        purge = posixpath.join(posixpath.dirname(path), DEFAULT_PURGE_REQUEST_NAME)
    if purge and not _normalised_path(purge):
        err("purge_request_file: %r must be an absolute, normalised path (or empty to disable)" % purge)
    site["purge_request_file"] = purge or ""
    return site, errors


def validate_sites(sites):
    """Validate and normalise every site: ``(normalised, errors)``; errors name the site and the field."""
    normalised, errors = [], []
    if not isinstance(sites, list):
        return [], ["sites: must be a list of sites"]
    domains, paths = {}, {}
    for index, raw in enumerate(sites):
        if not isinstance(raw, dict):
            errors.append("sites[%d]: must be a dict" % index)
            continue
        site, site_errors = validate_site(raw)
        label = "site '%s' (sites[%d])" % (site.get("domain") or raw.get("domain"), index)
        for field, table in (("domain", domains), ("path", paths)):
            value = site.get(field)
            if value and value in table:
                site_errors.append("%s: %s is already used by sites[%d]" % (field, value, table[value]))
            elif value:
                table[value] = index
        site["label"] = label
        errors.extend("%s: %s" % (label, message) for message in site_errors)
        normalised.append(site)
    return normalised, errors


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


VERSION_FILE_READ_MAX = 8192


def _read_site_file(path, limit):
    """At most ``limit`` bytes of a regular file the site controls, read safely as root.

    The last component is never followed if it is a link (O_NOFOLLOW: ELOOP), and opening never blocks
    (O_NONBLOCK: a FIFO the site put there would otherwise hang the run); anything but a regular file, found
    with fstat on the opened descriptor, is refused. Returns None when there is no such file, raises OSError
    (with the reason) for a link or a special file.
    """
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise OSError(errno.ELOOP, "%s is a symbolic link; it is not followed" % path) from exc
        raise
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "%s is not a regular file" % path)
        chunks, left = [], limit
        while left > 0:
            chunk = os.read(fd, left)
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def installed_version(path):
    """WordPress version of the core in ``path`` (from wp-includes/version.php), or None if absent.

    The file belongs to the site: it is read without following a link, without blocking on a FIFO and at most
    VERSION_FILE_READ_MAX bytes (``_read_site_file``); a link or special file there is "unknown", never read.
    """
    try:
        data = _read_site_file(os.path.join(path, "wp-includes", "version.php"), VERSION_FILE_READ_MAX)
    except OSError:
        return "unknown"
    if data is None:
        return None
    text = data.decode("utf-8", "replace")
    match = re.search(r"^\$wp_version\s*=\s*'([^']+)'", text, re.M)
    return match.group(1) if match else "unknown"


# --- the must-use plugins ------------------------------------------------------------------------------------
CACHE_PURGE_PLUGIN = r"""<?php
/**
 * Plugin Name: wpzo cache purge
 * Description: Asks the server to purge this site's nginx page cache when its content changes.
 * Version: 1.0.0
 * Author: wpzo.hosting
 *
 * @@MARKER@@: changes are overwritten on the next run.
 *
 * Contract with the server: when public content changes, this plugin (re)writes the file named by the
 * constant WPZO_PURGE_REQUEST_FILE (set in wp-config.php) once per request, at shutdown, with one line
 * "<unix time> <reasons>". A root systemd path unit watches that file and purges the site's page cache; the
 * file is only a trigger, its content is informational. Without the constant the plugin does nothing.
 * Other code may ask for a purge with do_action( 'wpzo_cache_purge', 'reason' ).
 */

if ( ! defined( 'ABSPATH' ) ) {
    exit;
}

final class Wpzo_Cache_Purge {
    /** @var array<string, bool> Reasons collected during this request. */
    private static $reasons = array();

    public static function boot() {
        if ( ! defined( 'WPZO_PURGE_REQUEST_FILE' ) || '' === WPZO_PURGE_REQUEST_FILE ) {
            return;
        }
        add_action( 'wpzo_cache_purge', array( __CLASS__, 'request' ) );
        add_action( 'save_post', array( __CLASS__, 'on_save_post' ), 10, 2 );
        add_action( 'transition_post_status', array( __CLASS__, 'on_transition' ), 10, 3 );
        add_action( 'deleted_post', array( __CLASS__, 'on_deleted_post' ), 10, 2 );
        add_action( 'comment_post', array( __CLASS__, 'on_comment_post' ), 10, 2 );
        add_action( 'edit_comment', array( __CLASS__, 'on_edit_comment' ) );
        add_action( 'transition_comment_status', array( __CLASS__, 'on_comment_status' ), 10, 2 );
        foreach ( array( 'switch_theme', 'customize_save_after', 'wp_update_nav_menu', 'activated_plugin',
            'deactivated_plugin', 'upgrader_process_complete', 'edited_term', 'delete_term',
            'update_option_blogname', 'update_option_blogdescription', 'update_option_permalink_structure',
            'update_option_sidebars_widgets', 'update_option_show_on_front', 'update_option_page_on_front',
        ) as $hook ) {
            add_action( $hook, array( __CLASS__, 'on_site_change' ) );
        }
    }

    public static function request( $reason = 'manual' ) {
        if ( empty( self::$reasons ) ) {
            add_action( 'shutdown', array( __CLASS__, 'write' ) );
        }
        self::$reasons[ preg_replace( '/[^A-Za-z0-9_:.-]/', '', (string) $reason ) ] = true;
    }

    public static function write() {
        $line = time() . ' ' . implode( ',', array_keys( self::$reasons ) ) . "\n";
        if ( false === @file_put_contents( WPZO_PURGE_REQUEST_FILE, $line, LOCK_EX ) ) {
            error_log( 'wpzo-cache-purge: could not write the purge request file ' . WPZO_PURGE_REQUEST_FILE );
        }
    }

    private static function visible( $post ) {
        if ( ! $post || wp_is_post_revision( $post ) || wp_is_post_autosave( $post ) ) {
            return false;
        }
        return 'publish' === $post->post_status && is_post_type_viewable( $post->post_type );
    }

    public static function on_save_post( $post_id, $post ) {
        if ( ( defined( 'DOING_AUTOSAVE' ) && DOING_AUTOSAVE ) || ! self::visible( $post ) ) {
            return;
        }
        self::request( 'save_post' );
    }

    public static function on_transition( $new_status, $old_status, $post ) {
        if ( 'publish' === $old_status && 'publish' !== $new_status && $post && ! wp_is_post_revision( $post ) ) {
            self::request( 'unpublish' );
        }
    }

    public static function on_deleted_post( $post_id, $post = null ) {
        if ( $post && 'publish' === $post->post_status ) {
            self::request( 'deleted_post' );
        }
    }

    public static function on_comment_post( $comment_id, $approved ) {
        if ( 1 === $approved || '1' === $approved ) {
            self::request( 'comment_post' );
        }
    }

    public static function on_edit_comment( $comment_id ) {
        if ( '1' === wp_get_comment_status( $comment_id ) || 'approved' === wp_get_comment_status( $comment_id ) ) {
            self::request( 'edit_comment' );
        }
    }

    public static function on_comment_status( $new_status, $old_status ) {
        if ( 'approved' === $new_status || 'approved' === $old_status ) {
            self::request( 'comment_status' );
        }
    }

    public static function on_site_change() {
        self::request( current_action() );
    }
}

Wpzo_Cache_Purge::boot();
""".replace("@@MARKER@@", MARKER)

MU_PLUGINS = collections.OrderedDict((("mu-plugins/wpzo-cache-purge.php", CACHE_PURGE_PLUGIN),))
OBJECT_CACHE = OBJECT_CACHE_DROP_IN.replace("@@MARKER@@", MARKER)


def drop_ins(site):
    """The files the module keeps in wp-content, by path below it: the must-use plugins, and the object cache."""
    files = collections.OrderedDict(MU_PLUGINS)
    if site.get("redis"):
        files["object-cache.php"] = OBJECT_CACHE
    return files


def is_managed(data):
    return MARKER.encode("utf-8") in data[:MARKER_SCAN_BYTES]


# --- programs run as the site user ---------------------------------------------------------------------------
# Extracts archives and writes files inside a site's tree. Runs as the site user (setpriv), reads its payload
# from stdin, prints a JSON line on success, an error on stderr and exits 1 on failure; never leaves a partial
# extraction behind.
SITE_HELPER = r"""
import json, os, sys

def fail(msg):
    sys.stderr.write(msg + "\n")
    sys.exit(1)

def members(kind, data):
    import io, stat, tarfile, zipfile
    if kind == "tar":
        archive = tarfile.open(fileobj=io.BytesIO(data), mode="r:*")
        for info in archive.getmembers():
            if info.isdir():
                yield info.name, "dir", None, 0
            elif info.isfile():
                yield info.name, "file", (lambda i=info: archive.extractfile(i).read()), info.mode
            else:
                fail("archive member %r is not a regular file or directory" % info.name)
    else:
        archive = zipfile.ZipFile(io.BytesIO(data))
        for info in archive.infolist():
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                fail("archive member %r is a symbolic link" % info.filename)
            if info.is_dir():
                yield info.filename, "dir", None, 0
            else:
                yield info.filename, "file", (lambda i=info: archive.read(i)), mode

def clean(name, top):
    import posixpath
    path = posixpath.normpath(name.replace("\\", "/"))
    parts = path.split("/")
    if name.startswith("/") or ".." in parts or parts[0] != top:
        fail("archive member %r is not inside %s/" % (name, top))
    return path

def extract(kind, dest, top, strip, expect_version):
    import re, shutil, tempfile
    data = sys.stdin.buffer.read()
    # Extract next to dest (same file system: the final moves are renames), else inside it; dest itself is
    # only created once the archive passed every check.
    parent = os.path.dirname(dest) if strip else dest
    if not os.path.isdir(parent):
        os.makedirs(parent, 0o755)
    try:
        tmp = tempfile.mkdtemp(prefix=".wpzo-extract-", dir=parent)
        if os.path.isdir(dest) and os.stat(tmp).st_dev != os.stat(dest).st_dev:
            os.rmdir(tmp)
            raise OSError("another file system")
    except OSError:
        if not os.path.isdir(dest):
            raise
        tmp = tempfile.mkdtemp(prefix=".wpzo-extract-", dir=dest)
    try:
        count = 0
        for name, kind_, read, mode in members(kind, data):
            target = os.path.join(tmp, clean(name, top))
            if kind_ == "dir":
                if not os.path.isdir(target):
                    os.makedirs(target, 0o755)
                continue
            if not os.path.isdir(os.path.dirname(target)):
                os.makedirs(os.path.dirname(target), 0o755)
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o755 if mode & 0o111 else 0o644)
            with os.fdopen(fd, "wb") as handle:
                handle.write(read())
            count += 1
        root = os.path.join(tmp, top)
        if not count or not os.path.isdir(root):
            fail("the archive holds no files below %s/" % top)
        found = None
        if expect_version:
            try:
                with open(os.path.join(root, "wp-includes", "version.php")) as handle:
                    match = re.search(r"^\$wp_version\s*=\s*'([^']+)'", handle.read(), re.M)
                found = match.group(1) if match else None
            except OSError:
                found = None
            if found != expect_version:
                found_text = found or "(no wp-includes/version.php)"
                fail("the archive holds WordPress %s, not %s" % (found_text, expect_version))
        kept = []
        if not os.path.isdir(dest):
            os.makedirs(dest, 0o755)
        if strip:
            def merge(src, dst, rel):
                for entry in sorted(os.listdir(src)):
                    s, d = os.path.join(src, entry), os.path.join(dst, entry)
                    if not os.path.lexists(d):
                        os.rename(s, d)
                    elif os.path.isdir(s) and os.path.isdir(d) and not os.path.islink(d):
                        merge(s, d, rel + entry + "/")
                    else:
                        kept.append(rel + entry)
            merge(root, dest, "")
        else:
            final = os.path.join(dest, top)
            if os.path.lexists(final):
                fail("%s already exists" % final)
            os.rename(root, final)
        print(json.dumps({"files": count, "kept": kept, "version": found}))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

def write(gid):
    # stdin: JSON [{"path": ..., "mode": "0640", "content": ...}]; each file replaced atomically.
    written = []
    for item in json.loads(sys.stdin.buffer.read().decode("utf-8")):
        dest = item["path"]
        directory = os.path.dirname(dest)
        if not os.path.isdir(directory):
            os.makedirs(directory, 0o755)
        tmp = os.path.join(directory, ".wpzo-%s.tmp" % os.urandom(6).hex())
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            with os.fdopen(fd, "wb") as handle:
                if gid >= 0 and os.fstat(handle.fileno()).st_gid != gid:
                    os.fchown(handle.fileno(), -1, gid)
                os.fchmod(handle.fileno(), int(item["mode"], 8))
                handle.write(item["content"].encode("utf-8"))
            os.rename(tmp, dest)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        written.append(dest)
    print(json.dumps({"written": written}))

def main():
    os.umask(0o022)
    command = sys.argv[1]
    try:
        if command == "extract":
            kind, dest, top, strip, expect = sys.argv[2:7]
            extract(kind, dest, top, strip == "strip", expect)
        elif command == "write":
            write(int(sys.argv[2]))
        else:
            fail("unknown command %r" % command)
    except Exception as exc:  # tarfile.TarError, zipfile.BadZipFile, OSError ...
        fail("%s: %s" % (type(exc).__name__, exc))

main()
"""

# php-cli programs, read by php from stdin with their input embedded (secrets never on a command line).
_PHP_PRELUDE = r"""<?php
error_reporting( E_ALL & ~E_DEPRECATED & ~E_NOTICE & ~E_WARNING );
ini_set( 'display_errors', 'stderr' );
$wpzo = json_decode( @@INPUT@@, true );
$wpzo_url = parse_url( $wpzo['url'] );
$_SERVER['HTTP_HOST'] = $wpzo_url['host'] . ( isset( $wpzo_url['port'] ) ? ':' . $wpzo_url['port'] : '' );
$_SERVER['SERVER_NAME'] = $wpzo_url['host'];
$_SERVER['SERVER_PORT'] = isset( $wpzo_url['port'] ) ? $wpzo_url['port']
    : ( 'https' === $wpzo_url['scheme'] ? 443 : 80 );
$_SERVER['REQUEST_URI'] = '/';
$_SERVER['REQUEST_METHOD'] = 'GET';
$_SERVER['SERVER_PROTOCOL'] = 'HTTP/1.1';
if ( 'https' === $wpzo_url['scheme'] ) {
    $_SERVER['HTTPS'] = 'on';
}
function wpzo_result( $data ) {
    // STDOUT is not defined for a program read from standard input; output buffers may be open.
    $out = fopen( 'php://stdout', 'w' );
    fwrite( $out, "\nWPZO-RESULT:" . json_encode( $data ) . "\n" );
    fclose( $out );
}
"""

INSTALL_PHP = (
    _PHP_PRELUDE
    + r"""
// Check whether WordPress is installed; with 'install' true, run its installer when it is not.
define( 'WP_INSTALLING', true );
// wp_install() mails the new admin; the server may have no mailer. upgrade.php keeps this one.
function wp_new_blog_notification() {
}
require $wpzo['path'] . '/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';
$wpzo_before = is_blog_installed();
$wpzo_out = array( 'installed_before' => $wpzo_before, 'installed' => $wpzo_before );
if ( ! $wpzo_before && $wpzo['install'] ) {
    wp_install(
        $wpzo['title'],
        $wpzo['admin_user'],
        $wpzo['admin_email'],
        true,
        '',
        wp_slash( $wpzo['admin_password'] ),
        $wpzo['locale']
    );
    update_option( 'siteurl', $wpzo['url'] );
    update_option( 'home', $wpzo['url'] );
    wp_cache_flush();
    wp_cache_delete( 'is_blog_installed' );
    $wpzo_out['installed'] = (bool) get_option( 'siteurl' );
}
wpzo_result( $wpzo_out );
"""
)

ACTIVATE_PHP = (
    _PHP_PRELUDE
    + r"""
// Activate plugins and switch the theme (with 'dry_run' only report what would be activated).
require $wpzo['path'] . '/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/plugin.php';
$wpzo_out = array( 'activated' => array(), 'errors' => array() );
foreach ( $wpzo['plugins'] as $wpzo_slug ) {
    $wpzo_found = get_plugins( '/' . $wpzo_slug );
    if ( empty( $wpzo_found ) ) {
        $wpzo_out['errors'][] = "plugin $wpzo_slug: no plugin header found in wp-content/plugins/$wpzo_slug";
        continue;
    }
    $wpzo_main = isset( $wpzo_found[ $wpzo_slug . '.php' ] ) ? $wpzo_slug . '.php' : key( $wpzo_found );
    $wpzo_file = $wpzo_slug . '/' . $wpzo_main;
    if ( is_plugin_active( $wpzo_file ) ) {
        continue;
    }
    if ( ! $wpzo['dry_run'] ) {
        $wpzo_r = activate_plugin( $wpzo_file );
        if ( is_wp_error( $wpzo_r ) && ! is_plugin_active( $wpzo_file ) ) {
            $wpzo_out['errors'][] = "plugin $wpzo_slug: " . $wpzo_r->get_error_message();
            continue;
        }
    }
    $wpzo_out['activated'][] = 'plugin:' . $wpzo_slug;
}
if ( $wpzo['theme'] ) {
    $wpzo_theme = wp_get_theme( $wpzo['theme'] );
    if ( ! $wpzo_theme->exists() || $wpzo_theme->errors() ) {
        $wpzo_why = $wpzo_theme->errors() ? $wpzo_theme->errors()->get_error_message() : 'not found';
        $wpzo_out['errors'][] = 'theme ' . $wpzo['theme'] . ': ' . $wpzo_why;
    } elseif ( get_stylesheet() !== $wpzo['theme'] ) {
        if ( ! $wpzo['dry_run'] ) {
            switch_theme( $wpzo['theme'] );
        }
        $wpzo_out['activated'][] = 'theme:' . $wpzo['theme'];
    }
}
wpzo_result( $wpzo_out );
"""
)


def php_program(template, data):
    """A php-cli program with ``data`` embedded as a JSON string literal."""
    return template.replace("@@INPUT@@", php_string(json.dumps(data, sort_keys=True)))


def parse_php_result(stdout):
    """The JSON after the last ``WPZO-RESULT:`` line, or None."""
    found = None
    for line in (stdout or "").splitlines():
        if line.startswith("WPZO-RESULT:"):
            found = line[len("WPZO-RESULT:") :]
    if found is None:
        return None
    try:
        return json.loads(found)
    except ValueError:
        return None


def _plain(text, limit=600):
    """Tool output made readable for an error message: tags dropped, white space squeezed, cut."""
    text = re.sub(r"(?is)<(head|style|script)\b.*?</\1\s*>", " ", text or "")
    text = re.sub(r"<[^>]+>", " ", text)
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= limit else text[:limit] + " ..."


# --- state on the host ---------------------------------------------------------------------------------------
Existing = collections.namedtuple("Existing", "kind content uid gid mode")  # kind: missing|file|other


def read_file(path):
    """``Existing`` for a path, never following a symbolic link at the last component."""
    try:
        st = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return Existing("missing", None, None, None, None)
    if not stat.S_ISREG(st.st_mode):
        return Existing("other", None, st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode))
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as handle:
        return Existing("file", handle.read(), st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode))


SiteState = collections.namedtuple("SiteState", "version config mu_plugins plugins themes marker path_ok")


def marker_path(cache_dir, domain):
    return os.path.join(cache_dir, "installed", domain)


def read_marker(cache_dir, domain):
    try:
        with open(marker_path(cache_dir, domain), "rb") as handle:
            value = json.loads(handle.read().decode("utf-8"))
        return value if isinstance(value, dict) else None
    except (OSError, ValueError):
        return None


def read_site(site, cache_dir):
    """Everything the plan needs, with cheap reads only (no subprocess)."""
    path = site["path"]
    path_ok = os.path.realpath(path) == path  # also catches a symlinked parent of a missing docroot
    content = os.path.join(path, "wp-content")
    return SiteState(
        version=installed_version(path) if path_ok else None,
        config=read_file(os.path.join(path, CONFIG_NAME)),
        mu_plugins=dict((name, read_file(os.path.join(content, name))) for name in drop_ins(site)),
        plugins=dict((e["name"], os.path.isdir(os.path.join(content, "plugins", e["name"]))) for e in site["plugins"]),
        themes=dict((e["name"], os.path.isdir(os.path.join(content, "themes", e["name"]))) for e in site["themes"]),
        marker=read_marker(cache_dir, site["domain"]),
        path_ok=path_ok,
    )


# --- planning ------------------------------------------------------------------------------------------------
def db_fingerprint(site):
    """What the installed-marker vouches for: the database a site uses (a change re-checks the install)."""
    material = [site["path"], site["db_name"], site["db_user"], site["db_password"], site["db_host"]]
    material.append(site["table_prefix"])
    return hashlib.sha256(json.dumps(material).encode("utf-8")).hexdigest()


def activation_list(site):
    plugins = [entry["name"] for entry in site["plugins"] if entry["activate"]]
    themes = [entry["name"] for entry in site["themes"] if entry["activate"]]
    return plugins, (themes[0] if themes else None)


def activation_fingerprint(site):
    plugins, theme = activation_list(site)
    return hashlib.sha256(json.dumps([plugins, theme]).encode("utf-8")).hexdigest()


class SitePlan(
    collections.namedtuple(
        "SitePlan",
        "core config_text config_content_changed config_meta_changed mu_plugins plugins themes "
        "check_install activate fingerprint activation ids",
    )
):
    """What to do for one site. ``mu_plugins``: names to write; ``plugins``/``themes``: entries to extract."""

    __slots__ = ()


def lookup_ids(owner, group):
    """(uid, gid) of the site's user and group; KeyError when one does not exist."""
    return pwd.getpwnam(owner).pw_uid, grp.getgrnam(group).gr_gid


def plan_site(site, state, verify_installed=False, ids=None, generate=generate_salt):
    """Decide what a site needs. Raises SiteError for conflicts (unmanaged or irregular files)."""
    path = site["path"]
    if not state.path_ok:
        raise SiteError(
            "path %s resolves to %s: the site's path must not contain symbolic links" % (path, os.path.realpath(path))
        )
    config = state.config
    config_path = os.path.join(path, CONFIG_NAME)
    if config.kind == "other":
        raise SiteError("%s exists and is not a regular file" % config_path)
    if config.kind == "file" and not is_managed(config.content) and not site["adopt_config"]:
        raise SiteError(
            "%s exists but is not managed by wpzo.hosting.wordpress (no marker line); set adopt_config: true to "
            "take it over (its salts are kept, everything else is replaced)" % config_path
        )
    text = config.content.decode("utf-8", "replace") if config.kind == "file" else None
    salts = complete_salts(existing_salts(text), generate)
    desired = render_config(site, salts)
    content_changed = config.content != desired.encode("utf-8")
    meta_changed = False
    if config.kind == "file":
        meta_changed = ids is None or (config.uid, config.gid, config.mode) != (ids[0], ids[1], CONFIG_MODE)

    mu = []
    for name, source in drop_ins(site).items():
        current = state.mu_plugins[name]
        where = os.path.join(path, "wp-content", name)
        if current.kind == "other":
            raise SiteError("%s exists and is not a regular file" % where)
        if current.kind == "file" and not is_managed(current.content):
            raise SiteError("%s exists but is not managed by wpzo.hosting.wordpress (no marker)" % where)
        if current.content != source.encode("utf-8") or (
            ids is not None and current.kind == "file" and current.mode != MU_PLUGIN_MODE
        ):
            mu.append(name)

    core = state.version is None
    plugins = [entry for entry in site["plugins"] if not state.plugins.get(entry["name"])]
    themes = [entry for entry in site["themes"] if not state.themes.get(entry["name"])]
    fingerprint = db_fingerprint(site)
    marker = state.marker or {}
    check_install = bool(verify_installed or core or marker.get("fingerprint") != fingerprint)
    act_plugins, act_theme = activation_list(site)
    activation = activation_fingerprint(site)
    wants_activation = bool(act_plugins or act_theme)
    activate = wants_activation and bool(
        check_install
        or marker.get("activation") != activation
        or [e for e in plugins if e["activate"]]
        or [e for e in themes if e["activate"]]
    )
    return SitePlan(
        core=core,
        config_text=desired,
        config_content_changed=content_changed,
        config_meta_changed=meta_changed,
        mu_plugins=mu,
        plugins=plugins,
        themes=themes,
        check_install=check_install,
        activate=activate,
        fingerprint=fingerprint,
        activation=activation,
        ids=ids,
    )


# --- archives: download cache and checksums ------------------------------------------------------------------
def file_digest(path, algorithm):
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def checksum_matches(path, checksum):
    algorithm, expected = checksum.split(":", 1)
    actual = file_digest(path, algorithm)
    return actual == expected, "%s:%s" % (algorithm, actual)


def _safe_name(url):
    base = posixpath.basename(url.split("?", 1)[0].split("#", 1)[0]) or "archive"
    return re.sub(r"[^A-Za-z0-9_.-]", "_", base)[:100]


def core_cache_path(cache_dir, version):
    return os.path.join(cache_dir, "core", "wordpress-%s.tar.gz" % version)


def download_cache_path(cache_dir, url, checksum):
    return os.path.join(cache_dir, "downloads", "%s-%s" % (checksum.split(":", 1)[1][:16], _safe_name(url)))


class Archives:
    """Obtain verified archives: from the host (``src``) or downloaded once into the cache (``url``)."""

    def __init__(self, downloader):
        self.downloader = downloader
        self.memo = {}

    def obtain(self, field, src, url, checksum, cache_path):
        """Path of a verified archive; raises SiteError naming ``field`` on any problem."""
        if src is not None:
            if not os.path.isfile(src):
                raise SiteError("%s: %s does not exist or is not a file" % (field.replace("checksum", "src"), src))
            if checksum:
                ok, actual = checksum_matches(src, checksum)
                if not ok:
                    raise SiteError(
                        "%s: %s has %s, expected %s; nothing was extracted" % (field, src, actual, checksum)
                    )
            return src
        key = (url, checksum, cache_path)
        if key in self.memo:
            outcome = self.memo[key]
            if isinstance(outcome, SiteError):
                raise SiteError(outcome.msg)
            return outcome
        try:
            outcome = self._download(field, url, checksum, cache_path)
        except SiteError as exc:
            self.memo[key] = exc
            raise
        self.memo[key] = outcome
        return outcome

    def _download(self, field, url, checksum, cache_path):
        if os.path.isfile(cache_path) and checksum_matches(cache_path, checksum)[0]:
            return cache_path  # cached earlier and still intact
        directory = os.path.dirname(cache_path)
        os.makedirs(directory, mode=0o755, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".download-", dir=directory)
        os.close(fd)
        try:
            try:
                self.downloader(url, tmp)
            except WordPressError as exc:
                what = field.replace("checksum", "url")
                raise SiteError("%s: download of %s failed: %s" % (what, url, exc.msg)) from None
            ok, actual = checksum_matches(tmp, checksum)
            if not ok:
                raise SiteError(
                    "%s: the archive downloaded from %s has %s, expected %s; nothing was extracted"
                    % (field, url, actual, checksum)
                )
            os.chmod(tmp, 0o644)
            os.replace(tmp, cache_path)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        return cache_path


# --- applying ------------------------------------------------------------------------------------------------
class Context:
    """Side effects and settings for ``reconcile``.

    ``runner(argv, user=None, group=None, data=b"", cwd=None) -> (rc, stdout, stderr)`` runs a program, as
    ``user``/``group`` when given; ``downloader(url, dest)`` fetches a URL into a file or raises WordPressError;
    ``ids(owner, group) -> (uid, gid)`` raises KeyError for an unknown user or group.
    """

    def __init__(
        self,
        runner,
        downloader,
        cache_dir="/var/lib/wpzo/wordpress",
        php_binary="/usr/bin/php",
        python_binary="/usr/bin/python3",
        check_mode=False,
        want_diff=False,
        verify_installed=False,
        ids=lookup_ids,
        warn=None,
    ):
        self.runner = runner
        self.archives = Archives(downloader)
        self.cache_dir = cache_dir
        self.php_binary = php_binary
        self.python_binary = python_binary
        self.check_mode = check_mode
        self.want_diff = want_diff
        self.verify_installed = verify_installed
        self.ids = ids
        self.warnings = []
        self.warn = warn or self.warnings.append


def _helper(ctx, site, args, data):
    argv = [ctx.python_binary, "-I", "-c", SITE_HELPER, *args]
    rc, out, err = ctx.runner(argv, user=site["owner"], group=site["group"], data=data, cwd="/")
    if rc != 0:
        raise SiteError(_plain(err or out) or "helper failed with rc=%s" % rc)
    try:
        return json.loads((out or "").strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise SiteError("unexpected helper output: %s" % _plain(out)) from None


def write_as_owner(ctx, site, files, gid):
    """Write ``[(path, content, mode)]`` atomically as the site user, in one helper call."""
    payload = [{"path": path, "content": content, "mode": "%04o" % mode} for path, content, mode in files]
    _helper(ctx, site, ["write", str(gid)], json.dumps(payload).encode("utf-8"))


def extract_as_owner(ctx, site, kind, archive, dest, top, strip, expect_version=""):
    with open(archive, "rb") as handle:
        data = handle.read()
    args = ["extract", kind, dest, top, "strip" if strip else "keep", expect_version or ""]
    return _helper(ctx, site, args, data)


def run_php(ctx, site, template, data, what):
    program = php_program(template, data).encode("utf-8")
    rc, out, err = ctx.runner([ctx.php_binary], user=site["owner"], group=site["group"], data=program, cwd=site["path"])
    result = parse_php_result(out)
    if rc != 0 or result is None:
        detail = _plain((err or "") + " " + (out or "")) or "no output"
        raise SiteError("%s through php-cli failed (rc=%s): %s" % (what, rc, detail))
    return result


def _install_input(site, install):
    return {
        "path": site["path"],
        "url": site["url"],
        "install": install,
        "title": site["title"],
        "admin_user": site["admin_user"],
        "admin_email": site["admin_email"],
        "admin_password": site["admin_password"] if install else "",
        "locale": site["locale"],
    }


def _activate_input(site, dry_run):
    plugins, theme = activation_list(site)
    return {"path": site["path"], "url": site["url"], "plugins": plugins, "theme": theme, "dry_run": dry_run}


def write_marker(cache_dir, domain, data):
    directory = os.path.join(cache_dir, "installed")
    os.makedirs(directory, mode=0o700, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".marker-", dir=directory)
    try:
        with os.fdopen(fd, "w") as handle:
            os.fchmod(handle.fileno(), MARKER_FILE_MODE)
            json.dump(data, handle, sort_keys=True)
            handle.write("\n")
        os.replace(tmp, marker_path(cache_dir, domain))
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _db_settings_unchanged(site, state):
    """True when the existing wp-config.php already points at the desired database (check mode may ask it)."""
    if state.config.kind != "file" or not is_managed(state.config.content):
        return False
    defines = read_defines(state.config.content.decode("utf-8", "replace"))
    for name, field in (("DB_NAME", "db_name"), ("DB_USER", "db_user"), ("DB_PASSWORD", "db_password")):
        if parse_php_string(defines.get(name, "")) != site[field]:
            return False
    if parse_php_string(defines.get("DB_HOST", "")) != site["db_host"]:
        return False
    match = _PREFIX_RE.search(state.config.content.decode("utf-8", "replace"))
    return bool(match) and parse_php_string(match.group(1)) == site["table_prefix"]


def _summary(header, text):
    return {"before_header": header, "after_header": header, "before": "", "after": text + "\n"}


def reconcile_site(site, ctx, progress=None):
    """Bring one site to its desired state (or say what would change). Returns ``(changes, diffs, version)``.

    ``progress`` (a dict) receives ``changes`` and ``diffs`` as they happen, so a caller still knows what was
    done when a later step fails. A change is only recorded once it is done (or, in check mode, predicted).
    """
    progress = {} if progress is None else progress
    changes = progress.setdefault("changes", [])
    diffs = progress.setdefault("diffs", [])
    try:
        ids = ctx.ids(site["owner"], site["group"])
    except KeyError:
        if not ctx.check_mode:
            raise SiteError(
                "owner/group: user %r or group %r does not exist (create the site's account first)"
                % (site["owner"], site["group"])
            ) from None
        ids = None
    state = read_site(site, ctx.cache_dir)
    plan = plan_site(site, state, ctx.verify_installed, ids)
    path = site["path"]
    version = state.version
    gid = ids[1] if ids else -1
    config_path = os.path.join(path, CONFIG_NAME)

    if plan.core:
        source = site["core_src"] or site["core_url"]
        what = "WordPress %s extracted from %s" % (site["version"], source)
        if not ctx.check_mode:
            archive = ctx.archives.obtain(
                "core_checksum",
                site["core_src"],
                site["core_url"],
                site["core_checksum"],
                core_cache_path(ctx.cache_dir, site["version"]),
            )
            outcome = extract_as_owner(ctx, site, "tar", archive, path, "wordpress", True, site["version"])
            if outcome.get("kept"):
                ctx.warn(
                    "site %s: kept %d existing file(s) in %s instead of the archive's: %s"
                    % (site["domain"], len(outcome["kept"]), path, ", ".join(outcome["kept"][:10]))
                )
            version = installed_version(path)
        else:
            version = site["version"]
        changes.append("core")
        diffs.append(_summary("%s (WordPress core)" % path, what))

    # wp-config.php and the must-use plugins: one helper call writes them all.
    config_changed = plan.config_content_changed or plan.config_meta_changed
    writes = [(config_path, plan.config_text, CONFIG_MODE)] if config_changed else []
    content_dir = os.path.join(path, "wp-content")
    managed = drop_ins(site)
    writes += [(os.path.join(content_dir, name), managed[name], MU_PLUGIN_MODE) for name in plan.mu_plugins]
    if writes and not ctx.check_mode:
        write_as_owner(ctx, site, writes, gid)
    if config_changed:
        changes.append("config")
        if ctx.want_diff:
            if state.config.kind == "file" and not is_managed(state.config.content):
                before = "(unmanaged wp-config.php, %d bytes, not shown)\n" % len(state.config.content)
                after = config_diff_texts(site, None, plan.config_text)[1]
            else:
                before_text = state.config.content.decode("utf-8", "replace") if state.config.content else None
                before, after = config_diff_texts(site, before_text, plan.config_text)
                if not plan.config_content_changed:
                    owner = "%s:%s %04o" % (site["owner"], site["group"], CONFIG_MODE)
                    after += "// (owner, group or mode corrected to %s)\n" % owner
            diffs.append(
                {
                    "before_header": config_path if state.config.kind != "missing" else "/dev/null",
                    "after_header": config_path,
                    "before": before,
                    "after": after,
                }
            )
    if plan.mu_plugins:
        changes.append("mu_plugins")
        for name in plan.mu_plugins if ctx.want_diff else ():
            current = state.mu_plugins[name]
            dest = os.path.join(content_dir, name)
            diffs.append(
                {
                    "before_header": dest if current.kind == "file" else "/dev/null",
                    "after_header": dest,
                    "before": current.content.decode("utf-8", "replace") if current.content else "",
                    "after": managed[name],
                }
            )

    extracted = []
    for kind, entries in (("plugins", plan.plugins), ("themes", plan.themes)):
        dest_dir = os.path.join(path, "wp-content", kind)
        for entry in entries:
            position = site[kind].index(entry)
            target = os.path.join(dest_dir, entry["name"])
            if entry["src"] is None and entry["url"] is None:
                # Nothing to extract: it must ship with the core (akismet, the default theme).
                if plan.core and ctx.check_mode:
                    continue
                if not os.path.isdir(target):
                    raise SiteError(
                        "%s[%d] (%s): %s is missing and neither src nor url is given"
                        % (kind, position, entry["name"], target)
                    )
                continue
            if plan.core and not ctx.check_mode and os.path.isdir(target):
                continue  # came with the core archive just extracted
            if not ctx.check_mode:
                field = "%s[%d].checksum" % (kind, position)
                cache = None
                if entry["src"] is None:
                    cache = download_cache_path(ctx.cache_dir, entry["url"], entry["checksum"])
                archive = ctx.archives.obtain(field, entry["src"], entry["url"], entry["checksum"], cache)
                try:
                    extract_as_owner(ctx, site, "zip", archive, dest_dir, entry["name"], False)
                except SiteError as exc:
                    raise SiteError("%s[%d] (%s): %s" % (kind, position, entry["name"], exc.msg)) from None
            if kind not in changes:
                changes.append(kind)
            extracted.append(entry)
            what = "%s %s extracted from %s" % (kind[:-1], entry["name"], entry["src"] or entry["url"])
            diffs.append(_summary(target, what))

    installed = None
    if plan.check_install:
        can_ask = not ctx.check_mode or (not plan.core and _db_settings_unchanged(site, state))
        if can_ask:
            result = run_php(ctx, site, INSTALL_PHP, _install_input(site, not ctx.check_mode), "the install check")
            if not result.get("installed_before"):
                changes.append("install")
                diffs.append(_summary("%s (database)" % site["domain"], "WordPress installed for %s" % site["url"]))
                if not ctx.check_mode and not result.get("installed"):
                    raise SiteError("the WordPress installer ran but the site is still not installed")
            installed = True
        elif plan.core or not (state.marker or {}).get("fingerprint"):
            changes.append("install")
            diffs.append(_summary("%s (database)" % site["domain"], "WordPress installed for %s" % site["url"]))
    else:
        installed = True

    if plan.activate:
        can_ask = not ctx.check_mode or (installed and not extracted)
        if can_ask:
            result = run_php(ctx, site, ACTIVATE_PHP, _activate_input(site, ctx.check_mode), "activation")
            if result.get("errors"):
                raise SiteError("activation: %s" % "; ".join(result["errors"]))
            activated = result.get("activated") or []
        else:
            plugins, theme = activation_list(site)
            activated = ["plugin:" + name for name in plugins] + (["theme:" + theme] if theme else [])
        if activated:
            changes.append("activation")
            diffs.append(_summary("%s (activation)" % site["domain"], "activated: %s" % ", ".join(activated)))

    if not ctx.check_mode:
        marker = {
            "domain": site["domain"],
            "path": path,
            "fingerprint": plan.fingerprint,
            "activation": plan.activation,
        }
        previous = dict(state.marker or {})
        previous.pop("installed_at", None)
        if previous != marker:
            marker["installed_at"] = (state.marker or {}).get("installed_at") or time.strftime(
                "%Y-%m-%dT%H:%M:%SZ", time.gmtime()
            )
            write_marker(ctx.cache_dir, site["domain"], marker)
    return changes, diffs, version


def reconcile(sites, ctx):
    """Validate every site, then reconcile them one by one; returns the module result dict.

    Raises SiteValidationError (nothing changed) when any site is invalid. A site that fails later does not stop
    the others; the result then carries ``failed`` and the module fails after reporting everything.
    """
    normalised, errors = validate_sites(sites)
    if errors:
        raise SiteValidationError("invalid site definitions (%d problem(s))" % len(errors), errors)
    result = {"changed": False, "added": [], "updated": [], "unchanged": [], "sites": {}}
    diffs, failed = [], {}
    for site in normalised:
        domain = site["domain"]
        progress = {}
        try:
            changes, site_diffs, version = reconcile_site(site, ctx, progress)
        except (SiteError, OSError) as exc:
            failed[domain] = "%s: %s" % (site["label"], getattr(exc, "msg", None) or exc)
            done = progress.get("changes") or []
            result["sites"][domain] = {"url": site["url"], "path": site["path"], "changed": done, "failed": True}
            if done:  # part of the work was done before the failure
                result["added" if "core" in done else "updated"].append(domain)
            diffs.extend(progress.get("diffs") or [])
            continue
        if "core" in changes or "install" in changes:
            result["added"].append(domain)
        elif changes:
            result["updated"].append(domain)
        else:
            result["unchanged"].append(domain)
        result["sites"][domain] = {"version": version, "url": site["url"], "path": site["path"], "changed": changes}
        diffs.extend(site_diffs)
    result["changed"] = bool(result["added"] or result["updated"])
    if ctx.want_diff:
        result["diff"] = diffs
    if failed:
        result["failed"] = failed
    return result
