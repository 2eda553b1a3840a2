# -*- coding: utf-8 -*-
# Copyright: wpzo.hosting developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure logic behind the ``wpzo.hosting.redis_acl`` module, plus a tiny RESP client.

Pipeline (each step is a small function that unit tests call directly):

1. ``derive_sites(sites)`` -> (site entries with their derived Redis user and prefix, errors).
2. ``validate(users, sites, site_commands)`` -> (normalised users, derived sites, errors); every problem at once.
3. ``desired_lines(users, existing, purge)`` -> ``{name: line}``; ``render_file(lines)`` -> file content.
4. ``plan(desired, existing_text)`` -> ``Plan`` (added/updated/removed user names, file changed?).
5. ``needs_reload(desired, live_lines)`` compares the running server's ``ACL LIST`` with the desired users.
6. ``write_atomic()`` / ``restore()`` put the file in place and back; ``RedisConnection`` runs ``ACL LOAD``.

``reconcile()`` ties the steps together for the module.

Passwords are stored as ``#<sha256>`` only, so no plaintext reaches the file; ``mask()`` hides even the hashes in
diffs. Code here must stay Python 3.8 compatible (it runs on the managed host).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import contextlib
import grp
import hashlib
import os
import re
import socket
import tempfile

from ansible_collections.wpzo.hosting.plugins.module_utils import site_names

FILE_MODE = 0o640
DEFAULT_ACLFILE = "/etc/redis/users.acl"
DEFAULT_SOCKET = "/run/redis/redis-server.sock"
DEFAULT_GROUP = "redis"
DEFAULT_LOGIN_USER = "admin"

# What a site's user may run: only what a WordPress object cache needs, on its own keys. Nothing that lists or
# counts the keys of other sites (SCAN, KEYS, RANDOMKEY, DBSIZE), runs code (EVAL, FUNCTION, SCRIPT), reads
# channels (PUBSUB, SUBSCRIBE), flushes (FLUSHALL, FLUSHDB) or administers (CONFIG, ACL, CLIENT KILL, DEBUG).
# wordpress_object_cache's drop-in uses AUTH, SELECT, GET, SET, SETEX, DEL and INCR; the rest is what Redis
# Object Cache and WP Redis use for the same job (MGET, SET NX, EXPIRE, MULTI/EXEC, hashes, PING and INFO, which
# Redis Object Cache reads for its diagnostics; INFO shows server figures and key counts, no key names).
SITE_COMMAND_ALLOW = (
    # connection
    "auth", "hello", "ping", "echo", "select", "quit", "reset", "client|setname", "client|getname", "client|id",
    # strings
    "get", "mget", "set", "setex", "psetex", "setnx", "mset", "msetnx", "getex", "getdel", "getset", "append",
    "strlen", "incr", "incrby", "incrbyfloat", "decr", "decrby",
    # the lifetime and existence of a key
    "del", "unlink", "exists", "type", "touch", "expire", "pexpire", "expireat", "pexpireat", "persist", "ttl",
    "pttl",
    # hashes (groups of WP Redis)
    "hget", "hmget", "hgetall", "hkeys", "hvals", "hlen", "hexists", "hset", "hsetnx", "hmset", "hdel", "hincrby",
    # transactions
    "multi", "exec", "discard", "watch", "unwatch",
    # diagnostics
    "info",
)  # fmt: skip
DEFAULT_SITE_COMMANDS = ["-@all"] + ["+" + command for command in SITE_COMMAND_ALLOW]

# ACL categories of Redis 7.0 and 7.2 (ACL CAT).
CATEGORIES = frozenset(
    [
        "admin", "all", "bitmap", "blocking", "connection", "dangerous", "fast", "geo", "hash", "hyperloglog",
        "keyspace", "list", "pubsub", "read", "scripting", "set", "slow", "sortedset", "stream", "string",
        "transaction", "write",
    ]
)  # fmt: skip

USER_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.@-]{0,127}$")
PATTERN = re.compile(r"^[\x21-\x7e]{1,512}$")  # printable ASCII, no whitespace
COMMAND_RULE = re.compile(r"^[+-](@[a-z]+|[a-z][a-z0-9_-]*(\|[a-z0-9_-]+)?)$")
HASH_TOKEN = re.compile(r"#([0-9a-f]{64})(?=\s|$)")
PASSWORD_TOKEN = re.compile(r"(?<=\s)([<>])\S+")
STATES = ("present", "absent")

