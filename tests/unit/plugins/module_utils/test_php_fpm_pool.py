# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the pure logic behind wpzo.hosting.php_fpm_pool."""

import os
import stat

import pytest
from ansible_collections.wpzo.hosting.plugins.module_utils import managed_files, module_shell
from ansible_collections.wpzo.hosting.plugins.module_utils import php_fpm_pool as fpm
from ansible_collections.wpzo.hosting.plugins.module_utils.errors import ApplyError, ModuleError, ValidationError
from ansible_collections.wpzo.hosting.plugins.module_utils.php_fpm_pool import (
    MARKER,
    apply_plan,
    desired_state,
    ini_quote,
    ini_string,
    is_managed,
    php_ini_value,
    render_pool,
    validate_pools,
)
from disk_full import fail_a_rename

ROOT = "/srv/www/example.com"


def pool(**overrides):
    data = {"name": "example.com", "user": "web1", "root": ROOT}
    data.update(overrides)
    return data


def reconcile(pools, pool_dir, check_mode=False, want_diff=False, **kwargs):
    """What the module shell makes of compute(): applied unless in check mode, the diff only in diff mode."""
    change = fpm.compute(pools, pool_dir, check_mode=check_mode, **kwargs)
    return module_shell.finish(change, check_mode, want_diff)


def render(**overrides):
    normalized, errors = validate_pools([pool(**overrides)])
    assert errors == []
    return render_pool(normalized[0])


def errors_for(*pools):
    return validate_pools(list(pools))[1]


def managed(text="[x]\n"):
    return (MARKER + "\n" + text).encode()


class Validator:
    """Fake `php-fpm -t`: records calls, returns a fixed result."""

    def __init__(self, rc=0, stdout="", stderr=""):
        self.result = (rc, stdout, stderr)
        self.calls = 0
        self.seen = []

    def __call__(self, staged):
        self.calls += 1
        self.seen.append(staged)
        return self.result


def open_bytes(path):
    with open(path, "rb") as handle:
        return handle.read()


def snapshot(directory):
    """{name: (bytes, mode, mtime_ns)} of every entry (recursively) below directory."""
    result = {}
    for base, _dirs, files in os.walk(str(directory)):
        for name in files:
            path = os.path.join(base, name)
            st = os.lstat(path)
            data = os.readlink(path).encode() if os.path.islink(path) else open_bytes(path)
            result[os.path.relpath(path, str(directory))] = (data, stat.S_IMODE(st.st_mode), st.st_mtime_ns)
    return result


# --- rendering -----------------------------------------------------------------------------------------------
EXPECTED_DEFAULT = """\
; Managed by wpzo.hosting.php_fpm_pool - do not edit
[example.com]
user = web1
group = web1

listen = /run/php/example.com.sock
listen.owner = www-data
listen.group = www-data
listen.mode = 0660

pm = ondemand
pm.max_children = 5
pm.process_idle_timeout = 10s
pm.max_requests = 500
pm.status_path = /fpm-status
ping.path = /fpm-ping

request_terminate_timeout = 60s
request_slowlog_timeout = 5s
slowlog = /srv/www/example.com/logs/php-slow.log

chdir = /
catch_workers_output = yes

php_admin_value[open_basedir] = /srv/www/example.com
php_admin_value[upload_tmp_dir] = /srv/www/example.com/tmp
php_admin_value[session.save_path] = /srv/www/example.com/sessions
php_admin_value[sys_temp_dir] = /srv/www/example.com/tmp
php_admin_value[disable_functions] = exec,passthru,shell_exec,system,proc_open,popen,pcntl_exec,show_source,putenv,\
symlink,link
php_admin_value[memory_limit] = 256M
php_admin_value[error_log] = /srv/www/example.com/logs/php-error.log
php_admin_flag[log_errors] = on
php_admin_flag[fastcgi.logging] = off
php_admin_value[mail.force_extra_parameters] = "-i"
"""


def test_render_defaults_exact():
    assert render() == EXPECTED_DEFAULT


def test_render_starts_with_marker_and_is_managed():
    content = render()
    assert content.splitlines()[0] == MARKER
    assert is_managed(content.encode())


def test_render_dynamic_pool():
    content = render(
        pm="dynamic", max_children=10, start_servers=3, min_spare_servers=2, max_spare_servers=4, group="www"
    )
    assert "group = www\n" in content
    assert "pm = dynamic\npm.max_children = 10\npm.start_servers = 3\n" in content
    assert "pm.min_spare_servers = 2\npm.max_spare_servers = 4\npm.max_requests = 500\n" in content
    assert "process_idle_timeout" not in content


def test_render_static_pool_has_no_idle_timeout():
    content = render(pm="static", max_children=8)
    assert "pm = static\npm.max_children = 8\npm.max_requests = 500\n" in content
    assert "process_idle_timeout" not in content


def test_render_custom_paths_and_limits():
    content = render(
        listen="/run/php/custom.sock",
        listen_owner="nginx",
        listen_group="nginx",
        listen_mode="0600",
        open_basedir=[ROOT + "/public", ROOT + "/tmp"],
        memory_limit="512M",
        request_terminate_timeout="120s",
        slowlog="/var/log/php/example-slow.log",
        error_log="/var/log/php/example-error.log",
    )
    assert "listen = /run/php/custom.sock\nlisten.owner = nginx\nlisten.group = nginx\nlisten.mode = 0600\n" in content
    assert "php_admin_value[open_basedir] = /srv/www/example.com/public:/srv/www/example.com/tmp\n" in content
    assert "php_admin_value[memory_limit] = 512M\n" in content
    assert "request_terminate_timeout = 120s\n" in content
    assert "slowlog = /var/log/php/example-slow.log\n" in content
    assert "php_admin_value[error_log] = /var/log/php/example-error.log\n" in content


