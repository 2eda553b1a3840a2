# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the pure logic behind wpzo.hosting.redis_acl, and of its RESP client against a fake server."""

import grp
import hashlib
import io
import os
import pathlib
import re
import shutil
import socket
import tempfile
import threading

import pytest
import yaml
from ansible_collections.wpzo.hosting.plugins.module_utils import module_shell
from ansible_collections.wpzo.hosting.plugins.module_utils import redis_acl as acl
from ansible_collections.wpzo.hosting.plugins.module_utils.errors import ModuleError
from ansible_collections.wpzo.hosting.plugins.modules import redis_acl as redis_acl_module

SECRET = "p\"a's$s`\\w#o>r%d{x}~!"
SECRET_HASH = hashlib.sha256(SECRET.encode()).hexdigest()
ADMIN = {"name": "admin", "password": "adminpw", "keys": ["*"], "channels": ["*"], "commands": ["+@all"]}


def reconcile(params, check_mode=False, want_diff=False):
    """What the module shell makes of compute(): applied unless in check mode, the diff only in diff mode."""
    return module_shell.finish(acl.compute(params, check_mode=check_mode), check_mode, want_diff)


def users(*entries):
    normalised, _sites, errors = acl.validate(list(entries), [], acl.DEFAULT_SITE_COMMANDS)
    assert errors == []
    return normalised


# --- hashing and rendering -----------------------------------------------------------------------------------
def test_password_hash_is_redis_sha256_hex():
    assert acl.password_hash(SECRET) == SECRET_HASH
    assert len(SECRET_HASH) == 64 and SECRET_HASH.lower() == SECRET_HASH


def test_render_line_of_an_admin():
    (admin,) = users(dict(ADMIN))
    assert acl.render_line(admin) == "user admin on #%s ~* &* +@all" % acl.password_hash("adminpw")


def test_render_line_of_a_site_confines_keys_and_channels_to_its_prefix():
    normalised, derived, errors = acl.validate([], [{"domain": "Example.COM", "password": SECRET}], ["+@all"])
    assert errors == []
    assert derived == [
        {
            "index": 0,
            "domain": "example.com",
            "state": "present",
            "password": SECRET,
            "redis_user": "example_com",
            "redis_prefix": "example_com:",
        }
    ]
    assert acl.render_line(normalised[0]) == "user example_com on #%s ~example_com:* &example_com:* +@all" % (
        SECRET_HASH
    )


def test_no_plaintext_password_in_the_rendered_file():
    normalised, _sites, _errors = acl.validate([dict(ADMIN)], [{"domain": "a.example", "password": SECRET}], ["+@all"])
    content = acl.render_file(acl.desired_lines(normalised, {}))
    assert SECRET not in content and "adminpw" not in content
    assert SECRET_HASH in content


def test_disabled_user_without_password():
    (default,) = users({"name": "default", "enabled": False})
    assert acl.render_line(default) == "user default off"


REFUSED_TO_SITES = [
    # listing or counting every tenant's keys
    "scan", "keys", "randomkey", "dbsize", "object", "memory", "debug", "monitor",
    # code: busy loops, flushing the scripts of others
    "eval", "evalsha", "eval_ro", "evalsha_ro", "script", "fcall", "fcall_ro", "function",
    # channels of other sites
    "pubsub", "subscribe", "psubscribe", "ssubscribe", "publish", "spublish",
    # flushing and administration
    "flushall", "flushdb", "swapdb", "move", "copy", "rename", "renamenx", "sort", "migrate", "restore", "dump",
    "config", "acl", "client", "client|kill", "client|list", "shutdown", "save", "bgsave", "replicaof", "slaveof",
    "module", "latency", "slowlog", "lastsave", "wait", "failover", "cluster", "sync", "psync",
]  # fmt: skip


def test_default_site_commands_are_an_allow_list_of_what_an_object_cache_needs():
    rules = acl.DEFAULT_SITE_COMMANDS
    assert rules[0] == "-@all" and all(rule.startswith("+") and "@" not in rule for rule in rules[1:])
    allowed = set(rule[1:] for rule in rules[1:])
    for refused in REFUSED_TO_SITES:
        assert refused not in allowed, refused
    # What the object-cache drop-in of this collection sends (phpredis: connect, auth, select, get, set, setex,
    # del, incr), and the basics Redis Object Cache and WP Redis use.
    assert {"auth", "select", "get", "set", "setex", "del", "incr"} <= allowed
    assert {"mget", "exists", "expire", "incrby", "decrby", "multi", "exec", "ping", "info", "hget", "hset"} <= allowed
    assert acl.validate_commands(rules, "site_commands") == []


