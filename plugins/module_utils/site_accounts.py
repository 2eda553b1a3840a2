# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Each site's system user, group and directory tree, for the whole site list at once."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections

Directory = collections.namedtuple("Directory", "path owner group mode")
Action = collections.namedtuple("Action", "site kind detail")

# The site tree: the site user owns it; the web server (in the site's group) may
# enter the root and read public/ only; everything else is the site's alone.
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
    return [Directory(root + ("/" + name if name else ""), user, group, int(mode, 8)) for name, mode in TREE]


def plan(sites, users, groups, group_members, dir_state, web_group):
    """Actions to bring accounts and trees to the desired state.

    users: {name: (uid, gid, home, shell)}; groups: {name: gid}; group_members: {group: set(members)};
    dir_state: {path: (owner, group, mode) or None}.
    """
    actions = []
    for site in sites:
        name, group = site["user"], site["group"]
        if site["state"] == "absent":
            if site.get("remove_files") and dir_state.get(site["root"]) is not None:
                actions.append(Action(name, "remove_tree", site["root"]))
            if name in users:
                actions.append(Action(name, "remove_user", name))
            if group in groups:
                actions.append(Action(name, "remove_group", group))
            continue
        if group not in groups:
            actions.append(Action(name, "add_group", group))
        if name not in users:
            actions.append(Action(name, "add_user", name))
        elif users[name][2] != site["root"] or users[name][3] != site["shell"]:
            actions.append(Action(name, "modify_user", name))
        if web_group and web_group not in group_members.get(group, set()):
            actions.append(Action(name, "add_member", (web_group, group)))
        for extra in site.get("groups") or []:
            if name not in group_members.get(extra, set()):
                actions.append(Action(name, "add_member", (name, extra)))
        for directory in site_directories(site):
            current = dir_state.get(directory.path)
            if current is None:
                actions.append(Action(name, "create_dir", directory))
            elif current != (directory.owner, directory.group, directory.mode):
                actions.append(Action(name, "fix_dir", directory))
    return actions


def summarise(actions):
    added = sorted(set(a.site for a in actions if a.kind == "add_user"))
    removed = sorted(set(a.site for a in actions if a.kind == "remove_user"))
    updated = sorted(set(a.site for a in actions) - set(added) - set(removed))
    return added, updated, removed


def describe(action):
    detail = action.detail
    if isinstance(detail, Directory):
        return "%s %s (%s:%s %04o)" % (action.kind, detail.path, detail.owner, detail.group, detail.mode)
    if action.kind == "add_member":
        return "add_member %s to %s" % detail
    return "%s %s" % (action.kind, detail)
