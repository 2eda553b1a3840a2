# -*- coding: utf-8 -*-
# Copyright: wpzo.hosting developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure logic behind the ``wpzo.hosting.php_fpm_pool`` module.

Pipeline (each step is a small function that unit tests call directly):

1. ``validate_pools(pools)``  -> (normalized pools, errors); every problem at once.
2. ``desired_state(pools, pool_dir)`` -> ``{path: content}`` (raises ``PoolValidationError``).
3. ``read_existing(pool_dir, desired, purge)`` -> ``({path: bytes}, [irregular paths])``.
4. ``plan(desired, existing, purge)`` -> ``Plan`` (added/updated/removed/unchanged/conflicts).
5. ``apply_plan(pool_dir, plan, desired, existing, validator)`` -> staged candidates, tested on a copy of the
   pool directory (``staged_main_config``), then renamed into place; a failed test changes nothing live.
6. ``reload_reasons(...)`` -> why the running master must reload although nothing is written now.

``reconcile()`` ties the steps together for the module.
Code here must stay Python 3.8 compatible (it runs on the managed host).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import os
import posixpath
import re

from ansible_collections.wpzo.hosting.plugins.module_utils import managed_files, service_state

MARKER = "; Managed by wpzo.hosting.php_fpm_pool - do not edit"
_MARKER_BYTES = MARKER.encode("utf-8")

FILE_MODE = 0o640
CONF_SUFFIX = ".conf"

DEFAULT_DISABLE_FUNCTIONS = [
    "exec",
    "passthru",
    "shell_exec",
    "system",
    "proc_open",
    "popen",
    "pcntl_exec",
    "show_source",
    # putenv: with it, LD_PRELOAD (or a sendmail option in the environment) reaches the program mail() runs,
    # which is code execution past this list. symlink/link: a site's PHP has no business making links (nginx
    # would not follow a link to a file the site does not own anyway). WordPress core calls none of them.
    # mail() stays: wp_mail() calls it without checking that it exists (PHP 8 ends the request with a fatal
    # error when it is disabled); its fifth argument, options for sendmail, is replaced by
    # FORCED_MAIL_PARAMETERS, so a site cannot hand the MTA options of its own.
    "putenv",
    "symlink",
    "link",
]
# php_admin_value[mail.force_extra_parameters]: replaces mail()'s fifth argument (the options for sendmail,
# exim's -be would run commands); -i is harmless and already in Debian's sendmail_path.
FORCED_MAIL_PARAMETERS = "-i"

PM_CHOICES = ("ondemand", "dynamic", "static")

# Option defaults that do not depend on other options. ``None`` means "derived" (see _derive_defaults)
# or "not set". Keep in sync with the module's argument_spec (a unit test checks it).
POOL_DEFAULTS = {
    "group": None,
    "listen": None,
    "listen_owner": "www-data",
    "listen_group": "www-data",
    "listen_mode": "0660",
    "pm": "ondemand",
    "max_children": 5,
    "start_servers": None,
    "min_spare_servers": None,
    "max_spare_servers": None,
    "process_idle_timeout": "10s",
    "max_requests": 500,
    "request_terminate_timeout": "60s",
    "request_slowlog_timeout": "5s",
    "slowlog": None,
    "open_basedir": None,
    "upload_tmp_dir": None,
    "session_save_path": None,
    "sys_temp_dir": None,
    "disable_functions": DEFAULT_DISABLE_FUNCTIONS,
    "memory_limit": "256M",
    "env": None,
    "php_admin_values": None,
    "php_values": None,
    "status_path": "/fpm-status",
    "ping_path": "/fpm-ping",
    "error_log": None,
}
REQUIRED_POOL_OPTIONS = ("name", "user", "root")
POOL_OPTIONS = REQUIRED_POOL_OPTIONS + tuple(POOL_DEFAULTS)