def test_the_object_cache_drop_in_uses_only_allowed_commands():
    root = pathlib.Path(__file__).resolve().parents[4]
    php = (root / "roles/sites/files/wordpress/object-cache.php").read_text()
    used = set(re.findall(r"\$(?:this->)?redis->([a-z]+)\(", php)) - {"connect", "close"}
    allowed = set(rule[1:] for rule in acl.DEFAULT_SITE_COMMANDS[1:])
    assert used and used <= allowed, sorted(used - allowed)


def test_the_role_and_the_module_default_to_the_same_site_commands():
    root = pathlib.Path(__file__).resolve().parents[4]
    role = yaml.safe_load((root / "roles/redis/defaults/main.yml").read_text())
    spec = yaml.safe_load((root / "roles/redis/meta/argument_specs.yml").read_text())
    module_doc = yaml.safe_load(redis_acl_module.DOCUMENTATION)
    assert role["redis_site_commands"] == acl.DEFAULT_SITE_COMMANDS
    assert spec["argument_specs"]["main"]["options"]["redis_site_commands"]["default"] == acl.DEFAULT_SITE_COMMANDS
    assert module_doc["options"]["site_commands"]["default"] == acl.DEFAULT_SITE_COMMANDS


# --- validation ----------------------------------------------------------------------------------------------
def test_site_errors_name_the_site_and_the_field():
    _users, _sites, errors = acl.validate(
        [],
        [
            {"domain": "example.com", "password": "x"},
            {"domain": "EXAMPLE.com.", "password": "x"},
            {"domain": "localhost", "password": "x"},
            {"domain": "a-b.com", "password": "x"},
            {"domain": "a.b.com", "password": "x"},
            {"domain": "new.example", "state": "absent"},
            {"domain": "nopw.example"},
            {"domain": "ctl.example", "password": "bad\npw"},
        ],
        ["+@all"],
    )
    assert "sites[1] (EXAMPLE.com.): domain: example.com is listed twice (also sites[0])" in errors
    assert any(e.startswith("sites[2] (localhost): domain: ") and "fully qualified" in e for e in errors)
    assert any(e.startswith("sites: redis_user 'a_b_com' is derived from both a-b.com and a.b.com") for e in errors)
    assert not any(e.startswith("sites[5] ") for e in errors)  # an absent site needs no password
    assert any(e.startswith("sites[6] (nopw.example): password: required") for e in errors)
    assert any(e.startswith("sites[7] (ctl.example): password: must not contain control") for e in errors)


def test_user_errors_and_name_clash_with_a_site():
    _users, _sites, errors = acl.validate(
        [
            {"name": "bad name"},
            {"name": "example_com", "password": "x"},
            {"name": "k", "password": "x", "keys": ["has space"], "commands": ["+@nosuch", "flushall", "-config|get"]},
            {"name": "default", "state": "absent"},
            {"name": "k", "enabled": False},
        ],
        [{"domain": "example.com", "password": "y"}],
        ["+@all", "-@dangerous"],
    )
    text = "\n".join(errors)
    assert "users[0] (bad name): name: 'bad name' is not a valid user name" in text
    assert "users[0] (bad name): password: required" in text
    assert "sites[0] (example.com): user name 'example_com' is also used by users[1] (example_com)" in text
    assert "users[2] (k): keys: 'has space' must be" in text
    assert "users[2] (k): commands: '+@nosuch' names no ACL category" in text
    assert "users[2] (k): commands: 'flushall' is not a command rule" in text
    assert "-config|get" not in text
    assert "users[3] (default): state: the default user cannot be removed" in text
    assert "users[4] (k): user name 'k' is also used by users[2] (k)" in text


