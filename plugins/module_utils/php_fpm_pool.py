# -*- coding: utf-8 -*-
# Copyright: wpzo.hosting developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure logic behind the ``wpzo.hosting.php_fpm_pool`` module.

Pipeline (each step is a small function that unit tests call directly):

1. ``validate_pools(pools)``  -> (normalized pools, errors); every problem at once.
2. ``desired_state(pools, pool_dir)`` -> ``{path: content}`` (raises ``ValidationError``).
3. ``file_specs(desired)`` -> the pool files for the file engine (``managed_files``), which reads them, plans
   (content, owner, group and mode: a pool file changed by hand is put back) and builds the diff.
4. ``apply_plan(pool_dir, plan, specs, existing, validator)`` -> staged candidates, tested on a copy of the
   pool directory (``staged_main_config``), then renamed into place; a failed test changes nothing live.
5. ``reload_reasons(...)`` -> why the running master must reload although nothing is written now.

``compute()`` ties the steps together for the module: it reads and plans, and returns a ``module_shell.Change``
whose ``apply`` writes.
Code here must stay Python 3.8 compatible (it runs on the managed host).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import posixpath
import re

from ansible_collections.wpzo.hosting.plugins.module_utils import (
    managed_files,
    module_shell,
    server_layout,
    service_state,
    value_syntax,
)
from ansible_collections.wpzo.hosting.plugins.module_utils.errors import ApplyError, ModuleError, ValidationError

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

# The module's options: the one place their types and defaults are written (the module's argument spec is built
# from them; ``None`` (no default) means "derived", see _derive_defaults, or "not set").
POOL_SPEC = dict(
    name=dict(type="str", required=True),
    user=dict(type="str", required=True),
    group=dict(type="str"),
    root=dict(type="path", required=True),
    listen=dict(type="path"),
    listen_owner=dict(type="str", default=server_layout.WEB_USER),
    listen_group=dict(type="str", default=server_layout.WEB_GROUP),
    listen_mode=dict(type="str", default="0660"),
    pm=dict(type="str", choices=list(PM_CHOICES), default="ondemand"),
    max_children=dict(type="int", default=5),
    start_servers=dict(type="int"),
    min_spare_servers=dict(type="int"),
    max_spare_servers=dict(type="int"),
    process_idle_timeout=dict(type="str", default="10s"),
    max_requests=dict(type="int", default=500),
    request_terminate_timeout=dict(type="str", default="60s"),
    request_slowlog_timeout=dict(type="str", default="5s"),
    slowlog=dict(type="path"),
    open_basedir=dict(type="list", elements="path"),
    upload_tmp_dir=dict(type="path"),
    session_save_path=dict(type="path"),
    sys_temp_dir=dict(type="path"),
    disable_functions=dict(type="list", elements="str", default=DEFAULT_DISABLE_FUNCTIONS),
    memory_limit=dict(type="str", default="256M"),
    env=dict(type="dict"),
    php_admin_values=dict(type="dict"),
    php_values=dict(type="dict"),
    status_path=dict(type="str", default="/fpm-status"),
    ping_path=dict(type="str", default="/fpm-ping"),
    error_log=dict(type="path"),
)
ARGUMENT_SPEC = dict(
    pools=dict(type="list", elements="dict", required=True, options=POOL_SPEC),
    pool_dir=dict(type="path", default="/etc/php/8.2/fpm/pool.d"),
    php_fpm_binary=dict(type="path", default="/usr/sbin/php-fpm8.2"),
    php_fpm_config=dict(type="path", default="/etc/php/8.2/fpm/php-fpm.conf"),
    purge=dict(type="bool", default=False),
    validate=dict(type="bool", default=True),
    reload_check=dict(type="bool", default=True),
)
POOL_DEFAULTS = module_shell.defaults(POOL_SPEC)

# Pool name: lower-case letters, digits, "_", "." and "-"; starts with a letter, digit or "_"; 1-64 chars.
# It becomes the file name (<name>.conf), the section header and the default socket name, so domain
# names such as "example.com" are fine but "/", spaces, upper case and a leading "." or "-" are not.
POOL_NAME_RE = re.compile(r"[a-z0-9_][a-z0-9_.-]{0,63}")
LISTEN_MODE_RE = re.compile(r"0[0-7]{3}")
DURATION_RE = value_syntax.PHP_FPM_DURATION
MEMORY_RE = value_syntax.PHP_SIZE_OR_UNLIMITED
INI_KEY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
URI_PATH_RE = value_syntax.URI_PATH

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
        and not (value_syntax.IDENTIFIER.fullmatch(value) and value != value.lower())
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


