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
6. ``file_plan()``: the file for the file engine (``managed_files``), which writes it, has Redis test it
   (``ACL LOAD`` through ``RedisConnection``) and puts the previous file back when Redis refuses it.

``compute()`` ties the steps together for the module: it reads and plans, and returns a ``module_shell.Change``
whose ``apply`` writes.

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

from ansible_collections.wpzo.hosting.plugins.module_utils import managed_files, module_shell, site_names
from ansible_collections.wpzo.hosting.plugins.module_utils.errors import ApplyError, ModuleError, ValidationError

FILE_MODE = 0o640
DEFAULT_ACLFILE = "/etc/redis/users.acl"
DEFAULT_SOCKET = "/run/redis/redis-server.sock"
DEFAULT_GROUP = "redis"
DEFAULT_LOGIN_USER = "admin"

# What a site's user may run: only what a WordPress object cache needs, on its own keys. Nothing that lists or
# counts the keys of other sites (SCAN, KEYS, RANDOMKEY, DBSIZE), runs code (EVAL, FUNCTION, SCRIPT), reads
# channels (PUBSUB, SUBSCRIBE), flushes (FLUSHALL, FLUSHDB) or administers (CONFIG, ACL, CLIENT KILL, DEBUG).
# The object-cache drop-in (roles/sites/files/wordpress) uses AUTH, SELECT, GET, SET, SETEX, DEL and INCR; the rest
# is what Redis Object Cache and WP Redis use for the same job (MGET, SET NX, EXPIRE, MULTI/EXEC, hashes, PING and
# INFO, which Redis Object Cache reads for its diagnostics; INFO shows server figures and key counts, no key names).
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

# The module's options: the one place their types and defaults are written.
USER_SPEC = dict(
    name=dict(type="str", required=True),
    state=dict(type="str", choices=list(STATES), default="present"),
    enabled=dict(type="bool", default=True),
    password=dict(type="str", no_log=True),
    keys=dict(type="list", elements="str", default=[], no_log=False),
    channels=dict(type="list", elements="str", default=[]),
    commands=dict(type="list", elements="str", default=[]),
)
SITE_SPEC = dict(
    domain=dict(type="str", required=True),
    state=dict(type="str", choices=list(STATES), default="present"),
    password=dict(type="str", no_log=True),
)
ARGUMENT_SPEC = dict(
    users=dict(type="list", elements="dict", default=[], options=USER_SPEC),
    sites=dict(type="list", elements="dict", default=[], options=SITE_SPEC),
    site_commands=dict(type="list", elements="str", default=list(DEFAULT_SITE_COMMANDS)),
    purge=dict(type="bool", default=False),
    aclfile=dict(type="path", default=DEFAULT_ACLFILE),
    group=dict(type="str", default=DEFAULT_GROUP),
    socket=dict(type="path", default=DEFAULT_SOCKET),
    login_user=dict(type="str", default=DEFAULT_LOGIN_USER),
    login_password=dict(type="str", no_log=True),
    reload=dict(type="bool", default=True),
    validate_only=dict(type="bool", default=False),
)
USER_DEFAULTS = module_shell.defaults(USER_SPEC)
SITE_DEFAULTS = module_shell.defaults(SITE_SPEC)


class RedisReplyError(ModuleError):
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
    value = entry.get(key)
    return "%s[%d]%s" % (kind, index, " (%s)" % value if value else "")


def _check_password(errors, label, password):
    if password is None:
        return
    if not password:
        errors.append("%s: password: must be a non-empty string" % label)
    elif any(ord(char) < 32 or ord(char) == 127 for char in password):
        errors.append("%s: password: must not contain control characters (such as a newline)" % label)


def validate_commands(commands, label):
    """Problems of a list of command rules such as ``+@all``, ``-@dangerous``, ``-flushall``, ``+config|get``."""
    errors = []
    for rule in commands:
        if not COMMAND_RULE.match(rule):
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
    derived, errors, seen = [], [], {}
    for index, raw in enumerate(sites):
        label = _label("sites", index, raw, "domain")
        site = dict(SITE_DEFAULTS)
        site.update((key, value) for key, value in raw.items() if value is not None)
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
    """Fill in defaults and check one entry of ``users`` (as the argument spec checked it); returns
    ``(user, errors)``."""
    label = _label("users", index, raw, "name")
    errors = []
    user = dict(USER_DEFAULTS)
    user.update((key, value) for key, value in raw.items() if value is not None)
    if not USER_NAME.match(user["name"]):
        errors.append(
            "%s: name: %r is not a valid user name (letters, digits, '_.@-', at most 128)" % (label, user["name"])
        )
    _check_password(errors, label, user["password"])
    for field in ("keys", "channels"):
        for pattern in user[field]:
            if not PATTERN.match(pattern):
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
    for index, raw in enumerate(users):
        user, user_errors = normalise_user(raw, index)
        errors += user_errors
        user["label"] = _label("users", index, raw, "name")
        normalised.append(user)
    errors += validate_commands(site_commands, "site_commands")
    derived, site_errors = derive_sites(sites)
    errors += site_errors
    for site in derived:
        user = site_user(site, site_commands)
        user["label"] = "sites[%d] (%s)" % (site["index"], site["domain"])
        normalised.append(user)
    owners = {}
    for user in normalised:
        name = user["name"]
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


