# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's one file engine: read, plan, diff, stage, validate the staged files, rename into place,
roll back on failure.

Every module that writes files on the host uses it (nginx vhosts, systemd units, PHP-FPM pools, the Redis ACL
file). A file is the collection's when it carries the marker; purging only ever removes such files, and a file
without the marker is never overwritten. The one exception is ``absent``: exact paths the caller once wrote
itself (a program an older version installed before it carried the marker), removed whatever they hold. A plan
compares content, owner, group and mode: a file whose mode or owner was changed by hand is put back by the next
run.

``marker`` (every function that takes one): a string found in the first 512 bytes (the default); a function
``(bytes) -> bool`` for a stricter rule (PHP-FPM pools: the exact first line); or None for a file that carries no
marker because its format has no comments (the Redis ACL file), which the caller owns whatever it holds.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import contextlib
import glob
import grp
import os
import pwd
import shutil
import stat
import tempfile
import time

from ansible_collections.wpzo.hosting.plugins.module_utils.errors import ApplyError, ModuleError

MARKER = "Managed by wpzo.hosting"
MARKER_SCAN_BYTES = 512


# ``adopt``: an existing file without the marker at this path (a package's, or one written before the collection
# managed it) is taken over instead of refused. ``validate``: an argument list that tests this file's staged
# candidate (``%s``), besides the set's own test; the engine only carries it, the caller runs it.
FileSpec = collections.namedtuple("FileSpec", "path content owner group mode adopt validate")
FileSpec.__new__.__defaults__ = (False, ())
Existing = collections.namedtuple("Existing", "content uid gid mode")
# A directory the set needs, created or corrected (owner, group, mode) before any file is staged.
DirectorySpec = collections.namedtuple("DirectorySpec", "path owner group mode")


class Plan(collections.namedtuple("Plan", "added updated removed unchanged conflicts")):
    @property
    def changed(self):
        return bool(self.added or self.updated or self.removed)


def is_managed(data, marker=MARKER):
    """Whether the bytes ``data`` carry ``marker`` (a string, a function or None, see the module's docstring)."""
    if marker is None:
        return True
    if callable(marker):
        return marker(data)
    return marker.encode("utf-8") in data[:MARKER_SCAN_BYTES]


def _mode(mode):
    return int(mode, 8) if isinstance(mode, str) else mode


def file_spec(path, content, owner="root", group="root", mode="0644", adopt=False, validate=()):
    return FileSpec(path, content, owner, group, _mode(mode), adopt, tuple(validate or ()))


def directory_spec(path, owner="root", group="root", mode="0755"):
    return DirectorySpec(path, owner, group, _mode(mode))


# ``dry_run`` (check mode): an owner or group that does not exist yet is no error, since a package the same run
# installs creates it (the prometheus user of Debian's exporters); what it would own is planned as changing.
def _check_path_and_ids(spec, errors, dry_run=False):
    if not os.path.isabs(spec.path) or os.path.normpath(spec.path) != spec.path:
        errors.append("%s: not an absolute, normalised path" % spec.path)
    for kind, name, lookup in (("owner", spec.owner, pwd.getpwnam), ("group", spec.group, grp.getgrnam)):
        try:
            lookup(name)
        except KeyError:
            if not dry_run:
                errors.append("%s: %s %r does not exist" % (spec.path, kind, name))


def validate_directories(directories, dry_run=False):
    """Problems of the directory specs: paths, owners and groups, a path listed twice."""
    errors = []
    seen = set()
    for spec in directories:
        _check_listed_once(spec, seen, errors, dry_run)
    return errors


def _check_listed_once(spec, seen, errors, dry_run=False):
    _check_path_and_ids(spec, errors, dry_run)
    if spec.path in seen:
        errors.append("%s: listed twice" % spec.path)
    seen.add(spec.path)


def plan_directories(directories):
    """``(create, fix, conflicts)``: the listed directories that do not exist, those whose owner, group or mode
    differ, and paths held by something that is not a directory. Read only."""
    create, fix, conflicts = [], [], []
    for spec in directories:
        try:
            st = os.lstat(spec.path)
        except FileNotFoundError:
            create.append(spec)
            continue
        if not stat.S_ISDIR(st.st_mode):
            conflicts.append(spec.path)
        elif (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) != (*_known_ids(spec), spec.mode):
            fix.append(spec)
    return create, fix, conflicts