# --- validation ----------------------------------------------------------------------------------------------
def _has_control(value):
    return bool(value_syntax.CONTROL.search(value))


def is_normalized_abspath(path):
    """Absolute, no trailing slash, no '.', '..' or '//' components."""
    return isinstance(path, str) and path.startswith("/") and posixpath.normpath(path) == path


def is_inside(path, root):
    """True when ``path`` is ``root`` or below it (both normalized absolute paths)."""
    return path == root or path.startswith(root.rstrip("/") + "/")


def _pool_label(raw, index):
    name = raw.get("name")
    if name and POOL_NAME_RE.fullmatch(name):
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
    """Apply defaults to one pool (as the argument spec checked it: every option present, of its type; an
    option set to None takes its default) and validate what the spec cannot. Returns ``(pool, errors)``."""
    label = _pool_label(raw, index)
    errors = []
    pool = {}
    for key, default in POOL_DEFAULTS.items():
        value = raw.get(key)
        if value is None:
            value = list(default) if isinstance(default, list) else default
        pool[key] = value
    name, root = pool["name"], pool["root"]
    name_ok = bool(POOL_NAME_RE.fullmatch(name))
    root_ok = is_normalized_abspath(root) and root != "/" and ":" not in root
    _derive_defaults(pool, name_ok, root_ok)
    _check_strings(pool, label, errors)

    def err(field, msg):
        errors.append("%s: %s: %s" % (label, field, msg))

    def want_str(field):
        return pool[field]  # None: derived from an invalid name/root, which is reported already

    if not name_ok:
        err("name", "%r is not a valid pool name (lower-case letters, digits, '_', '.', '-'; 1-64 chars)" % name)

    # a group derived from an invalid user would only repeat the user's error
    for field in ("user", "group", "listen_owner", "listen_group"):
        if field == "group" and raw.get("group") is None:
            continue
        value = want_str(field)
        if value is None:
            continue
        if not value_syntax.ACCOUNT_NAME.fullmatch(value):
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
        if value < minimum:
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
    else:
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

    for entry in pool["open_basedir"] or []:
        if not is_normalized_abspath(entry) or ":" in entry:
            err("open_basedir", "%r must be a normalized absolute path without ':'" % (entry,))
        elif root_ok and not is_inside(entry, root):
            err("open_basedir", "%r is outside root %r" % (entry, root))

    for entry in pool["disable_functions"]:
        if not value_syntax.IDENTIFIER.fullmatch(entry):
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
        key_re = value_syntax.IDENTIFIER if field == "env" else INI_KEY_RE
        for key, value in values.items():
            if not key_re.fullmatch(key):
                err(field, "key %r is not a valid %s name" % (key, "environment variable" if field == "env" else "ini"))
                continue
            if value is None or isinstance(value, (dict, list)):
                err("%s[%s]" % (field, key), "must be a string, number or boolean")
            if field != "env" and key in MANAGED_INI_KEYS:
                err("%s[%s]" % (field, key), "is managed by this module; use the dedicated pool option")
    admin, user = pool["php_admin_values"], pool["php_values"]
    for key in sorted(set(admin) & set(user)):
        err("php_values[%s]" % key, "is also set in php_admin_values")


def validate_pools(pools):
    """Normalize and validate all pools. Returns ``(normalized, errors)``; ``errors`` lists every problem."""
    normalized, errors = [], []
    names, sockets = {}, {}
    for index, raw in enumerate(pools):
        pool, pool_errors = normalize_pool(raw, index)
        errors.extend(pool_errors)
        normalized.append(pool)
        label = _pool_label(raw, index)
        name, listen = pool.get("name"), pool.get("listen")
        if name in names:
            errors.append("%s: name: duplicate pool name, also used by pools[%d]" % (label, names[name]))
        else:
            names[name] = index
        if listen is None:  # derived from an invalid name, which is reported already
            continue
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
    """Validate and render all pools: ``{path: content}``. Raises ValidationError with every problem.
    The pools' sockets are appended to the list ``sockets`` when given."""
    normalized, errors = validate_pools(pools)
    if errors:
        raise ValidationError("invalid pool definitions (%d problem(s))" % len(errors), errors)
    if sockets is not None:
        sockets.extend(pool["listen"] for pool in normalized)
    return dict((pool_path(pool_dir, pool["name"]), render_pool(pool)) for pool in normalized)


