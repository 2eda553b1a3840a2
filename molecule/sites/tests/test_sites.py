"""The full stack as its users see it: sites served, logins, caches, isolation, WordPress's own health, removal."""

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

CREDENTIALS = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "credentials"
SFTP_KEY = str(Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "sftp_ed25519")
# A real client without the controller's ssh_config, keys or known hosts.
SSH_CLIENT_OPTIONS = (
    "-F", "/dev/null", "-i", SFTP_KEY, "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=no",
    "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5",
)  # fmt: skip
ANSIBLE_BIN = Path(sys.executable).parent
BLOG, SHOP, STATIC, OLD, GONE = (
    "blog.example.test",
    "shop.example.test",
    "static.example.test",
    "old-blog.example.test",
    "gone.example.test",
)


def headers(result):
    lines = result.stdout.split("\r\n\r\n")[0].splitlines()
    status = int(lines[0].split()[1])
    fields = (line.split(":", 1) for line in lines[1:] if ":" in line)
    return status, {name.lower(): value.strip() for name, value in fields}


def secret(name):
    return (CREDENTIALS / name).read_text().rstrip("\n")


def test_each_domain_serves_its_own_site(curl, host):
    blog = curl(f"https://{BLOG}/")
    assert "<title>The wpzo Blog" in blog.stdout
    shop = curl(f"http://{SHOP}/")
    assert "<title>Shop of wpzo" in shop.stdout
    host.run(f"runuser -u static_example_test -- sh -c 'echo static-ok > /srv/www/{STATIC}/public/index.html'")
    assert curl(f"https://{STATIC}/").stdout.strip() == "static-ok"


def test_tls_sites_redirect_http_to_https(curl):
    status, found = headers(curl(f"http://{BLOG}/hello?x=1", "-D", "-", "-o", "/dev/null"))
    assert status == 301 and found["location"] == f"https://{BLOG}/hello?x=1"


def test_aliases_and_redirect_sites_answer_301_to_the_primary(curl):
    status, found = headers(curl(f"https://www.{BLOG}/a/b", "-D", "-", "-o", "/dev/null"))
    assert status == 301 and found["location"] == f"https://{BLOG}/a/b"
    status, found = headers(curl(f"http://{OLD}/some/path?q=1", "-D", "-", "-o", "/dev/null"))
    assert status == 301 and found["location"] == f"https://{BLOG}/some/path?q=1"


def test_an_unknown_name_gets_no_answer(curl):
    assert curl("http://unknown.example.test/").returncode == 52


@pytest.fixture(scope="module")
def admin_cookies(curl):
    with tempfile.TemporaryDirectory() as work:
        password = Path(work) / "pwd"
        password.write_text(secret("wordpress/blog_example_test-admin"))
        jar = Path(work) / "jar"
        login = curl(
            f"https://{BLOG}/wp-login.php", "-D", "-", "-o", "/dev/null", "-c", str(jar),
            "-b", "wordpress_test_cookie=WP%20Cookie%20check", "--data-urlencode", "log=siteadmin",
            "--data-urlencode", f"pwd@{password}", "--data-urlencode", "testcookie=1",
        )  # fmt: skip
        yield login, jar.read_text()


def test_admin_logs_in_with_the_stored_password(admin_cookies):
    login, jar = admin_cookies
    assert headers(login)[0] == 302
    assert "wordpress_logged_in_" in jar


def test_page_cache_hits_for_visitors_and_is_bypassed_when_logged_in(curl, admin_cookies):
    curl(f"https://{BLOG}/?p=1")
    first = headers(curl(f"https://{BLOG}/", "-D", "-", "-o", "/dev/null"))[1]["x-cache-status"]
    second = headers(curl(f"https://{BLOG}/", "-D", "-", "-o", "/dev/null"))[1]["x-cache-status"]
    assert (first, second) in (("MISS", "HIT"), ("HIT", "HIT"))
    logged_in = next(line for line in admin_cookies[1].splitlines() if "wordpress_logged_in_" in line).split("\t")
    found = headers(curl(f"https://{BLOG}/", "-D", "-", "-o", "/dev/null", "-b", f"{logged_in[5]}={logged_in[6]}"))[1]
    assert found["x-cache-status"] == "BYPASS"


