#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: site_accounts
author: wpzo.hosting developers (@wpzo)
version_added: 0.1.0
short_description: Every site's system user, group, directory tree and SFTP logins in one call
description:
  - For each site, a system group and user (no login shell, home at the site root) and the tree
    C(<root>/{public,logs,tmp,sessions,private}). The site root belongs to root (mode 0710, the site's group), so
    sshd can jail SFTP logins in it, and the site's own code cannot plant C(.ssh/authorized_keys) in its home;
    the directories below belong to the site user, but C(logs/).
  - The web server's group (O(web_group)) becomes a member of each site group, so nginx may enter the site root
    and read C(public/) (2750) but nothing else; C(tmp), C(sessions) and C(private) are 0700.
  - C(logs/) belongs to root (0750, the site's group). The masters of nginx and php-fpm (root) open the logs
    there by name, so the site must not be able to rename or replace an entry (a symbolic link would have root
    create and write a file the site chooses). The site reads its logs and writes only its own PHP error log.
    The files of O(sites[].log_files) are created C(root:<group>) 0640, those of O(sites[].own_log_files)
    C(<user>:<group>) 0640. An existing C(logs/) (of an older layout) is taken over. Anything there but a
    regular file with a single link is removed, and a log the site owns or anyone may write is given back to
    root, but the site's own error logs.
  - The folder holding the site roots (C(/srv/www)) is made root's, mode 0711. Every site enters it, none lists it.
    Sites cannot read each other's files.
  - A site with O(sites[].sftp_users) gets SFTP logins as its own user; every listed person's keys go into the
    root-owned file C(<sftp_keys_dir>/<user>), under a comment naming the person, and the site user joins
    O(sftp_group). The sshd C(Match Group) block for O(sftp_group) (written by the C(sites) role) jails these
    logins in the site root with C(internal-sftp) only and reads their keys from that file only. Uploaded files
    belong to the site user, so the site's PHP and the SFTP users change each other's files. A site whose list
    becomes empty leaves the group and loses the file.
  - Reads C(/etc/passwd), C(/etc/group), the directories and the keys files once and runs C(groupadd),
    C(useradd), C(gpasswd) only for what is missing, so hundreds of unchanged sites take well under a second.
  - With O(sites[].state=absent) removes the user and group, the SFTP keys file, and the tree when
    O(sites[].remove_files) is set (the C(sites) role takes a backup first).
extends_documentation_fragment:
  - wpzo.hosting.attributes
options:
  sites:
    description: The sites.
    type: list
    elements: dict
    required: true
    suboptions:
      user:
        description: System user (and, by default, group) of the site.
        type: str
        required: true
      group:
        description: System group; defaults to O(sites[].user).
        type: str
      root:
        description: Site root, such as C(/srv/www/example.com).
        type: path
        required: true
      groups:
        description: Supplementary groups of the site user, such as the group of the Redis socket; they must exist.
        type: list
        elements: str
        default: []
      shell:
        description: Login shell.
        type: path
        default: /usr/sbin/nologin
      state:
        description: Whether the site's account exists.
        type: str
        choices: [present, absent]
        default: present
      remove_files:
        description: With O(sites[].state=absent), also delete the site root.
        type: bool
        default: false
      log_files:
        description: Log files in C(<root>/logs) that root or the web server write (nginx's, php-fpm's slow log).
        type: list
        elements: str
        default: []
      own_log_files:
        description: Log files in C(<root>/logs) the site's own processes write (PHP's error log), with their rotations.
        type: list
        elements: str
        default: []
      sftp_users:
        description: People who may log in over SFTP as the site's user, jailed in the site root.
        type: list
        elements: dict
        default: []
        suboptions:
          name:
            description: Who the keys belong to, written as a comment above them.
            type: str
            required: true
          ssh_keys:
            description: Public keys, one per line of the keys file.
            type: list
            elements: str
            required: true
  web_group:
    description: Group of the web server, added to each site group; empty adds none.
    type: str
    default: www-data
  sftp_group:
    description: Group of the site users that take SFTP logins, the one sshd's C(Match Group) block jails.
    type: str
    default: wpzo-sftp
  sftp_keys_dir:
    description: Root-owned directory of the SFTP keys files, one per site user.
    type: path
    default: /etc/ssh/wpzo-sftp
"""

EXAMPLES = r"""
- name: Accounts and trees of every site
  wpzo.hosting.site_accounts:
    sites:
      - user: example_com
        root: /srv/www/example.com
        sftp_users:
          - name: alice
            ssh_keys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGd1YmJpc2g alice@laptop"]
# sftp example_com@server lands in /public of example.com
"""

RETURN = r"""
added:
  description: Users created.
  returned: always
  type: list
  elements: str
updated:
  description: Sites whose group membership, user settings or directories were fixed.
  returned: always
  type: list
  elements: str
removed:
  description: Users removed.
  returned: always
  type: list
  elements: str
actions:
  description: What was done (or would be in check mode).
  returned: always
  type: list
  elements: str
  sample: ["add_user example_com", "create_dir /srv/www/example.com/public (example_com:example_com 2750)",
           "write_sftp_keys /etc/ssh/wpzo-sftp/example_com", "add_member example_com to wpzo-sftp"]
"""

import contextlib
import grp
import os
import pwd
import shutil
import stat

from ansible_collections.wpzo.hosting.plugins.module_utils import managed_files, module_shell, server_layout
from ansible_collections.wpzo.hosting.plugins.module_utils import site_accounts as accounts
from ansible_collections.wpzo.hosting.plugins.module_utils.errors import ApplyError, ValidationError


def read_state(sites, keys_dir):
    users = dict((u.pw_name, (u.pw_uid, u.pw_gid, u.pw_dir, u.pw_shell, u.pw_gecos)) for u in pwd.getpwall())
    groups = dict((g.gr_name, g.gr_gid) for g in grp.getgrall())
    members = dict((g.gr_name, set(g.gr_mem)) for g in grp.getgrall())
    uid_names = dict((name_uid[1][0], name_uid[0]) for name_uid in users.items())
    gid_names = dict((gid, name) for name, gid in groups.items())
    dirs, keys, logs = {}, {}, {}

    def owner_group_mode(st):
        return uid_names.get(st.st_uid, st.st_uid), gid_names.get(st.st_gid, st.st_gid), stat.S_IMODE(st.st_mode)

    for directory in accounts.parent_directories(sites):
        try:
            dirs[directory.path] = owner_group_mode(os.lstat(directory.path))
        except FileNotFoundError:
            dirs[directory.path] = None
    for site in sites:
        if site["state"] == "present":
            logs[accounts.log_dir(site)] = read_log_dir(accounts.log_dir(site), owner_group_mode)
        for directory in accounts.site_directories(site):
            try:
                st = os.lstat(directory.path)
            except FileNotFoundError:
                dirs[directory.path] = None
                continue
            dirs[directory.path] = (
                uid_names.get(st.st_uid, st.st_uid),
                gid_names.get(st.st_gid, st.st_gid),
                stat.S_IMODE(st.st_mode),
            )
        path = accounts.keys_file(site, keys_dir)
        keys[path] = read_keys(path)
    return accounts.State(users, groups, members, dirs, keys, logs)


def read_log_dir(path, owner_group_mode):
    entries = {}
    try:
        scan = list(os.scandir(path))
    except (FileNotFoundError, NotADirectoryError):
        return entries
    for entry in scan:
        st = entry.stat(follow_symlinks=False)
        if stat.S_ISLNK(st.st_mode):
            kind = "link"
        elif stat.S_ISREG(st.st_mode):
            kind = "file"
        elif stat.S_ISDIR(st.st_mode):
            kind = "dir"
        else:
            kind = "other"
        entries[entry.name] = (kind, *owner_group_mode(st), st.st_nlink)
    return entries


def remove_entry(path):
    """Remove a directory entry without following it: a link goes, never what it points to."""
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    else:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def own_log(detail, create):
    """Create (or take over) a log file through a descriptor that never follows a link: a regular file with a
    single link, owned and moded as detail says; anything else in its place is removed first."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    fd = None
    for _attempt in range(2):
        try:
            fd = os.open(detail.path, (os.O_WRONLY | os.O_CREAT | os.O_EXCL | flags) if create else flags, detail.mode)
        except FileExistsError:
            create = False
            continue
        except (OSError, ValueError):
            remove_entry(detail.path)
            create = True
            continue
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_nlink > 1:
            os.close(fd)
            fd = None
            remove_entry(detail.path)
            create = True
            continue
        break
    if fd is None:
        raise OSError("could not create %s as a regular file" % detail.path)
    try:
        os.fchown(fd, pwd.getpwnam(detail.owner).pw_uid, grp.getgrnam(detail.group).gr_gid)
        os.fchmod(fd, detail.mode)
    finally:
        os.close(fd)


KEYS_ATTRIBUTES = (0, 0, 0o644)  # root:root 0644, as write_keys writes it


def read_keys(path):
    """The keys file's text, None when there is none. A file whose owner or mode was changed by hand (or that is
    not a regular file) reads as text no plan wants, so that the next run writes it again."""
    current = managed_files.read_path(path)
    if current is None:
        return None
    text = current.content.decode("utf-8", "replace") if current.content is not None else ""
    if current.content is None or (current.uid, current.gid, current.mode) != KEYS_ATTRIBUTES:
        text += "\n(owner, group or mode changed by hand)\n"
    return text


def write_keys(path, content):
    """The keys file through the file engine (root:root 0644; sshd reads it, it holds no secret)."""
    spec = managed_files.file_spec(path, content, "root", "root", "0644")
    existing = managed_files.read_existing([spec], marker=None)
    the_plan = managed_files.plan([spec], existing, marker=None)
    managed_files.apply(the_plan, [spec], existing, what="SFTP keys file")


def run(module, argv):
    rc, out, err = module.run_command(argv)
    if rc != 0:
        raise ApplyError("%s failed: %s" % (" ".join(argv), (err or out).strip()))


def apply_action(module, sites_by_user, action):
    kind, detail = action.kind, action.detail
    if kind == "add_group":
        run(module, ["groupadd", "--system", detail])
    elif kind == "add_user":
        site = sites_by_user[action.site]
        run(module, ["useradd", "--system", "--gid", site["group"], "--home-dir", site["root"], "--no-create-home",
                     "--shell", site["shell"], "--comment", accounts.account_comment(site), detail])  # fmt: skip
    elif kind == "modify_user":
        site = sites_by_user[action.site]
        run(module, ["usermod", "--home", site["root"], "--shell", site["shell"],
                     "--comment", accounts.account_comment(site), detail])  # fmt: skip
    elif kind == "add_member":
        member, group = detail
        run(module, ["gpasswd", "--add", member, group])
    elif kind in ("create_dir", "fix_dir"):
        if kind == "create_dir":
            os.makedirs(detail.path, exist_ok=True)
        os.chown(detail.path, pwd.getpwnam(detail.owner).pw_uid, grp.getgrnam(detail.group).gr_gid)
        os.chmod(detail.path, detail.mode)
    elif kind in ("create_log", "fix_log"):
        own_log(detail, kind == "create_log")
    elif kind == "remove_log":
        remove_entry(detail)
    elif kind == "remove_tree":
        shutil.rmtree(detail)
    elif kind == "remove_user":
        run(module, ["userdel", detail])
    elif kind == "remove_group":
        try:
            grp.getgrnam(detail)
        except KeyError:
            return  # userdel already removed the user's own group
        run(module, ["groupdel", detail])
    elif kind == "remove_member":
        member, group = detail
        run(module, ["gpasswd", "--delete", member, group])
    elif kind == "write_sftp_keys":
        write_keys(*detail)
    elif kind == "remove_sftp_keys":
        os.remove(detail)


ARGUMENT_SPEC = dict(
    sites=dict(
        type="list",
        elements="dict",
        required=True,
        options=dict(
            user=dict(type="str", required=True),
            group=dict(type="str"),
            root=dict(type="path", required=True),
            groups=dict(type="list", elements="str", default=[]),
            shell=dict(type="path", default="/usr/sbin/nologin"),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            remove_files=dict(type="bool", default=False),
            log_files=dict(type="list", elements="str", default=[]),
            own_log_files=dict(type="list", elements="str", default=[]),
            sftp_users=dict(
                type="list",
                elements="dict",
                default=[],
                options=dict(
                    name=dict(type="str", required=True),
                    ssh_keys=dict(type="list", elements="str", required=True, no_log=False),
                ),
            ),
        ),
    ),
    web_group=dict(type="str", default=server_layout.WEB_GROUP),
    sftp_group=dict(type="str", default="wpzo-sftp"),
    sftp_keys_dir=dict(type="path", default="/etc/ssh/wpzo-sftp"),
)


def compute(module):
    sites, errors = accounts.normalise_sites(module.params["sites"])
    if errors:
        raise ValidationError("; ".join(errors), errors)
    sftp_group, keys_dir = module.params["sftp_group"], module.params["sftp_keys_dir"]
    state = read_state(sites, keys_dir)
    refused = accounts.problems(sites, state)
    if refused:
        raise ValidationError("; ".join(refused), refused, {"problems": refused})
    actions = accounts.plan(sites, state, module.params["web_group"], sftp_group, keys_dir)
    added, updated, removed = accounts.summarise(actions)
    described = [accounts.describe(action) for action in actions]
    diff = dict(before="", after="\n".join(described) + "\n") if actions else None
    result = module_shell.outcome(added, updated, removed, diff, changed=bool(actions), actions=described)

    def apply():
        sites_by_user = dict((site["user"], site) for site in sites)
        for action in actions:
            apply_action(module, sites_by_user, action)

    return module_shell.Change(result, apply if actions else None)


def main():
    module_shell.run(ARGUMENT_SPEC, compute)


if __name__ == "__main__":
    main()
