# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Each site's system user, group, directory tree and SFTP logins, for the whole site list at once."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections

Directory = collections.namedtuple("Directory", "path owner group mode")
LogFile = collections.namedtuple("LogFile", "path owner group mode")
Action = collections.namedtuple("Action", "site kind detail")
# What is on the server: users {name: (uid, gid, home, shell, comment)}, groups {name: gid},
# members {group: set(names)}, dirs {path: (owner, group, mode) or None},
# keys {SFTP keys file: content or None},
# logs {log dir: {entry name: (kind, owner, group, mode, links)}} (kind: file, link, dir or other).
State = collections.namedtuple("State", "users groups members dirs keys logs", defaults=(None,))

# The site tree: (name, owner, mode); owner None is the site user. Root owns the site root so
# that sshd may jail SFTP logins there (ChrootDirectory refuses a directory its user could
# write); the web server, in the site's group, may enter the root and read public/ only.
# Root owns logs/ too: nginx's master (root) opens access.log and error.log there and reopens
# them on every USR1 and reload, php-fpm's master (root) appends to php-slow.log, fail2ban
# reads them; a site that could rename or replace an entry there (a symbolic link to
# /etc/ld.so.preload, say) would have root create and write a file of its choosing. The site
# reads its logs through its group; it writes none of them but PHP's own error log.
TREE = (
    ("", "root", "0710"),
    ("public", None, "2750"),
    ("logs", "root", "0750"),
    ("tmp", None, "0700"),
    ("sessions", None, "0700"),
    ("private", None, "0700"),
)
# The comment (GECOS) of every account the collection makes: an account is removed, or changed, only when it carries
# it, and a site never takes over an account made by anything else.
MARKER = "wpzo.hosting site"
# The parent of the site roots (/srv/www): entered by all, listed by no site.
PARENT_MODE = 0o711
LOG_MODE = 0o640


def normalise_sites(sites):
    """The sites as the argument spec checked them, with the group defaulting to the user, and the problems the
    spec cannot see: ``(sites, errors)``."""
    normalised, errors = [], []
    for site in sites:
        site = dict(site, group=site["group"] or site["user"])
        if not site["root"].startswith("/") or site["root"].rstrip("/").count("/") < 2:
            errors.append("site %s: root %r must be a directory below / such as /srv/www/<domain>"
                          % (site["user"], site["root"]))  # fmt: skip
        for name in site["log_files"] + site["own_log_files"]:
            if not name or "/" in name or name in (".", ".."):
                errors.append("site %s: log file %r must be a plain file name" % (site["user"], name))
        normalised.append(site)
    return normalised, errors


def site_directories(site):
    user, group, root = site["user"], site["group"], site["root"]
    return [
        Directory(root + ("/" + name if name else ""), owner or user, group, int(mode, 8)) for name, owner, mode in TREE
    ]


def log_dir(site):
    return site["root"] + "/logs"


def parent_directories(sites):
    """The folders holding the site roots, root-owned and not listable: no tenant lists every domain."""
    parents = sorted(set(site["root"].rsplit("/", 1)[0] for site in sites if site["state"] == "present"))
    return [Directory(parent, "root", "root", PARENT_MODE) for parent in parents if parent]


def log_files(site):
    """The log files of a site's logs/: those root and the web server write (created root:<group> 0640, so
    the site reads them), then those the site's own PHP writes (its error log: <user>:<group> 0640)."""
    directory, group = log_dir(site), site["group"]
    files = [LogFile("%s/%s" % (directory, name), "root", group, LOG_MODE) for name in site.get("log_files") or []]
    files += [
        LogFile("%s/%s" % (directory, name), site["user"], group, LOG_MODE) for name in site.get("own_log_files") or []
    ]
    return files


