"""What the sites and the operator of a server converged with wpzo.hosting.redis see."""

import hashlib
import ipaddress
import os
import shlex
import subprocess
from pathlib import Path

import pytest

CREDENTIALS = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "credentials", "redis")
SOCKET = "/run/redis/redis-server.sock"
ALPHA, BETA, GAMMA = "alpha_example_com", "beta_example_org", "gamma_example_net"
BETA_PASSWORD = "b'e\"t$a`\\#>%~!{x}"  # noqa: S105 - given in converge.yml


def stored(user):
    """A password from the controller's credentials store (the converge generated it there)."""
    with open(os.path.join(CREDENTIALS, user)) as handle:
        return handle.read().rstrip("\n")


def password_of(user):
    return BETA_PASSWORD if user == BETA else stored(user)


def redis(host, user, *command, password=None, tcp=False, as_user=None):
    """redis-cli on the server, the password in REDISCLI_AUTH (never an argument); returns stdout and stderr."""
    target = "-h 127.0.0.1 -p 6379" if tcp else "-s " + SOCKET
    login = "" if user is None else "--user %s" % shlex.quote(user)
    secret = password if password is not None else (password_of(user) if user else None)
    env = "REDISCLI_AUTH=%s " % shlex.quote(secret) if secret is not None else ""
    cli = "redis-cli --no-auth-warning %s %s %s" % (target, login, " ".join(shlex.quote(arg) for arg in command))
    if as_user:
        cli = "runuser -u %s -- env %s%s" % (as_user, env, cli)
        env = ""
    result = host.run(env + cli)
    return (result.stdout + result.stderr).strip()


def admin(host, *command):
    return redis(host, "admin", *command)


def test_a_check_diff_run_on_the_converged_server_changes_nothing(check_run):
    check_run.assert_changed_nothing()


def test_site_user_reads_and_writes_its_own_keys(host):
    assert redis(host, ALPHA, "SET", ALPHA + ":greeting", "hello") == "OK"
    assert redis(host, ALPHA, "GET", ALPHA + ":greeting") == "hello"


def test_the_object_cache_drop_in_commands_work(host):
    """What the object-cache drop-in sends through phpredis: AUTH, SELECT, GET, INCR, SET, SETEX, DEL."""
    generation = ALPHA + ":generation"
    key = ALPHA + ":1:options:alloptions"
    script = "\n".join(
        [
            "SELECT 0",
            "GET " + generation,
            "INCR " + generation,
            "SETEX %s 300 cached" % key,
            "GET " + key,
            "SET %s:1:posts:1 value" % ALPHA,
            "DEL %s:1:posts:1" % ALPHA,
            "MGET %s %s" % (key, generation),
            "EXPIRE %s 600" % key,
            "PING",
        ]
    )
    out = host.run(
        "printf '%%s\\n' %s | REDISCLI_AUTH=%s redis-cli --no-auth-warning -s %s --user %s"
        % (shlex.quote(script), shlex.quote(stored(ALPHA)), SOCKET, ALPHA)
    )
    assert out.rc == 0, out.stderr
    assert "NOPERM" not in out.stdout and "ERR" not in out.stdout, out.stdout
    assert "cached" in out.stdout.splitlines() and "PONG" in out.stdout.splitlines()
    assert redis(host, ALPHA, "SET", ALPHA + ":added", "1", "NX", "EX", "60") == "OK"
    assert redis(host, ALPHA, "INFO", "server").startswith("# Server")  # Redis Object Cache's diagnostics


DROP_IN_DRIVER = r"""<?php
// The object cache as WordPress drives it, through phpredis, as the site's Redis user.
define( 'ABSPATH', '/tmp/' );
define( 'WP_REDIS_PATH', '%(socket)s' );
define( 'WP_REDIS_PASSWORD', array( '%(user)s', getenv( 'WPZO_REDIS_PASSWORD' ) ) );
define( 'WP_REDIS_PREFIX', '%(user)s:' );
set_error_handler( function ( $no, $message ) { fwrite( STDERR, "PHP error: $message\n" ); exit( 3 ); } );
require '/tmp/object-cache.php';
wp_cache_init();
$cache = $GLOBALS['wp_object_cache'];
$ok = $cache->is_connected();
$ok = $ok && $cache->set( 'alloptions', array( 'siteurl' => 'https://alpha.example.com' ), 'options' );
$ok = $ok && $cache->set( 'transient', 'short-lived', 'default', 60 );
$ok = $ok && $cache->add( 'counter', 1, 'counts' ) && 3 === $cache->incr( 'counter', 2, 'counts' );
$ok = $ok && $cache->delete( 'transient' );
$fresh = new Wpzo_Object_Cache();  // a second request: read from Redis, not from the request cache
$options = $fresh->get( 'alloptions', 'options', false, $found );
$ok = $ok && $found && array( 'siteurl' => 'https://alpha.example.com' ) === $options;
$ok = $ok && false === $fresh->get( 'transient', 'default', false, $found ) && ! $found;
$ok = $ok && $fresh->flush() && false === ( new Wpzo_Object_Cache() )->get( 'alloptions', 'options' );
echo $ok ? "drop-in ok\n" : "drop-in FAILED\n";
"""