def test_site_commands_are_checked():
    _users, _sites, errors = acl.validate([], [], ["+@all", "-@dangrous"])
    assert errors == ["site_commands: '-@dangrous' names no ACL category (known: %s)" % ", ".join(
        sorted(acl.CATEGORIES)
    )]  # fmt: skip


def test_validate_only_needs_no_passwords():
    _users, derived, errors = acl.validate([], [{"domain": "example.com"}], ["+@all"], need_passwords=False)
    assert errors == []
    assert derived[0]["redis_user"] == "example_com"


# --- planning ------------------------------------------------------------------------------------------------
def test_default_user_is_disabled_unless_listed():
    lines = acl.desired_lines(users(dict(ADMIN)), {})
    assert lines["default"] == "user default off"
    content = acl.render_file(lines)
    assert content.splitlines()[1] == "user default off"  # sorted by name
    listed = acl.desired_lines(users(dict(ADMIN), {"name": "default", "enabled": False, "commands": ["-@all"]}), {})
    assert listed["default"] == "user default off -@all"


def test_plan_reports_added_updated_removed():
    old = "user admin on #%s ~* &* +@all\nuser default off\nuser old_example on #%s ~old:* +@all\n" % (
        acl.password_hash("adminpw"),
        SECRET_HASH,
    )
    wanted = users(dict(ADMIN, commands=["+@all", "-debug"]), {"name": "new", "password": "n"})
    lines = acl.desired_lines(wanted, acl.parse_lines(old), purge=True)
    the_plan = acl.plan(lines, old)
    assert (the_plan.added, the_plan.updated, the_plan.removed) == (["new"], ["admin"], ["old_example"])
    assert the_plan.file_changed
    assert acl.plan(lines, the_plan.content).file_changed is False


def test_without_purge_unlisted_users_are_kept_and_absent_ones_removed():
    old = "user default on nopass ~* +@all\nuser keep on #%s ~k:* +@all\nuser drop on #%s +@all\n" % (
        SECRET_HASH,
        SECRET_HASH,
    )
    wanted = users({"name": "drop", "state": "absent"})
    lines = acl.desired_lines(wanted, acl.parse_lines(old))
    assert sorted(lines) == ["default", "keep"]
    assert lines["default"] == "user default on nopass ~* +@all"
    assert acl.plan(lines, old).removed == ["drop"]


def test_no_file_yet_is_a_change():
    the_plan = acl.plan(acl.desired_lines(users(dict(ADMIN)), {}), None)
    assert the_plan.file_changed and the_plan.added == ["admin", "default"]


def test_reordered_file_is_rewritten_without_user_changes():
    lines = acl.desired_lines(users(dict(ADMIN)), {})
    shuffled = "".join(reversed(acl.render_file(lines).splitlines(True)))
    the_plan = acl.plan(lines, shuffled)
    assert the_plan.file_changed and not (the_plan.added or the_plan.updated or the_plan.removed)


# --- the running server --------------------------------------------------------------------------------------
def test_live_acl_list_in_redis_own_words_matches_the_file():
    site = "user example_com on #%s ~example_com:* &example_com:* +@all -@dangerous -@admin -function +info" % (
        SECRET_HASH
    )
    lines = {"default": "user default off", "example_com": site}
    live = [
        "user default off resetchannels -@all",
        "user example_com on #%s ~example_com:* resetchannels &example_com:* +@all -@admin -sort -swapdb -keys "
        "-flushall -flushdb -function -migrate" % SECRET_HASH,
    ]
    assert acl.needs_reload(lines, live) is False
    assert acl.needs_reload(lines, live[:1]) is True
    assert acl.needs_reload(lines, [live[0], live[1].replace(SECRET_HASH, "0" * 64)]) is True
    assert acl.needs_reload(lines, [live[0], live[1].replace("~example_com:*", "~*")]) is True
    assert acl.needs_reload(lines, [live[0].replace(" off", " on nopass"), live[1]]) is True


def test_user_state_follows_rules_in_order():
    state = acl.user_state("user u on >pw #%s allkeys resetkeys ~a:* allchannels off" % SECRET_HASH)
    assert state == {
        "enabled": False,
        "nopass": False,
        "hashes": {acl.password_hash("pw"), SECRET_HASH},
        "keys": {"~a:*"},
        "channels": {"&*"},
    }
    assert acl.user_state("user u on #%s <pw nopass" % acl.password_hash("pw"))["hashes"] == set()


