# -*- coding: utf-8 -*-
# Copyright: wpzo.hosting developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reconciling the WordPress sites of a server: the logic behind the ``wpzo.hosting.wordpress`` module.

One call reconciles every site. The module's other concerns have their own files: ``wordpress_validation`` (the
options and their checks), ``wordpress_config`` (wp-config.php), ``wordpress_programs`` (the helper, php-cli
programs and drop-ins, which are files the sites role installs), ``wordpress_archives`` (downloads and checksums).
Per site (each step a small function unit tests call):

1. ``read_site(site, cache_dir, programs)`` -> ``SiteState``: cheap reads only (core version file,
   ``wp-config.php``, the must-use plugins, plugin/theme directories, the installed-marker).
2. ``plan_site(site, state, ...)`` -> ``SitePlan``: the rendered ``wp-config.php`` (salts kept from the existing
   file), what must be extracted, written, installed or activated.
3. ``site_steps(site, state, plan, ctx)`` -> the ordered ``Step`` list: core, files, plugins and themes, install,
   activation, marker. In check mode each step carries the change it predicts (asking WordPress read-only where
   it can); otherwise its ``run`` does it and says what it did.
4. ``run_steps(steps, progress)``: the steps in order; a failure stops the site, ``progress`` keeps what was done.

Everything inside the site's tree is done *as the site user* through ``ctx.runner`` (the site helper for
extraction and file writes, php-cli for the installer and activation). Only the download cache and the markers
under ``cache_dir`` are written as root. ``compute()`` ties the steps together for the module: it validates,
reads and plans every site and returns a ``module_shell.Change`` whose ``apply`` runs the steps. The side effects
come in through ``Context`` (runner, downloader, user lookups, programs) so unit tests run everything with fakes.

Code here must stay Python 3.8 compatible (it runs on the managed host).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import errno
import grp
import hashlib
import json
import os
import pwd
import re
import stat
import time

from ansible_collections.wpzo.hosting.plugins.module_utils import managed_files, module_shell
from ansible_collections.wpzo.hosting.plugins.module_utils.errors import ModuleError, SiteError, ValidationError
from ansible_collections.wpzo.hosting.plugins.module_utils.wordpress_archives import (
    Archives,
    core_cache_path,
    download_cache_path,
)
from ansible_collections.wpzo.hosting.plugins.module_utils.wordpress_config import (
    _PREFIX_RE,
    CONFIG_MODE,
    CONFIG_NAME,
    complete_salts,
    config_diff_texts,
    existing_salts,
    generate_salt,
    is_managed,
    parse_php_string,
    read_defines,
    render_config,
)
from ansible_collections.wpzo.hosting.plugins.module_utils.wordpress_programs import (
    ACTIVATE_PHP,
    INSTALL_PHP,
    SITE_HELPER,
    Programs,
    parse_php_result,
    plain,
)
from ansible_collections.wpzo.hosting.plugins.module_utils.wordpress_validation import PROGRAMS_DIR, validate_sites

MU_PLUGIN_MODE = 0o644
MARKER_FILE_MODE = 0o600
# What a drop-in's diff says in check mode before the sites role installed the program files.
NOT_INSTALLED = "(the sites role installs this file into %s before the first real run)\n"

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