PUBLISH = r"""<?php
$_SERVER['HTTP_HOST'] = 'blog.example.test';
require '/srv/www/blog.example.test/public/wp-load.php';
wp_insert_post(array('post_title' => 'Fresh from the purge test', 'post_status' => 'publish', 'post_author' => 1));
"""


def test_publishing_a_post_purges_the_page_cache(curl, host):
    curl(f"https://{BLOG}/")
    cached = curl(f"https://{BLOG}/", "-D", "-")
    assert headers(cached)[1]["x-cache-status"] == "HIT"
    assert "Fresh from the purge test" not in cached.stdout
    host.run(
        f"runuser -u blog_example_test -- tee /srv/www/{BLOG}/private/publish.php > /dev/null <<'EOF'\n{PUBLISH}EOF"
    )
    published = host.run(f"runuser -u blog_example_test -- php /srv/www/{BLOG}/private/publish.php")
    assert published.rc == 0, published.stderr
    deadline = time.monotonic() + 10
    page = curl(f"https://{BLOG}/", "-D", "-")
    while "Fresh from the purge test" not in page.stdout and time.monotonic() < deadline:
        time.sleep(0.5)
        page = curl(f"https://{BLOG}/", "-D", "-")
    assert "Fresh from the purge test" in page.stdout, "the page cache still serves the page from before the post"
    assert headers(page)[1]["x-cache-status"] in ("MISS", "EXPIRED")


def test_object_cache_holds_keys_under_the_sites_prefix(curl, host):
    curl(f"https://{BLOG}/")
    with tempfile.NamedTemporaryFile("w") as auth:
        auth.write(secret("redis/admin"))
        auth.flush()
        subprocess.run(["docker", "cp", auth.name, f"{host.backend.get_hostname()}:/root/.redis-admin"], check=True)
    try:
        found = host.check_output(
            'REDISCLI_AUTH="$(cat /root/.redis-admin)" redis-cli -s /run/redis/wpzo-cache.sock --user admin '
            "--no-auth-warning --scan --pattern '*'"
        ).splitlines()
    finally:
        host.run("rm -f /root/.redis-admin")
    # WordPress wrote them over the socket the redis role was given (redis_socket); Debian's default is not there.
    assert found, "no keys in Redis"
    assert all(key.startswith("blog_example_test:") for key in found), found
    assert not host.file("/run/redis/redis-server.sock").exists


def test_site_databases_have_the_collation_of_the_mariadb_role(host):
    """mariadb_collation (utf8mb4_general_ci in this scenario, not the default) reaches the sites' databases."""
    found = host.check_output(
        'mariadb --batch --skip-column-names --execute "SELECT SCHEMA_NAME, DEFAULT_CHARACTER_SET_NAME,'
        " DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA"
        " WHERE SCHEMA_NAME IN ('wp_blog_example_test', 'wp_shop_example_test')"
        ' ORDER BY SCHEMA_NAME"'
    ).splitlines()
    assert [line.split("\t") for line in found] == [
        ["wp_blog_example_test", "utf8mb4", "utf8mb4_general_ci"],
        ["wp_shop_example_test", "utf8mb4", "utf8mb4_general_ci"],
    ]


def test_one_sites_php_cannot_read_another_sites_files_or_database(curl, host):
    probe = (
        "<?php\n"
        "$theirs = @file_get_contents('/srv/www/blog.example.test/public/wp-config.php');\n"
        "echo $theirs === false ? 'file:denied' : 'file:READ';\n"
        "require __DIR__ . '/wp-config.php';\n"
        "mysqli_report(MYSQLI_REPORT_OFF);\n"
        "$db = @new mysqli('localhost', DB_USER, DB_PASSWORD, 'wp_blog_example_test');\n"
        "echo $db->connect_errno ? ' db:denied' : ' db:OPEN';\n"
    )
    host.run(
        f"runuser -u shop_example_test -- tee /srv/www/{SHOP}/public/isolation.php > /dev/null <<'EOF'\n{probe}EOF"
    )
    assert curl(f"http://{SHOP}/isolation.php").stdout == "file:denied db:denied"
    host.run(f"rm -f /srv/www/{SHOP}/public/isolation.php")