# --- masking -------------------------------------------------------------------------------------------------
def test_mask_hides_hashes_and_plaintext_and_marks_new_passwords():
    before = "user a on #%s ~a:*\nuser b on >plain ~b:*\n" % SECRET_HASH
    after = "user a on #%s ~a:*\nuser c on #%s ~c:*\n" % (SECRET_HASH, acl.password_hash("new"))
    assert acl.mask(before) == "user a on #<password hash> ~a:*\nuser b on ><password> ~b:*\n"
    masked = acl.mask(after, before)
    assert masked == "user a on #<password hash> ~a:*\nuser c on #<new password hash> ~c:*\n"
    assert SECRET_HASH not in masked and "plain" not in acl.mask(before)
    changed = acl.mask(after.replace(SECRET_HASH, acl.password_hash("rotated")), before)
    assert changed.startswith("user a on #<new password hash>")


# --- RESP ----------------------------------------------------------------------------------------------------
def test_encode_command_is_binary_safe():
    assert acl.encode_command(["AUTH", "u", SECRET]) == (
        b"*3\r\n$4\r\nAUTH\r\n$1\r\nu\r\n$%d\r\n%s\r\n" % (len(SECRET), SECRET.encode())
    )
    assert acl.encode_command(["SET", "k", "a b\r\nc"]).endswith(b"$6\r\na b\r\nc\r\n")


@pytest.mark.parametrize(
    ("wire", "value"),
    [
        (b"+OK\r\n", "OK"),
        (b":42\r\n", 42),
        (b"$5\r\na\r\nbc\r\n", "a\r\nbc"),
        (b"$-1\r\n", None),
        (b"*2\r\n$7\r\naclfile\r\n$0\r\n\r\n", ["aclfile", ""]),
        (b"*-1\r\n", None),
        (b"*2\r\n*1\r\n:1\r\n+x\r\n", [[1], "x"]),
    ],
)
def test_read_reply(wire, value):
    assert acl.read_reply(io.BytesIO(wire)) == value


def test_read_reply_errors():
    with pytest.raises(acl.RedisReplyError) as info:
        acl.read_reply(io.BytesIO(b"-WRONGPASS invalid username-password pair\r\n"))
    assert info.value.msg == "WRONGPASS invalid username-password pair"
    for wire in (b"", b"+OK", b"$5\r\nab", b"?\r\n"):
        with pytest.raises(ModuleError):
            acl.read_reply(io.BytesIO(wire))


# --- a fake Redis server on a unix socket ---------------------------------------------------------------------
class FakeRedis:
    """Enough of Redis for the module: AUTH, CONFIG GET aclfile, ACL LIST, ACL LOAD (checks like the real one)."""

    def __init__(self, directory, aclfile, loaded="user default on nopass ~* &* +@all\n"):
        self.path = os.path.join(directory, "redis.sock")
        self.aclfile = aclfile
        self.loaded = acl.parse_lines(loaded)
        self.commands = []
        self.refuse_load = None
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(self.path)
        self.server.listen(4)
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while True:
            try:
                conn = self.server.accept()[0]
            except OSError:
                return
            default = acl.user_state(self.loaded.get("default", "user default off"))
            session = {"user": "default" if default["enabled"] and default["nopass"] else None}
            with conn, conn.makefile("rb") as reader:
                while True:
                    try:
                        args = acl.read_reply(reader)
                    except ModuleError:
                        break
                    conn.sendall(self.answer(args, session))

    def answer(self, args, session):
        name = " ".join(args[:2]).upper() if args[0].upper() in ("CONFIG", "ACL") else args[0].upper()
        self.commands.append(name)
        if name == "AUTH":
            state = acl.user_state(self.loaded.get(args[1], "user x off"))
            if state["enabled"] and acl.password_hash(args[2]) in state["hashes"]:
                session["user"] = args[1]
                return b"+OK\r\n"
            return b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
        if session["user"] is None:
            return b"-NOAUTH Authentication required.\r\n"
        if name == "CONFIG GET":
            return acl.encode_command(["aclfile", self.aclfile or ""])
        if name == "ACL LIST":
            return acl.encode_command([self.loaded[user] for user in sorted(self.loaded)])
        if name == "ACL LOAD":
            if self.refuse_load:
                return b"-ERR %s\r\n" % self.refuse_load.encode()
            with open(self.aclfile) as handle:
                self.loaded = acl.parse_lines(handle.read())
            return b"+OK\r\n"
        return b"-ERR unknown command\r\n"

    def close(self):
        self.server.close()