def test_an_empty_open_basedir_sets_none():
    content = render(open_basedir=[])
    assert "open_basedir" not in content
    assert "php_admin_value[upload_tmp_dir] = /srv/www/example.com/tmp\n" in content


def test_render_empty_status_ping_and_disable_functions_are_omitted():
    content = render(status_path="", ping_path="", disable_functions=[])
    assert "status_path" not in content
    assert "ping.path" not in content
    assert "disable_functions" not in content


def test_render_env_values_are_quoted_and_escaped():
    content = render(
        env={
            "PLAIN": "production",
            "TRICKY": 'a "quoted" $HOME ${HOME} back\\slash; x = y',
            "TRAIL": "ends\\",
            "NUM": 5,
            "FLAG": True,
            "OFF": False,
        }
    )
    assert 'env[PLAIN] = "production"\n' in content
    assert 'env[TRICKY] = "a \\"quoted\\" \\$HOME \\${HOME} back\\\\slash; x = y"\n' in content
    assert 'env[TRAIL] = "ends\\\\"\n' in content
    assert 'env[NUM] = "5"\n' in content
    assert 'env[FLAG] = "true"\n' in content
    assert 'env[OFF] = "false"\n' in content


def test_render_sorts_dict_keys_whatever_the_input_order():
    first = render(env={"B": "2", "A": "1", "C": "3"}, php_values={"z": "1", "a": "2"})
    second = render(env={"C": "3", "A": "1", "B": "2"}, php_values={"a": "2", "z": "1"})
    assert first == second
    env_lines = [line for line in first.splitlines() if line.startswith("env[")]
    assert env_lines == ['env[A] = "1"', 'env[B] = "2"', 'env[C] = "3"']
    assert first.index("php_value[a]") < first.index("php_value[z]")


def test_render_php_values_and_flags():
    content = render(
        php_admin_values={
            "max_execution_time": 120,
            "error_reporting": "E_ALL & ~E_DEPRECATED",
            "display_errors": False,
            "sendmail_path": "/usr/sbin/sendmail -t -i",
        },
        php_values={"upload_max_filesize": "64M", "short_open_tag": "Off", "opcache.enable": True},
    )
    assert "php_admin_value[max_execution_time] = 120\n" in content
    assert "php_admin_value[error_reporting] = E_ALL & ~E_DEPRECATED\n" in content
    assert "php_admin_flag[display_errors] = off\n" in content
    assert 'php_admin_value[sendmail_path] = "/usr/sbin/sendmail -t -i"\n' in content
    assert "php_value[upload_max_filesize] = 64M\n" in content
    assert "php_value[short_open_tag] = Off\n" in content
    assert "php_flag[opcache.enable] = on\n" in content
    # admin values come before user values, both after the managed settings
    assert content.index("php_admin_flag[log_errors]") < content.index("php_admin_flag[display_errors]")
    assert content.index("php_admin_value[sendmail_path]") < content.index("php_flag[opcache.enable]")


def test_render_quotes_paths_with_spaces():
    content = render(root="/srv/www/my site")
    assert 'php_admin_value[open_basedir] = "/srv/www/my site"\n' in content
    assert 'slowlog = "/srv/www/my site/logs/php-slow.log"\n' in content


@pytest.mark.parametrize(
    "value, expected",
    [
        ("/srv/www/a", "/srv/www/a"),
        ("256M", "256M"),
        ("web1", "web1"),
        ("exec,system", "exec,system"),
        ("on", '"on"'),
        ("None", '"None"'),
        ("PHP_OS", '"PHP_OS"'),
        ("a b", '"a b"'),
        ("", '""'),
        ('x"y', '"x\\"y"'),
        ("$x", '"\\$x"'),
    ],
)
def test_ini_string(value, expected):
    assert ini_string(value) == expected


@pytest.mark.parametrize(
    "value, expected",
    [
        (True, "on"),
        (False, "off"),
        (30, "30"),
        (1.5, "1.5"),
        ("E_ALL", "E_ALL"),
        ("E_ALL & ~E_NOTICE | E_STRICT", "E_ALL & ~E_NOTICE | E_STRICT"),
        ("Off", "Off"),
        ("Europe/Berlin", "Europe/Berlin"),
        ("a;b", '"a;b"'),
        ("E_ALL & x", '"E_ALL & x"'),
    ],
)
def test_php_ini_value(value, expected):
    assert php_ini_value(value) == expected


def test_ini_quote_escapes_backslash_quote_and_dollar():
    assert ini_quote('\\"$') == '"\\\\\\"\\$"'


def test_desired_state_is_deterministic_and_keyed_by_path(tmp_path):
    pools = [pool(), pool(name="b", root="/srv/www/b", env={"Y": "1", "X": "2"})]
    first = desired_state(pools, str(tmp_path))
    second = desired_state(pools, str(tmp_path))
    assert first == second
    assert sorted(first) == [str(tmp_path / "b.conf"), str(tmp_path / "example.com.conf")]
    assert first[str(tmp_path / "example.com.conf")] == EXPECTED_DEFAULT