SITE_HEALTH = r"""<?php
define('WP_ADMIN', true);
$_SERVER['HTTP_HOST'] = 'blog.example.test';
$_SERVER['HTTPS'] = 'on';
require '/srv/www/blog.example.test/public/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/admin.php';
require_once ABSPATH . 'wp-admin/includes/class-wp-site-health.php';
wp_set_current_user(1);
$health = WP_Site_Health::get_instance();
$results = array();
foreach (WP_Site_Health::get_tests()['direct'] as $name => $test) {
    if (is_string($test['test']) && method_exists($health, 'get_test_' . $test['test'])) {
        $result = call_user_func(array($health, 'get_test_' . $test['test']));
    } elseif (is_callable($test['test'])) {
        $result = call_user_func($test['test']);
    } else {
        continue;
    }
    $results[$name] = $result['status'];
}
echo json_encode($results);
"""

# Site Health tests that need the internet, which the test server has not: each named here on purpose.
NEEDS_INTERNET = {
    "background_updates",  # asks WordPress.org whether updates can run
    "dotorg_communication",  # communication with WordPress.org
}


def test_wordpress_site_health_reports_no_critical_problem(host):
    host.run(
        f"runuser -u blog_example_test -- tee /srv/www/{BLOG}/tmp/site-health.php > /dev/null <<'EOF'\n{SITE_HEALTH}EOF"
    )
    output = host.check_output(f"runuser -u blog_example_test -- php8.2 /srv/www/{BLOG}/tmp/site-health.php")
    results = json.loads(output[output.index("{") :])
    assert len(results) > 10
    critical = {name for name, status in results.items() if status == "critical"}
    assert critical <= NEEDS_INTERNET, f"critical Site Health results: {sorted(critical - NEEDS_INTERNET)}"


def test_a_site_whose_core_was_removed_gets_it_back_from_the_controllers_archive(host, curl, ansible_playbook):
    """With sites_wordpress_src, the archive is copied to the server only while a WordPress site has no core."""
    archive = {"sites_wordpress_src": str(Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "wordpress.tar.gz")}
    copied = host.file("/var/lib/wpzo/wordpress/wordpress.tar.gz")
    ansible_playbook(SITES_PLAYBOOK, "-e", f"site={SHOP}", extra_vars=archive)
    assert not copied.exists
    host.check_output(f"rm -r /srv/www/{SHOP}/public/wp-includes")
    ansible_playbook(SITES_PLAYBOOK, "-e", f"site={SHOP}", extra_vars=archive)
    assert copied.exists
    assert host.file(f"/srv/www/{SHOP}/public/wp-includes/version.php").exists
    assert "<title>Shop of wpzo" in curl(f"http://{SHOP}/").stdout


SITES_PLAYBOOK = "playbooks/sites.yml"


def inventory_sites():
    command = [
        str(ANSIBLE_BIN / "ansible-inventory"),
        "-i",
        os.environ["MOLECULE_INVENTORY_FILE"],
        "--host",
        "wpzo-sites",
    ]
    return json.loads(subprocess.check_output(command))["wpzo_sites"]