# Pool name: lower-case letters, digits, "_", "." and "-"; starts with a letter, digit or "_"; 1-64 chars.
# It becomes the file name (<name>.conf), the section header and the default socket name, so domain
# names such as "example.com" are fine but "/", spaces, upper case and a leading "." or "-" are not.
POOL_NAME_RE = re.compile(r"[a-z0-9_][a-z0-9_.-]{0,63}")
# POSIX portable user/group name: letters, digits, "_", "." and "-", not starting with "-", "." or a digit.
POSIX_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,31}")
LISTEN_MODE_RE = re.compile(r"0[0-7]{3}")
DURATION_RE = re.compile(r"[0-9]+[smhd]?")
MEMORY_RE = re.compile(r"-1|[0-9]+[KMGkmg]?")
FUNCTION_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
ENV_KEY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
INI_KEY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
URI_PATH_RE = re.compile(r"/[A-Za-z0-9_./~-]*")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")

# ini settings the module renders itself; setting them through php_values/php_admin_values is rejected.
MANAGED_INI_KEYS = frozenset(
    (
        "open_basedir",
        "upload_tmp_dir",
        "session.save_path",
        "sys_temp_dir",
        "disable_functions",
        "memory_limit",
        "error_log",
        "log_errors",
        "fastcgi.logging",
        "mail.force_extra_parameters",
    )
)

# --- value quoting -------------------------------------------------------------------------------------------
# PHP-FPM reads pool files with PHP's ini scanner (INI_SCANNER_NORMAL). Unquoted words are looked up as
# constants and yes/no/on/off/true/false/none/null are keywords, so anything that is not obviously inert
# is written double-quoted with \, " and $ escaped (the scanner un-escapes exactly these).
_BARE_RE = re.compile(r"[A-Za-z0-9_./:,+-]+")
_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_INI_KEYWORDS = frozenset(("yes", "no", "on", "off", "true", "false", "none", "null"))
# error_reporting-style constant expressions, e.g. "E_ALL & ~E_DEPRECATED" (only for php_values/php_admin_values)
_INI_EXPR_RE = re.compile(r"~?\s*[A-Z_][A-Z0-9_]*(\s*[&|^]\s*~?\s*[A-Z_][A-Z0-9_]*)*")


def ini_quote(value):
    """Return ``value`` as a double-quoted ini string with \\, " and $ escaped."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$") + '"'


def ini_string(value):
    """Render a literal string: bare when inert (paths, sizes, lower-case words), quoted otherwise."""
    if (
        _BARE_RE.fullmatch(value)
        and value.lower() not in _INI_KEYWORDS
        and not (_IDENT_RE.fullmatch(value) and value != value.lower())
    ):
        return value
    return ini_quote(value)


def php_ini_value(value):
    """Render a php_value/php_admin_value: keeps PHP ini semantics for simple words and constant expressions."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, (int, float)):
        return str(value)
    if _BARE_RE.fullmatch(value) or _INI_EXPR_RE.fullmatch(value):
        return value
    return ini_quote(value)


# --- errors --------------------------------------------------------------------------------------------------
class PhpFpmPoolError(Exception):
    """Base error; ``errors`` lists individual problems, ``details`` extra keys for fail_json."""

    def __init__(self, msg, errors=None, details=None):
        super(PhpFpmPoolError, self).__init__(msg)
        self.msg = msg
        self.errors = list(errors or [])
        self.details = dict(details or {})


class PoolValidationError(PhpFpmPoolError):
    pass


class ApplyError(PhpFpmPoolError):
    pass


# --- validation ----------------------------------------------------------------------------------------------
def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _has_control(value):
    return bool(_CONTROL_RE.search(value))


def is_normalized_abspath(path):
    """Absolute, no trailing slash, no '.', '..' or '//' components."""
    return isinstance(path, str) and path.startswith("/") and posixpath.normpath(path) == path


def is_inside(path, root):
    """True when ``path`` is ``root`` or below it (both normalized absolute paths)."""
    return path == root or path.startswith(root.rstrip("/") + "/")