# --- files --------------------------------------------------------------------------------------------------
def is_managed(content):
    """the first line is the php_fpm_pool marker"""
    first = content.split(b"\n", 1)[0].rstrip(b"\r")
    return first == _MARKER_BYTES


def file_specs(desired):
    """The pool files for the file engine: root-owned, mode 0640 (``env`` may hold secrets)."""
    return [managed_files.file_spec(path, desired[path], mode=FILE_MODE) for path in sorted(desired)]


def purge_globs(pool_dir, purge):
    """With ``purge``, every ``*.conf`` directly in ``pool_dir`` (dot files and other names never)."""
    return [os.path.join(pool_dir, "*" + CONF_SUFFIX)] if purge else []


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


def apply_plan(pool_dir, the_plan, specs, existing, validator=None, scratch_parent=None):
    """Apply ``the_plan`` with the file engine: every candidate is staged beside its target, ``validator``
    (``(staged) -> (rc, stdout, stderr)``, a ``managed_files.Staged`` whose ``root`` is a copy of ``pool_dir`` with
    the candidates in place and the removed pools gone) tests them, and only then are they renamed into place and
    the removed ones deleted. A failing test changes nothing live; a failure while renaming puts every file back.
    Raises ApplyError.
    """
    managed_files.apply(
        the_plan,
        specs,
        existing,
        validator,
        what="php-fpm configuration",
        tree=pool_dir,
        scratch_parent=scratch_parent,
    )


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
def compute(
    pools,
    pool_dir,
    purge=False,
    validate=True,
    check_mode=False,
    validator=None,
    php_fpm_binary=None,
    pid_file=None,
    scratch_parent=None,
):
    """Read the pool directory and plan; return a ``module_shell.Change`` (writes nothing) or raise ModuleError.

    The change's ``apply`` removes what a killed run left, then (when something changed) writes the plan:
    ``validator`` is only called (and ``php_fpm_binary`` only checked) when ``validate`` is true and something
    changed. With ``pid_file`` (php-fpm's), a run that writes nothing still reports ``changed`` (and
    ``reload_needed``) when the running master has not loaded the pools on disk: an earlier run was killed
    between writing them and its reload.
    """
    if not pool_dir.startswith("/"):
        raise ValidationError("pool_dir must be an absolute path", ["pool_dir: %r is not absolute" % (pool_dir,)])
    sockets = []
    desired = desired_state(pools, pool_dir, sockets)
    specs = file_specs(desired)

    if os.path.isdir(pool_dir):
        existing = managed_files.read_existing(specs, purge_globs(pool_dir, purge), is_managed)
    elif check_mode:
        existing = {}
    else:
        raise ModuleError("pool_dir %s does not exist (is php-fpm installed?)" % pool_dir)

    the_plan = managed_files.plan(specs, existing, is_managed)
    errors = [
        "pool '%s': %s exists and is not a regular file" % (pool_name_from_path(p), p)
        if existing[p].content is None
        else "pool '%s': %s exists but is not managed by wpzo.hosting.php_fpm_pool (no marker line); "
        "remove it or choose another pool name" % (pool_name_from_path(p), p)
        for p in the_plan.conflicts
    ]
    if errors:
        raise ValidationError("refusing to overwrite unmanaged files", errors)

    def names(paths):
        return [pool_name_from_path(p) for p in paths]

    reasons = []
    if not the_plan.changed and os.path.isdir(pool_dir):
        reasons = reload_reasons(pool_dir, desired, sockets, pid_file)
    result = module_shell.outcome(
        names(the_plan.added),
        names(the_plan.updated),
        names(the_plan.removed),
        managed_files.build_diff(the_plan, specs, existing),
        reload_reasons=reasons,
        pools=[pool["name"] for pool in pools],
    )

    def apply():
        managed_files.clean_stray([pool_dir], scratch_parent or managed_files.default_scratch_parent())
        if not the_plan.changed:
            return
        run = None
        if validate:
            if not php_fpm_binary or not os.access(php_fpm_binary, os.X_OK):
                raise ModuleError(
                    "php_fpm_binary %s is not an executable file; install php-fpm or set validate=false"
                    % php_fpm_binary
                )
            run = validator
        apply_plan(pool_dir, the_plan, specs, existing, run, scratch_parent)

    return module_shell.Change(result, apply)