# --- the file ---------------------------------------------------------------------------------------------
def group_id(group):
    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        return None


def read_existing(aclfile):
    """``{aclfile: managed_files.Existing}``, empty when there is no file."""
    current = managed_files.read_path(aclfile)
    return {} if current is None else {aclfile: current}


def existing_text(existing, aclfile):
    current = existing.get(aclfile)
    return None if current is None or current.content is None else current.content.decode("utf-8", "replace")


def file_plan(aclfile, content, group, existing):
    """``(spec, plan)`` of the aclfile for the file engine (root:<group> 0640, no marker: the ACL file format has
    no comments, the module owns the file). Without the group (check mode before redis-server is installed) the
    file is planned as written anew."""
    spec = managed_files.file_spec(aclfile, content, "root", group, FILE_MODE)
    if group_id(group) is None:
        return spec, managed_files.Plan([aclfile], [], [], [], [])
    return spec, managed_files.plan([spec], existing, marker=None)


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
        raise ModuleError("Redis closed the connection")
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
            raise ModuleError("Redis closed the connection")
        return data[:-2].decode("utf-8", "replace")
    if kind == b"*":
        count = int(body)
        return None if count < 0 else [read_reply(reader) for _item in range(count)]
    raise ModuleError("unexpected reply from Redis: %r" % line[:80])


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
            raise ModuleError("lost the connection to Redis during %s: %s" % (args[0], exc)) from exc

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
        raise ModuleError("cannot connect to Redis at %s: %s" % (path, exc)) from exc


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
            raise ModuleError(
                "cannot log in to Redis at %s as %r: %s. Nothing was changed. If that user's password was changed, "
                "pass the previous one as login_password once." % (socket_path, login_user, exc.msg.rstrip("."))
            ) from exc
        if active and os.path.normpath(active) == os.path.normpath(aclfile):
            raise ModuleError(
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


def compute(params, check_mode=False, connector=connect):
    """Validate, read the aclfile and the running server, plan; return a ``module_shell.Change`` (writes
    nothing) whose ``apply`` writes the file and runs ``ACL LOAD``, or raise ``ModuleError``."""
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
        raise ValidationError("invalid arguments (%d problem(s))" % len(errors), errors)

    sites = result_sites(derived)
    if params.get("validate_only"):
        return module_shell.Change({"changed": False, "sites": sites}, None)

    group = params.get("group") or DEFAULT_GROUP
    if group_id(group) is None and not check_mode:
        raise ModuleError("group %s does not exist (is redis-server installed?)" % group)
    if not os.path.isdir(os.path.dirname(aclfile)) and not check_mode:
        raise ModuleError("directory of %s does not exist (is redis-server installed?)" % aclfile)

    existing = read_existing(aclfile)
    text = existing_text(existing, aclfile)
    lines = desired_lines(users, parse_lines(text or ""), purge=params.get("purge", False))
    the_plan = plan(lines, text)
    spec, files = file_plan(aclfile, the_plan.content, group, existing)

    socket_path = params.get("socket") or DEFAULT_SOCKET
    uses_aclfile, live = False, []
    conn = connector(socket_path) if reload_wanted else None
    if conn is not None:  # None: no server listening
        try:
            uses_aclfile, live = inspect_server(conn, login_user, login_password, aclfile, socket_path)
        finally:
            conn.close()
    reload_needed = uses_aclfile and (the_plan.file_changed or needs_reload(lines, live))
    diff = {
        "before_header": aclfile,
        "after_header": aclfile,
        "before": mask(text or ""),
        "after": mask(the_plan.content, text or ""),
    }
    result = module_shell.outcome(
        the_plan.added,
        the_plan.updated,
        the_plan.removed,
        diff,
        changed=files.changed or reload_needed,
        sites=sites,
        users=sorted(lines),
        reloaded=reload_needed,
    )

    def acl_load():
        """``ACL LOAD`` on a new connection, logged in as compute() was: (rc, stdout, stderr) for the file engine."""
        conn = connector(socket_path)
        if conn is None:
            return 1, "", "Redis stopped listening on %s" % socket_path
        try:
            conn.call("AUTH", login_user, login_password)
            conn.call("ACL", "LOAD")
        except RedisReplyError as exc:
            return 1, "", exc.msg
        finally:
            conn.close()
        return 0, "", ""

    def apply():
        if files.changed:
            try:
                managed_files.apply_in_place(
                    files, [spec], existing, acl_load if reload_needed else None, what="Redis ACL file (ACL LOAD)"
                )
            except ApplyError as exc:
                if "rc" not in exc.details:  # not refused by Redis: the file could not be written
                    raise
                outcome = "the previous file was restored" if existing else "the new file was removed"
                error = exc.details["stderr"]
                raise ApplyError(refused(error, outcome), exc.errors, {"redis_error": error}) from exc
        elif reload_needed:
            rc, _out, error = acl_load()
            if rc:
                raise ApplyError(refused(error, "the file was not changed"), details={"redis_error": error})

    return module_shell.Change(result, apply)


def refused(error, outcome):
    return "Redis refused the ACL file (ACL LOAD): %s. The running users are unchanged and %s." % (error, outcome)