def _pool_label(raw, index):
    name = raw.get("name") if isinstance(raw, dict) else None
    if isinstance(name, str) and POOL_NAME_RE.fullmatch(name):
        return "pool '%s' (pools[%d])" % (name, index)
    return "pool pools[%d]" % index


def _check_strings(pool, label, errors):
    """Reject non-string scalars where strings are expected and control characters anywhere."""

    def check(field, value):
        if isinstance(value, str) and _has_control(value):
            errors.append("%s: %s: must not contain newlines or control characters" % (label, field))

    for key, value in pool.items():
        if isinstance(value, dict):
            for sub_key, sub_value in value.items():
                check("%s key %r" % (key, sub_key), str(sub_key))
                check("%s[%s]" % (key, sub_key), sub_value)
        elif isinstance(value, list):
            for item in value:
                check(key, item)
        else:
            check(key, value)


def _derive_defaults(pool, name_ok, root_ok):
    """Fill defaults derived from user, name and root. Paths derived from an invalid name/root stay None
    (and are not validated) so that one bad value does not cascade into many errors."""
    name, root = pool["name"], pool["root"]
    if pool["group"] is None:
        pool["group"] = pool["user"]
    if pool["listen"] is None and name_ok:
        pool["listen"] = "/run/php/%s.sock" % name
    if root_ok:
        for key, default in (
            ("slowlog", posixpath.join(root, "logs", "php-slow.log")),
            ("error_log", posixpath.join(root, "logs", "php-error.log")),
            ("upload_tmp_dir", posixpath.join(root, "tmp")),
            ("sys_temp_dir", posixpath.join(root, "tmp")),
            ("session_save_path", posixpath.join(root, "sessions")),
        ):
            if pool[key] is None:
                pool[key] = default
        if pool["open_basedir"] is None:
            pool["open_basedir"] = [root]
    for key in ("env", "php_admin_values", "php_values"):
        if pool[key] is None:
            pool[key] = {}