# --- validation ----------------------------------------------------------------------------------------------
def test_valid_pool_has_no_errors_and_derived_defaults():
    normalized, errors = validate_pools([pool()])
    assert errors == []
    p = normalized[0]
    assert p["group"] == "web1"
    assert p["listen"] == "/run/php/example.com.sock"
    assert p["open_basedir"] == [ROOT]
    assert p["upload_tmp_dir"] == ROOT + "/tmp"
    assert p["sys_temp_dir"] == ROOT + "/tmp"
    assert p["session_save_path"] == ROOT + "/sessions"
    assert p["slowlog"] == ROOT + "/logs/php-slow.log"
    assert p["error_log"] == ROOT + "/logs/php-error.log"
    assert p["disable_functions"] == fpm.DEFAULT_DISABLE_FUNCTIONS
    assert p["disable_functions"] is not fpm.DEFAULT_DISABLE_FUNCTIONS


def test_explicit_none_means_default():
    normalized, errors = validate_pools([pool(group=None, listen_mode=None, disable_functions=None, env=None)])
    assert errors == []
    assert normalized[0]["group"] == "web1"
    assert normalized[0]["listen_mode"] == "0660"
    assert normalized[0]["env"] == {}


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"name": "Example.com"}, "name"),
        ({"name": "-site"}, "name"),
        ({"name": ".hidden"}, "name"),
        ({"name": "a/b"}, "name"),
        ({"name": "a b"}, "name"),
        ({"name": "a" * 65}, "name"),
        ({"user": "1web"}, "user"),
        ({"user": "web user"}, "user"),
        ({"user": "root"}, "user"),
        ({"user": "x" * 33}, "user"),
        ({"group": "root"}, "group"),
        ({"group": "bad:group"}, "group"),
        ({"listen_owner": "-x"}, "listen_owner"),
        ({"listen_group": "a b"}, "listen_group"),
        ({"root": "srv/www/x"}, "root"),
        ({"root": "/"}, "root"),
        ({"root": "/srv/www/x/"}, "root"),
        ({"root": "/srv/www/../etc"}, "root"),
        ({"root": "/srv/www/a:b"}, "root"),
        ({"listen": "php.sock"}, "listen"),
        ({"listen": "127.0.0.1:9000"}, "listen"),
        ({"listen_mode": "660"}, "listen_mode"),
        ({"listen_mode": "0999"}, "listen_mode"),
        ({"listen_mode": "432"}, "listen_mode"),
        ({"max_children": 0}, "max_children"),
        ({"max_requests": -1}, "max_requests"),
        ({"pm": "dynamic"}, "min_spare_servers"),
        ({"pm": "dynamic"}, "max_spare_servers"),
        ({"pm": "dynamic", "min_spare_servers": 4, "max_spare_servers": 2}, "min_spare_servers"),
        ({"pm": "dynamic", "min_spare_servers": 1, "max_spare_servers": 9, "max_children": 5}, "max_spare_servers"),
        ({"pm": "dynamic", "min_spare_servers": 2, "max_spare_servers": 3, "start_servers": 4}, "start_servers"),
        ({"pm": "ondemand", "min_spare_servers": 2}, "min_spare_servers"),
        ({"pm": "static", "start_servers": 2}, "start_servers"),
        ({"process_idle_timeout": "10 seconds"}, "process_idle_timeout"),
        ({"request_terminate_timeout": "-5s"}, "request_terminate_timeout"),
        ({"request_slowlog_timeout": "5x"}, "request_slowlog_timeout"),
        ({"memory_limit": "lots"}, "memory_limit"),
        ({"slowlog": "logs/slow.log"}, "slowlog"),
        ({"error_log": "/var/log/../x.log"}, "error_log"),
        ({"open_basedir": ["/etc"]}, "open_basedir"),
        ({"open_basedir": ["/srv/www/example.com2"]}, "open_basedir"),
        ({"open_basedir": [ROOT, "/srv/www"]}, "open_basedir"),
        ({"open_basedir": ["relative"]}, "open_basedir"),
        ({"open_basedir": [ROOT + "/a:/etc"]}, "open_basedir"),
        ({"upload_tmp_dir": "/tmp"}, "upload_tmp_dir"),
        ({"session_save_path": "/var/lib/php/sessions"}, "session_save_path"),
        ({"sys_temp_dir": "/tmp"}, "sys_temp_dir"),
        ({"sys_temp_dir": ROOT + "/../other/tmp"}, "sys_temp_dir"),
        ({"disable_functions": ["exec", "bad name"]}, "disable_functions"),
        ({"status_path": "fpm-status"}, "status_path"),
        ({"ping_path": "/ping me"}, "ping_path"),
        ({"env": {"BAD-KEY": "x"}}, "env"),
        ({"env": {"KEY": None}}, "env[KEY]"),
        ({"env": {"KEY": ["a"]}}, "env[KEY]"),
        ({"env": {"KEY": "line1\nline2"}}, "env[KEY]"),
        ({"php_admin_values": {"open_basedir": "/"}}, "php_admin_values[open_basedir]"),
        ({"php_values": {"disable_functions": ""}}, "php_values[disable_functions]"),
        ({"php_values": {"bad key": "1"}}, "php_values"),
        ({"php_values": {"a": "1"}, "php_admin_values": {"a": "2"}}, "php_values[a]"),
        ({"user": "web\n1"}, "user"),
        ({"memory_limit": "256M\r"}, "memory_limit"),
        ({"open_basedir": [ROOT + "/a\nb"]}, "open_basedir"),
        ({"listen": "/run/php/x\x00.sock"}, "listen"),
        ({"php_admin_values": {"x": "a\nb"}}, "php_admin_values[x]"),
    ],
)
def test_each_rejection_names_pool_and_field(overrides, field):
    errors = errors_for(pool(**overrides))
    assert errors, "expected %r to be rejected" % overrides
    assert any(": %s: " % field in error for error in errors), errors
    assert all(error.startswith("pool ") and "pools[0]" in error for error in errors)