def read_site(site, cache_dir, programs):
    """Everything the plan needs, with cheap reads only (no subprocess)."""
    path = site["path"]
    path_ok = os.path.realpath(path) == path  # also catches a symlinked parent of a missing docroot
    content = os.path.join(path, "wp-content")
    return SiteState(
        version=installed_version(path) if path_ok else None,
        config=read_file(os.path.join(path, CONFIG_NAME)),
        mu_plugins=dict((name, read_file(os.path.join(content, name))) for name in programs.drop_ins(site)),
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


def plan_site(site, state, drop_ins, verify_installed=False, ids=None, generate=generate_salt, check_mode=False):
    """Decide what a site needs. ``drop_ins``: ``Programs.drop_ins(site)``. Raises SiteError for conflicts
    (unmanaged or irregular files) and, unless in check mode, for a drop-in the sites role has not installed."""
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
    for name, source in drop_ins.items():
        current = state.mu_plugins[name]
        where = os.path.join(path, "wp-content", name)
        if current.kind == "other":
            raise SiteError("%s exists and is not a regular file" % where)
        if current.kind == "file" and not is_managed(current.content):
            raise SiteError("%s exists but is not managed by wpzo.hosting.wordpress (no marker)" % where)
        if source is None:
            if not check_mode:
                raise SiteError("%s is not installed: the sites role installs it (programs_dir)" % name)
            mu.append(name)
        elif current.content != source.encode("utf-8") or (
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


# --- applying ------------------------------------------------------------------------------------------------
class Context:
    """Side effects and settings for ``reconcile``.

    ``runner(argv, user=None, group=None, data=b"", cwd=None) -> (rc, stdout, stderr)`` runs a program, as
    ``user``/``group`` when given; ``downloader(url, dest)`` fetches a URL into a file or raises ModuleError;
    ``ids(owner, group) -> (uid, gid)`` raises KeyError for an unknown user or group; ``programs_dir`` holds the
    program files (``wordpress_programs``).
    """

    def __init__(
        self,
        runner,
        downloader,
        cache_dir="/var/lib/wpzo/wordpress",
        php_binary="/usr/bin/php",
        python_binary="/usr/bin/python3",
        programs_dir=PROGRAMS_DIR,
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
        self.programs = Programs(programs_dir)
        self.check_mode = check_mode
        self.want_diff = want_diff
        self.verify_installed = verify_installed
        self.ids = ids
        self.warnings = []
        self.warn = warn or self.warnings.append


def _helper(ctx, site, args, data):
    argv = [ctx.python_binary, "-I", ctx.programs.required(SITE_HELPER), *args]
    rc, out, err = ctx.runner(argv, user=site["owner"], group=site["group"], data=data, cwd="/")
    if rc != 0:
        raise SiteError(plain(err or out) or "helper failed with rc=%s" % rc)
    try:
        return json.loads((out or "").strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise SiteError("unexpected helper output: %s" % plain(out)) from None


def write_as_owner(ctx, site, files, gid):
    """Write ``[(path, content, mode)]`` atomically as the site user, in one helper call."""
    payload = [{"path": path, "content": content, "mode": "%04o" % mode} for path, content, mode in files]
    _helper(ctx, site, ["write", str(gid)], json.dumps(payload).encode("utf-8"))


def extract_as_owner(ctx, site, kind, archive, dest, top, strip, expect_version=""):
    with open(archive, "rb") as handle:
        data = handle.read()
    args = ["extract", kind, dest, top, "strip" if strip else "keep", expect_version or ""]
    return _helper(ctx, site, args, data)


def run_php(ctx, site, program, data, what):
    """Run a php-cli program as the site user, ``data`` as JSON on its standard input; its result."""
    argv = [ctx.php_binary, ctx.programs.required(program)]
    payload = json.dumps(data, sort_keys=True).encode("utf-8")
    rc, out, err = ctx.runner(argv, user=site["owner"], group=site["group"], data=payload, cwd=site["path"])
    result = parse_php_result(out)
    if rc != 0 or result is None:
        detail = plain((err or "") + " " + (out or "")) or "no output"
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
    """The installed-marker, root's (0600 in a 0700 directory), through the file engine."""
    directory = os.path.join(cache_dir, "installed")
    os.makedirs(directory, mode=0o700, exist_ok=True)
    path = marker_path(cache_dir, domain)
    owner, group = pwd.getpwuid(os.geteuid()).pw_name, grp.getgrgid(os.getegid()).gr_name
    spec = managed_files.file_spec(path, json.dumps(data, sort_keys=True) + "\n", owner, group, MARKER_FILE_MODE)
    existing = managed_files.read_existing([spec], marker=None)
    managed_files.apply(managed_files.plan([spec], existing, marker=None), [spec], existing, what="installed-marker")


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


def _install_diff(site):
    return _summary("%s (database)" % site["domain"], "WordPress installed for %s" % site["url"])


def _activation_diff(site, activated):
    return _summary("%s (activation)" % site["domain"], "activated: %s" % ", ".join(activated))


# --- the steps of a site -------------------------------------------------------------------------------------
class Step(collections.namedtuple("Step", "changes diffs run")):
    """One step of a site's plan. ``changes``: the names it records in the site's ``changed`` list (``core``,
    ``config``, ``mu_plugins``, ``plugins``, ``themes``, ``install``, ``activation``); ``diffs``: the diff entries
    it predicts; ``run``: ``() -> None`` (it did what it predicts) or ``(changes, diffs)`` (what it found it had
    to do, for the steps only WordPress can tell), or None in check mode."""

    __slots__ = ()


def _core_step(site, path, ctx, outcome):
    source = site["core_src"] or site["core_url"]
    what = "WordPress %s extracted from %s" % (site["version"], source)

    def run():
        archive = ctx.archives.obtain(
            "core_checksum",
            site["core_src"],
            site["core_url"],
            site["core_checksum"],
            core_cache_path(ctx.cache_dir, site["version"]),
        )
        extracted = extract_as_owner(ctx, site, "tar", archive, path, "wordpress", True, site["version"])
        if extracted.get("kept"):
            ctx.warn(
                "site %s: kept %d existing file(s) in %s instead of the archive's: %s"
                % (site["domain"], len(extracted["kept"]), path, ", ".join(extracted["kept"][:10]))
            )
        outcome["version"] = installed_version(path)

    return Step(["core"], [_summary("%s (WordPress core)" % path, what)], None if ctx.check_mode else run)


def _files_step(site, state, plan, ctx, drop_ins):
    """wp-config.php and the must-use plugins: one helper call writes them all."""
    path = site["path"]
    config_path = os.path.join(path, CONFIG_NAME)
    content_dir = os.path.join(path, "wp-content")
    config_changed = plan.config_content_changed or plan.config_meta_changed
    writes = [(config_path, plan.config_text, CONFIG_MODE)] if config_changed else []
    writes += [(os.path.join(content_dir, name), drop_ins[name], MU_PLUGIN_MODE) for name in plan.mu_plugins]
    if not writes:
        return None
    changes, diffs = [], []
    if config_changed:
        changes.append("config")
        if ctx.want_diff:
            diffs.append(_config_diff(site, state, plan, config_path))
    if plan.mu_plugins:
        changes.append("mu_plugins")
        for name in plan.mu_plugins if ctx.want_diff else ():
            current = state.mu_plugins[name]
            dest = os.path.join(content_dir, name)
            after = drop_ins[name]
            diffs.append(
                {
                    "before_header": dest if current.kind == "file" else "/dev/null",
                    "after_header": dest,
                    "before": current.content.decode("utf-8", "replace") if current.content else "",
                    "after": after if after is not None else NOT_INSTALLED % ctx.programs.directory,
                }
            )
    gid = plan.ids[1] if plan.ids else -1
    return Step(changes, diffs, None if ctx.check_mode else lambda: write_as_owner(ctx, site, writes, gid))


def _config_diff(site, state, plan, config_path):
    if state.config.kind == "file" and not is_managed(state.config.content):
        before = "(unmanaged wp-config.php, %d bytes, not shown)\n" % len(state.config.content)
        after = config_diff_texts(site, None, plan.config_text)[1]
    else:
        before_text = state.config.content.decode("utf-8", "replace") if state.config.content else None
        before, after = config_diff_texts(site, before_text, plan.config_text)
        if not plan.config_content_changed:
            owner = "%s:%s %04o" % (site["owner"], site["group"], CONFIG_MODE)
            after += "// (owner, group or mode corrected to %s)\n" % owner
    return {
        "before_header": config_path if state.config.kind != "missing" else "/dev/null",
        "after_header": config_path,
        "before": before,
        "after": after,
    }


def _extension_steps(site, plan, ctx):
    """One step per plugin or theme to extract; a listed one without src or url must ship with the core."""
    steps = []
    for kind, entries in (("plugins", plan.plugins), ("themes", plan.themes)):
        dest_dir = os.path.join(site["path"], "wp-content", kind)
        for entry in entries:
            position = site[kind].index(entry)
            label = "%s[%d] (%s)" % (kind, position, entry["name"])
            target = os.path.join(dest_dir, entry["name"])
            if entry["src"] is None and entry["url"] is None:
                if plan.core and ctx.check_mode:
                    continue  # the core archive is not extracted yet
                missing = "%s: %s is missing and neither src nor url is given" % (label, target)
                if not plan.core:
                    raise SiteError(missing)
                steps.append(Step([], [], _check_shipped(target, missing)))
                continue
            what = "%s %s extracted from %s" % (kind[:-1], entry["name"], entry["src"] or entry["url"])
            run = None if ctx.check_mode else _extract(site, plan, ctx, kind, entry, position, dest_dir, target)
            steps.append(Step([kind], [_summary(target, what)], run))
    return steps


def _check_shipped(target, missing):
    def run():
        if not os.path.isdir(target):
            raise SiteError(missing)
        return [], []

    return run


def _extract(site, plan, ctx, kind, entry, position, dest_dir, target):
    def run():
        if plan.core and os.path.isdir(target):
            return [], []  # came with the core archive just extracted
        field = "%s[%d].checksum" % (kind, position)
        cache = None
        if entry["src"] is None:
            cache = download_cache_path(ctx.cache_dir, entry["url"], entry["checksum"])
        archive = ctx.archives.obtain(field, entry["src"], entry["url"], entry["checksum"], cache)
        try:
            extract_as_owner(ctx, site, "zip", archive, dest_dir, entry["name"], False)
        except SiteError as exc:
            raise SiteError("%s[%d] (%s): %s" % (kind, position, entry["name"], exc.msg)) from None
        return None

    return run


def _install_steps(site, state, plan, ctx):
    """``(steps, installed)``: the install check, and whether WordPress is known to be installed after it."""
    if not plan.check_install:
        return [], True
    if not ctx.check_mode:

        def run():
            result = run_php(ctx, site, INSTALL_PHP, _install_input(site, True), "the install check")
            if result.get("installed_before"):
                return [], []
            if not result.get("installed"):
                raise SiteError("the WordPress installer ran but the site is still not installed")
            return ["install"], [_install_diff(site)]

        return [Step([], [], run)], True
    if not plan.core and _db_settings_unchanged(site, state) and ctx.programs.installed(INSTALL_PHP):
        # WordPress can be asked, read only
        result = run_php(ctx, site, INSTALL_PHP, _install_input(site, False), "the install check")
        return ([] if result.get("installed_before") else [Step(["install"], [_install_diff(site)], None)]), True
    if plan.core or not (state.marker or {}).get("fingerprint"):
        return [Step(["install"], [_install_diff(site)], None)], None
    return [], None


def _activation_steps(site, plan, ctx, installed, extracting):
    if not plan.activate:
        return []
    if not ctx.check_mode:

        def run():
            activated = _activate(ctx, site, dry_run=False)
            return (["activation"], [_activation_diff(site, activated)]) if activated else ([], [])

        return [Step([], [], run)]
    if installed and not extracting and ctx.programs.installed(ACTIVATE_PHP):  # WordPress can be asked, read only
        activated = _activate(ctx, site, dry_run=True)
    else:
        plugins, theme = activation_list(site)
        activated = ["plugin:" + name for name in plugins] + (["theme:" + theme] if theme else [])
    return [Step(["activation"], [_activation_diff(site, activated)], None)] if activated else []


def _activate(ctx, site, dry_run):
    result = run_php(ctx, site, ACTIVATE_PHP, _activate_input(site, dry_run), "activation")
    if result.get("errors"):
        raise SiteError("activation: %s" % "; ".join(result["errors"]))
    return result.get("activated") or []


def _marker_step(site, state, plan, ctx):
    """The installed-marker, after everything else: it vouches for what the steps before it made true."""
    marker = {
        "domain": site["domain"],
        "path": site["path"],
        "fingerprint": plan.fingerprint,
        "activation": plan.activation,
    }
    previous = dict(state.marker or {})
    previous.pop("installed_at", None)
    if ctx.check_mode or previous == marker:
        return []
    marker["installed_at"] = (state.marker or {}).get("installed_at") or time.strftime(
        "%Y-%m-%dT%H:%M:%SZ", time.gmtime()
    )
    return [Step([], [], lambda: write_marker(ctx.cache_dir, site["domain"], marker))]


def site_steps(site, state, plan, ctx, outcome):
    """The ordered steps of one site (none of them run yet). ``outcome`` receives the core version a core step
    extracts."""
    drop_ins = ctx.programs.drop_ins(site)
    steps = [_core_step(site, site["path"], ctx, outcome)] if plan.core else []
    files = _files_step(site, state, plan, ctx, drop_ins)
    steps += [files] if files else []
    extensions = _extension_steps(site, plan, ctx)
    steps += extensions
    install, installed = _install_steps(site, state, plan, ctx)
    steps += install
    steps += _activation_steps(site, plan, ctx, installed, [step for step in extensions if step.changes])
    return steps + _marker_step(site, state, plan, ctx)


def run_steps(steps, progress):
    """Run the steps in order (or, without ``run``, record what they predict). ``progress`` (``changes``,
    ``diffs``) holds what was done when a step fails."""
    changes = progress.setdefault("changes", [])
    diffs = progress.setdefault("diffs", [])
    for step in steps:
        done = step.run() if step.run is not None else None
        names, entries = (step.changes, step.diffs) if done is None else done
        changes.extend(name for name in names if name not in changes)
        diffs.extend(entries)


def plan_one(site, ctx):
    """Read and plan one site: ``(steps, outcome)``; raises SiteError (or OSError) for a site that cannot be done."""
    try:
        ids = ctx.ids(site["owner"], site["group"])
    except KeyError:
        if not ctx.check_mode:
            raise SiteError(
                "owner/group: user %r or group %r does not exist (create the site's account first)"
                % (site["owner"], site["group"])
            ) from None
        ids = None
    state = read_site(site, ctx.cache_dir, ctx.programs)
    drop_ins = ctx.programs.drop_ins(site)
    plan = plan_site(site, state, drop_ins, ctx.verify_installed, ids, check_mode=ctx.check_mode)
    outcome = {"version": site["version"] if plan.core else state.version}
    return site_steps(site, state, plan, ctx, outcome), outcome


def compute(sites, ctx):
    """Validate every site, then read and plan each; return a ``module_shell.Change`` whose ``apply`` runs every
    site's steps (in check mode the result is what they predict).

    Raises ValidationError (nothing changed) when any site is invalid. A site that fails does not stop the others;
    the module then fails after reporting everything (a ModuleError whose details are the whole result).
    """
    normalised, errors = validate_sites(sites)
    if errors:
        raise ValidationError("invalid site definitions (%d problem(s))" % len(errors), errors)
    result = {"changed": False, "added": [], "updated": [], "unchanged": [], "sites": {}}
    diffs, failed, planned = [], {}, []

    def fail(site, exc, progress):
        failed[site["domain"]] = "%s: %s" % (site["label"], getattr(exc, "msg", None) or exc)
        done = progress.get("changes") or []
        result["sites"][site["domain"]] = {"url": site["url"], "path": site["path"], "changed": done, "failed": True}
        if done:  # part of the work was done before the failure
            result["added" if "core" in done else "updated"].append(site["domain"])
        diffs.extend(progress.get("diffs") or [])

    for site in normalised:
        try:
            planned.append((site, plan_one(site, ctx)))
        except (SiteError, OSError) as exc:
            planned.append((site, exc))

    def run():
        for site, planning in planned:
            progress = {}
            try:
                if isinstance(planning, Exception):
                    raise planning
                steps, outcome = planning
                run_steps(steps, progress)
            except (SiteError, OSError) as exc:
                fail(site, exc, progress)
                continue
            changes = progress["changes"]
            if "core" in changes or "install" in changes:
                result["added"].append(site["domain"])
            elif changes:
                result["updated"].append(site["domain"])
            else:
                result["unchanged"].append(site["domain"])
            entry = {"version": outcome["version"], "url": site["url"], "path": site["path"], "changed": changes}
            result["sites"][site["domain"]] = entry
            diffs.extend(progress["diffs"])
        result["changed"] = bool(result["added"] or result["updated"])
        result["diff"] = diffs
        if failed:
            details = dict(result, failed=failed)
            if not ctx.want_diff:
                details.pop("diff")
            message = "; ".join(failed[domain] for domain in sorted(failed))
            raise ModuleError("%d site(s) failed: %s" % (len(failed), message), details=details)
        return result

    if ctx.check_mode:
        return module_shell.Change(run(), None)
    return module_shell.Change({"changed": False}, run)