def normalize_pool(raw, index=0):
    """Apply defaults to one pool and validate it. Returns ``(pool, errors)``."""
    if not isinstance(raw, dict):
        return None, ["pool pools[%d]: must be a dict, got %s" % (index, type(raw).__name__)]
    label = _pool_label(raw, index)
    errors = []

    unknown = sorted(set(raw) - set(POOL_OPTIONS))
    for key in unknown:
        errors.append("%s: %s: unknown option" % (label, key))

    pool = {}
    for key in REQUIRED_POOL_OPTIONS:
        pool[key] = raw.get(key)
        if pool[key] is None or pool[key] == "":
            errors.append("%s: %s: is required" % (label, key))
    for key, default in POOL_DEFAULTS.items():
        value = raw.get(key)
        if value is None:
            value = list(default) if isinstance(default, list) else default
        pool[key] = value
    if errors:
        return pool, errors

    for key in ("name", "user", "root"):
        if not isinstance(pool[key], str):
            errors.append("%s: %s: must be a string" % (label, key))
    if errors:
        return pool, errors
    name, root = pool["name"], pool["root"]
    name_ok = bool(POOL_NAME_RE.fullmatch(name))
    root_ok = is_normalized_abspath(root) and root != "/" and ":" not in root
    _derive_defaults(pool, name_ok, root_ok)
    _check_strings(pool, label, errors)

    def err(field, msg):
        errors.append("%s: %s: %s" % (label, field, msg))

    def want_str(field):
        value = pool[field]
        if value is None:  # derived from an invalid name/root, which is reported already
            return None
        if not isinstance(value, str):
            err(field, "must be a string, got %s" % type(value).__name__)
            return None
        return value

    if not name_ok:
        err("name", "%r is not a valid pool name (lower-case letters, digits, '_', '.', '-'; 1-64 chars)" % name)

    # a group derived from an invalid user would only repeat the user's error
    for field in ("user", "group", "listen_owner", "listen_group"):
        if field == "group" and raw.get("group") is None:
            continue
        value = want_str(field)
        if value is None:
            continue
        if not POSIX_NAME_RE.fullmatch(value):
            err(field, "%r is not a valid POSIX user/group name" % value)
        elif field in ("user", "group") and value == "root":
            err(field, "pools must not run as root")

    if not root_ok:
        err("root", "%r must be a normalized absolute path other than '/' without ':'" % root)

    listen = want_str("listen")
    if listen is not None and not (is_normalized_abspath(listen) and listen != "/"):
        err("listen", "%r must be an absolute, normalized socket path" % listen)

    mode = want_str("listen_mode")
    if mode is not None and not LISTEN_MODE_RE.fullmatch(mode):
        err("listen_mode", "%r must be a quoted 4-digit octal string such as '0660'" % mode)

    pm = pool["pm"]
    if pm not in PM_CHOICES:
        err("pm", "%r must be one of %s" % (pm, ", ".join(PM_CHOICES)))

    numbers = {}
    for field, minimum in (
        ("max_children", 1),
        ("max_requests", 0),
        ("start_servers", 1),
        ("min_spare_servers", 1),
        ("max_spare_servers", 1),
    ):
        value = pool[field]
        if value is None:
            continue
        if not _is_int(value):
            err(field, "must be an integer, got %r" % (value,))
        elif value < minimum:
            err(field, "must be >= %d, got %d" % (minimum, value))
        else:
            numbers[field] = value

    spare = ("start_servers", "min_spare_servers", "max_spare_servers")
    if pm == "dynamic":
        for field in ("min_spare_servers", "max_spare_servers"):
            if pool[field] is None:
                err(field, "is required when pm is dynamic")
        low, high = numbers.get("min_spare_servers"), numbers.get("max_spare_servers")
        children = numbers.get("max_children")
        if low is not None and high is not None and low > high:
            err("min_spare_servers", "must not be greater than max_spare_servers (%d > %d)" % (low, high))
        if children is not None:
            for field in spare:
                if numbers.get(field) is not None and numbers[field] > children:
                    err(field, "must not be greater than max_children (%d > %d)" % (numbers[field], children))
        start = numbers.get("start_servers")
        if start is not None and low is not None and high is not None and not low <= start <= high:
            err("start_servers", "must be between min_spare_servers and max_spare_servers")
    elif pm in PM_CHOICES:
        for field in spare:
            if pool[field] is not None:
                err(field, "is only valid with pm=dynamic (pm is %s)" % pm)

    for field in ("process_idle_timeout", "request_terminate_timeout", "request_slowlog_timeout"):
        value = want_str(field)
        if value is not None and not DURATION_RE.fullmatch(value):
            err(field, "%r must be a duration like '10s', '5m' or '0'" % value)

    value = want_str("memory_limit")
    if value is not None and not MEMORY_RE.fullmatch(value):
        err("memory_limit", "%r must be like '256M' or '-1'" % value)

    for field in ("slowlog", "error_log"):
        value = want_str(field)
        if value is not None and not is_normalized_abspath(value):
            err(field, "%r must be a normalized absolute path" % value)

    for field in ("upload_tmp_dir", "session_save_path", "sys_temp_dir"):
        value = want_str(field)
        if value is None:
            continue
        if not is_normalized_abspath(value):
            err(field, "%r must be a normalized absolute path" % value)
        elif root_ok and not is_inside(value, root):
            err(field, "%r is outside root %r" % (value, root))

    basedirs = pool["open_basedir"]
    if basedirs is None:
        pass
    elif not isinstance(basedirs, list):
        err("open_basedir", "must be a list of paths ([] for none)")
    else:
        for entry in basedirs:
            if not isinstance(entry, str) or not is_normalized_abspath(entry) or ":" in entry:
                err("open_basedir", "%r must be a normalized absolute path without ':'" % (entry,))
            elif root_ok and not is_inside(entry, root):
                err("open_basedir", "%r is outside root %r" % (entry, root))

    functions = pool["disable_functions"]
    if not isinstance(functions, list):
        err("disable_functions", "must be a list of function names")
    else:
        for entry in functions:
            if not isinstance(entry, str) or not FUNCTION_NAME_RE.fullmatch(entry):
                err("disable_functions", "%r is not a valid function name" % (entry,))

    for field in ("status_path", "ping_path"):
        value = want_str(field)
        if value and not URI_PATH_RE.fullmatch(value):
            err(field, "%r must be empty or a URI path starting with '/'" % value)

    _validate_dicts(pool, err)
    return pool, errors


