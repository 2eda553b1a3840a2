# -*- coding: utf-8 -*-
# Copyright: wpzo.hosting developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The options of the ``wpzo.hosting.wordpress`` module (its argument spec, defined once here) and the checks the
argument spec cannot make: every problem of every site at once, each naming the site and the field. Python 3.8
compatible (it runs on the managed host).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import posixpath
import re

from ansible_collections.wpzo.hosting.plugins.module_utils import module_shell, site_names, value_syntax
from ansible_collections.wpzo.hosting.plugins.module_utils.wordpress_config import MANAGED_CONSTANTS, check_php_value

OFFICIAL_CORE_URL = "https://wordpress.org/wordpress-%s.tar.gz"
DEFAULT_REDIS_SOCKET = "/run/redis/redis-server.sock"
DEFAULT_PURGE_REQUEST_NAME = "tmp/.wpzo-purge-request"
AUTO_UPDATE_CHOICES = ("minor", "major", "true", "false", "none")
STATE_CHOICES = ("present",)

EXTENSION_SPEC = dict(
    name=dict(type="str", required=True),
    src=dict(type="path"),
    url=dict(type="str"),
    checksum=dict(type="str"),
    activate=dict(type="bool", default=False),
)
REDIS_SPEC = dict(
    path=dict(type="path"),
    host=dict(type="str"),
    port=dict(type="int", default=6379),
    username=dict(type="str"),
    password=dict(type="str", no_log=True),
    database=dict(type="int", default=0),
    prefix=dict(type="str"),
)
# ``None`` (no default) means "derived" (url, title, group, core_url, purge_request_file) or "not set".
SITE_SPEC = dict(
    domain=dict(type="str", required=True),
    path=dict(type="path", required=True),
    owner=dict(type="str", required=True),
    group=dict(type="str"),
    url=dict(type="str"),
    version=dict(type="str", required=True),
    core_url=dict(type="str"),
    core_checksum=dict(type="str"),
    core_src=dict(type="path"),
    db_name=dict(type="str"),
    db_user=dict(type="str"),
    db_password=dict(type="str", no_log=True),
    db_host=dict(type="str", default="localhost"),
    table_prefix=dict(type="str", default="wp_"),
    title=dict(type="str"),
    admin_user=dict(type="str"),
    admin_email=dict(type="str"),
    admin_password=dict(type="str", no_log=True),
    locale=dict(type="str", default="en_US"),
    tls=dict(type="bool"),
    auto_update_core=dict(type="str", choices=list(AUTO_UPDATE_CHOICES), default="minor"),
    disable_wp_cron=dict(type="bool", default=True),
    redis=dict(type="dict", options=REDIS_SPEC),
    page_cache=dict(type="bool", default=False),
    purge_request_file=dict(type="path"),
    extra_constants=dict(type="dict"),
    plugins=dict(type="list", elements="dict", options=EXTENSION_SPEC),
    themes=dict(type="list", elements="dict", options=EXTENSION_SPEC),
    adopt_config=dict(type="bool", default=False),
    state=dict(type="str", choices=list(STATE_CHOICES), default="present"),
)
PROGRAMS_DIR = "/usr/local/lib/wpzo/wordpress"
ARGUMENT_SPEC = dict(
    sites=dict(type="list", elements="dict", required=True, options=SITE_SPEC),
    cache_dir=dict(type="path", default="/var/lib/wpzo/wordpress"),
    programs_dir=dict(type="path", default=PROGRAMS_DIR),
    php_binary=dict(type="path", default="/usr/bin/php"),
    verify_installed=dict(type="bool", default=False),
    timeout=dict(type="int", default=120),
)
SITE_DEFAULTS = module_shell.defaults(SITE_SPEC)
REDIS_DEFAULTS = module_shell.defaults(REDIS_SPEC)
EXTENSION_DEFAULTS = module_shell.defaults(EXTENSION_SPEC)
REQUIRED_SITE_OPTIONS = tuple(name for name, option in SITE_SPEC.items() if option.get("required"))

