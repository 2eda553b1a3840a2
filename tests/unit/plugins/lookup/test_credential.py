"""The lookup as a task calls it: in check mode (``ansible_check_mode`` of ``--check``) it writes nothing."""

import pytest
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import init_plugin_loader, lookup_loader
from ansible.template import Templar

init_plugin_loader()


def lookup(store, *terms, check_mode=False, **options):
    loader = DataLoader()
    plugin = lookup_loader.get("wpzo.hosting.credential", loader=loader, templar=Templar(loader=loader))
    variables = {"wpzo_credentials_dir": str(store), "ansible_check_mode": check_mode, "inventory_hostname": "web1"}
    return plugin.run(list(terms), variables=variables, **options)


def files(folder):
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


def test_a_check_run_generates_nothing_and_says_a_secret_would_be_generated(tmp_path):
    store = tmp_path / "credentials" / "web1"
    values = lookup(store, "mariadb/wp_site", "wordpress/site-admin", check_mode=True, length=24)
    assert [value[:9] for value in values] == ["CHECKMODE", "CHECKMODE"]
    assert values == lookup(store, "mariadb/wp_site", "wordpress/site-admin", check_mode=True, length=24)
    assert not (tmp_path / "credentials").exists()
    assert lookup(store, "mariadb/wp_site", check_mode=True, status_only=True) == ["new"]


def test_a_check_run_reads_the_stored_secrets_and_changes_no_file(tmp_path):
    store = tmp_path / "store"
    stored = lookup(store, "redis/admin")
    before = {path: path.stat() for path in store.rglob("*")}
    assert not stored[0].startswith("CHECKMODE")
    assert lookup(store, "redis/admin", check_mode=True) == stored
    assert {path: path.stat() for path in store.rglob("*")} == before


def test_a_real_run_stores_what_it_generates(tmp_path):
    store = tmp_path / "store"
    first = lookup(store, "redis/site")
    assert files(store) == [".gitignore", "redis", "redis/site"]
    assert lookup(store, "redis/site") == first


def test_a_check_run_still_refuses_a_lost_secret_of_an_existing_account(tmp_path):
    with pytest.raises(Exception, match="already exists on the server"):
        lookup(tmp_path / "store", "mariadb/wp_site", check_mode=True, existing=["mariadb/wp_site"])
    assert not (tmp_path / "store").exists()