USER_DEFAULTS = {
    "state": "present",
    "enabled": True,
    "password": None,
    "keys": [],
    "channels": [],
    "commands": [],
}
SITE_DEFAULTS = {"state": "present", "password": None}


class RedisAclError(Exception):
    """Any failure; ``errors`` lists every validation problem, ``details`` goes into the module result."""

    def __init__(self, msg, errors=None, details=None):
        super(RedisAclError, self).__init__(msg)
        self.msg = msg
        self.errors = list(errors or [])
        self.details = dict(details or {})


class RedisReplyError(RedisAclError):
    """Redis answered with an error reply (``-ERR ...``, ``-WRONGPASS ...``)."""


# --- hashing and rendering -----------------------------------------------------------------------------------
def password_hash(password):
    """The hash Redis keeps for a password: lower-case hex SHA-256 of its UTF-8 bytes."""
    return hashlib.sha256(password.encode("utf-8")).hexdigest()


def render_line(user):
    """One aclfile line for a normalised present user: ``user <name> on|off #<hash> ~key &channel <commands>``."""
    tokens = ["user", user["name"], "on" if user["enabled"] else "off"]
    if user["password"] is not None:
        tokens.append("#" + password_hash(user["password"]))
    tokens += ["~" + pattern for pattern in user["keys"]]
    tokens += ["&" + pattern for pattern in user["channels"]]
    tokens += list(user["commands"])
    return " ".join(tokens)


def render_file(lines):
    """The aclfile text: one line per user, sorted by name (the order of ACL LIST), newline-terminated."""
    return "".join(lines[name] + "\n" for name in sorted(lines))


def site_user(site, commands):
    """The ACL user of one derived site: its keys and channels confined to its own prefix."""
    return {
        "name": site["redis_user"],
        "state": site["state"],
        "enabled": True,
        "password": site.get("password"),
        "keys": [site["redis_prefix"] + "*"],
        "channels": [site["redis_prefix"] + "*"],
        "commands": list(commands),
    }


# --- validation ----------------------------------------------------------------------------------------------
def _label(kind, index, entry, key):
    value = entry.get(key) if isinstance(entry, dict) else None
    return "%s[%d]%s" % (kind, index, " (%s)" % value if isinstance(value, str) and value else "")


def _check_password(errors, label, password):
    if password is None:
        return
    if not isinstance(password, str) or not password:
        errors.append("%s: password: must be a non-empty string" % label)
    elif any(ord(char) < 32 or ord(char) == 127 for char in password):
        errors.append("%s: password: must not contain control characters (such as a newline)" % label)


def validate_commands(commands, label):
    """Problems of a list of command rules such as ``+@all``, ``-@dangerous``, ``-flushall``, ``+config|get``."""
    if not isinstance(commands, list):
        return ["%s: must be a list" % label]
    errors = []
    for rule in commands:
        if not isinstance(rule, str) or not COMMAND_RULE.match(rule):
            errors.append(
                "%s: %r is not a command rule (+command, -command, +command|subcommand, +@category, -@category)"
                % (label, rule)
            )
        elif rule[1] == "@" and rule[2:] not in CATEGORIES:
            errors.append("%s: %r names no ACL category (known: %s)" % (label, rule, ", ".join(sorted(CATEGORIES))))
    return errors


