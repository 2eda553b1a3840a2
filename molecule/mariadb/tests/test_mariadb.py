"""What an operator and the sites of a server converged with wpzo.hosting.mariadb see."""

import base64
import gzip
import hashlib
import io
import os
import subprocess
import time

import pytest

CREDENTIALS = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "credentials")
FIRST_CREDENTIALS = CREDENTIALS + "-first"
DUMP_DIR = "/var/lib/wpzo/backups/mariadb"
# Given in converge.yml, as from vault.
QUOTED_SITE_GIVEN = 'it\'s "q" \\ $HOME %s 100% `x`'
# domain -> database, also the name of its user
LONG_DOMAIN = "a-very-long-subdomain-name-for-testing-limits.customer-department.example"
LONG_DATABASE = "wp_a_very_long_subdomain_name_for_testing_limi_e47b3a44"  # 64 characters escaped in GRANT
LONG_USER = "wp_a_very_long_subdomain_name_for_testing_limits_customer_department_example"  # 76: fits 80
SITES = {
    "alpha.example": "wp_alpha_example",
    "beta.example": "wp_beta_example",
    "quoted.example": "wp_quoted_example",
}


def sql(host, statement):
    """Run SQL as root inside the instance (unix socket, no password) and return the rows."""
    out = host.check_output("mariadb --batch --skip-column-names --execute %s", statement)
    return [line.split("\t") for line in out.splitlines()]


def variables(host, *names):
    rows = sql(host, "SHOW GLOBAL VARIABLES WHERE Variable_name IN (%s)" % ", ".join("'%s'" % n for n in names))
    return dict(rows)


def password_of(user):
    if user == "wp_quoted_example":
        return QUOTED_SITE_GIVEN
    with open(os.path.join(CREDENTIALS, "mariadb", user)) as handle:
        return handle.read().rstrip("\n")