def test_the_object_cache_drop_in_works_through_phpredis(host, instance_name):
    """The collection's own drop-in (the file the sites role installs), not a list of commands: what a site's PHP
    runs."""
    OBJECT_CACHE_DROP_IN = (
        Path(__file__).resolve().parents[3] / "roles/sites/files/wordpress/object-cache.php"
    ).read_text()

    driver = DROP_IN_DRIVER % {"socket": SOCKET, "user": ALPHA}
    for path, content in (("/tmp/object-cache.php", OBJECT_CACHE_DROP_IN), ("/tmp/drive-cache.php", driver)):
        subprocess.run(
            ["docker", "exec", "-i", instance_name, "sh", "-c", "cat > " + path], input=content, text=True, check=True
        )
    host.run("chmod 0644 /tmp/object-cache.php /tmp/drive-cache.php")
    run = host.run("runuser -u alpha -- env WPZO_REDIS_PASSWORD=%s php /tmp/drive-cache.php", stored(ALPHA))
    assert run.stdout.strip() == "drop-in ok", run.stdout + run.stderr
    assert "Redis unavailable" not in run.stderr and "NOPERM" not in run.stdout + run.stderr
    generation = redis(host, "admin", "GET", ALPHA + ":generation")
    assert generation.isdigit() and int(generation) >= 1  # flush() bumped the site's generation


@pytest.mark.parametrize(
    "command",
    [
        ("SCAN", "0"),  # listed every tenant's key names (issue 12: second_localhost:generation)
        ("SCAN", "0", "MATCH", ALPHA + ":*"),
        ("RANDOMKEY",),
        ("DBSIZE",),
        ("KEYS", ALPHA + ":*"),
        ("EVAL", "while true do end", "0"),  # a busy loop blocks every site
        ("EVAL", "return redis.call('GET', KEYS[1])", "1", ALPHA + ":greeting"),
        ("EVALSHA", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "0"),
        ("FCALL", "anything", "0"),
        ("SCRIPT", "FLUSH"),
        ("SCRIPT", "KILL"),
        ("SCRIPT", "LOAD", "return 1"),
        ("PUBSUB", "CHANNELS"),
        ("PUBSUB", "NUMSUB", BETA + ":events"),
        ("PUBLISH", ALPHA + ":events", "x"),
        ("FLUSHALL",),
        ("FLUSHDB",),
        ("CONFIG", "GET", "*"),
        ("CONFIG", "SET", "maxmemory", "1"),
        ("CLIENT", "LIST"),
        ("CLIENT", "KILL", "TYPE", "normal"),
        ("OBJECT", "ENCODING", ALPHA + ":greeting"),
        ("SORT", ALPHA + ":list", "BY", "nosort", "GET", BETA + ":*"),
    ],
)
def test_site_user_may_not_list_run_code_or_administer(host, command):
    reply = redis(host, ALPHA, *command)
    assert reply.startswith("NOPERM"), reply


def test_password_with_awkward_characters_works(host):
    assert redis(host, BETA, "SET", BETA + ":k", "v") == "OK"
    assert redis(host, BETA, "GET", BETA + ":k") == "v"


@pytest.mark.parametrize(
    "command",
    [
        ("GET", BETA + ":k"),
        ("SET", BETA + ":k", "stolen"),
        ("DEL", BETA + ":k"),
        ("GET", "unprefixed"),
        ("MGET", ALPHA + ":greeting", BETA + ":k"),
        ("EXISTS", BETA + ":k"),
        ("EXPIRE", BETA + ":k", "1"),
        ("INCR", BETA + ":generation"),
        ("SETEX", BETA + ":k", "60", "stolen"),
        ("UNLINK", BETA + ":k"),
        ("PUBLISH", BETA + ":channel", "x"),
    ],
)
def test_site_user_is_refused_other_sites_keys_and_channels(host, command):
    assert redis(host, ALPHA, *command).startswith("NOPERM")
    assert redis(host, BETA, "GET", BETA + ":k") == "v"


@pytest.mark.parametrize(
    "command",
    [
        ("FLUSHALL",),
        ("FLUSHDB",),
        ("CONFIG", "GET", "maxmemory"),
        ("KEYS", "*"),
        ("ACL", "LIST"),
        ("SWAPDB", "0", "1"),
        ("FUNCTION", "FLUSH"),
    ],
)
def test_site_user_is_refused_dangerous_commands(host, command):
    assert redis(host, ALPHA, *command).startswith("NOPERM")