def test_valid_edge_cases_are_accepted():
    ok = [
        pool(name="a"),
        pool(name="_private"),
        pool(name="x" * 64),
        pool(name="shop.example-site_2"),
        pool(user="www-data", group="web.users", listen_mode="0600"),
        pool(open_basedir=[ROOT, ROOT + "/public"], upload_tmp_dir=ROOT + "/tmp/uploads"),
        pool(pm="dynamic", max_children=5, min_spare_servers=1, max_spare_servers=5, start_servers=5),
        pool(max_requests=0, request_slowlog_timeout="0", memory_limit="-1", process_idle_timeout="2m"),
        pool(env={"A": 1, "B": True}, php_values={"x.y": 1.5}),
    ]
    for candidate in ok:
        assert errors_for(candidate) == [], candidate


def test_duplicate_names_and_sockets_are_reported_with_both_pools():
    errors = errors_for(
        pool(name="a", root="/srv/www/a"),
        pool(name="a", root="/srv/www/a2", listen="/run/php/other.sock"),
        pool(name="b", root="/srv/www/b", listen="/run/php/a.sock"),
    )
    assert "pool 'a' (pools[1]): name: duplicate pool name, also used by pools[0]" in errors
    assert "pool 'b' (pools[2]): listen: socket '/run/php/a.sock' is also used by pools[0]" in errors
    assert len(errors) == 2


def test_all_errors_reported_at_once():
    pools = [
        pool(name="Bad Name", root="relative"),
        pool(name="good", user="root", open_basedir=["/etc"], upload_tmp_dir="/tmp", pm="dynamic"),
        pool(name="other", root="/srv/www/other", env={"K": "a\nb"}, max_children=0),
    ]
    errors = errors_for(*pools)
    expected_fragments = [
        "pool pools[0]: name:",
        "pool pools[0]: root:",
        "pool 'good' (pools[1]): user: pools must not run as root",
        "pool 'good' (pools[1]): open_basedir: '/etc' is outside root",
        "pool 'good' (pools[1]): upload_tmp_dir: '/tmp' is outside root",
        "pool 'good' (pools[1]): min_spare_servers: is required",
        "pool 'good' (pools[1]): max_spare_servers: is required",
        "pool 'other' (pools[2]): env[K]: must not contain newlines",
        "pool 'other' (pools[2]): max_children: must be >= 1",
    ]
    for fragment in expected_fragments:
        assert any(error.startswith(fragment) for error in errors), (fragment, errors)


def test_invalid_name_or_root_does_not_cascade_into_derived_paths():
    errors = errors_for(pool(name="Bad/../name", root="relative"))
    assert [error.split(": ")[1] for error in errors] == ["name", "root"]


def test_desired_state_raises_with_every_error(tmp_path):
    with pytest.raises(ValidationError) as info:
        desired_state([pool(user="root"), pool(name="x", root="/srv/www/x", memory_limit="big")], str(tmp_path))
    assert len(info.value.errors) == 2
    assert "2 problem(s)" in info.value.msg


# --- reading and planning (the file engine with the pool marker) -------------------------------------------
def read_and_plan(pool_dir, desired, purge):
    specs = fpm.file_specs(desired)
    existing = managed_files.read_existing(specs, fpm.purge_globs(str(pool_dir), purge), is_managed)
    return existing, managed_files.plan(specs, existing, is_managed)


def write_pool_file(path, data, mode=0o640):
    path.write_bytes(data)
    path.chmod(mode)


def test_plan_added_updated_removed_unchanged(tmp_path):
    d = tmp_path
    desired = {str(d / n): MARKER + "\n" + t for n, t in (("a.conf", "A\n"), ("b.conf", "B-new\n"), ("c.conf", "C\n"))}
    write_pool_file(d / "b.conf", managed("B-old\n"))
    write_pool_file(d / "c.conf", managed("C\n"))
    write_pool_file(d / "old.conf", managed("OLD\n"))
    write_pool_file(d / "www.conf", b"[www]\nuser = www-data\n")
    _existing, result = read_and_plan(d, desired, purge=True)
    assert result.added == [str(d / "a.conf")]
    assert result.updated == [str(d / "b.conf")]
    assert result.unchanged == [str(d / "c.conf")]
    assert result.removed == [str(d / "old.conf")]
    assert result.conflicts == []
    assert result.changed