def derive_sites(sites):
    """Normalise the domains of ``sites`` and derive their names; returns ``(derived, errors)``.

    Each derived entry holds ``index``, ``domain`` (normalised), ``state``, ``password``, ``redis_user`` and
    ``redis_prefix``. Errors name the site and the field: invalid domains, states and passwords, domains listed
    twice and names two domains derive alike (``site_names.collisions``).
    """
    if not isinstance(sites, list):
        return [], ["sites: must be a list"]
    derived, errors, seen = [], [], {}
    for index, raw in enumerate(sites):
        label = _label("sites", index, raw, "domain")
        if not isinstance(raw, dict):
            errors.append("%s: must be a dict with a domain" % label)
            continue
        unknown = sorted(set(raw) - set(SITE_DEFAULTS) - {"domain"}, key=str)
        if unknown:
            errors.append("%s: unknown field(s) %s" % (label, ", ".join(str(key) for key in unknown)))
        site = dict(SITE_DEFAULTS)
        site.update((key, value) for key, value in raw.items() if value is not None)
        if site["state"] not in STATES:
            errors.append("%s: state: must be present or absent, not %r" % (label, site["state"]))
        _check_password(errors, label, raw.get("password"))
        try:
            domain = site_names.normalise_domain(raw.get("domain"))
        except ValueError as exc:
            errors.append("%s: domain: %s" % (label, exc))
            continue
        if domain in seen:
            errors.append("%s: domain: %s is listed twice (also sites[%d])" % (label, domain, seen[domain]))
            continue
        seen[domain] = index
        names = site_names.derive(domain)
        derived.append(
            {
                "index": index,
                "domain": domain,
                "state": site["state"],
                "password": site["password"],
                "redis_user": names["redis_user"],
                "redis_prefix": names["redis_prefix"],
                "names": names,
            }
        )
    errors += ["sites: %s" % problem for problem in site_names.collisions([site["names"] for site in derived])]
    for site in derived:
        del site["names"]
    return derived, errors


def normalise_user(raw, index):
    """Fill in defaults and check one entry of ``users``; returns ``(user or None, errors)``."""
    label = _label("users", index, raw, "name")
    if not isinstance(raw, dict):
        return None, ["%s: must be a dict with a name" % label]
    errors = []
    unknown = sorted(set(raw) - set(USER_DEFAULTS) - {"name"}, key=str)
    if unknown:
        errors.append("%s: unknown field(s) %s" % (label, ", ".join(str(key) for key in unknown)))
    user = dict(USER_DEFAULTS)
    user.update((key, value) for key, value in raw.items() if value is not None)
    user["name"] = raw.get("name")
    if not isinstance(user["name"], str) or not USER_NAME.match(user["name"]):
        errors.append(
            "%s: name: %r is not a valid user name (letters, digits, '_.@-', at most 128)" % (label, user["name"])
        )
    if user["state"] not in STATES:
        errors.append("%s: state: must be present or absent, not %r" % (label, user["state"]))
    if not isinstance(user["enabled"], bool):
        errors.append("%s: enabled: must be a boolean" % label)
    _check_password(errors, label, user["password"])
    for field in ("keys", "channels"):
        patterns = user[field]
        if not isinstance(patterns, list):
            errors.append("%s: %s: must be a list" % (label, field))
            continue
        for pattern in patterns:
            if not isinstance(pattern, str) or not PATTERN.match(pattern):
                errors.append("%s: %s: %r must be 1-512 printable characters without spaces" % (label, field, pattern))
    errors += validate_commands(user["commands"], "%s: commands" % label)
    return user, errors


def validate(users, sites, site_commands, need_passwords=True):
    """Normalise and check everything; returns ``(users, derived sites, errors)``.

    ``users`` in the result holds the entries of ``users`` followed by one user per site. With
    ``need_passwords`` an enabled, present user without a password is an error (it could never log in).
    """
    errors = []
    normalised = []
    if not isinstance(users, list):
        errors.append("users: must be a list")
        users = []
    for index, raw in enumerate(users):
        user, user_errors = normalise_user(raw, index)
        errors += user_errors
        if user is not None:
            user["label"] = _label("users", index, raw, "name")
            normalised.append(user)
    errors += validate_commands(site_commands, "site_commands")
    derived, site_errors = derive_sites(sites)
    errors += site_errors
    for site in derived:
        user = site_user(site, site_commands if isinstance(site_commands, list) else [])
        user["label"] = "sites[%d] (%s)" % (site["index"], site["domain"])
        normalised.append(user)
    owners = {}
    for user in normalised:
        name = user["name"]
        if not isinstance(name, str):
            continue
        if name in owners:
            errors.append("%s: user name %r is also used by %s" % (user["label"], name, owners[name]))
        else:
            owners[name] = user["label"]
        if name == "default" and user["state"] == "absent":
            errors.append(
                "%s: state: the default user cannot be removed (Redis would recreate it without a password and "
                "with every permission); set enabled: false instead" % user["label"]
            )
        if need_passwords and user["state"] == "present" and user["enabled"] is True and user["password"] is None:
            errors.append("%s: password: required for an enabled user (it could never log in)" % user["label"])
    return normalised, derived, errors