def test_default_user_can_do_nothing(host):
    assert redis(host, None, "PING").startswith("NOAUTH")
    assert redis(host, None, "GET", ALPHA + ":greeting", tcp=True).startswith("NOAUTH")
    assert "WRONGPASS" in redis(host, "default", "PING", password="anything")  # noqa: S106
    assert "WRONGPASS" in redis(host, ALPHA, "PING", password="wrong")  # noqa: S106


def test_socket_is_for_its_group_only(host):
    socket = host.file(SOCKET)
    assert socket.is_socket
    assert (socket.user, socket.group, socket.mode) == ("redis", "redis-clients", 0o660)
    assert redis(host, ALPHA, "PING", as_user="alpha") == "PONG"
    assert "Permission denied" in redis(host, ALPHA, "PING", as_user="outsider")


def test_listens_on_loopback_only(host):
    listeners = host.check_output("ss -H -ltnp").splitlines()
    addresses = {line.split()[3] for line in listeners}
    assert "127.0.0.1:6379" in addresses
    # Everything listening is on loopback (Docker's DNS resolver listens on 127.0.0.11 in a container).
    hosts = {address.rsplit(":", 1)[0].strip("[]").split("%")[0] for address in addresses}
    assert all(ipaddress.ip_address(host_address).is_loopback for host_address in hosts), listeners
    assert redis(host, ALPHA, "PING", tcp=True) == "PONG"


def test_not_reachable_from_another_machine(probe, instance_ip):
    assert probe.tcp_connect(instance_ip, 6379) in ("refused", "timeout")


def test_memory_limit_eviction_and_no_persistence(host):
    assert admin(host, "CONFIG", "GET", "maxmemory").splitlines() == ["maxmemory", str(96 * 1024 * 1024)]
    assert admin(host, "CONFIG", "GET", "maxmemory-policy").splitlines() == ["maxmemory-policy", "allkeys-lfu"]
    assert admin(host, "CONFIG", "GET", "save") == "save"  # and an empty value: no snapshots
    assert admin(host, "CONFIG", "GET", "appendonly").splitlines() == ["appendonly", "no"]
    assert admin(host, "CONFIG", "GET", "protected-mode").splitlines() == ["protected-mode", "yes"]


def test_aclfile_holds_hashes_of_the_stored_passwords_only(host):
    aclfile = host.file("/etc/redis/users.acl")
    assert (aclfile.user, aclfile.group, aclfile.mode) == ("root", "redis", 0o640)
    content = aclfile.content_string
    for user in ("admin", ALPHA, BETA):
        secret = password_of(user)
        assert secret not in content
        assert "#" + hashlib.sha256(secret.encode()).hexdigest() in content
    assert "user default off\n" in content
    assert "user %s on #" % ALPHA in content and " ~%s:* &%s:* -@all +auth " % (ALPHA, ALPHA) in content


def test_running_users_are_the_files(host):
    # prometheus: the metrics exporter's user (redis_monitoring_user), on by default.
    assert sorted(admin(host, "ACL", "USERS").splitlines()) == sorted(["admin", "default", "prometheus", ALPHA, BETA])


def test_monitoring_user_reads_no_key_and_runs_no_command_it_does_not_need(host):
    rules = next(line for line in admin(host, "ACL", "LIST").splitlines() if line.startswith("user prometheus "))
    assert "~" not in rules and "+@all" not in rules, rules
    assert " -@all " in rules, rules


def test_removed_site_has_no_user_any_more(host):
    assert GAMMA not in admin(host, "ACL", "USERS").splitlines()
    assert "WRONGPASS" in redis(host, GAMMA, "PING")
    assert GAMMA not in host.file("/etc/redis/users.acl").content_string


def test_runtime_acl_and_config_changes_cannot_be_saved(host):
    assert admin(host, "ACL", "SAVE").startswith("ERR")
    assert admin(host, "CONFIG", "REWRITE").startswith("ERR")


def test_service_runs_enabled_with_its_sandbox(host):
    service = host.service("redis-server")
    assert service.is_running and service.is_enabled
    properties = host.check_output("systemctl show redis-server -p PrivateUsers -p ProtectSystem -p NoNewPrivileges")
    assert "PrivateUsers=no" in properties  # the container drop-in; a server keeps Debian's yes
    assert "ProtectSystem=strict" in properties and "NoNewPrivileges=yes" in properties
    assert host.file("/etc/systemd/system/redis-server.service.d/container.conf").exists


def test_redis_logs_to_the_journal(host):
    assert "Ready to accept connections" in host.check_output("journalctl -u redis-server --no-pager -o cat")