def _log_actions(site, state, web_user):
    """Entries of logs/ that root, nginx or fail2ban must not trust: anything but a regular file with one link
    (a symbolic link, a folder, a hard link) is removed; a file root or nginx writes that the site owns or that
    anyone may write is taken back (root:<group> 0640). The site's own error log (and its rotations) stay its."""
    actions = []
    name, group = site["user"], site["group"]
    directory = log_dir(site)
    entries = (state.logs or {}).get(directory) or {}
    own = tuple(site.get("own_log_files") or [])
    for entry in sorted(entries):
        kind, owner, _group, mode, links = entries[entry]
        path = "%s/%s" % (directory, entry)
        if kind != "file" or links > 1:
            actions.append(Action(name, "remove_log", path))
        elif own and entry.startswith(own):
            continue
        elif owner not in ("root", web_user) or mode & 0o022:
            actions.append(Action(name, "fix_log", LogFile(path, "root", group, LOG_MODE)))
    for wanted in log_files(site):
        current = entries.get(wanted.path.rsplit("/", 1)[1])
        if current is None or current[0] != "file" or current[4] > 1:
            actions.append(Action(name, "create_log", wanted))
        elif wanted.owner != "root" and current[1:4] != (wanted.owner, wanted.group, wanted.mode):
            actions.append(Action(name, "fix_log", wanted))
    return actions


def sftp_keys(site):
    """The site's SFTP keys file: each person's keys under a comment naming them (sshd logs which key logged in)."""
    lines = []
    for person in site.get("sftp_users") or []:
        lines.append("# %s" % person["name"])
        lines.extend(key.strip() for key in person["ssh_keys"])
    return "".join(line + "\n" for line in lines)


def keys_file(site, keys_dir):
    return "%s/%s" % (keys_dir, site["user"])


def account_comment(site):
    return "%s %s" % (MARKER, site["root"].rstrip("/").rsplit("/", 1)[1])


def _ours(site, account):
    """An account of this site: it carries the marker, or (made before accounts were marked) it lives in the site's
    root, which nothing but the collection gives a user."""
    _uid, _gid, home, _shell, comment = account
    return comment == account_comment(site) or home == site["root"]


def problems(sites, state):
    """Accounts a present site would take over that the collection did not make: refused before any change."""
    found = []
    for site in sites:
        if site["state"] != "present":
            continue
        account = state.users.get(site["user"])
        if account is not None and not _ours(site, account):
            found.append(
                "site %s: the system user %s exists and was not made by wpzo.hosting (home %s, comment %r); "
                "nothing was changed" % (site["root"], site["user"], account[2], account[4])
            )
        elif account is None and state.members.get(site["group"]):
            members = ", ".join(sorted(state.members[site["group"]]))
            found.append(
                "site %s: the group %s exists with members (%s) and no user %s: it was not made by wpzo.hosting; "
                "nothing was changed" % (site["root"], site["group"], members, site["user"])
            )
    return found


def _site_actions(site, state, web_group):
    actions = []
    name, group = site["user"], site["group"]
    if site["state"] == "absent":
        if site.get("remove_files") and state.dirs.get(site["root"]) is not None:
            actions.append(Action(name, "remove_tree", site["root"]))
        # Only the collection's own account goes, and its group with it.
        if name in state.users and _ours(site, state.users[name]):
            actions.append(Action(name, "remove_user", name))
            if group in state.groups:
                actions.append(Action(name, "remove_group", group))
        return actions
    if group not in state.groups:
        actions.append(Action(name, "add_group", group))
    if name not in state.users:
        actions.append(Action(name, "add_user", name))
    elif state.users[name][2:] != (site["root"], site["shell"], account_comment(site)):
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
    # After the tree: logs/ is root's before anything in it is looked at or created.
    actions.extend(_log_actions(site, state, web_group))
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
    for directory in parent_directories(sites):
        current = state.dirs.get(directory.path)
        if current is None:
            actions.append(Action("", "create_dir", directory))
        elif current != (directory.owner, directory.group, directory.mode):
            actions.append(Action("", "fix_dir", directory))
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
    if isinstance(detail, (Directory, LogFile)):
        return "%s %s (%s:%s %04o)" % (action.kind, detail.path, detail.owner, detail.group, detail.mode)
    if action.kind in ("add_member", "remove_member"):
        return "%s %s %s %s" % (action.kind, detail[0], "to" if action.kind == "add_member" else "from", detail[1])
    if action.kind == "write_sftp_keys":
        return "write_sftp_keys %s" % detail[0]
    return "%s %s" % (action.kind, detail)
