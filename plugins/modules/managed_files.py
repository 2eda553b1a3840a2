#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: managed_files
author: wpzo.hosting developers (@wpzo)
version_added: 0.1.0
short_description: Write a whole set of configuration files in one call, validated, with rollback
description:
  - Writes every listed file whose content, owner, group or mode differs, leaves the others untouched, and removes
    files that match O(purge) and carry the marker but are no longer listed, and the files at the O(absent) paths.
  - "Staged, tested, then renamed. Every new or changed file is first written to a staged file beside its target
    (C(.wpzo-*), a name no C(*.conf) include matches). The O(validate) command then tests the candidates before
    any of them is live, and only when it passes are they renamed onto their targets and the purged files
    removed. If it fails, the staged files are deleted and the task fails with the command's message: the live
    files never hold an untested configuration, not even for a moment, and a run killed at any point leaves
    either the old files or the new ones (plus stray staged files, which the next call deletes)."
  - "With O(validate_tree) (for example C(/etc/nginx)), O(validate) runs once against a private copy of that
    directory under C(/run) with every candidate in place and every purged file gone; C(%s) in the command is the
    copy's path, for example C([nginx, -t, -q, -c, '%s/nginx.conf']) (nginx resolves relative includes against
    the directory of the nginx.conf it is given). Without it, O(validate) runs once per new or changed file with
    C(%s) replaced by its staged file; without C(%s) either, in a private mount namespace (see O(validate))."
  - "With O(reload_check), a call that writes nothing still reports C(changed) (and RV(reload_needed)) when the
    running service has not loaded the files on disk: a listed file, or the directory of a listed or purged file
    (a file added or removed), is newer than the service's last load. That is what a run killed between writing
    the files and its reload handler leaves; the C(changed) notifies the handler of this run."
  - Meant for hundreds of small files at once (nginx vhosts, systemd units of every site) in one call, not a loop.
  - Every file's content must carry the marker (O(marker)) in its first 512 bytes; an existing file without it is
    never overwritten or removed (but at an O(absent) path).
extends_documentation_fragment:
  - wpzo.hosting.attributes
options:
  files:
    description: The files.
    type: list
    elements: dict
    required: true
    suboptions:
      path: &path
        description: Absolute path.
        type: path
        required: true
      content:
        description: Full content.
        type: str
        required: true
      owner: &owner
        description:
          - Owner.
          - In check mode an owner or group that does not exist yet (a package the same run installs creates it)
            is no error; what it would own is reported as changing.
        type: str
        default: root
      group: &group
        description: Group (see O(files[].owner) on check mode).
        type: str
        default: root
      mode:
        description: &mode Mode, as a quoted octal string.
        type: str
        default: "0644"
      secret:
        description: Hide the content in the diff (C((secret)) on each side the file exists).
        type: bool
        default: false
      adopt:
        description:
          - Take over an existing file without the marker at this path (a package's file such as Debian's
            C(/etc/nginx/nginx.conf), or one written before the collection managed it) instead of refusing it.
          - The new content must still carry the marker, so the file is managed from then on.
        type: bool
        default: false
      backup:
        description:
          - When the call replaces this file, keep a copy of what it held (owner and mode too) beside it, as
            C(<path>.<UTC time>~), named in RV(backups), for a handler that puts it back when the service does not
            start with the new file. The copy is written before anything is renamed and removed again when the
            set is not applied; removing it once the service runs is the caller's job.
        type: bool
        default: false
      validate:
        description:
          - Command (argument list, no shell) that tests this file's staged candidate, C(%s) being its path, before
            anything is renamed; for example C([visudo, -cf, '%s']) or C([nft, -c, -f, '%s']). It runs besides
            O(validate), when this file is new or changed; non-zero changes nothing.
        type: list
        elements: str
        default: []
  directories:
    description:
      - Directories the files need, created (parents first) or corrected (owner, group, mode) before any file is
        staged; reported in C(changed), RV(directories) and the diff. A path held by something that is not a
        directory is an error. Directories are never removed, and stay when a later test fails.
    type: list
    elements: dict
    default: []
    suboptions:
      path: *path
      owner: *owner
      group: *group
      mode:
        description: *mode
        type: str
        default: "0755"
  purge:
    description: Glob patterns; a file they match that carries the marker and is not listed is removed.
    type: list
    elements: str
    default: []
  absent:
    description:
      - Exact paths of files the caller wrote once and no longer does (a program an older version of a role
        installed, perhaps before it carried the marker); each is removed whatever it holds, like a purged file
        (reported in RV(removed), its content masked in the diff, tested with the set, restored on failure).
      - A path both listed in O(files) and absent, or held by a directory or a link, is an error.
    type: list
    elements: path
    default: []
  validate:
    description:
      - Command (argument list, no shell) that tests the staged files when anything changed; non-zero changes
        nothing.
      - Every C(%s) is replaced by the copy of O(validate_tree) or, without it, by each staged file in turn.
      - "Without C(%s) (for example C([sshd, -t]) or C([fail2ban-client, --test]), tools that read fixed paths),
        it runs in a private mount namespace where copies of the directories holding the files, with the
        candidates in place and purged files gone, are bind-mounted over the live ones: it reads the candidates
        at their live paths, no other process sees them. Where that is impossible (no C(unshare --mount): not
        root, or a container without C(CAP_SYS_ADMIN)), the module warns and falls back to testing in place after
        the rename, restoring every file on failure."
    type: list
    elements: str
    default: []
  validate_tree:
    description:
      - Directory holding every listed and purged file; O(validate) tests a private copy of it with the
        candidates in place, once for the whole set.
    type: path
  reload_check:
    description:
      - The service that reads the files, whose last load O(reload_check_pid_file) tells; C(nginx) (the earliest
        start of its current workers). Unset, only writes report C(changed).
    type: str
    choices: [nginx]
  reload_check_pid_file:
    description: Pid file of the service's master process.
    type: path
    default: /run/nginx.pid
  marker:
    description: Text that marks a file as managed.
    type: str
    default: Managed by wpzo.hosting