def directory_diff(create, fix):
    """Diff entries of the directories (created: from nothing; fixed: old and new owner, group and mode)."""
    entries = []
    for spec in create:
        entries.append(
            {
                "before_header": "/dev/null",
                "after_header": spec.path + "/",
                "before": "",
                "after": "directory %s\n" % _attributes(spec.owner, spec.group, spec.mode),
            }
        )
    for spec in fix:
        st = os.lstat(spec.path)
        was = _attributes(_name(pwd.getpwuid, st.st_uid), _name(grp.getgrgid, st.st_gid), stat.S_IMODE(st.st_mode))
        entries.append(
            {
                "before_header": spec.path + "/",
                "after_header": spec.path + "/",
                "before": "directory %s\n" % was,
                "after": "directory %s\n" % _attributes(spec.owner, spec.group, spec.mode),
            }
        )
    return entries


def apply_directories(create, fix):
    """Create (parents first) and correct the directories; raises ApplyError."""
    try:
        for spec in sorted(create, key=lambda d: d.path):
            os.makedirs(spec.path, exist_ok=True)
        for spec in sorted(create + fix, key=lambda d: d.path):
            uid, gid = _ids(spec)
            os.lchown(spec.path, uid, gid)
            os.chmod(spec.path, spec.mode)
    except OSError as exc:
        raise ApplyError("could not create or correct the directory %s: %s" % (exc.filename, exc)) from exc


def validate_specs(specs, marker=MARKER, dry_run=False):
    errors = []
    seen = set()
    for spec in specs:
        _check_listed_once(spec, seen, errors, dry_run)
        if not is_managed(spec.content.encode("utf-8"), marker):
            errors.append("%s: content lacks the marker %s" % (spec.path, _marker_text(marker)))
    return errors


def _marker_text(marker):
    if callable(marker):
        return "(%s)" % (marker.__doc__ or marker.__name__).strip()
    return "%r in its first %d bytes" % (marker, MARKER_SCAN_BYTES)