@pytest.fixture
def env(monkeypatch):
    directory = tempfile.mkdtemp(prefix="racl", dir="/tmp")  # unix socket paths must stay short
    aclfile = os.path.join(directory, "users.acl")
    group = grp.getgrgid(os.getgid()).gr_name
    monkeypatch.setattr(acl.os, "fchown", lambda fd, uid, gid: None)
    monkeypatch.setattr(acl.os, "chown", lambda path, uid, gid: None)

    class Env:
        pass

    e = Env()
    e.aclfile, e.group = aclfile, group
    e.redis = FakeRedis(directory, aclfile)
    e.params = lambda **kw: dict(
        {
            "users": [dict(ADMIN), {"name": "default", "enabled": False}],
            "sites": [{"domain": "a.example", "password": SECRET}],
            "site_commands": list(acl.DEFAULT_SITE_COMMANDS),
            "aclfile": aclfile,
            "group": group,
            "socket": e.redis.path,
            "login_user": "admin",
            "reload": True,
        },
        **kw,
    )
    yield e
    e.redis.close()
    shutil.rmtree(directory)


def read(path):
    with open(path) as handle:
        return handle.read()


def test_first_run_writes_the_file_without_a_server_using_it(env):
    env.redis.aclfile = ""  # Debian's initial configuration: no aclfile
    result = reconcile(env.params())
    assert result["changed"] is True and result["reloaded"] is False
    assert result["added"] == ["a_example", "admin", "default"]
    assert env.redis.commands == ["AUTH", "CONFIG GET"]  # the login fails; the password-less default user answers
    assert oct(os.stat(env.aclfile).st_mode & 0o777) == "0o640"
    assert SECRET not in read(env.aclfile)


def test_no_server_listening_only_writes(env):
    env.redis.close()
    os.unlink(env.redis.path)
    result = reconcile(env.params())
    assert result["changed"] is True and result["reloaded"] is False
    assert "user a_example on #%s" % SECRET_HASH in read(env.aclfile)


def test_loads_into_the_server_that_uses_the_file_then_is_idempotent(env):
    env.redis.loaded = acl.parse_lines("user admin on >adminpw ~* &* +@all\n")
    first = reconcile(env.params(), want_diff=True)
    assert first["changed"] is True and first["reloaded"] is True
    assert env.redis.commands == ["AUTH", "CONFIG GET", "ACL LIST", "AUTH", "ACL LOAD"]  # ACL LOAD logs in anew
    assert set(env.redis.loaded) == {"admin", "default", "a_example"}
    assert "#<new password hash>" in first["diff"]["after"] and SECRET_HASH not in first["diff"]["after"]
    mtime = os.stat(env.aclfile).st_mtime_ns
    second = reconcile(env.params())
    assert second["changed"] is False and second["reloaded"] is False
    assert (second["added"], second["updated"], second["removed"]) == ([], [], [])
    assert os.stat(env.aclfile).st_mtime_ns == mtime
    assert env.redis.commands[-1] == "ACL LIST"


def test_server_drift_is_reloaded_although_the_file_is_unchanged(env):
    env.redis.loaded = acl.parse_lines("user admin on >adminpw ~* &* +@all\n")
    reconcile(env.params())
    env.redis.loaded["intruder"] = "user intruder on nopass ~* +@all"
    result = reconcile(env.params())
    assert result["changed"] is True and result["reloaded"] is True
    assert result["added"] == result["updated"] == result["removed"] == []
    assert "intruder" not in env.redis.loaded