def _validate_dicts(pool, err):
    for field in ("env", "php_admin_values", "php_values"):
        values = pool[field]
        if not isinstance(values, dict):
            err(field, "must be a dict")
            continue
        key_re = ENV_KEY_RE if field == "env" else INI_KEY_RE
        for key, value in values.items():
            if not isinstance(key, str) or not key_re.fullmatch(key):
                err(field, "key %r is not a valid %s name" % (key, "environment variable" if field == "env" else "ini"))
                continue
            if value is None or isinstance(value, (dict, list)):
                err("%s[%s]" % (field, key), "must be a string, number or boolean")
            if field != "env" and key in MANAGED_INI_KEYS:
                err("%s[%s]" % (field, key), "is managed by this module; use the dedicated pool option")
    admin, user = pool["php_admin_values"], pool["php_values"]
    if isinstance(admin, dict) and isinstance(user, dict):
        for key in sorted(set(admin) & set(user), key=str):
            err("php_values[%s]" % key, "is also set in php_admin_values")


def validate_pools(pools):
    """Normalize and validate all pools. Returns ``(normalized, errors)``; ``errors`` lists every problem."""
    if not isinstance(pools, list):
        return [], ["pools: must be a list"]
    normalized, errors = [], []
    names, sockets = {}, {}
    for index, raw in enumerate(pools):
        pool, pool_errors = normalize_pool(raw, index)
        errors.extend(pool_errors)
        if pool is None:
            continue
        normalized.append(pool)
        label = _pool_label(raw, index)
        name, listen = pool.get("name"), pool.get("listen")
        if isinstance(name, str):
            if name in names:
                errors.append("%s: name: duplicate pool name, also used by pools[%d]" % (label, names[name]))
            else:
                names[name] = index
        if isinstance(listen, str):
            if listen not in sockets:
                sockets[listen] = (index, name)
            elif sockets[listen][1] != name:  # same name: the duplicate-name error already covers it
                errors.append("%s: listen: socket %r is also used by pools[%d]" % (label, listen, sockets[listen][0]))
    return normalized, errors