def test_plan_without_purge_removes_nothing(tmp_path):
    write_pool_file(tmp_path / "old.conf", managed())
    _existing, result = read_and_plan(tmp_path, {}, purge=False)
    assert result.removed == []
    assert not result.changed


def test_plan_nothing_to_do(tmp_path):
    content = MARKER + "\n[a]\n"
    write_pool_file(tmp_path / "a.conf", content.encode())
    _existing, result = read_and_plan(tmp_path, {str(tmp_path / "a.conf"): content}, purge=True)
    assert (result.added, result.updated, result.removed) == ([], [], [])
    assert result.unchanged == [str(tmp_path / "a.conf")]
    assert not result.changed


@pytest.mark.parametrize("mode, owner", [(0o644, None), (0o640, (1, 1)), (0o600, (0, 1))])
def test_plan_puts_back_a_mode_or_owner_changed_by_hand(tmp_path, mode, owner):
    content = MARKER + "\n[a]\n"
    write_pool_file(tmp_path / "a.conf", content.encode(), mode)
    if owner:
        os.chown(str(tmp_path / "a.conf"), *owner)
    _existing, result = read_and_plan(tmp_path, {str(tmp_path / "a.conf"): content}, purge=True)
    assert result.updated == [str(tmp_path / "a.conf")]


def test_plan_never_touches_unmarked_files(tmp_path):
    write_pool_file(tmp_path / "www.conf", b"[www]\n")
    write_pool_file(tmp_path / "late-marker.conf", b"; hand written\n" + MARKER.encode() + b"\n")
    write_pool_file(tmp_path / "indented.conf", b" " + MARKER.encode() + b"\n")
    _existing, result = read_and_plan(tmp_path, {str(tmp_path / "www.conf"): MARKER + "\n[www]\n"}, purge=True)
    assert result.removed == []
    assert result.updated == []
    assert result.conflicts == [str(tmp_path / "www.conf")]


def test_is_managed_accepts_crlf_and_exact_marker_only():
    assert is_managed(MARKER.encode() + b"\r\n[x]\n")
    assert is_managed(MARKER.encode())
    assert not is_managed(b"")
    assert not is_managed(b"; Managed by someone else\n")


def test_only_conf_files_directly_in_pool_dir_are_purged(tmp_path):
    pool_dir = tmp_path / "pool.d"
    pool_dir.mkdir()
    (pool_dir / "a.conf").write_bytes(managed())
    (pool_dir / "www.conf").write_bytes(b"[www]\n")
    (pool_dir / "notes.txt").write_bytes(managed())
    (pool_dir / ".hidden.conf").write_bytes(managed())
    (pool_dir / "sub").mkdir()
    (pool_dir / "sub" / "nested.conf").write_bytes(managed())
    (pool_dir / "dir.conf").mkdir()
    elsewhere = tmp_path / "elsewhere.conf"
    elsewhere.write_bytes(managed())
    (pool_dir / "link.conf").symlink_to(elsewhere)

    _existing, result = read_and_plan(pool_dir, {}, purge=True)
    assert result.removed == [str(pool_dir / "a.conf")]

    _existing, result = read_and_plan(pool_dir, {str(pool_dir / "a.conf"): MARKER + "\n"}, purge=False)
    assert (result.removed, result.conflicts) == ([], [])

    wanted = {str(pool_dir / "link.conf"): MARKER + "\n", str(pool_dir / "dir.conf"): MARKER + "\n"}
    existing, result = read_and_plan(pool_dir, wanted, purge=False)
    assert sorted(result.conflicts) == sorted(wanted)
    assert all(existing[path].content is None for path in wanted)  # never read, never replaced


def test_build_diff(tmp_path):
    d = tmp_path
    desired = {str(d / "a.conf"): MARKER + "\nnew-a\n", str(d / "b.conf"): MARKER + "\nnew-b\n"}
    write_pool_file(d / "b.conf", managed("old-b\n"))
    write_pool_file(d / "c.conf", managed("old-c\n"))
    existing, the_plan = read_and_plan(d, desired, purge=True)
    assert managed_files.build_diff(the_plan, fpm.file_specs(desired), existing) == [
        {
            "before_header": "/dev/null",
            "after_header": str(d / "a.conf"),
            "before": "",
            "after": desired[str(d / "a.conf")],
        },
        {
            "before_header": str(d / "b.conf"),
            "after_header": str(d / "b.conf"),
            "before": MARKER + "\nold-b\n",
            "after": desired[str(d / "b.conf")],
        },
        {"before_header": str(d / "c.conf"), "after_header": "/dev/null", "before": MARKER + "\nold-c\n", "after": ""},
    ]


# --- applying ------------------------------------------------------------------------------------------------
@pytest.fixture
def pool_dir(tmp_path):
    directory = tmp_path / "pool.d"
    directory.mkdir()
    (directory / "www.conf").write_bytes(b"[www]\nuser = www-data\n")
    old = directory / "old.conf"
    old.write_bytes(managed("[old]\n"))
    old.chmod(0o644)
    changed = directory / "b.conf"
    changed.write_bytes(managed("[b]\nstale\n"))
    changed.chmod(0o600)
    return directory


def prepare(pool_dir, purge=True):
    pools = [pool(name="a", root="/srv/www/a"), pool(name="b", root="/srv/www/b")]
    desired = desired_state(pools, str(pool_dir))
    existing, the_plan = read_and_plan(pool_dir, desired, purge)
    return desired, existing, the_plan