# --- reading, planning, masking ------------------------------------------------------------------------------
def parse_lines(text):
    """``{name: line}`` of the ``user`` lines of an aclfile (or of ``ACL LIST``); other lines are ignored."""
    lines = {}
    for raw in text.splitlines():
        line = raw.strip()
        tokens = line.split()
        if len(tokens) >= 2 and tokens[0] == "user":
            lines[tokens[1]] = line
    return lines


def desired_lines(users, existing_lines, purge=False):
    """``{name: line}`` wanted in the file.

    Present users are rendered. Without ``purge`` users of the file not named in ``users`` are kept as they are.
    The ``default`` user is always written: when ``users`` does not mention it and it is not kept from the file,
    it is disabled (``user default off``), since Redis would otherwise recreate it with no password and every
    permission.
    """
    named = set(user["name"] for user in users)
    lines = {}
    if not purge:
        lines.update((name, line) for name, line in existing_lines.items() if name not in named)
    for user in users:
        if user["state"] == "present":
            lines[user["name"]] = render_line(user)
    if "default" not in named and "default" not in lines:
        lines["default"] = "user default off"
    return lines


class Plan(collections.namedtuple("Plan", "content added updated removed file_changed")):
    """``content``: the new file text; user names added/updated/removed; ``file_changed``: bytes differ."""

    __slots__ = ()


def plan(lines, existing_text):
    """Compare the wanted ``{name: line}`` with the current file text (``None`` when there is no file)."""
    existing = parse_lines(existing_text or "")
    content = render_file(lines)
    added = sorted(name for name in lines if name not in existing)
    updated = sorted(name for name in lines if name in existing and existing[name] != lines[name])
    removed = sorted(name for name in existing if name not in lines)
    return Plan(content, added, updated, removed, existing_text != content)


def user_state(line):
    """What matters of a user for logging in and key access: on/off, password hashes, key and channel patterns.

    Applies the rules of an aclfile or ``ACL LIST`` line in order, so a rendered line and Redis's own
    description of the same user compare equal although Redis writes command rules its own way.
    """
    rules = line.split()[2:]
    state = {"enabled": False, "nopass": False, "hashes": set(), "keys": set(), "channels": set()}
    for rule in rules:
        if rule in ("on", "off"):
            state["enabled"] = rule == "on"
        elif rule == "nopass":
            state["nopass"] = True
            state["hashes"].clear()
        elif rule == "resetpass":
            state["nopass"] = False
            state["hashes"].clear()
        elif rule.startswith("#"):
            state["hashes"].add(rule[1:].lower())
        elif rule.startswith("!"):
            state["hashes"].discard(rule[1:].lower())
        elif rule.startswith(">"):
            state["hashes"].add(password_hash(rule[1:]))
        elif rule.startswith("<"):
            state["hashes"].discard(password_hash(rule[1:]))
        elif rule in ("allkeys", "resetkeys"):
            state["keys"] = {"~*"} if rule == "allkeys" else set()
        elif rule.startswith("~") or rule.startswith("%"):
            state["keys"].add(rule)
        elif rule in ("allchannels", "resetchannels"):
            state["channels"] = {"&*"} if rule == "allchannels" else set()
        elif rule.startswith("&"):
            state["channels"].add(rule)
        elif rule == "reset":
            state = {"enabled": False, "nopass": False, "hashes": set(), "keys": set(), "channels": set()}
    return state


def needs_reload(lines, live_lines):
    """True when the server's users (``ACL LIST``) differ from the wanted ones in anything ``user_state`` sees."""
    live = parse_lines("\n".join(live_lines))
    if set(live) != set(lines):
        return True
    return any(user_state(lines[name]) != user_state(live[name]) for name in lines)


def mask(text, previous=None):
    """The file text with password hashes and plaintext passwords hidden, for diffs.

    With ``previous`` (the text before), a hash its user did not have before shows as ``#<new password hash>``
    so a changed password stays visible in the diff without revealing anything.
    """
    known = {}
    for name, line in parse_lines(previous or "").items():
        known[name] = set(HASH_TOKEN.findall(line))
    out = []
    for line in (text or "").splitlines(True):
        tokens = line.split()
        name = tokens[1] if len(tokens) >= 2 and tokens[0] == "user" else None

        def hide(match, name=name):
            if previous is not None and match.group(1) not in known.get(name, set()):
                return "#<new password hash>"
            return "#<password hash>"

        line = HASH_TOKEN.sub(hide, line)
        line = PASSWORD_TOKEN.sub(lambda match: match.group(1) + "<password>", line)
        out.append(line)
    return "".join(out)


