"""A run that cannot read the secrets of accounts that exist refuses instead of rotating them.

A fresh clone without the credential store (or without its vault password) must not generate new passwords for
the database users, Redis users and WordPress admins the server already has: the converge stops before any change,
names the secret and says how to fix it, and the sites keep serving.
"""

import hashlib
import os
import shutil
from pathlib import Path

import pytest

CREDENTIALS = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "credentials"
BLOG, SHOP = "blog.example.test", "shop.example.test"
# What a new password would change on the server: the hashes MariaDB and Redis keep, the sites' wp-config.php.
USERS_QUERY = "SELECT User, Host, authentication_string FROM mysql.user ORDER BY 1, 2"
SERVER_STATE = (
    f"mariadb --batch --skip-column-names -e '{USERS_QUERY}'; "
    f"cat /etc/redis/users.acl /srv/www/{BLOG}/public/wp-config.php /srv/www/{SHOP}/public/wp-config.php"
)


def server_state(host):
    """A digest of the server's password hashes and configuration (never printed: it holds hashes)."""
    result = host.run(SERVER_STATE)
    assert result.rc == 0, result.stderr
    return hashlib.sha256(result.stdout.encode()).hexdigest()


def secret_files(folder):
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file())


def refused_converge(ansible_playbook, *options):
    """playbooks/site.yml, which must stop at its first task that needs a lost secret, before any change; what it
    printed."""
    run = ansible_playbook("playbooks/site.yml", *options, succeed=False)
    assert run.returncode != 0, run.tail
    assert (run.recap["changed"], run.recap["failed"]) == (0, 1), run.tail
    return run.said


@pytest.fixture
def kept_store(tmp_path):
    """A copy of the store, put back exactly after the test whatever it did to the store."""
    kept = tmp_path / "credentials"
    shutil.copytree(CREDENTIALS, kept, symlinks=True)
    try:
        yield
    finally:
        shutil.rmtree(CREDENTIALS, ignore_errors=True)
        shutil.copytree(kept, CREDENTIALS, symlinks=True)


def assert_nothing_changed(host, curl, before):
    assert server_state(host) == before
    assert "<title>The wpzo Blog" in curl(f"https://{BLOG}/").stdout
    assert "<title>Shop of wpzo" in curl(f"http://{SHOP}/").stdout


@pytest.mark.parametrize("options", [[], ["--check"]], ids=["converge", "check-mode"])
def test_a_converge_with_the_store_emptied_refuses_and_changes_nothing(
    host, curl, kept_store, ansible_playbook, options
):
    before = server_state(host)
    shutil.rmtree(CREDENTIALS)
    output = refused_converge(ansible_playbook, *options)
    # The first secret of an existing account the run reaches: the Redis administrator's, in the redis ACL step.
    assert "lacks the" in output and "redis/admin" in output, output[-3000:]
    assert "wpzo_credentials_rotate" in output and "vault password" in output, output[-3000:]
    # No secret was generated on the controller, none replaced on the server.
    assert not CREDENTIALS.exists() or secret_files(CREDENTIALS) == [], secret_files(CREDENTIALS)
    assert_nothing_changed(host, curl, before)


def test_lost_database_and_admin_secrets_are_named_with_their_sites(host, curl, kept_store, ansible_playbook):
    before = server_state(host)
    kept = secret_files(CREDENTIALS)
    for kind in ("mariadb", "wordpress"):
        shutil.rmtree(CREDENTIALS / kind)
    output = refused_converge(ansible_playbook)
    assert "blog.example.test: mariadb/wp_blog_example_test" in output, output[-3000:]
    assert "shop.example.test: wordpress/shop_example_test-admin" in output, output[-3000:]
    # Refused before any change: no secret written in place of the lost ones, the others as they were.
    assert secret_files(CREDENTIALS) == [name for name in kept if not name.startswith(("mariadb/", "wordpress/"))]
    assert_nothing_changed(host, curl, before)
