# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Each site's system user, group, directory tree and SFTP logins, for the whole site list at once."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections

Directory = collections.namedtuple("Directory", "path owner group mode")
Action = collections.namedtuple("Action", "site kind detail")
# What is on the server: users {name: (uid, gid, home, shell)}, groups {name: gid},
# members {group: set(names)}, dirs {path: (owner, group, mode) or None},
# keys {SFTP keys file: content or None}.
State = collections.namedtuple("State", "users groups members dirs keys")

# The site tree. Root owns the site root so that sshd may jail SFTP logins there
# (ChrootDirectory refuses a directory its user could write); the web server,
# in the site's group, may enter the root and read public/ only; everything
# else belongs to the site alone.
TREE = (
    ("", "0710"),
    ("public", "2750"),
    ("logs", "0750"),
    ("tmp", "0700"),
    ("sessions", "0700"),
    ("private", "0700"),
)


def site_directories(site):
    user, group, root = site["user"], site["group"], site["root"]
    return [
        Directory(root + ("/" + name if name else ""), user if name else "root", group, int(mode, 8))
        for name, mode in TREE
    ]


def sftp_keys(site):
    """The site's SFTP keys file: each person's keys under a comment naming them (sshd logs which key logged in)."""
    lines = []
    for person in site.get("sftp_users") or []:
        lines.append("# %s" % person["name"])
        lines.extend(key.strip() for key in person["ssh_keys"])
    return "".join(line + "\n" for line in lines)


def keys_file(site, keys_dir):
    return "%s/%s" % (keys_dir, site["user"])


def _site_actions(site, state, web_group):
    actions = []
    name, group = site["user"], site["group"]
    if site["state"] == "absent":
        if site.get("remove_files") and state.dirs.get(site["root"]) is not None:
            actions.append(Action(name, "remove_tree", site["root"]))
        if name in state.users:
            actions.append(Action(name, "remove_user", name))
        if group in state.groups:
            actions.append(Action(name, "remove_group", group))
        return actions
    if group not in state.groups:
        actions.append(Action(name, "add_group", group))
    if name not in state.users:
        actions.append(Action(name, "add_user", name))
    elif state.users[name][2] != site["root"] or state.users[name][3] != site["shell"]:
        actions.append(Action(name, "modify_user", name))
    if web_group and web_group not in state.members.get(group, set()):
        actions.append(Action(name, "add_member", (web_group, group)))
    for extra in site.get("groups") or []:
        if name not in state.members.get(extra, set()):
            actions.append(Action(name, "add_member", (name, extra)))
    for directory in site_directories(site):
        current = state.dirs.get(directory.path)
        if current is None:
            actions.append(Action(name, "create_dir", directory))
        elif current != (directory.owner, directory.group, directory.mode):
            actions.append(Action(name, "fix_dir", directory))
    return actions


def _sftp_actions(site, state, sftp_group, keys_dir):
    """SFTP logins as the site user: its keys file and its membership of the group sshd jails."""
    actions = []
    name, path = site["user"], keys_file(site, keys_dir)
    wanted = sftp_keys(site) if site["state"] == "present" else ""
    member = name in state.members.get(sftp_group, set())
    if wanted:
        if state.keys.get(path) != wanted:
            actions.append(Action(name, "write_sftp_keys", (path, wanted)))
        if not member:
            actions.append(Action(name, "add_member", (name, sftp_group)))
    else:
        if member and site["state"] == "present":
            actions.append(Action(name, "remove_member", (name, sftp_group)))
        if state.keys.get(path) is not None:
            actions.append(Action(name, "remove_sftp_keys", path))
    return actions


def plan(sites, state, web_group, sftp_group="wpzo-sftp", keys_dir="/etc/ssh/wpzo-sftp"):
    """Actions to bring accounts, trees and SFTP logins to the desired state.

    The keys file is written before the site user joins the SFTP group, and removed after it left.
    """
    actions = []
    wants_sftp = any(site["state"] == "present" and site.get("sftp_users") for site in sites)
    if wants_sftp and sftp_group not in state.groups:
        actions.append(Action("", "add_group", sftp_group))
    for site in sites:
        actions.extend(_site_actions(site, state, web_group))
        actions.extend(_sftp_actions(site, state, sftp_group, keys_dir))
    return actions


def summarise(actions):
    sites = [a for a in actions if a.site]
    added = sorted(set(a.site for a in sites if a.kind == "add_user"))
    removed = sorted(set(a.site for a in sites if a.kind == "remove_user"))
    updated = sorted(set(a.site for a in sites) - set(added) - set(removed))
    return added, updated, removed


def describe(action):
    detail = action.detail
    if isinstance(detail, Directory):
        return "%s %s (%s:%s %04o)" % (action.kind, detail.path, detail.owner, detail.group, detail.mode)
    if action.kind in ("add_member", "remove_member"):
        return "%s %s %s %s" % (action.kind, detail[0], "to" if action.kind == "add_member" else "from", detail[1])
    if action.kind == "write_sftp_keys":
        return "write_sftp_keys %s" % detail[0]
    return "%s %s" % (action.kind, detail)