# --- files ---------------------------------------------------------------------------------------------------
FileState = collections.namedtuple("FileState", "content mode uid gid")


def read_file(path):
    """``FileState`` of the aclfile, or ``None`` when it does not exist."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
            st = os.fstat(handle.fileno())
    except FileNotFoundError:
        return None
    return FileState(data.decode("utf-8", "replace"), st.st_mode & 0o7777, st.st_uid, st.st_gid)


def group_id(group):
    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        return None


def write_atomic(path, content, mode, uid, gid):
    """Write ``content`` to a temp file beside ``path`` (mode and owner set first), then rename it into place."""
    directory = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), mode)
            os.fchown(handle.fileno(), uid, gid)
            handle.write(content.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def restore(path, before):
    """Put back the previous ``FileState`` (or remove the file when there was none)."""
    if before is None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
    else:
        write_atomic(path, before.content, before.mode, before.uid, before.gid)


# --- talking to Redis ----------------------------------------------------------------------------------------
def encode_command(args):
    """A RESP array of bulk strings; every argument is sent as bytes, so any password is safe."""
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode("utf-8")
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


def read_reply(reader):
    """Read one RESP2 reply from a binary file object; error replies raise ``RedisReplyError``."""
    line = reader.readline()
    if not line.endswith(b"\r\n"):
        raise RedisAclError("Redis closed the connection")
    kind, body = line[:1], line[1:-2]
    if kind == b"+":
        return body.decode("utf-8", "replace")
    if kind == b"-":
        raise RedisReplyError(body.decode("utf-8", "replace"))
    if kind == b":":
        return int(body)
    if kind == b"$":
        length = int(body)
        if length < 0:
            return None
        data = reader.read(length + 2)
        if len(data) != length + 2:
            raise RedisAclError("Redis closed the connection")
        return data[:-2].decode("utf-8", "replace")
    if kind == b"*":
        count = int(body)
        return None if count < 0 else [read_reply(reader) for _item in range(count)]
    raise RedisAclError("unexpected reply from Redis: %r" % line[:80])


class RedisConnection(object):
    """A connection to Redis over its unix socket, speaking just enough RESP2 for a few commands."""

    def __init__(self, path, timeout=10.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(path)
        except BaseException:
            self.sock.close()
            raise
        self.reader = self.sock.makefile("rb")

    def call(self, *args):
        try:
            self.sock.sendall(encode_command(args))
            return read_reply(self.reader)
        except OSError as exc:  # includes the timeout
            raise RedisAclError("lost the connection to Redis during %s: %s" % (args[0], exc)) from exc

    def close(self):
        with contextlib.suppress(OSError):
            self.reader.close()
            self.sock.close()


def connect(path, timeout=10.0):
    """A ``RedisConnection``, or ``None`` when no server listens on ``path`` (no socket, or a stale one)."""
    try:
        return RedisConnection(path, timeout)
    except (FileNotFoundError, ConnectionRefusedError):
        return None
    except OSError as exc:
        raise RedisAclError("cannot connect to Redis at %s: %s" % (path, exc)) from exc


def _active_aclfile(conn):
    reply = conn.call("CONFIG", "GET", "aclfile")
    return reply[1] if isinstance(reply, list) and len(reply) == 2 else ""


def inspect_server(conn, login_user, login_password, aclfile, socket_path):
    """Log in and find whether the server uses ``aclfile``; returns ``(uses_aclfile, ACL LIST lines)``.

    A server whose login fails but that still answers ``CONFIG GET`` (its default user has no password, as in a
    fresh installation) does not use the file yet: that is not an error.
    """
    try:
        conn.call("AUTH", login_user, login_password)
    except RedisReplyError as exc:
        try:
            active = _active_aclfile(conn)
        except RedisReplyError:
            raise RedisAclError(
                "cannot log in to Redis at %s as %r: %s. Nothing was changed. If that user's password was changed, "
                "pass the previous one as login_password once." % (socket_path, login_user, exc.msg.rstrip("."))
            ) from exc
        if active and os.path.normpath(active) == os.path.normpath(aclfile):
            raise RedisAclError(
                "cannot log in to Redis at %s as %r: %s" % (socket_path, login_user, exc.msg.rstrip("."))
            ) from exc
        return False, []
    active = _active_aclfile(conn)
    if not active or os.path.normpath(active) != os.path.normpath(aclfile):
        return False, []
    return True, conn.call("ACL", "LIST") or []


# --- orchestration -------------------------------------------------------------------------------------------
def result_sites(derived):
    return [
        {
            "domain": site["domain"],
            "state": site["state"],
            "redis_user": site["redis_user"],
            "redis_prefix": site["redis_prefix"],
        }
        for site in derived
    ]


def reconcile(params, check_mode=False, want_diff=False, connector=connect):
    """Run the whole pipeline for the module's ``params``; return the result dict or raise ``RedisAclError``."""
    users, derived, errors = validate(
        params.get("users") or [],
        params.get("sites") or [],
        params.get("site_commands"),
        need_passwords=not params.get("validate_only"),
    )
    login_user = params.get("login_user") or DEFAULT_LOGIN_USER
    login_password = params.get("login_password")
    if login_password is None:
        login_password = next(
            (u["password"] for u in users if u["name"] == login_user and u["state"] == "present"), None
        )
    reload_wanted = params.get("reload", True) and not params.get("validate_only")
    if reload_wanted and login_password is None:
        errors.append(
            "login_password: required to run ACL LOAD (no present entry of users named %r has a password); "
            "or set reload=false" % login_user
        )
    aclfile = params.get("aclfile") or DEFAULT_ACLFILE
    if not os.path.isabs(aclfile):
        errors.append("aclfile: %r is not an absolute path" % aclfile)
    if errors:
        raise RedisAclError("invalid arguments (%d problem(s))" % len(errors), errors)

    result = {"changed": False, "sites": result_sites(derived)}
    if params.get("validate_only"):
        return result

    group = params.get("group") or DEFAULT_GROUP
    gid = group_id(group)
    if gid is None and not check_mode:
        raise RedisAclError("group %s does not exist (is redis-server installed?)" % group)
    if not os.path.isdir(os.path.dirname(aclfile)) and not check_mode:
        raise RedisAclError("directory of %s does not exist (is redis-server installed?)" % aclfile)

    before = read_file(aclfile)
    existing_text = before.content if before else None
    lines = desired_lines(users, parse_lines(existing_text or ""), purge=params.get("purge", False))
    the_plan = plan(lines, existing_text)
    attrs_changed = (
        before is not None and gid is not None and (before.mode, before.uid, before.gid) != (FILE_MODE, 0, gid)
    )

    conn = None
    uses_aclfile, live = False, []
    socket_path = params.get("socket") or DEFAULT_SOCKET
    if reload_wanted:
        conn = connector(socket_path)
    try:
        if conn is not None:
            uses_aclfile, live = inspect_server(conn, login_user, login_password, aclfile, socket_path)
        reload_needed = uses_aclfile and (the_plan.file_changed or needs_reload(lines, live))

        result.update(
            changed=the_plan.file_changed or attrs_changed or reload_needed,
            added=the_plan.added,
            updated=the_plan.updated,
            removed=the_plan.removed,
            users=sorted(lines),
            reloaded=reload_needed,
        )
        if want_diff:
            result["diff"] = {
                "before_header": aclfile,
                "after_header": aclfile,
                "before": mask(existing_text or ""),
                "after": mask(the_plan.content, existing_text or ""),
            }
        if check_mode:
            return result

        if the_plan.file_changed:
            write_atomic(aclfile, the_plan.content, FILE_MODE, 0, gid)
        elif attrs_changed:
            os.chown(aclfile, 0, gid)
            os.chmod(aclfile, FILE_MODE)
        if reload_needed:
            try:
                conn.call("ACL", "LOAD")
            except RedisAclError as exc:
                outcome = "the file was not changed"
                if the_plan.file_changed:
                    restore(aclfile, before)
                    outcome = "the previous file was restored" if before is not None else "the new file was removed"
                raise RedisAclError(
                    "Redis refused the ACL file (ACL LOAD): %s. The running users are unchanged and %s."
                    % (exc.msg, outcome),
                    details={"redis_error": exc.msg},
                ) from exc
    finally:
        if conn is not None:
            conn.close()
    return result