def test_apply_writes_renames_and_removes(pool_dir):
    desired, existing, the_plan = prepare(pool_dir)
    validator = Validator(rc=0)
    apply_plan(str(pool_dir), the_plan, fpm.file_specs(desired), existing, validator)
    assert validator.calls == 1
    assert sorted(os.listdir(str(pool_dir))) == ["a.conf", "b.conf", "www.conf"]
    for name in ("a", "b"):
        path = pool_dir / (name + ".conf")
        assert path.read_text() == desired[str(path)]
        assert stat.S_IMODE(path.stat().st_mode) == fpm.FILE_MODE
    assert (pool_dir / "www.conf").read_bytes() == b"[www]\nuser = www-data\n"


def test_apply_rolls_back_everything_when_validation_fails(pool_dir):
    before = snapshot(pool_dir)
    desired, existing, the_plan = prepare(pool_dir)
    assert the_plan.added and the_plan.updated and the_plan.removed
    validator = Validator(rc=78, stdout="", stderr="ERROR: [pool a] cannot get uid for user 'web1'")
    with pytest.raises(ApplyError) as info:
        apply_plan(str(pool_dir), the_plan, fpm.file_specs(desired), existing, validator)
    assert "cannot get uid for user 'web1'" in info.value.msg
    assert "php-fpm configuration test failed (rc=78), nothing changed" in info.value.msg
    assert info.value.details["rc"] == 78
    assert info.value.errors == []
    after = snapshot(pool_dir)
    assert sorted(after) == sorted(before)  # added a.conf deleted, old.conf back, no temp files
    for name, (data, mode, _mtime) in before.items():
        assert after[name][:2] == (data, mode), name


def test_apply_reports_stdout_when_stderr_is_empty(pool_dir):
    desired, existing, the_plan = prepare(pool_dir)
    with pytest.raises(ApplyError) as info:
        apply_plan(str(pool_dir), the_plan, fpm.file_specs(desired), existing, Validator(rc=1, stdout="bad config"))
    assert "bad config" in info.value.msg


def test_apply_rolls_back_when_a_rename_fails(pool_dir, monkeypatch):
    before = snapshot(pool_dir)
    desired, existing, the_plan = prepare(pool_dir)
    fail_a_rename(monkeypatch)
    validator = Validator()
    with pytest.raises(ApplyError) as info:
        apply_plan(str(pool_dir), the_plan, fpm.file_specs(desired), existing, validator)
    monkeypatch.undo()
    assert "No space left on device" in info.value.msg
    assert validator.calls == 1  # the test runs on the staged files, before any rename
    after = snapshot(pool_dir)
    assert sorted(after) == sorted(before)
    for name, (data, mode, _mtime) in before.items():
        assert after[name][:2] == (data, mode), name


def test_apply_without_changes_does_nothing(pool_dir):
    before = snapshot(pool_dir)
    validator = Validator(rc=1)
    apply_plan(str(pool_dir), managed_files.Plan([], [], [], [], []), [], {}, validator)
    assert validator.calls == 0
    assert snapshot(pool_dir) == before


# --- reconcile -----------------------------------------------------------------------------------------------
def fake_binary(tmp_path):
    binary = tmp_path / "php-fpm"
    binary.write_text("#!/bin/sh\nexit 0\n")
    binary.chmod(0o755)
    return str(binary)


def test_reconcile_check_mode_writes_nothing(pool_dir, tmp_path):
    before = snapshot(pool_dir)
    pools = [pool(name="a", root="/srv/www/a"), pool(name="b", root="/srv/www/b")]
    validator = Validator()
    kwargs = dict(purge=True, want_diff=True, validator=validator, php_fpm_binary=fake_binary(tmp_path))
    result = reconcile(pools, str(pool_dir), check_mode=True, **kwargs)
    assert snapshot(pool_dir) == before
    assert validator.calls == 0
    assert result["changed"] is True
    assert (result["added"], result["updated"], result["removed"]) == (["a"], ["b"], ["old"])
    assert [(entry["before_header"], entry["after_header"]) for entry in result["diff"]] == [
        ("/dev/null", str(pool_dir / "a.conf")),
        (str(pool_dir / "b.conf") + " (root:root 0600)", str(pool_dir / "b.conf") + " (root:root 0640)"),
        (str(pool_dir / "old.conf"), "/dev/null"),
    ]
    # the real run computes the same result
    assert reconcile(pools, str(pool_dir), check_mode=False, **kwargs) == result
    assert validator.calls == 1


def test_reconcile_check_mode_with_missing_pool_dir(tmp_path):
    result = reconcile([pool()], str(tmp_path / "missing"), check_mode=True)
    assert result["added"] == ["example.com"]
    assert not (tmp_path / "missing").exists()


def test_reconcile_fails_without_pool_dir(tmp_path):
    with pytest.raises(ModuleError, match="does not exist"):
        reconcile([pool()], str(tmp_path / "missing"))


def test_reconcile_rejects_relative_pool_dir():
    with pytest.raises(ValidationError, match="absolute"):
        reconcile([pool()], "pool.d")


