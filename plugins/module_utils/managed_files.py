# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A set of files the collection owns: plan, diff, atomic apply, validate, roll back.

Shared by every module that writes many small configuration files in one call
(nginx vhosts, systemd units, PHP-FPM pools). A file is the collection's when it
carries the marker; purging only ever removes such files, and a file without the
marker is never overwritten.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import glob
import grp
import os
import pwd
import stat
import tempfile

MARKER = "Managed by wpzo.hosting"
MARKER_SCAN_BYTES = 512


class ManagedFilesError(Exception):
    def __init__(self, msg, errors=None, details=None):
        super(ManagedFilesError, self).__init__(msg)
        self.msg = msg
        self.errors = list(errors or [])
        self.details = dict(details or {})


FileSpec = collections.namedtuple("FileSpec", "path content owner group mode")
Existing = collections.namedtuple("Existing", "content uid gid mode")


class Plan(collections.namedtuple("Plan", "added updated removed unchanged conflicts")):
    @property
    def changed(self):
        return bool(self.added or self.updated or self.removed)


def is_managed(data, marker=MARKER):
    return marker.encode("utf-8") in data[:MARKER_SCAN_BYTES]


def file_spec(path, content, owner="root", group="root", mode="0644"):
    return FileSpec(path, content, owner, group, int(mode, 8) if isinstance(mode, str) else mode)


def validate_specs(specs, marker=MARKER):
    errors = []
    seen = set()
    for spec in specs:
        if not os.path.isabs(spec.path) or os.path.normpath(spec.path) != spec.path:
            errors.append("%s: not an absolute, normalised path" % spec.path)
        if spec.path in seen:
            errors.append("%s: listed twice" % spec.path)
        seen.add(spec.path)
        if marker not in spec.content[:MARKER_SCAN_BYTES]:
            errors.append(
                "%s: content lacks the marker %r in its first %d bytes" % (spec.path, marker, MARKER_SCAN_BYTES)
            )
        for kind, name, lookup in (("owner", spec.owner, pwd.getpwnam), ("group", spec.group, grp.getgrnam)):
            try:
                lookup(name)
            except KeyError:
                errors.append("%s: %s %r does not exist" % (spec.path, kind, name))
    return errors


def _read(path):
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return Existing(None, st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode))
    with open(path, "rb") as handle:
        return Existing(handle.read(), st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode))


def read_existing(specs, purge_globs=(), marker=MARKER):
    """The current state of every listed path, plus every managed file the purge globs match."""
    existing = {}
    for spec in specs:
        current = _read(spec.path)
        if current is not None:
            existing[spec.path] = current
    listed = set(spec.path for spec in specs)
    for pattern in purge_globs:
        for path in glob.glob(pattern):
            if path in listed or path in existing:
                continue
            current = _read(path)
            if current is not None and current.content is not None and is_managed(current.content, marker):
                existing[path] = current
    return existing


def _ids(spec):
    return pwd.getpwnam(spec.owner).pw_uid, grp.getgrnam(spec.group).gr_gid


def plan(specs, existing, marker=MARKER):
    added, updated, unchanged, conflicts = [], [], [], []
    listed = set()
    for spec in specs:
        listed.add(spec.path)
        current = existing.get(spec.path)
        if current is None:
            added.append(spec.path)
        elif current.content is None or not is_managed(current.content, marker):
            conflicts.append(spec.path)
        elif (current.content, (current.uid, current.gid), current.mode) != (
            spec.content.encode("utf-8"),
            _ids(spec),
            spec.mode,
        ):
            updated.append(spec.path)
        else:
            unchanged.append(spec.path)
    removed = sorted(path for path in existing if path not in listed)
    return Plan(added, updated, removed, unchanged, conflicts)


def build_diff(the_plan, specs, existing, mask=None):
    """Ansible diff entries; ``mask`` (a function) hides secrets in both sides."""
    mask = mask or (lambda text: text)
    by_path = dict((spec.path, spec) for spec in specs)

    def old(path):
        return mask(existing[path].content.decode("utf-8", "replace")) if path in existing else ""

    entries = []
    for path in the_plan.added + the_plan.updated + the_plan.removed:
        entries.append(
            {
                "before_header": path if path in existing else "/dev/null",
                "after_header": path if path in by_path else "/dev/null",
                "before": old(path),
                "after": mask(by_path[path].content) if path in by_path else "",
            }
        )
    return entries


def _write_temp(spec):
    directory = os.path.dirname(spec.path)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".wpzo-")
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


def _restore(path, previous):
    if previous is None:
        if os.path.lexists(path):
            os.unlink(path)
        return
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".wpzo-")
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


def apply(the_plan, specs, existing, validator=None, what="configuration"):
    """Write added/updated files atomically, remove purged ones, then validate; on failure restore all."""
    if not the_plan.changed:
        return
    by_path = dict((spec.path, spec) for spec in specs)
    journal = []
    try:
        for path in the_plan.added + the_plan.updated:
            spec = by_path[path]
            os.makedirs(os.path.dirname(path), exist_ok=True)
            tmp = _write_temp(spec)
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
        raise ManagedFilesError("could not write the %s: %s" % (what, exc), problems) from exc
    if validator is None:
        return
    rc, stdout, stderr = validator()
    if rc != 0:
        problems = _rollback(journal)
        output = (stderr or "").strip() or (stdout or "").strip() or "no output"
        state = "previous files restored" if not problems else "rollback incomplete"
        raise ManagedFilesError(
            "%s test failed (rc=%s), %s: %s" % (what, rc, state, output),
            problems,
            {"rc": rc, "stdout": stdout, "stderr": stderr},
        )