# What only the wordpress module reads; user names, e-mail addresses, logins, table prefixes, PHP names and
# control characters are value_syntax's. Matched with fullmatch.
VERSION_RE = re.compile(r"[0-9]+\.[0-9]+(\.[0-9]+)?([-.][A-Za-z0-9]+)*")
CHECKSUM_RE = re.compile(r"(sha1|sha256):([0-9A-Fa-f]+)")
CHECKSUM_LENGTHS = {"sha1": 40, "sha256": 64}
URL_RE = re.compile(r"https?://[^\s/?#]+(/[^\s]*)?")
SITE_URL_RE = re.compile(r"https?://[^\s/?#'\"\\]+(/[^\s?#'\"\\]*)?")
LOCALE_RE = re.compile(r"[a-z]{2,3}(_[A-Z]{2})?(_[A-Za-z0-9]+)?")
SLUG_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
DB_NAME_RE = re.compile(r"[A-Za-z0-9_$-]{1,64}")
DB_HOST_RE = re.compile(r"[A-Za-z0-9_.:\[\]/-]+")
REDIS_HOST_RE = re.compile(r"[A-Za-z0-9_.:-]+")


# --- validation ----------------------------------------------------------------------------------------------
def _normalised_path(value):
    return (
        isinstance(value, str)
        and value.startswith("/")
        and posixpath.normpath(value) == value
        and value != "/"
        and not value_syntax.CONTROL.search(value)
    )


def _check_checksum(value, field, err):
    match = CHECKSUM_RE.fullmatch(value or "")
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
        entry = dict(EXTENSION_DEFAULTS)
        entry.update((k, v) for k, v in raw.items() if v is not None)
        name = entry["name"]
        if not SLUG_RE.fullmatch(name) or name in (".", ".."):
            err("%s.name: %r must be the directory name (slug) such as akismet" % (where, name))
        elif name in seen:
            err("%s.name: %s is listed twice" % (where, name))
        else:
            seen.add(name)
        if entry["src"] is not None and not _normalised_path(entry["src"]):
            err("%s.src: %r must be an absolute path of a zip archive on the host" % (where, entry["src"]))
        if entry["url"] is not None and not URL_RE.fullmatch(entry["url"]):
            err("%s.url: %r is not an http(s) URL" % (where, entry["url"]))
        if entry["checksum"] is not None:
            entry["checksum"] = _check_checksum(entry["checksum"], where + ".checksum", err)
        elif entry["src"] is None and entry["url"] is not None:
            err("%s.checksum: required with url (sha1:<hex> or sha256:<hex>)" % where)
        normalised.append(entry)
    if kind == "themes" and sum(1 for entry in normalised if entry.get("activate")) > 1:
        err("themes: only one theme can be activated")
    return normalised


