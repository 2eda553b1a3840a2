"""The lookup as a task calls it (``ansible`` in a subprocess, its own collection loader): in check mode (the
``ansible_check_mode`` of ``--check``) it writes nothing and returns placeholders for the secrets it would make."""

import json
import os
import subprocess
import sys
from pathlib import Path

from ansible_collections.wpzo.hosting.plugins.lookup import credential

# The folder holding the ansible_collections tree the tests import this collection from (the checkout, linked).
COLLECTIONS = str(Path(credential.__file__).parents[5])


def lookup(store, *terms, check_mode=False, options=""):
    """What the lookup returns to a task on localhost; fails the test when the task fails."""
    expression = "{{ query('wpzo.hosting.credential', %s%s) }}" % (
        ", ".join(repr(term) for term in terms),
        ", " + options if options else "",
    )
    result = run_lookup(store, expression, check_mode)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout.split(" => ", 1)[1])["msg"]


def run_lookup(store, expression, check_mode):
    command = [
        str(Path(sys.executable).parent / "ansible"), "localhost", "-c", "local", "-o", "-m", "debug",
        "-a", f"msg={expression}", "-e", f"wpzo_credentials_dir={store}", *(["--check"] if check_mode else []),
    ]  # fmt: skip
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="0")
    return subprocess.run(command, capture_output=True, text=True, check=False, env=env, timeout=120)


def files(folder):
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


def written(folder):
    """Every entry with what a write changes (reading changes only the access time)."""
    return {
        path: (s.st_mode, s.st_size, s.st_mtime_ns, s.st_ctime_ns) for path in folder.rglob("*") if (s := path.lstat())
    }


def test_a_check_run_generates_nothing_and_says_a_secret_would_be_generated(tmp_path):
    store = tmp_path / "credentials" / "web1"
    values = lookup(store, "mariadb/wp_site", "wordpress/site-admin", check_mode=True, options="length=24")
    assert [value[:9] for value in values] == ["CHECKMODE", "CHECKMODE"]
    assert [len(value) for value in values] == [24, 24]
    assert values == lookup(store, "mariadb/wp_site", "wordpress/site-admin", check_mode=True, options="length=24")
    assert lookup(store, "mariadb/wp_site", check_mode=True, options="status_only=true") == ["new"]
    assert not (tmp_path / "credentials").exists()


def test_a_check_run_reads_the_stored_secrets_and_changes_no_file(tmp_path):
    store = tmp_path / "store"
    stored = lookup(store, "redis/admin")
    before = written(store)
    assert not stored[0].startswith("CHECKMODE")
    assert lookup(store, "redis/admin", check_mode=True) == stored
    assert written(store) == before


def test_a_real_run_stores_what_it_generates(tmp_path):
    store = tmp_path / "store"
    first = lookup(store, "redis/site")
    assert files(store) == [".gitignore", "redis", "redis/site"]
    assert lookup(store, "redis/site") == first


def test_a_check_run_still_refuses_a_lost_secret_of_an_existing_account(tmp_path):
    expression = "{{ lookup('wpzo.hosting.credential', 'mariadb/wp_site', existing=['mariadb/wp_site']) }}"
    result = run_lookup(tmp_path / "store", expression, check_mode=True)
    assert result.returncode != 0
    assert "already exists on the server" in " ".join((result.stdout + result.stderr).split())
    assert not (tmp_path / "store").exists()


def test_the_store_of_another_host_holds_a_secret_two_hosts_share(tmp_path):
    """A server reads the password of the monitoring host's store (host=monitor), never a store of its own."""
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(
        "all:\n  hosts:\n"
        f"    web1: {{ansible_connection: local, wpzo_credentials_dir: {tmp_path / 'web1'}}}\n"
        f"    monitor: {{ansible_connection: local, wpzo_credentials_dir: {tmp_path / 'monitor'}}}\n"
    )
    expression = "{{ lookup('wpzo.hosting.credential', 'monitoring/scrape', host='monitor') }}"
    command = [str(Path(sys.executable).parent / "ansible"), "web1", "-i", str(inventory), "-o", "-m", "debug",
               "-a", f"msg={expression}"]  # fmt: skip
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_NOCOLOR="1")
    result = subprocess.run(command, capture_output=True, text=True, check=False, env=env, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    value = json.loads(result.stdout.split(" => ", 1)[1])["msg"]
    assert (tmp_path / "monitor" / "monitoring" / "scrape").read_text().strip() == value
    assert not (tmp_path / "web1").exists()