# --- rendering -----------------------------------------------------------------------------------------------
def render_pool(pool):
    """Render one normalized pool to the text of its pool file (deterministic, sorted dict keys)."""
    s = ini_string
    lines = [
        MARKER,
        "[%s]" % pool["name"],
        "user = %s" % s(pool["user"]),
        "group = %s" % s(pool["group"]),
        "",
        "listen = %s" % s(pool["listen"]),
        "listen.owner = %s" % s(pool["listen_owner"]),
        "listen.group = %s" % s(pool["listen_group"]),
        "listen.mode = %s" % pool["listen_mode"],
        "",
        "pm = %s" % pool["pm"],
        "pm.max_children = %d" % pool["max_children"],
    ]
    if pool["pm"] == "dynamic":
        if pool["start_servers"] is not None:
            lines.append("pm.start_servers = %d" % pool["start_servers"])
        lines.append("pm.min_spare_servers = %d" % pool["min_spare_servers"])
        lines.append("pm.max_spare_servers = %d" % pool["max_spare_servers"])
    elif pool["pm"] == "ondemand":
        lines.append("pm.process_idle_timeout = %s" % pool["process_idle_timeout"])
    lines.append("pm.max_requests = %d" % pool["max_requests"])
    if pool["status_path"]:
        lines.append("pm.status_path = %s" % s(pool["status_path"]))
    if pool["ping_path"]:
        lines.append("ping.path = %s" % s(pool["ping_path"]))
    lines += [
        "",
        "request_terminate_timeout = %s" % pool["request_terminate_timeout"],
        "request_slowlog_timeout = %s" % pool["request_slowlog_timeout"],
        "slowlog = %s" % s(pool["slowlog"]),
        "",
        "chdir = /",
        "catch_workers_output = yes",
    ]
    env = pool["env"]
    if env:
        lines.append("")
        for key in sorted(env):
            lines.append("env[%s] = %s" % (key, ini_quote(_env_string(env[key]))))
    lines.append("")
    if pool["open_basedir"]:
        lines.append("php_admin_value[open_basedir] = %s" % s(":".join(pool["open_basedir"])))
    lines += [
        "php_admin_value[upload_tmp_dir] = %s" % s(pool["upload_tmp_dir"]),
        "php_admin_value[session.save_path] = %s" % s(pool["session_save_path"]),
        "php_admin_value[sys_temp_dir] = %s" % s(pool["sys_temp_dir"]),
    ]
    if pool["disable_functions"]:
        lines.append("php_admin_value[disable_functions] = %s" % s(",".join(pool["disable_functions"])))
    lines += [
        "php_admin_value[memory_limit] = %s" % s(pool["memory_limit"]),
        "php_admin_value[error_log] = %s" % s(pool["error_log"]),
        "php_admin_flag[log_errors] = on",
        # PHP's messages never go to the web server (nginx writes FastCGI stderr, newlines and all, into the
        # error log fail2ban reads): a site cannot forge a line naming someone else's address.
        "php_admin_flag[fastcgi.logging] = off",
        "php_admin_value[mail.force_extra_parameters] = %s" % ini_quote(FORCED_MAIL_PARAMETERS),
    ]
    for prefix, values in (("php_admin", pool["php_admin_values"]), ("php", pool["php_values"])):
        for key in sorted(values):
            value = values[key]
            kind = "flag" if isinstance(value, bool) else "value"
            lines.append("%s_%s[%s] = %s" % (prefix, kind, key, php_ini_value(value)))
    return "\n".join(lines) + "\n"