def sftp(instance_ip, *commands, user="blog_example_test"):
    """An SFTP session as the blog's user with the key of the person the blog lists; stops at the first failure."""
    return subprocess.run(
        ["sftp", *SSH_CLIENT_OPTIONS, "-b", "-", f"{user}@{instance_ip}"],
        input="\n".join(commands) + "\n", capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_sftp_upload_is_served_and_shared_with_the_sites_php(instance_ip, curl, host, tmp_path):
    page = tmp_path / "sftp-upload.html"
    page.write_text("uploaded-over-sftp\n")
    upload = sftp(instance_ip, "pwd", f"put {page} sftp-upload.html")
    assert upload.returncode == 0, upload.stderr
    assert "Remote working directory: /public" in upload.stdout
    assert curl(f"https://{BLOG}/sftp-upload.html").stdout == "uploaded-over-sftp\n"
    # The site's PHP may change what was uploaded, and an upload may replace what WordPress wrote.
    uploaded = f"/srv/www/{BLOG}/public/sftp-upload.html"
    assert host.run(f"runuser -u blog_example_test -- sh -c 'echo by-php >> {uploaded}'").rc == 0
    host.run(f"runuser -u blog_example_test -- sh -c 'echo php-made > /srv/www/{BLOG}/public/wp-content/by-php.txt'")
    page.write_text("replaced-over-sftp\n")
    assert sftp(instance_ip, f"put {page} wp-content/by-php.txt").returncode == 0
    assert host.file(f"/srv/www/{BLOG}/public/wp-content/by-php.txt").content_string == "replaced-over-sftp\n"
    # The web server still only reads the site's files.
    assert host.run(f"runuser -u www-data -- sh -c 'echo x >> {uploaded}'").rc != 0
    host.run(f"rm -f {uploaded} /srv/www/{BLOG}/public/wp-content/by-php.txt")


def test_sftp_login_is_jailed_in_its_site_and_has_no_shell(instance_ip, host):
    shell = subprocess.run(
        ["ssh", *SSH_CLIENT_OPTIONS, f"blog_example_test@{instance_ip}", "cat /etc/passwd"],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert "root:x:0:0" not in shell.stdout
    assert "This service allows sftp connections only." in shell.stdout + shell.stderr
    assert sftp(instance_ip, "ls /logs").returncode == 0  # its own site's tree
    for outside in ("ls /etc", "ls /srv/www", f"ls /srv/www/{SHOP}", "get /etc/passwd"):
        assert sftp(instance_ip, outside).returncode != 0, outside
    # The key only opens the site that lists it; a site that lists nobody takes no SFTP login.
    assert sftp(instance_ip, "pwd", user="shop_example_test").returncode != 0
    assert "# blogdev\nssh-ed25519 " in host.file("/etc/ssh/wpzo-sftp/blog_example_test").content_string


def test_a_person_taken_off_the_list_can_no_longer_log_in(instance_ip, host, ansible_playbook):
    sites = [dict(site, sftp=[]) if site["domain"] == BLOG else site for site in inventory_sites()]
    ansible_playbook(SITES_PLAYBOOK, extra_vars={"wpzo_sites": sites})
    assert sftp(instance_ip, "pwd").returncode != 0
    assert not host.file("/etc/ssh/wpzo-sftp/blog_example_test").exists
    assert "wpzo-sftp" not in host.user("blog_example_test").groups


def test_removing_a_site_leaves_its_backup_and_nothing_else(host, curl, ansible_playbook):
    host.run(f"runuser -u gone_example_test -- sh -c 'echo precious > /srv/www/{GONE}/public/index.html'")
    sites = [dict(site, state="absent") if site["domain"] == GONE else site for site in inventory_sites()]
    ansible_playbook(SITES_PLAYBOOK, extra_vars={"wpzo_sites": sites})
    backups = host.check_output(f"ls /var/lib/wpzo/removed | grep '^{GONE}-' || true").split()
    assert len(backups) == 1
    listing = host.check_output(f"tar -tzf /var/lib/wpzo/removed/{backups[0]}")
    assert f"{GONE}/public/index.html" in listing
    assert host.check_output(f"tar -xzOf /var/lib/wpzo/removed/{backups[0]} {GONE}/public/index.html") == "precious"
    assert not host.file(f"/srv/www/{GONE}").exists
    assert not host.user("gone_example_test").exists
    assert not host.group("gone_example_test").exists
    assert not host.file(f"/etc/nginx/wpzo/sites/{GONE}.conf").exists
    assert curl(f"http://{GONE}/").returncode == 52
    again = ansible_playbook(SITES_PLAYBOOK, extra_vars={"wpzo_sites": sites})
    assert again.recap["changed"] == 0


def test_letsencrypt_site_has_a_certificate_from_the_acme_server(instance_ip, host):
    handshake = subprocess.run(
        ["openssl", "s_client", "-connect", f"{instance_ip}:443", "-servername", "secure.example.test"],
        input="", capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert "Pebble" in handshake.stdout, handshake.stdout[-2000:]
    renewal = host.file("/etc/letsencrypt/renewal/secure.example.test.conf").content_string
    assert "server = https://127.0.0.1:14000/dir" in renewal
    assert host.file("/etc/letsencrypt/renewal-hooks/deploy/wpzo-nginx-reload").mode == 0o755