"""

EXAMPLES = r"""
- name: Write the vhosts of every site, checked with nginx -t
  wpzo.hosting.managed_files:
    files:
      - path: /etc/nginx/sites-enabled/example.com.conf
        content: "{{ lookup('ansible.builtin.template', 'vhost.conf.j2') }}"
    purge:
      - /etc/nginx/sites-enabled/*.conf
    absent:
      - /etc/nginx/sites-enabled/old-default.conf
    validate: [nginx, -t, -q, -c, "%s/nginx.conf"]
    validate_tree: /etc/nginx
    reload_check: nginx
  notify: nginx reload

- name: Write systemd units, each checked on its own
  wpzo.hosting.managed_files:
    files:
      - path: /etc/systemd/system/example.service
        content: "# Managed by wpzo.hosting\n[Service]\nExecStart=/bin/true\n"
    validate: [systemd-analyze, verify, "%s"]
"""

RETURN = r"""
added:
  description: Paths written that did not exist.
  returned: always
  type: list
  elements: str
  sample: [/etc/nginx/sites-enabled/example.com.conf]
updated:
  description: Paths whose content, owner, group or mode changed.
  returned: always
  type: list
  elements: str
  sample: []
directories:
  description: Directories created or corrected.
  returned: always
  type: list
  elements: str
  sample: [/etc/nginx/wpzo]
removed:
  description: Managed paths purged, and the O(absent) paths that held a file.
  returned: always
  type: list
  elements: str
  sample: []
backups:
  description: The copies O(files[].backup) kept of the files this call replaced, by path (none in check mode).
  returned: always
  type: dict
  sample: {/etc/redis/redis.conf: /etc/redis/redis.conf.20261202T001500Z~}
reload_needed:
  description: Whether the service must reload; something was written, or (with O(reload_check)) it has not
    loaded what is on disk.
  returned: always
  type: bool
  sample: false
reload_reasons:
  description: Why the service must reload although nothing was written.
  returned: when the service has not loaded what is on disk
  type: list
  elements: str
  sample: [/etc/nginx/wpzo/sites/example.com.conf changed after the last load]
"""

from ansible_collections.wpzo.hosting.plugins.module_utils import managed_files as mf
from ansible_collections.wpzo.hosting.plugins.module_utils import module_shell, service_state
from ansible_collections.wpzo.hosting.plugins.module_utils.errors import ValidationError


def reload_reasons(the_plan, specs, purge, kind, pid_file):
    """Why ``kind`` must reload although nothing is written: a listed file or a directory of the set changed
    after its last load. Empty when it is not running."""
    if the_plan.changed or not kind:
        return []
    loaded_at = service_state.last_load(kind, pid_file)
    paths = mf.staged_directories(specs, purge) + sorted(spec.path for spec in specs)
    return service_state.reload_reasons(kind, loaded_at, paths)


def command(argv, replacement):
    return [arg.replace("%s", replacement) for arg in argv]


def has_placeholder(argv):
    return any("%s" in arg for arg in argv)


# Binds each copy over its live directory, then runs the command: it sees the candidates at the live paths; nobody
# else does, and the binds vanish with the namespace. The copies live under /run, which is noexec (Debian, and
# containers' tmpfs): the bind is made executable again, so that a checker finds the programs a unit runs.
BIND_SCRIPT = (
    'while [ "$1" != -- ]; do mount --bind "$1" "$2";'
    ' mount -o remount,bind,exec,nosuid,nodev "$2" 2>/dev/null || :; shift 2; done; shift; exec "$@"'
)


def namespace_command(overlays, argv):
    args = ["unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-ec", BIND_SCRIPT, "sh"]
    for copy, live in overlays:
        args += [copy, live]
    return [*args, "--", *argv]


def private_namespace(module):
    """Whether this host lets us bind-mount in a private mount namespace (root, CAP_SYS_ADMIN, util-linux)."""
    if not module.get_bin_path("unshare"):
        return False
    rc, _out, _err = module.run_command(["unshare", "--mount", "--propagation", "private", "--", "true"])
    return rc == 0


def run_on_copies(module, argv, staged):
    """``%s`` is the copy of validate_tree (one run), or each staged file (one run per file)."""
    if staged.root:
        return module.run_command(command(argv, staged.root))
    for path in sorted(staged.files):
        rc, out, err = module.run_command(command(argv, staged.files[path]))
        if rc != 0:
            return rc, out, "%s: %s" % (path, err or out)
    return 0, "", ""


# What files and directories share: where, and whose.
PLACE = dict(
    path=dict(type="path", required=True),
    owner=dict(type="str", default="root"),
    group=dict(type="str", default="root"),
)
ARGUMENT_SPEC = dict(
    files=dict(
        type="list",
        elements="dict",
        required=True,
        options=dict(
            PLACE,
            content=dict(type="str", required=True),
            mode=dict(type="str", default="0644"),
            secret=dict(type="bool", default=False),
            adopt=dict(type="bool", default=False),
            backup=dict(type="bool", default=False),
            validate=dict(type="list", elements="str", default=[]),
        ),
    ),
    directories=dict(
        type="list",
        elements="dict",
        default=[],
        options=dict(PLACE, mode=dict(type="str", default="0755")),
    ),
    purge=dict(type="list", elements="str", default=[]),
    absent=dict(type="list", elements="path", default=[]),
    validate=dict(type="list", elements="str", default=[]),
    validate_tree=dict(type="path"),
    reload_check=dict(type="str", choices=["nginx"]),
    reload_check_pid_file=dict(type="path", default="/run/nginx.pid"),
    marker=dict(type="str", default=mf.MARKER),
)


def masked(entry):
    """A diff entry with each side's content replaced by a placeholder (none where the file does not exist), the
    sides differing, so that the diff still shows the file added, changed or removed."""
    was, will = entry["before_header"] != "/dev/null", entry["after_header"] != "/dev/null"
    return dict(
        entry,
        before="(secret)\n" if was else "",
        after=("(secret, changed)\n" if was else "(secret)\n") if will else "",
    )


def masked_diff(the_plan, specs, existing, files):
    """The diff, with the content of secret files (and of every purged or absent file) replaced."""
    secret_paths = set(f["path"] for f in files if f["secret"])
    secret_paths.update(the_plan.removed)
    return [
        masked(entry)
        if entry["after_header"].split(" (")[0] in secret_paths or entry["before_header"].split(" (")[0] in secret_paths
        else entry
        for entry in mf.build_diff(the_plan, specs, existing)
    ]


def run_file_tests(module, specs, staged):
    """Each new or changed file's own O(files[].validate) on its staged candidate; the first failure."""
    for spec in specs:
        if spec.validate and spec.path in staged.files:
            rc, out, err = module.run_command(command(list(spec.validate), staged.files[spec.path]))
            if rc != 0:
                return rc, out, "%s: %s" % (spec.path, err or out)
    return 0, "", ""


def both(first, second):
    """A validator running ``first`` then, when it passed, ``second``."""

    def run(staged):
        result = first(staged)
        return result if result[0] != 0 else second(staged)

    return run


def write(module, the_plan, specs, existing, scratch_parent):
    """Stage, test and rename the plan the way O(validate) and O(files[].validate) ask."""
    params = module.params
    argv = params["validate"]
    what = " ".join(argv) or "configuration"

    def file_tests(staged):
        return run_file_tests(module, specs, staged)

    if not argv:
        mf.apply(the_plan, specs, existing, file_tests, what, scratch_parent=scratch_parent)
    elif params["validate_tree"] or has_placeholder(argv):
        mf.apply(
            the_plan,
            specs,
            existing,
            both(file_tests, lambda staged: run_on_copies(module, argv, staged)),
            what,
            tree=params["validate_tree"],
            scratch_parent=scratch_parent,
        )
    elif private_namespace(module):
        mf.apply(
            the_plan,
            specs,
            existing,
            both(file_tests, lambda staged: module.run_command(namespace_command(staged.overlays, argv))),
            what,
            scratch_parent=scratch_parent,
            overlay=True,
        )
    else:
        module.warn(
            "no private mount namespace (unshare --mount): %s tests the files in place, after the rename" % what
        )
        live = mf.Staged(dict((spec.path, spec.path) for spec in specs), [], None, None, [])
        in_place = both(lambda _staged: module.run_command(argv), file_tests)
        mf.apply_in_place(the_plan, specs, existing, lambda: in_place(live), what)


def compute(module):
    params = module.params
    marker = params["marker"]
    try:
        specs = [
            mf.file_spec(f["path"], f["content"], f["owner"], f["group"], f["mode"], f["adopt"], f["validate"])
            for f in params["files"]
        ]
        directories = [mf.directory_spec(d["path"], d["owner"], d["group"], d["mode"]) for d in params["directories"]]
    except ValueError as exc:
        raise ValidationError("invalid mode: %s" % exc) from exc
    dry_run = module.check_mode
    errors = mf.validate_specs(specs, marker, dry_run) + mf.validate_directories(directories, dry_run)
    if errors:
        raise ValidationError("invalid files: %s" % "; ".join(errors), errors)
    create, fix, blocked = mf.plan_directories(directories)
    if blocked:
        errors = ["%s exists and is not a directory" % path for path in blocked]
        raise ValidationError("refusing to replace what is not a directory: %s" % "; ".join(errors), errors)

    existing = mf.read_existing(specs, params["purge"], marker, params["absent"])
    errors = mf.validate_absent(params["absent"], specs, existing)
    if errors:
        raise ValidationError("invalid absent paths: %s" % "; ".join(errors), errors)
    the_plan = mf.plan(specs, existing, marker)
    if the_plan.conflicts:
        errors = ["%s exists and is not managed (no marker): remove it or rename" % p for p in the_plan.conflicts]
        raise ValidationError("refusing to overwrite unmanaged files: %s" % "; ".join(errors), errors)
    if params["validate_tree"]:
        errors = mf.check_tree(specs, the_plan.removed, params["validate_tree"])
        if errors:
            raise ValidationError("files outside validate_tree: %s" % "; ".join(errors), errors)

    removable = params["purge"] + params["absent"]
    reasons = reload_reasons(the_plan, specs, removable, params["reload_check"], params["reload_check_pid_file"])
    result = module_shell.outcome(
        the_plan.added,
        the_plan.updated,
        the_plan.removed,
        mf.directory_diff(create, fix) + masked_diff(the_plan, specs, existing, params["files"]),
        changed=bool(create or fix),
        reload_reasons=reasons,
        directories=sorted(d.path for d in create + fix),
        backups={},
    )
    backed_up = set(f["path"] for f in params["files"] if f["backup"])

    def apply():
        mf.apply_directories(create, fix)
        scratch_parent = mf.default_scratch_parent()
        mf.clean_stray(mf.staged_directories(specs, removable), scratch_parent)
        if not the_plan.changed:
            return None
        backups = mf.keep_backups([path for path in the_plan.updated if path in backed_up], existing)
        try:
            write(module, the_plan, specs, existing, scratch_parent)
        except BaseException:
            mf.discard_backups(backups)
            raise
        return dict(backups=backups)

    return module_shell.Change(result, apply)


def main():
    module_shell.run(ARGUMENT_SPEC, compute)


if __name__ == "__main__":
    main()