def _validate_redis(site, err):
    raw = site.get("redis")
    if raw is None:
        return None
    redis = dict(REDIS_DEFAULTS)
    redis.update((k, v) for k, v in raw.items() if v is not None)
    if redis["path"] is not None and redis["host"] is not None:
        err("redis: give either path (a unix socket) or host, not both")
    if redis["path"] is None and redis["host"] is None:
        redis["path"] = DEFAULT_REDIS_SOCKET
    if redis["path"] is not None and not _normalised_path(redis["path"]):
        err("redis.path: %r must be the absolute path of a unix socket" % redis["path"])
    if redis["host"] is not None and not REDIS_HOST_RE.fullmatch(redis["host"]):
        err("redis.host: %r is not a host name or address" % redis["host"])
    for field, low, high in (("port", 1, 65535), ("database", 0, 15)):
        value = redis[field]
        if not low <= value <= high:
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
            check_php_value(redis[field], "redis." + field, err)
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
    """Normalise one site as the argument spec checked it (types, choices, no unknown option; an option set to
    None takes its default): ``(site, errors)``; each error names the field."""
    errors = []
    err = errors.append
    site = dict(SITE_DEFAULTS)
    site.update((k, v) for k, v in raw.items() if v is not None)
    for key in REQUIRED_SITE_OPTIONS:  # given (the argument spec made sure), but not empty
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
    if owner and (not value_syntax.ACCOUNT_NAME.fullmatch(owner) or owner == "root"):
        err("owner: %r must be the site's system user (not root)" % owner)
    site["group"] = site["group"] or owner
    if site["group"] and (not value_syntax.ACCOUNT_NAME.fullmatch(site["group"]) or site["group"] == "root"):
        err("group: %r must be the site's system group (not root)" % site["group"])

    if site["version"] and not VERSION_RE.fullmatch(site["version"]):
        err("version: %r is not a WordPress version such as 6.1.1" % site["version"])
    checksum_given = site["core_checksum"] is not None
    if checksum_given:
        site["core_checksum"] = _check_checksum(site["core_checksum"], "core_checksum", err)
    if site["core_src"] is not None:
        if not _normalised_path(site["core_src"]):
            err("core_src: %r must be the absolute path of a .tar.gz archive on the host" % site["core_src"])
    else:
        if site["core_url"] is None and site["version"] and VERSION_RE.fullmatch(site["version"]):
            site["core_url"] = OFFICIAL_CORE_URL % site["version"]
        if site["core_url"] is not None and not URL_RE.fullmatch(site["core_url"]):
            err("core_url: %r is not an http(s) URL" % site["core_url"])
        if not checksum_given:
            err("core_checksum: required when the core archive is downloaded (sha1:<hex> or sha256:<hex>)")

    for field in ("db_name", "db_user", "db_password", "admin_user", "admin_email", "admin_password"):
        value = site[field]
        if value is None or value == "":
            err("%s: required" % field)
        elif value_syntax.CONTROL.search(value):
            err("%s: must not contain control characters such as newlines" % field)
    if site["db_name"] and not DB_NAME_RE.fullmatch(site["db_name"]):
        err("db_name: %r must be 1-64 letters, digits, _ $ or -" % site["db_name"])
    if not DB_HOST_RE.fullmatch(site["db_host"]):
        err("db_host: %r must be a host name, host:port or localhost:/path/to/socket" % site["db_host"])
    if not value_syntax.WP_TABLE_PREFIX.fullmatch(site["table_prefix"]):
        err("table_prefix: %r must be letters, digits and _ only, at most 20" % site["table_prefix"])
    if site["admin_user"] and not value_syntax.WP_USER.fullmatch(site["admin_user"]):
        err("admin_user: %r must be 1-60 letters, digits, space, _ . @ or -" % site["admin_user"])
    if site["admin_email"] and not value_syntax.EMAIL.fullmatch(site["admin_email"]):
        err("admin_email: %r is not an e-mail address" % site["admin_email"])
    password = site["admin_password"]
    if password and password != password.strip():
        err("admin_password: must not start or end with white space (WordPress trims it)")
    if not LOCALE_RE.fullmatch(site["locale"]):
        err("locale: %r is not a WordPress locale such as en_US or de_DE_formal" % site["locale"])

    if site["url"] is None and domain_ok:
        site["url"] = ("http://" if site["tls"] is False else "https://") + site["domain"]
    if site["url"] is not None:
        site["url"] = site["url"].rstrip("/")
        if not SITE_URL_RE.fullmatch(site["url"]):
            err("url: %r must be the site's http(s) URL such as https://example.com" % raw.get("url"))
    if site["tls"] is None:
        site["tls"] = bool(site["url"] and site["url"].startswith("https://"))
    if site["title"] is None and domain_ok:
        site["title"] = site["domain"]
    if site["title"] is not None and value_syntax.CONTROL.search(site["title"]):
        err("title: must not contain control characters")
    site["auto_update_core"] = _check_auto_update(site["auto_update_core"], err)

    site["redis"] = _validate_redis(site, err)
    extra = site["extra_constants"] or {}
    for name in sorted(extra):
        if not value_syntax.IDENTIFIER.fullmatch(name):
            err("extra_constants: %r is not a PHP constant name" % (name,))
        elif name.upper() in MANAGED_CONSTANTS:
            err("extra_constants.%s: set by the module itself; use the dedicated option" % name)
        else:
            check_php_value(extra[name], "extra_constants.%s" % name, err)
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
    domains, paths = {}, {}
    for index, raw in enumerate(sites):
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