def test_reconcile_is_idempotent(pool_dir, tmp_path):
    pools = [pool(name="a", root="/srv/www/a"), pool(name="b", root="/srv/www/b", env={"X": "1"})]
    validator = Validator()
    binary = fake_binary(tmp_path)
    first = reconcile(pools, str(pool_dir), purge=True, validator=validator, php_fpm_binary=binary)
    assert first["changed"] is True
    state = snapshot(pool_dir)
    second = reconcile(pools, str(pool_dir), purge=True, validator=validator, php_fpm_binary=binary)
    assert second == {
        "changed": False,
        "added": [],
        "updated": [],
        "removed": [],
        "pools": ["a", "b"],
        "reload_needed": False,
    }
    assert validator.calls == 1
    assert snapshot(pool_dir) == state  # unchanged files not rewritten (same mtime)


def test_reconcile_puts_back_a_pool_file_whose_mode_and_owner_were_changed_by_hand(pool_dir, tmp_path):
    pools = [pool(name="a", root="/srv/www/a")]
    kwargs = dict(validate=False, scratch_parent=str(tmp_path))
    reconcile(pools, str(pool_dir), **kwargs)
    path = pool_dir / "a.conf"
    content = path.read_bytes()
    path.chmod(0o666)
    os.chown(str(path), 1, 1)
    check = reconcile(pools, str(pool_dir), check_mode=True, want_diff=True, **kwargs)
    assert (check["changed"], check["updated"]) == (True, ["a"])
    assert check["diff"][0]["before_header"].endswith(" 0666)")
    assert check["diff"][0]["after_header"] == str(path) + " (root:root 0640)"
    assert check["diff"][0]["before"] == check["diff"][0]["after"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o666  # check mode wrote nothing
    first = reconcile(pools, str(pool_dir), **kwargs)
    assert (first["changed"], first["updated"]) == (True, ["a"])
    st = path.stat()
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o640, 0, 0)
    assert path.read_bytes() == content
    assert reconcile(pools, str(pool_dir), **kwargs)["changed"] is False


def test_reconcile_refuses_to_overwrite_unmarked_file(pool_dir, tmp_path):
    before = snapshot(pool_dir)
    with pytest.raises(ValidationError) as info:
        reconcile(
            [pool(name="a", root="/srv/www/a"), pool(name="www", root="/srv/www/www")],
            str(pool_dir),
            validator=Validator(),
            php_fpm_binary=fake_binary(tmp_path),
        )
    assert len(info.value.errors) == 1
    assert info.value.errors[0].startswith("pool 'www': ")
    assert "not managed" in info.value.errors[0]
    assert snapshot(pool_dir) == before


def test_reconcile_refuses_symlink_at_pool_path(pool_dir, tmp_path):
    target = tmp_path / "target.conf"
    target.write_bytes(managed())
    (pool_dir / "a.conf").symlink_to(target)
    with pytest.raises(ValidationError, match="unmanaged"):
        reconcile([pool(name="a", root="/srv/www/a")], str(pool_dir), validate=False)
    assert target.read_bytes() == managed()


def test_reconcile_purge_keeps_unmarked_and_foreign_files(pool_dir, tmp_path):
    sibling = tmp_path / "other.d"
    sibling.mkdir()
    (sibling / "x.conf").write_bytes(managed())
    result = reconcile([], str(pool_dir), purge=True, validate=False)
    assert sorted(result["removed"]) == ["b", "old"]
    assert sorted(os.listdir(str(pool_dir))) == ["www.conf"]
    assert (sibling / "x.conf").exists()


def test_reconcile_checks_binary_before_writing(pool_dir, tmp_path):
    before = snapshot(pool_dir)
    with pytest.raises(ModuleError, match="not an executable"):
        reconcile([pool()], str(pool_dir), validator=Validator(), php_fpm_binary=str(tmp_path / "nope"))
    assert snapshot(pool_dir) == before


def test_reconcile_validate_false_skips_validator(pool_dir):
    validator = Validator(rc=1)
    result = reconcile([pool()], str(pool_dir), validate=False, validator=validator, php_fpm_binary=None)
    assert result["added"] == ["example.com"]
    assert validator.calls == 0


def test_reconcile_rollback_restores_files(pool_dir, tmp_path):
    before = snapshot(pool_dir)
    with pytest.raises(ApplyError):
        reconcile(
            [pool(name="a", root="/srv/www/a"), pool(name="b", root="/srv/www/b")],
            str(pool_dir),
            purge=True,
            validator=Validator(rc=1, stderr="ERROR: failed"),
            php_fpm_binary=fake_binary(tmp_path),
        )
    after = snapshot(pool_dir)
    assert {k: v[:2] for k, v in after.items()} == {k: v[:2] for k, v in before.items()}


# --- staged test and reload checks ------------------------------------------------------------------------------
DEBIAN_CONF = """[global]
pid = /run/php/php8.2-fpm.pid
error_log = /var/log/php8.2-fpm.log
;include=/etc/php/8.2/fpm/other/*.conf
include=/etc/php/8.2/fpm/pool.d/*.conf
"""


def test_staged_main_config_points_the_include_at_the_staged_pools():
    text = fpm.staged_main_config(DEBIAN_CONF, "/etc/php/8.2/fpm/pool.d", "/run/wpzo-validate-x/tree")
    assert text == DEBIAN_CONF.replace(
        "include=/etc/php/8.2/fpm/pool.d/*.conf", "include=/run/wpzo-validate-x/tree/*.conf"
    )
    assert ";include=/etc/php/8.2/fpm/other/*.conf\n" in text  # comments and other includes stay