def test_refused_acl_load_restores_the_previous_file(env):
    env.redis.loaded = acl.parse_lines("user admin on >adminpw ~* &* +@all\n")
    reconcile(env.params())
    before = read(env.aclfile)
    env.redis.refuse_load = "/x/users.acl:2: Error in applying operation '+nosuch'"
    with pytest.raises(ModuleError) as info:
        reconcile(env.params(site_commands=["+@all", "+nosuch"]))
    assert "Redis refused the ACL file (ACL LOAD): ERR /x/users.acl:2: Error in applying" in info.value.msg
    assert "the previous file was restored" in info.value.msg
    assert info.value.details["redis_error"].startswith("ERR /x/users.acl:2")
    assert read(env.aclfile) == before


def test_refused_first_file_is_removed(env):
    env.redis.loaded = acl.parse_lines("user admin on >adminpw ~* &* +@all\n")
    env.redis.refuse_load = "bad"
    with pytest.raises(ModuleError) as info:
        reconcile(env.params())
    assert "the new file was removed" in info.value.msg
    assert not os.path.exists(env.aclfile)


def test_login_refused_by_the_server_using_the_file(env):
    env.redis.loaded = acl.parse_lines("user admin on >other ~* &* +@all\nuser default on nopass ~* +@all\n")
    with pytest.raises(ModuleError) as info:
        reconcile(env.params())
    assert info.value.msg == "cannot log in to Redis at %s as 'admin': WRONGPASS invalid username-password pair " \
        "or user is disabled" % env.redis.path  # fmt: skip
    assert not os.path.exists(env.aclfile)


def test_wrong_login_changes_nothing(env):
    env.redis.loaded = acl.parse_lines("user admin on >other ~* &* +@all\n")
    with pytest.raises(ModuleError) as info:
        reconcile(env.params())
    assert "cannot log in to Redis at %s as 'admin': WRONGPASS" % env.redis.path in info.value.msg
    assert not os.path.exists(env.aclfile)
    # Rotating the admin password: the previous one logs in, the new one is written and loaded.
    result = reconcile(env.params(login_password="other"))
    assert result["reloaded"] is True
    assert acl.user_state(env.redis.loaded["admin"])["hashes"] == {acl.password_hash("adminpw")}


def test_check_mode_predicts_and_touches_nothing(env):
    env.redis.loaded = acl.parse_lines("user admin on >adminpw ~* &* +@all\n")
    result = reconcile(env.params(), check_mode=True, want_diff=True)
    assert result["changed"] is True and result["reloaded"] is True
    assert result["diff"]["before"] == ""
    assert not os.path.exists(env.aclfile)
    assert "ACL LOAD" not in env.redis.commands


def test_wrong_mode_is_fixed_without_reload(env):
    env.redis.aclfile = ""
    reconcile(env.params())
    os.chmod(env.aclfile, 0o644)
    result = reconcile(env.params())
    assert result["changed"] is True and result["reloaded"] is False and result["updated"] == []
    assert os.stat(env.aclfile).st_mode & 0o777 == 0o640


def test_validate_only_reads_nothing(env):
    result = reconcile(env.params(sites=[{"domain": "Shop.Example"}], users=[], validate_only=True))
    site = {"domain": "shop.example", "state": "present", "redis_user": "shop_example", "redis_prefix": "shop_example:"}
    assert result == {"changed": False, "sites": [site]}
    assert env.redis.commands == [] and not os.path.exists(env.aclfile)


def test_reload_without_a_login_password_is_an_error(env):
    with pytest.raises(ModuleError) as info:
        reconcile(env.params(users=[]))
    assert info.value.errors == [
        "login_password: required to run ACL LOAD (no present entry of users named 'admin' has a password); "
        "or set reload=false"
    ]


def test_missing_group_is_an_error(env):
    with pytest.raises(ModuleError) as info:
        reconcile(env.params(group="no-such-group-here"))
    assert "group no-such-group-here does not exist" in info.value.msg


def test_a_server_that_does_not_answer_times_out():
    directory = tempfile.mkdtemp(prefix="racl", dir="/tmp")
    path = os.path.join(directory, "mute.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    try:
        conn = acl.connect(path, timeout=0.2)
        with pytest.raises(ModuleError) as info:
            conn.call("AUTH", "admin", "secret")
        assert info.value.msg.startswith("lost the connection to Redis during AUTH: ")
        conn.close()
        assert acl.connect(os.path.join(directory, "missing.sock")) is None
    finally:
        server.close()
        shutil.rmtree(directory)