def read_path(path):
    """The ``Existing`` state of one path (content None: not a regular file), or None when it does not exist."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return Existing(None, st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode))
    with open(path, "rb") as handle:
        return Existing(handle.read(), st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode))


def read_existing(specs, purge_globs=(), marker=MARKER, absent=()):
    """The current state of every listed path, plus every managed file the purge globs match, plus whatever is at
    the ``absent`` paths (marker or not: see ``validate_absent``)."""
    existing = {}
    for spec in specs:
        current = read_path(spec.path)
        if current is not None:
            existing[spec.path] = current
    listed = set(spec.path for spec in specs)
    for pattern in purge_globs:
        for path in glob.glob(pattern):
            if path in listed or path in existing:
                continue
            current = read_path(path)
            if current is not None and current.content is not None and is_managed(current.content, marker):
                existing[path] = current
    for path in absent:
        current = None if path in listed else read_path(path)
        if current is not None:
            existing[path] = current
    return existing


def validate_absent(absent, specs, existing):
    """Problems of the ``absent`` paths: exact files the caller wrote once (an older version's program, which may
    predate the marker) and removes whatever they hold. Each must be absolute, not also listed, and a regular
    file if it exists: a directory or a link there is refused, not removed."""
    listed = set(spec.path for spec in specs)
    errors = []
    for path in absent:
        if not os.path.isabs(path) or os.path.normpath(path) != path:
            errors.append("%s: not an absolute, normalised path" % path)
        elif path in listed:
            errors.append("%s: both listed and absent" % path)
        elif path in existing and existing[path].content is None:
            errors.append("%s: not a regular file, not removed" % path)
    return errors


def _ids(spec):
    return pwd.getpwnam(spec.owner).pw_uid, grp.getgrnam(spec.group).gr_gid


def _known_ids(spec):
    """``_ids``, or ``(None, None)`` (different from any file's) for an owner or group that does not exist yet."""
    try:
        return _ids(spec)
    except KeyError:
        return None, None


def plan(specs, existing, marker=MARKER):
    added, updated, unchanged, conflicts = [], [], [], []
    listed = set()
    for spec in specs:
        listed.add(spec.path)
        current = existing.get(spec.path)
        if current is None:
            added.append(spec.path)
        elif current.content is None or not (spec.adopt or is_managed(current.content, marker)):
            conflicts.append(spec.path)
        elif (current.content, (current.uid, current.gid), current.mode) != (
            spec.content.encode("utf-8"),
            _known_ids(spec),
            spec.mode,
        ):
            updated.append(spec.path)
        else:
            unchanged.append(spec.path)
    removed = sorted(path for path in existing if path not in listed)
    return Plan(added, updated, removed, unchanged, conflicts)


def _name(lookup, number):
    try:
        return lookup(number)[0]
    except KeyError:
        return str(number)


def _attributes(owner, group, mode):
    return "%s:%s %04o" % (owner, group, mode)


def build_diff(the_plan, specs, existing, mask=None):
    """Ansible diff entries; ``mask`` (a function) hides secrets in both sides. When an updated file's owner,
    group or mode changes, both headers name them (``path (root:root 0640)``): a diff never hides a change."""
    mask = mask or (lambda text: text)
    by_path = dict((spec.path, spec) for spec in specs)

    def old(path):
        return mask(existing[path].content.decode("utf-8", "replace")) if path in existing else ""

    entries = []
    for path in the_plan.added + the_plan.updated + the_plan.removed:
        before_header = path if path in existing else "/dev/null"
        after_header = path if path in by_path else "/dev/null"
        if path in existing and path in by_path:
            current, spec = existing[path], by_path[path]
            was = _attributes(_name(pwd.getpwuid, current.uid), _name(grp.getgrgid, current.gid), current.mode)
            wanted = _attributes(spec.owner, spec.group, spec.mode)
            if was != wanted:
                before_header, after_header = "%s (%s)" % (path, was), "%s (%s)" % (path, wanted)
        entries.append(
            {
                "before_header": before_header,
                "after_header": after_header,
                "before": old(path),
                "after": mask(by_path[path].content) if path in by_path else "",
            }
        )
    return entries


STAGE_PREFIX = ".wpzo-"
SCRATCH_PREFIX = "wpzo-validate-"
# A scratch directory (a copy of a configuration tree) older than this was left by a killed run.
STRAY_SCRATCH_AGE = 3600


class Staged(collections.namedtuple("Staged", "files removed root scratch overlays")):
    """What a validator sees before anything is live.

    ``files``: ``{target path: staged path}``, each candidate written beside its target under a name no include
    glob matches (``.wpzo-*``); ``removed``: targets that will be deleted; ``root``: with a ``tree``, a private
    copy of that directory with every candidate in place and every removed file gone (else None); ``scratch``: a
    private directory for the validator's own files (a main configuration pointing at ``root``); ``overlays``:
    with ``overlay``, ``[(copy, live directory)]``: copies of the directories the set touches, candidates in
    place, removed files gone, to be bind-mounted over the live ones in a private mount namespace so that a
    tool reading fixed paths (``sshd -t``, ``fail2ban-client --test``) tests the candidates (else []).
    """

    __slots__ = ()


def _write_temp(spec):
    directory = os.path.dirname(spec.path)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=STAGE_PREFIX)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(spec.content.encode("utf-8"))
        uid, gid = _ids(spec)
        os.chown(tmp, uid, gid)
        os.chmod(tmp, spec.mode)
    except OSError:
        os.unlink(tmp)
        raise
    return tmp


def stray_staged_files(directories):
    """Staged candidates (``.wpzo-*`` regular files) in ``directories``, left by a run killed before its renames."""
    found = []
    for directory in sorted(set(directories)):
        try:
            names = os.listdir(directory)
        except (FileNotFoundError, NotADirectoryError):
            continue
        for name in sorted(names):
            path = os.path.join(directory, name)
            if name.startswith(STAGE_PREFIX) and os.path.isfile(path) and not os.path.islink(path):
                found.append(path)
    return found


def clean_stray(directories, scratch_parent=None, now=None):
    """Remove what a killed run left: staged candidates in ``directories`` and old scratch copies."""
    removed = []
    for path in stray_staged_files(directories):
        try:
            os.unlink(path)
            removed.append(path)
        except FileNotFoundError:
            pass
    if scratch_parent:
        now = time.time() if now is None else now
        for path in glob.glob(os.path.join(scratch_parent, SCRATCH_PREFIX + "*")):
            try:
                if (
                    os.path.isdir(path)
                    and not os.path.islink(path)
                    and now - os.lstat(path).st_mtime > STRAY_SCRATCH_AGE
                ):
                    shutil.rmtree(path)
                    removed.append(path)
            except OSError:
                continue
    return removed


def staged_directories(specs, purge_globs=()):
    """The directories staged candidates of these files (and of purged ones: globs or exact paths) can be left
    in."""
    directories = set(os.path.dirname(spec.path) for spec in specs)
    directories.update(os.path.dirname(pattern) for pattern in purge_globs)
    return sorted(directories)


