# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Each site's system user, group, directory tree and SFTP users, for the whole site list at once."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections

Directory = collections.namedtuple("Directory", "path owner group mode")
Action = collections.namedtuple("Action", "site kind detail")
SftpUser = collections.namedtuple("SftpUser", "name site_user group root public keys_file keys")
# What is on the server: users {name: (uid, gid, home, shell)}, groups {name: gid},
# members {group: set(names)}, dirs {path: (owner, group, mode) or None},
# acls {public dir: set of getfacl entries}, keys {keys file: content or None}.
State = collections.namedtuple("State", "users groups members dirs acls keys")

# The site tree. Root owns the site root so that sshd may jail SFTP users there
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


def sftp_users(site, keys_dir):
    """The site's SFTP users: their home is the site root (their jail), their files' group the site's."""
    return [
        SftpUser(
            user["name"],
            site["user"],
            site["group"],
            site["root"],
            site["root"] + "/public",
            "%s/%s" % (keys_dir, user["name"]),
            "".join(key.strip() + "\n" for key in user["ssh_keys"]),
        )
        for user in site.get("sftp_users") or []
    ]


def acl_entries(user):
    """getfacl lines on public/ that let an SFTP user and the site's PHP change each other's files.

    The mask (which stat shows as the group bits, 2770) must let the named entries write, while
    the owning group's own entry, the web server's, stays read-only.
    """
    return {
        "user:%s:rwx" % user.name,
        "default:user:%s:rwx" % user.name,
        "default:user:%s:rwx" % user.site_user,
        "group::r-x",
        "mask::rwx",
    }


def acl_grant(user):
    """setfacl -R -m argument: both may write; the web server (owning group) keeps read only; others nothing."""
    return "u:{0}:rwX,d:u:{0}:rwX,d:u:{1}:rwX,g::r-X,m::rwX,d:g::r-X,d:o::---".format(user.name, user.site_user)


def acl_revoke(user):
    return "u:{0},d:u:{0}".format(user.name)


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
    # With SFTP users, public/'s group bits show the ACL mask (rwx); its ACL is checked with the SFTP users.
    acl_bits = 0o020 if site.get("sftp_users") else 0
    for directory in site_directories(site):
        current = state.dirs.get(directory.path)
        ignored = acl_bits if directory.path == site["root"] + "/public" else 0
        if current is None:
            actions.append(Action(name, "create_dir", directory))
        elif current[:2] != directory[1:3] or current[2] | ignored != directory.mode | ignored:
            actions.append(Action(name, "fix_dir", directory))
    return actions


def _sftp_actions(site, state, sftp_group, keys_dir, errors):
    """Add the site's listed SFTP users; remove the ones jailed in its root that are no longer listed."""
    actions = []
    wanted = sftp_users(site, keys_dir) if site["state"] == "present" else []
    for index, user in enumerate(wanted):
        if user.name not in state.users:
            actions.append(Action(site["user"], "add_sftp_user", user))
        elif user.name not in state.members.get(sftp_group, set()) or state.users[user.name][2] != site["root"]:
            errors.append(
                "site %s: sftp[%d].name: %s is an existing account, not an SFTP user of this site"
                % (site["user"], index, user.name)
            )
            continue
        if state.keys.get(user.keys_file) != user.keys:
            actions.append(Action(site["user"], "write_sftp_keys", user))
        if not acl_entries(user) <= state.acls.get(user.public, set()):
            actions.append(Action(site["user"], "grant_sftp_acl", user))
    listed = set(user.name for user in wanted)
    for name in sorted(state.members.get(sftp_group, set()) - listed):
        if name in state.users and state.users[name][2] == site["root"]:
            gone = SftpUser(name, site["user"], site["group"], site["root"], site["root"] + "/public",
                            "%s/%s" % (keys_dir, name), None)  # fmt: skip
            if "user:%s:rwx" % name in state.acls.get(gone.public, set()):
                actions.append(Action(site["user"], "revoke_sftp_acl", gone))
            actions.append(Action(site["user"], "remove_sftp_user", gone))
    return actions


def plan(sites, state, web_group, sftp_group="wpzo-sftp", keys_dir="/etc/ssh/wpzo-sftp"):
    """Actions to bring accounts, trees and SFTP users to the desired state, and the problems that forbid it.

    A site's SFTP users are removed before the site's own group, which is their primary group.
    """
    actions, errors = [], []
    wants_sftp = any(site["state"] == "present" and site.get("sftp_users") for site in sites)
    if wants_sftp and sftp_group not in state.groups:
        actions.append(Action("", "add_group", sftp_group))
    for site in sites:
        sftp = _sftp_actions(site, state, sftp_group, keys_dir, errors)
        own = _site_actions(site, state, web_group)
        actions.extend(sftp + own if site["state"] == "absent" else own + sftp)
    return actions, errors


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
    if isinstance(detail, SftpUser):
        return "%s %s (site %s)" % (action.kind, detail.name, action.site)
    if action.kind == "add_member":
        return "add_member %s to %s" % detail
    return "%s %s" % (action.kind, detail)