def test_staged_main_config_refuses_a_config_without_the_include():
    with pytest.raises(ApplyError, match=r"no include=/etc/php/8\.2/fpm/pool\.d/"):
        fpm.staged_main_config("[global]\ninclude=/elsewhere/*.conf\n", "/etc/php/8.2/fpm/pool.d", "/run/x")


def test_config_pid_file():
    assert fpm.config_pid_file(DEBIAN_CONF) == "/run/php/php8.2-fpm.pid"
    assert fpm.config_pid_file(';pid = /run/x.pid\npid = "/run/y.pid"\n') == "/run/y.pid"
    assert fpm.config_pid_file("[global]\n") is None


def test_apply_tests_a_copy_of_the_pool_dir_before_any_rename(pool_dir):
    desired, existing, the_plan = prepare(pool_dir)
    before = snapshot(pool_dir)
    seen = {}

    def validator(staged):
        seen["live"] = {k: v for k, v in snapshot(pool_dir).items() if not k.startswith(".wpzo-")}
        seen["copy"] = sorted(os.listdir(staged.root))
        seen["a"] = open_bytes(os.path.join(staged.root, "a.conf"))
        return 0, "", ""

    apply_plan(
        str(pool_dir), the_plan, fpm.file_specs(desired), existing, validator, scratch_parent=str(pool_dir.parent)
    )
    assert seen["live"] == before
    assert seen["copy"] == ["a.conf", "b.conf", "www.conf"]  # old.conf purged, www.conf kept
    assert seen["a"] == desired[str(pool_dir / "a.conf")].encode()


def test_a_failed_test_changes_nothing_live(pool_dir):
    before = snapshot(pool_dir)
    desired, existing, the_plan = prepare(pool_dir)
    with pytest.raises(ApplyError, match="nothing changed"):
        apply_plan(
            str(pool_dir),
            the_plan,
            fpm.file_specs(desired),
            existing,
            Validator(rc=78),
            scratch_parent=str(pool_dir.parent),
        )
    assert snapshot(pool_dir) == before  # mtimes too: nothing was renamed and restored


@pytest.fixture
def running(tmp_path):
    """A php-fpm 'master' (this test process) whose pid file was written at t=100 s."""
    pid_file = tmp_path / "php-fpm.pid"
    pid_file.write_text(str(os.getpid()))
    os.utime(str(pid_file), ns=(100 * 10**9, 100 * 10**9))
    return str(pid_file)


def age(path, seconds):
    os.utime(str(path), ns=(seconds * 10**9, seconds * 10**9))


def test_reconcile_reports_a_reload_the_killed_run_never_made(pool_dir, tmp_path, running):
    pools = [pool(name="a", root="/srv/www/a", listen=str(tmp_path / "a.sock"))]
    kwargs = dict(validate=False, pid_file=running, scratch_parent=str(tmp_path))
    first = reconcile(pools, str(pool_dir), **kwargs)
    assert first["changed"] is True and first["reload_needed"] is True and "reload_reasons" not in first
    # the killed run: the pool was written after the master's last load, no reload, no socket
    second = reconcile(pools, str(pool_dir), **kwargs)
    assert second["changed"] is True and second["added"] == [] and second["reload_needed"] is True
    assert "socket %s is missing" % (tmp_path / "a.sock") in second["reload_reasons"]
    assert "%s changed after the last load" % (pool_dir / "a.conf") in second["reload_reasons"]
    # after the reload (master rewrote its pid file, socket there): nothing to do
    (tmp_path / "a.sock").write_text("")
    age(pool_dir / "a.conf", 50)
    age(pool_dir, 50)
    third = reconcile(pools, str(pool_dir), **kwargs)
    assert (third["changed"], third["reload_needed"]) == (False, False)
    assert "reload_reasons" not in third
    # a pool removed (or a stray candidate deleted) after the last load changes the directory
    age(pool_dir, 150)
    assert reconcile(pools, str(pool_dir), **kwargs)["reload_reasons"] == ["%s changed after the last load" % pool_dir]


def test_reconcile_without_a_running_master_reports_no_reload(pool_dir, tmp_path):
    pools = [pool(name="a", root="/srv/www/a", listen=str(tmp_path / "a.sock"))]
    reconcile(pools, str(pool_dir), validate=False, scratch_parent=str(tmp_path))
    for pid_file in (None, str(tmp_path / "missing.pid")):
        result = reconcile(pools, str(pool_dir), validate=False, pid_file=pid_file, scratch_parent=str(tmp_path))
        assert (result["changed"], result["reload_needed"]) == (False, False)


def test_reconcile_removes_candidates_a_killed_run_left(pool_dir, tmp_path):
    (pool_dir / ".wpzo-abc123").write_bytes(managed())
    reconcile([pool(name="a", root="/srv/www/a")], str(pool_dir), validate=False, scratch_parent=str(tmp_path))
    assert not (pool_dir / ".wpzo-abc123").exists()
    # check mode only looks
    (pool_dir / ".wpzo-abc123").write_bytes(managed())
    reconcile([pool(name="a", root="/srv/www/a")], str(pool_dir), check_mode=True, scratch_parent=str(tmp_path))
    assert (pool_dir / ".wpzo-abc123").exists()