def _env_string(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def pool_path(pool_dir, name):
    return os.path.join(pool_dir, name + CONF_SUFFIX)


def pool_name_from_path(path):
    base = os.path.basename(path)
    return base[: -len(CONF_SUFFIX)] if base.endswith(CONF_SUFFIX) else base


def desired_state(pools, pool_dir, sockets=None):
    """Validate and render all pools: ``{path: content}``. Raises PoolValidationError with every problem.
    The pools' sockets are appended to the list ``sockets`` when given."""
    normalized, errors = validate_pools(pools)
    if errors:
        raise PoolValidationError("invalid pool definitions (%d problem(s))" % len(errors), errors)
    if sockets is not None:
        sockets.extend(pool["listen"] for pool in normalized)
    return dict((pool_path(pool_dir, pool["name"]), render_pool(pool)) for pool in normalized)


# --- reading and planning ------------------------------------------------------------------------------------
def is_managed(content):
    """True when the file content (bytes) starts with the marker line."""
    first = content.split(b"\n", 1)[0].rstrip(b"\r")
    return first == _MARKER_BYTES


def read_existing(pool_dir, desired, purge=False):
    """Read the on-disk bytes of the files that matter: desired paths, plus every ``*.conf`` when purging.

    One directory scan, then one read per relevant regular file; nothing else is stat'ed.
    Returns ``({path: bytes}, irregular)`` where ``irregular`` lists desired paths that exist but are not
    regular files (symlinks, directories ...). Non-regular files are never read, purged or replaced.
    """
    existing, irregular = {}, []
    entries = {}
    with os.scandir(pool_dir) as iterator:
        for entry in iterator:
            if entry.name.endswith(CONF_SUFFIX) and not entry.name.startswith("."):
                entries[entry.path] = entry
    wanted = set(entries) if purge else set(desired) & set(entries)
    for path in sorted(wanted):
        entry = entries[path]
        if entry.is_symlink() or not entry.is_file():
            if path in desired:
                irregular.append(path)
            continue
        with open(path, "rb") as handle:
            existing[path] = handle.read()
    return existing, irregular


class Plan(collections.namedtuple("Plan", "added updated removed unchanged conflicts")):
    """Lists of paths. ``conflicts``: desired paths occupied by files without the marker."""

    __slots__ = ()

    @property
    def changed(self):
        return bool(self.added or self.updated or self.removed)


def plan(desired, existing, purge=False):
    """Compare desired ``{path: str}`` with existing ``{path: bytes}``.

    Only files carrying the marker are ever updated or removed; removal only happens with ``purge``.
    """
    added, updated, unchanged, conflicts = [], [], [], []
    for path in sorted(desired):
        current = existing.get(path)
        if current is None:
            added.append(path)
        elif not is_managed(current):
            conflicts.append(path)
        elif current == desired[path].encode("utf-8"):
            unchanged.append(path)
        else:
            updated.append(path)
    removed = []
    if purge:
        removed = sorted(path for path, content in existing.items() if path not in desired and is_managed(content))
    return Plan(added, updated, removed, unchanged, conflicts)


def build_diff(the_plan, desired, existing):
    """Ansible diff list (one entry per added/updated/removed file), sorted by path."""

    def text(data):
        return data.decode("utf-8", "replace")

    diff = []
    for path in sorted(the_plan.added + the_plan.updated + the_plan.removed):
        diff.append(
            {
                "before_header": path,
                "after_header": path,
                "before": text(existing[path]) if path in existing else "",
                "after": desired.get(path, ""),
            }
        )
    return diff


# --- applying ------------------------------------------------------------------------------------------------
_INCLUDE_RE = re.compile(r"^(\s*include\s*=\s*)(\S+)\s*$")


def staged_main_config(text, pool_dir, staged_pool_dir):
    """The main configuration ``text`` with its include of ``pool_dir`` pointed at ``staged_pool_dir``: what
    ``php-fpm -t -y`` tests so that it reads the staged pools instead of the live ones.

    Raises ApplyError when no ``include=`` line reads from ``pool_dir`` (the test would not see the pools).
    """
    lines, found = [], False
    for line in text.splitlines(True):
        match = _INCLUDE_RE.match(line.rstrip("\n"))
        if match and os.path.dirname(match.group(2).strip("\"'")) == pool_dir.rstrip("/"):
            pattern = os.path.basename(match.group(2).strip("\"'"))
            line = "%s%s\n" % (match.group(1), os.path.join(staged_pool_dir, pattern))
            found = True
        lines.append(line)
    if not found:
        raise ApplyError(
            "the php-fpm configuration has no include=%s/*.conf line; the staged pools cannot be tested" % pool_dir
        )
    return "".join(lines)


def apply_plan(pool_dir, the_plan, desired, existing, validator=None, scratch_parent=None):
    """Apply ``the_plan`` with managed_files: every candidate is staged beside its target, ``validator``
    (``(staged) -> (rc, stdout, stderr)``, a ``managed_files.Staged`` whose ``root`` is a copy of ``pool_dir`` with
    the candidates in place and the removed pools gone) tests them, and only then are they renamed into place and
    the removed ones deleted. A failing test changes nothing live; a failure while renaming puts every file back.
    Raises ApplyError.
    """
    if not the_plan.changed:
        return
    specs = [managed_files.file_spec(path, desired[path], mode=FILE_MODE) for path in the_plan.added + the_plan.updated]
    previous = {}
    for path in the_plan.updated + the_plan.removed:
        st = os.stat(path)
        previous[path] = managed_files.Existing(existing[path], st.st_uid, st.st_gid, st.st_mode & 0o7777)
    try:
        managed_files.apply(
            the_plan,
            specs,
            previous,
            validator,
            what="php-fpm configuration",
            tree=pool_dir,
            scratch_parent=scratch_parent,
        )
    except managed_files.ManagedFilesError as exc:
        raise ApplyError(exc.msg, exc.errors, exc.details) from exc


def config_pid_file(text):
    """The ``pid =`` of a php-fpm main configuration, or None."""
    for line in text.splitlines():
        match = re.match(r"\s*pid\s*=\s*(\S+)\s*$", line)
        if match:
            return match.group(1).strip("\"'")
    return None


def reload_reasons(pool_dir, pool_paths, sockets, pid_file, proc="/proc"):
    """Why the running php-fpm master must reload although nothing is written now: a pool file or the pool
    directory (a pool added or removed) changed after its last load, or a configured pool's socket is missing.
    Empty when php-fpm is not running (``pid_file`` names no live process)."""
    if not pid_file:
        return []
    loaded_at = service_state.last_load("php-fpm", pid_file, proc)
    return service_state.reload_reasons("php-fpm", loaded_at, [pool_dir, *sorted(pool_paths)], sockets=sockets)


# --- orchestration -------------------------------------------------------------------------------------------
def reconcile(
    pools,
    pool_dir,
    purge=False,
    validate=True,
    check_mode=False,
    want_diff=False,
    validator=None,
    php_fpm_binary=None,
    pid_file=None,
    scratch_parent=None,
):
    """Run the whole pipeline; return the module result dict or raise PhpFpmPoolError.

    ``validator`` is only called (and ``php_fpm_binary`` only checked) when ``validate`` is true, something
    changed and we are not in check mode. With ``pid_file`` (php-fpm's), a run that writes nothing still reports
    ``changed`` (and ``reload_needed``) when the running master has not loaded the pools on disk: an earlier run
    was killed between writing them and its reload.
    """
    if not isinstance(pool_dir, str) or not pool_dir.startswith("/"):
        raise PoolValidationError("pool_dir must be an absolute path", ["pool_dir: %r is not absolute" % (pool_dir,)])
    sockets = []
    desired = desired_state(pools, pool_dir, sockets)

    if os.path.isdir(pool_dir):
        existing, irregular = read_existing(pool_dir, desired, purge)
    elif check_mode:
        existing, irregular = {}, []
    else:
        raise PhpFpmPoolError("pool_dir %s does not exist (is php-fpm installed?)" % pool_dir)

    the_plan = plan(desired, existing, purge)
    errors = ["pool '%s': %s exists and is not a regular file" % (pool_name_from_path(p), p) for p in irregular]
    errors += [
        "pool '%s': %s exists but is not managed by wpzo.hosting.php_fpm_pool (no marker line); "
        "remove it or choose another pool name" % (pool_name_from_path(p), p)
        for p in the_plan.conflicts
    ]
    if errors:
        raise PoolValidationError("refusing to overwrite unmanaged files", errors)

    def names(paths):
        return [pool_name_from_path(p) for p in paths]

    if not check_mode:
        managed_files.clean_stray([pool_dir], scratch_parent or managed_files.default_scratch_parent())
    reasons = []
    if not the_plan.changed and os.path.isdir(pool_dir):
        reasons = reload_reasons(pool_dir, desired, sockets, pid_file)
    result = {
        "changed": the_plan.changed or bool(reasons),
        "added": names(the_plan.added),
        "updated": names(the_plan.updated),
        "removed": names(the_plan.removed),
        "pools": [pool["name"] for pool in pools],
        "reload_needed": the_plan.changed or bool(reasons),
    }
    if reasons:
        result["reload_reasons"] = reasons
    if want_diff:
        result["diff"] = build_diff(the_plan, desired, existing)

    if the_plan.changed and not check_mode:
        run = None
        if validate:
            if not php_fpm_binary or not os.access(php_fpm_binary, os.X_OK):
                raise PhpFpmPoolError(
                    "php_fpm_binary %s is not an executable file; install php-fpm or set validate=false"
                    % php_fpm_binary
                )
            run = validator
        apply_plan(pool_dir, the_plan, desired, existing, run, scratch_parent)
    return result