def default_scratch_parent():
    """/run (memory only: copies of private keys never reach a disk) when usable, else the temporary directory."""
    return "/run" if os.path.isdir("/run") and os.access("/run", os.W_OK) else tempfile.gettempdir()


def _inside(path, tree):
    return path.startswith(tree.rstrip("/") + "/")


def check_tree(specs, removed, tree):
    """Errors for files the copy of ``tree`` would not hold."""
    return [
        "%s: not under validate_tree %s" % (path, tree)
        for path in [s.path for s in specs] + list(removed)
        if not _inside(path, tree)
    ]


def top_directories(paths):
    """The directories of ``paths``, without those inside another one of them."""
    directories = sorted(set(os.path.dirname(path) for path in paths))
    tops = []
    for directory in directories:
        if not any(directory == top or _inside(directory, top) for top in tops):
            tops.append(directory)
    return tops


def _copy_owned(source, copy):
    """Copy the directory ``source`` to ``copy`` with modes, owners and links as they are (staged files left out)."""
    shutil.copytree(source, copy, symlinks=True, ignore=shutil.ignore_patterns(STAGE_PREFIX + "*"))
    for root, dirs, files in os.walk(copy):
        for name in ["", *dirs, *files]:
            target = os.path.join(root, name) if name else root
            st = os.lstat(os.path.join(source, os.path.relpath(target, copy)))
            os.lchown(target, st.st_uid, st.st_gid)


def _copy_tree(tree, scratch, by_path, staged, removed, name="tree"):
    root = os.path.join(scratch, name)
    _copy_owned(tree, root)
    for path, tmp in staged.items():
        target = os.path.join(root, os.path.relpath(path, tree))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if os.path.lexists(target):
            os.unlink(target)
        shutil.copy2(tmp, target)
        spec = by_path[path]
        uid, gid = _ids(spec)
        os.chown(target, uid, gid)
    for path in removed:
        target = os.path.join(root, os.path.relpath(path, tree))
        if os.path.lexists(target):
            os.unlink(target)
    return root


def backup_path(path, now=None):
    """Where ``keep_backups`` copies the content a change replaces: ``<path>.<UTC time>~``."""
    return "%s.%s~" % (path, time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now)))


def keep_backups(paths, existing, now=None):
    """``{path: copy}``: a copy of each existing file of ``paths`` with its owner and mode, written before the set
    is applied, for a caller that puts a file back when its service does not start with the new one (Redis). The
    caller removes them (``discard_backups``) when the set is not applied; raises ApplyError."""
    backups = {}
    try:
        for path in paths:
            backups[path] = backup_path(path, now)
            _restore(backups[path], existing[path])
    except OSError as exc:
        discard_backups(backups)
        raise ApplyError("could not back up %s: %s" % (path, exc)) from exc
    return backups


def discard_backups(backups):
    _discard(backups.values())


def _restore(path, previous):
    if previous is None:
        if os.path.lexists(path):
            os.unlink(path)
        return
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=STAGE_PREFIX)
    with os.fdopen(fd, "wb") as handle:
        handle.write(previous.content)
    os.chown(tmp, previous.uid, previous.gid)
    os.chmod(tmp, previous.mode)
    os.replace(tmp, path)


def _rollback(journal):
    problems = []
    for path, previous in reversed(journal):
        try:
            _restore(path, previous)
        except OSError as exc:
            problems.append("%s: could not be restored: %s" % (path, exc))
    return problems


def _discard(paths):
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def _directory_times(paths):
    """{directory: (atime_ns, mtime_ns)} of the existing directories of ``paths``."""
    times = {}
    for directory in set(os.path.dirname(path) for path in paths):
        try:
            st = os.stat(directory)
        except FileNotFoundError:
            continue
        times[directory] = (st.st_atime_ns, st.st_mtime_ns)
    return times


def _unstage(staged, times):
    """Delete the staged files and give their directories back their times: a rejected candidate leaves no
    trace, not even a directory newer than the service's last load (which would ask for a reload)."""
    _discard(staged.values())
    for directory, ns in times.items():
        with contextlib.suppress(OSError):
            os.utime(directory, ns=ns)