def option_file_value(value):
    """A value for a MariaDB option file: double-quoted, backslash and double quote escaped."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@pytest.fixture(scope="module")
def as_site(instance_name, host):
    """Run the mariadb client inside the instance as a site's user.

    The password goes into a 0600 defaults file written through standard input: never on a command line.
    """
    written = []

    def run(user, database, statement, background=False):
        path = "/root/.verify-%s.cnf" % user
        if path not in written:
            content = "[client]\nuser=%s\npassword=%s\n" % (user, option_file_value(password_of(user)))
            subprocess.run(
                ["docker", "exec", "-i", instance_name, "sh", "-c", "umask 077 && cat > " + path],
                input=content,
                text=True,
                check=True,
            )
            written.append(path)
        command = ["docker", "exec", instance_name, "mariadb", "--defaults-file=" + path, database, "--execute"]
        if background:
            return subprocess.Popen([*command, statement], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        return subprocess.run([*command, statement], capture_output=True, text=True, check=False)

    yield run
    for path in written:
        host.run("rm -f %s", path)


def test_a_check_diff_run_on_the_converged_server_changes_nothing(check_run):
    check_run.assert_changed_nothing()


# --- secure installation ---------------------------------------------------------------------------------
def test_root_cannot_log_in_over_tcp(host):
    for extra in ("", "--password=prepare-root-password"):
        result = host.run("mariadb --no-defaults -h 127.0.0.1 -u root %s --execute 'SELECT 1'" % extra)
        assert result.rc != 0
        assert "Access denied for user 'root'" in result.stderr


def test_root_is_unix_socket_only_and_local_only(host):
    assert sql(host, "SELECT Host, plugin FROM mysql.user WHERE User = 'root'") == [["localhost", "unix_socket"]]
    assert sql(host, "SELECT CURRENT_USER()") == [["root@localhost"]]


def test_no_anonymous_users_and_no_test_database(host):
    assert sql(host, "SELECT COUNT(*) FROM mysql.user WHERE User = ''") == [["0"]]
    assert sql(host, "SHOW DATABASES LIKE 'test'") == []


def test_root_client_config_is_private_and_passwordless(host):
    config = host.file("/root/.my.cnf")
    assert config.mode == 0o600 and config.user == "root"
    assert "socket = /run/mysqld/mysqld.sock" in config.content_string
    assert "password" not in config.content_string.replace("no password", "")


# --- network ---------------------------------------------------------------------------------------------
def test_only_loopback_listens_on_3306(host):
    listeners = host.check_output("ss -Hltn 'sport = :3306'").splitlines()
    assert [line.split()[3] for line in listeners] == ["127.0.0.1:3306"]


def test_port_3306_is_closed_to_other_machines(probe, instance_ip):
    assert probe.tcp_connect(instance_ip, 3306) == "refused"


# --- settings --------------------------------------------------------------------------------------------
def test_settings_took_effect(host):
    memtotal_mb = int(host.file("/proc/meminfo").content_string.split("MemTotal:")[1].split()[0]) // 1024
    pool_mb = max(128, int(memtotal_mb * 0.02))
    values = variables(
        host,
        "character_set_server",
        "collation_server",
        "skip_name_resolve",
        "log_bin",
        "log_bin_basename",
        "binlog_format",
        "binlog_expire_logs_seconds",
        "server_id",
        "slow_query_log",
        "long_query_time",
        "innodb_buffer_pool_size",
        "innodb_log_file_size",
        "max_connections",
        "table_open_cache",
        "table_definition_cache",
        "bind_address",
    )
    assert values == {
        "character_set_server": "utf8mb4",
        "collation_server": "utf8mb4_unicode_ci",
        "skip_name_resolve": "ON",
        "log_bin": "ON",
        "log_bin_basename": "/var/log/mysql/mariadb-bin",
        "binlog_format": "ROW",
        "binlog_expire_logs_seconds": "604800",
        "server_id": "1",
        "slow_query_log": "ON",
        "long_query_time": "2.000000",
        "innodb_buffer_pool_size": str(pool_mb * 1024 * 1024),
        "innodb_log_file_size": str(max(96, min(2048, pool_mb // 4)) * 1024 * 1024),
        "max_connections": "300",
        "table_open_cache": "8000",
        "table_definition_cache": "8000",
        "bind_address": "127.0.0.1",
    }


def test_open_files_limit_is_raised_as_far_as_the_host_allows(host):
    assert host.check_output("systemctl show mariadb -p LimitNOFILE") == "LimitNOFILE=65535"
    pid = host.check_output("systemctl show mariadb -p MainPID --value")
    hard = host.check_output("awk '/Max open files/ {print $5}' /proc/%s/limits", pid)
    (limit,) = variables(host, "open_files_limit").values()
    assert int(limit) == min(65535, int(hard))


def test_config_checker_rejects_bad_options_and_values(host):
    checker = "/usr/local/lib/wpzo/mariadb-check-config"
    assert host.run("%s /etc/mysql/mariadb.conf.d/90-wpzo.cnf", checker).rc == 0
    assert host.run("%s /etc/mysql/my.cnf", checker).rc == 0
    # mariadbd --help --verbose exits 0 for the last two: the checker reads its messages too.
    for bad, message in (
        ("no_such_option = 1", "unknown variable 'no_such_option=1'"),
        ("max_connections = many", "option 'max_connections': unsigned value 0 adjusted"),
        ("innodb_buffer_pool_size = lots", "Error while setting value 'lots' to 'innodb-buffer-pool-size'"),
    ):
        host.check_output("cp /etc/mysql/mariadb.conf.d/90-wpzo.cnf /tmp/bad.cnf && echo %s >> /tmp/bad.cnf", bad)
        result = host.run("%s /tmp/bad.cnf", checker)
        assert result.rc == 1, bad
        assert message in result.stderr and "/tmp/bad.cnf rejected" in result.stderr, result.stderr
    host.run("rm -f /tmp/bad.cnf")


# --- sites -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("user", sorted(SITES.values()))
def test_site_user_works_in_its_own_database(as_site, user):
    result = as_site(user, user, "CREATE TABLE verify_t (i INT); INSERT INTO verify_t VALUES (1); DROP TABLE verify_t")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("user", "other"), [("wp_alpha_example", "wp_beta_example"), ("wp_quoted_example", "wp_old_example")]
)
def test_site_user_is_refused_on_another_sites_database(as_site, user, other):
    opened = as_site(user, other, "SELECT 1")
    assert opened.returncode != 0
    assert "Access denied for user '%s'@'localhost' to database '%s'" % (user, other) in opened.stderr
    created = as_site(user, "", "CREATE TABLE %s.verify_t (i INT)" % other)
    assert created.returncode != 0
    assert "CREATE command denied to user '%s'@'localhost'" % user in created.stderr


def test_site_accounts_and_grants(host):
    rows = sql(host, "SELECT User, Host FROM mysql.user WHERE User LIKE 'wp\\_%' ORDER BY User, Host")
    assert rows == [
        [LONG_USER, "localhost"],
        ["wp_alpha_example", "localhost"],
        ["wp_beta_example", "10.0.0.%"],
        ["wp_beta_example", "localhost"],
        ["wp_quoted_example", "localhost"],
    ]
    grants = sql(host, "SHOW GRANTS FOR 'wp_beta_example'@'10.0.0.%'")
    assert grants[1] == ["GRANT ALL PRIVILEGES ON `wp\\\\_beta\\\\_example`.* TO `wp_beta_example`@`10.0.0.%`"]
    (database,) = sql(
        host, "SELECT DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'wp_alpha_example'"
    )
    assert database == ["utf8mb4_unicode_ci"]


def test_a_long_domain_gets_a_database_its_grant_names_exactly(host, as_site):
    assert len(LONG_DATABASE.replace("_", "\\_")) == 64
    grants = sql(host, "SHOW GRANTS FOR '%s'@'localhost'" % LONG_USER)
    assert grants[1] == [
        "GRANT ALL PRIVILEGES ON `%s`.* TO `%s`@`localhost`" % (LONG_DATABASE.replace("_", "\\\\_"), LONG_USER)
    ]
    created = as_site(LONG_USER, LONG_DATABASE, "CREATE TABLE verify_t (i INT); DROP TABLE verify_t")
    assert created.returncode == 0, created.stderr


def test_site_users_have_their_connection_limits(host):
    query = "SELECT User, Host, max_user_connections FROM mysql.user WHERE User LIKE 'wp\\_%' ORDER BY User, Host"
    limits = {(user, host_name): limit for user, host_name, limit in sql(host, query)}
    assert limits[("wp_alpha_example", "localhost")] == "30"  # the default
    assert limits[("wp_beta_example", "localhost")] == limits[("wp_beta_example", "10.0.0.%")] == "3"


def test_more_connections_than_the_limit_are_refused(host, as_site):
    holders = [
        as_site("wp_beta_example", "wp_beta_example", "SELECT SLEEP(30)", background=True) for _holder in range(3)
    ]
    try:
        count = "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE User = 'wp_beta_example'"
        deadline = time.monotonic() + 20
        while sql(host, count) != [["3"]] and time.monotonic() < deadline:
            time.sleep(0.5)
        assert sql(host, count) == [["3"]]
        refused = as_site("wp_beta_example", "wp_beta_example", "SELECT 1")
        assert refused.returncode != 0
        assert "User 'wp_beta_example' has exceeded the 'max_user_connections' resource" in refused.stderr
        # Another site is not affected by beta's connections.
        assert as_site("wp_alpha_example", "wp_alpha_example", "SELECT 1").returncode == 0
    finally:
        host.run("mariadb --execute %s", "KILL CONNECTION USER 'wp_beta_example'")
        for holder in holders:
            holder.wait(timeout=40)
    assert as_site("wp_beta_example", "wp_beta_example", "SELECT 1").returncode == 0


def test_generated_passwords_are_stored_privately_and_match_the_server(host):
    for user in ("wp_alpha_example", "wp_beta_example"):
        path = os.path.join(CREDENTIALS, "mariadb", user)
        assert oct(os.stat(path).st_mode & 0o777) == "0o600"
        password = password_of(user)
        assert len(password) == 32
        inner = hashlib.sha1(password.encode(), usedforsecurity=False).digest()
        stored = "*" + hashlib.sha1(inner, usedforsecurity=False).hexdigest().upper()
        query = "SELECT DISTINCT authentication_string FROM mysql.user WHERE User = '%s'" % user  # noqa: S608
        assert sql(host, query) == [[stored]]
    assert not os.path.exists(os.path.join(CREDENTIALS, "mariadb", "wp_quoted_example"))


def test_reconverge_kept_the_stored_passwords():
    first = sorted(os.listdir(FIRST_CREDENTIALS))
    assert first == sorted([LONG_USER, "wp_alpha_example", "wp_beta_example"])
    for name in first:
        with (
            open(os.path.join(FIRST_CREDENTIALS, name)) as before,
            open(os.path.join(CREDENTIALS, "mariadb", name)) as now,
        ):
            assert before.read() == now.read()


def test_bad_input_created_nothing(host):
    assert sql(host, "SHOW DATABASES LIKE 'wp\\_fresh%'") == []
    assert sql(host, "SELECT COUNT(*) FROM mysql.user WHERE User LIKE 'wp\\_fresh%'") == [["0"]]


# --- removal ---------------------------------------------------------------------------------------------
def dumps_of(host, database):
    out = host.check_output("find %s -maxdepth 1 -name '%s-*.sql.gz' -printf '%%f %%m\\n'", DUMP_DIR, database)
    return [line.split() for line in out.splitlines()]


def dump_text(host, name):
    data = host.check_output("base64 -w0 %s/%s", DUMP_DIR, name)
    return gzip.GzipFile(fileobj=io.BytesIO(base64.b64decode(data))).read().decode()


def test_dump_directory_is_private(host):
    directory = host.file(DUMP_DIR)
    assert directory.is_directory and directory.mode == 0o700 and directory.user == "root"


def test_removed_site_lost_its_user_and_kept_its_database_with_a_dump(host):
    assert sql(host, "SELECT COUNT(*) FROM mysql.user WHERE User = 'wp_old_example'") == [["0"]]
    assert sql(host, "SELECT title FROM wp_old_example.wp_posts") == [["kept after removal"]]
    (dump,) = dumps_of(host, "wp_old_example")  # one dump: the re-converge changed nothing
    assert dump[1] == "600"
    assert "kept after removal" in dump_text(host, dump[0])


def test_purged_site_is_gone_but_in_its_dump(host):
    assert sql(host, "SELECT COUNT(*) FROM mysql.user WHERE User = 'wp_purged_example'") == [["0"]]
    assert sql(host, "SHOW DATABASES LIKE 'wp\\_purged\\_example'") == []
    (dump,) = dumps_of(host, "wp_purged_example")
    text = dump_text(host, dump[0])
    assert "CREATE DATABASE /*!32312 IF NOT EXISTS*/ `wp_purged_example`" in text
    assert "CREATE TABLE `wp_posts`" in text
    assert "only in the dump" in text
    assert text.rstrip().splitlines()[-1].startswith("-- Dump completed")