def _validate(validator, by_path, staged, removed, tree, overlay, scratch_parent, what):
    scratch = tempfile.mkdtemp(prefix=SCRATCH_PREFIX, dir=scratch_parent or default_scratch_parent())
    try:
        root = _copy_tree(tree, scratch, by_path, staged, removed) if tree else None
        overlays = []
        if overlay and not tree:
            for index, top in enumerate(top_directories(list(staged) + list(removed))):
                inside = [p for p in staged if _inside(p, top)]
                gone = [p for p in removed if _inside(p, top)]
                copy = _copy_tree(
                    top, scratch, by_path, dict((p, staged[p]) for p in inside), gone, "overlay%d" % index
                )
                overlays.append((copy, top))
        return validator(Staged(dict(staged), list(removed), root, scratch, overlays))
    except OSError as exc:
        raise ApplyError("could not stage the %s for its test: %s" % (what, exc)) from exc
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def apply(
    the_plan, specs, existing, validator=None, what="configuration", tree=None, scratch_parent=None, overlay=False
):
    """Stage, validate the staged configuration, then rename into place; on a failure the live files stay as they
    were.

    1. Every added or updated file is written to a staged file beside its target (``.wpzo-*``, which no include
       glob matches), with its owner and mode.
    2. ``validator(staged)`` (a ``Staged``; returns ``(rc, stdout, stderr)``) tests the candidates before any of
       them is live: with ``tree`` it gets a private copy of that directory with every candidate in place and
       every removed file gone; with ``overlay``, copies of the directories the set touches, to bind over the
       live ones in a private mount namespace. A failure discards the staged files and raises; nothing live has
       changed.
    3. The staged files are renamed onto their targets, then purged files are removed. An OSError here (a full
       disk) restores every file already renamed or removed.

    A run killed before step 3 leaves only staged files, which ``clean_stray`` removes on the next run.
    """
    if not the_plan.changed:
        return
    by_path = dict((spec.path, spec) for spec in specs)
    if tree:
        errors = check_tree([by_path[p] for p in the_plan.added + the_plan.updated], the_plan.removed, tree)
        if errors:
            raise ModuleError("cannot test the %s on a copy of %s" % (what, tree), errors)
    staged = collections.OrderedDict()
    times = _directory_times(the_plan.added + the_plan.updated)
    try:
        for path in the_plan.added + the_plan.updated:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            staged[path] = _write_temp(by_path[path])
    except OSError as exc:
        _unstage(staged, times)
        raise ApplyError("could not write the %s: %s" % (what, exc)) from exc
    if validator is not None:
        try:
            rc, stdout, stderr = _validate(
                validator, by_path, staged, the_plan.removed, tree, overlay, scratch_parent, what
            )
        except BaseException:
            _unstage(staged, times)
            raise
        if rc != 0:
            _unstage(staged, times)
            output = (stderr or "").strip() or (stdout or "").strip() or "no output"
            raise ApplyError(
                "%s test failed (rc=%s), nothing changed: %s" % (what, rc, output),
                [],
                {"rc": rc, "stdout": stdout, "stderr": stderr},
            )
    journal = []
    try:
        for path, tmp in list(staged.items()):
            journal.append((path, existing.get(path)))
            os.replace(tmp, path)
            del staged[path]
        for path in the_plan.removed:
            journal.append((path, existing[path]))
            os.unlink(path)
    except OSError as exc:
        _discard(staged.values())
        problems = _rollback(journal)
        raise ApplyError("could not write the %s: %s" % (what, exc), problems) from exc


def apply_in_place(the_plan, specs, existing, validator=None, what="configuration"):
    """The fallback where candidates cannot be tested before they are live (no private mount namespace): rename
    into place, then ``validator()`` (no argument); on failure every file is restored. A run killed during the
    test leaves untested files live: use ``apply`` wherever the tool can be pointed at the staged files."""
    if not the_plan.changed:
        return
    by_path = dict((spec.path, spec) for spec in specs)
    journal = []
    try:
        for path in the_plan.added + the_plan.updated:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            tmp = _write_temp(by_path[path])
            journal.append((path, existing.get(path)))
            try:
                os.replace(tmp, path)
            except OSError:
                os.unlink(tmp)
                raise
        for path in the_plan.removed:
            journal.append((path, existing[path]))
            os.unlink(path)
    except OSError as exc:
        problems = _rollback(journal)
        raise ApplyError("could not write the %s: %s" % (what, exc), problems) from exc
    if validator is None:
        return
    rc, stdout, stderr = validator()
    if rc != 0:
        problems = _rollback(journal)
        output = (stderr or "").strip() or (stdout or "").strip() or "no output"
        state = "previous files restored" if not problems else "rollback incomplete"
        raise ApplyError(
            "%s test failed (rc=%s), %s: %s" % (what, rc, state, output),
            problems,
            {"rc": rc, "stdout": stdout, "stderr": stderr},
        )
