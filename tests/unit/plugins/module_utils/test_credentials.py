import os
import stat

import pytest
from ansible.parsing.vault import VaultSecret
from ansible_collections.wpzo.hosting.plugins.lookup.credential import RunVault
from ansible_collections.wpzo.hosting.plugins.module_utils import credentials
from ansible_collections.wpzo.hosting.plugins.module_utils.credentials import CredentialError, Store


class FakeVault:
    """Reversible, recognisable: enough to test the store's logic without ansible-vault's cost."""

    has_secrets = True
    can_encrypt = True

    def encrypt(self, text):
        return credentials.VAULT_HEADER + "1.1;FAKE\n" + text[::-1]

    def decrypt(self, vaulttext):
        header, body = vaulttext.split("\n", 1)
        if not header.endswith("FAKE"):
            raise ValueError("Decryption failed")
        return body[::-1]


def real_vault(password="correct horse"):  # noqa: S107 - a test vault password
    return RunVault([("default", VaultSecret(password.encode()))])


def tree(root):
    """Every path below root with its mode, for 'nothing was written' checks."""
    found = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(folder, name)
            found[os.path.relpath(path, root)] = stat.S_IMODE(os.lstat(path).st_mode)
    return found


# ---------------------------------------------------------------------------------------------- generation


def test_generated_once_then_reused(tmp_path):
    store = Store(str(tmp_path))
    first = store.get("mariadb/example_com", length=40)
    assert Store(str(tmp_path)).get("mariadb/example_com", length=40) == first
    assert len(first) == 40


def test_different_names_get_different_secrets(tmp_path):
    store = Store(str(tmp_path))
    assert len({store.get(f"db/site{i}") for i in range(20)}) == 20


def test_printable_has_no_whitespace_and_alphanumeric_is_restricted():
    printable = credentials.generate(2000)
    assert not any(c.isspace() for c in printable)
    assert set(printable) <= set(credentials.PRINTABLE)
    assert set(credentials.generate(500, "alphanumeric")) <= set(credentials.ALPHANUMERIC)


def test_existing_value_from_operator_is_kept(tmp_path):
    (tmp_path / "db").mkdir()
    (tmp_path / "db" / "site").write_text("chosen by hand\n")
    assert Store(str(tmp_path)).get("db/site") == "chosen by hand"
    assert credentials.read_or_create(str(tmp_path), "db/site") == "chosen by hand"


@pytest.mark.parametrize("name", ["../escape", "a/../b", "/abs", "sp ace", "", "a//b", ".gitignore", "a/.tmp-x"])
def test_rejects_names_that_leave_the_store_or_are_its_own_files(tmp_path, name):
    with pytest.raises(CredentialError):
        Store(str(tmp_path)).get(name)


def test_unknown_encrypt_mode_is_refused(tmp_path):
    with pytest.raises(CredentialError, match="encrypt must be one of"):
        Store(str(tmp_path), encrypt="sometimes")


# --------------------------------------------------------------------------------------------------- modes


@pytest.mark.parametrize("umask", [0o000, 0o077, 0o022])
def test_folders_are_0700_and_files_0600_whatever_the_umask(tmp_path, umask):
    previous = os.umask(umask)
    try:
        store = tmp_path / "credentials" / "prod" / "web1"
        Store(str(store)).get("redis/site")
        Store(str(store), vault=FakeVault()).get("mariadb/site")
    finally:
        os.umask(previous)
    modes = tree(tmp_path)
    assert modes["credentials"] == modes["credentials/prod"] == modes["credentials/prod/web1"] == 0o700
    assert modes["credentials/prod/web1/redis"] == modes["credentials/prod/web1/mariadb"] == 0o700
    assert modes["credentials/prod/web1/redis/site"] == modes["credentials/prod/web1/mariadb/site"] == 0o600
    assert not [path for path in modes if ".tmp-" in path]


def test_existing_folders_above_the_store_are_left_alone(tmp_path):
    os.chmod(tmp_path, 0o755)  # noqa: S103 - a folder the store must not change
    Store(str(tmp_path / "store")).get("a")
    assert stat.S_IMODE(os.stat(tmp_path).st_mode) == 0o755


# ------------------------------------------------------------------------------------------------ location


def test_default_store_is_beside_the_inventories_folder(tmp_path):
    inventory = tmp_path / "project" / "inventories" / "prod"
    store, legacy = credentials.default_store(str(inventory), "web1.example.com")
    assert store == str(tmp_path / "project" / "credentials" / "prod" / "web1.example.com")
    assert legacy == str(inventory / "credentials" / "web1.example.com")


@pytest.mark.parametrize("inventory_dir", [None, "", "/etc/ansible"])
def test_default_store_needs_the_inventories_layout(inventory_dir):
    with pytest.raises(CredentialError, match="wpzo_credentials_dir"):
        credentials.default_store(inventory_dir, "web1")


def test_the_default_store_is_read_by_no_inventory_source(tmp_path):
    inventories = tmp_path / "inventories"
    (inventories / "prod" / "group_vars").mkdir(parents=True)
    store, legacy = credentials.default_store(str(inventories / "prod"), "web1")
    for sources in ([str(inventories / "prod")], [str(inventories)], [str(inventories / "prod" / "hosts.yml")]):
        assert credentials.inventory_parses(store, sources) is None
    # The old layout was parsed by both -i inventories/prod and -i inventories/.
    assert credentials.inventory_parses(legacy, [str(inventories / "prod")]) == str(inventories / "prod")
    assert credentials.inventory_parses(legacy, [str(inventories)]) == str(inventories)


def test_folders_the_inventory_parser_skips_are_allowed(tmp_path):
    (tmp_path / "inv").mkdir()
    assert credentials.inventory_parses(str(tmp_path / "inv" / ".credentials"), [str(tmp_path / "inv")]) is None
    assert credentials.inventory_parses(str(tmp_path / "inv" / "group_vars" / "x"), [str(tmp_path / "inv")]) is None
    assert credentials.inventory_parses(str(tmp_path / "inv" / "creds"), [str(tmp_path / "inv")]) is not None
    assert credentials.inventory_parses(str(tmp_path / "inv" / "creds"), None) is None


# ------------------------------------------------------------------------------------------- encryption


def test_real_vault_round_trip_in_the_format_of_ansible_vault(tmp_path):
    vault = real_vault()
    value = Store(str(tmp_path), vault=vault).get("mariadb/site")
    text = (tmp_path / "mariadb" / "site").read_text()
    assert text.startswith("$ANSIBLE_VAULT;1.1;AES256\n") and value not in text
    assert Store(str(tmp_path), vault=real_vault()).get("mariadb/site") == value
    assert vault.decrypt(text).rstrip("\n") == value


def test_a_run_without_the_vault_password_refuses_and_writes_nothing(tmp_path):
    Store(str(tmp_path), vault=real_vault()).get("mariadb/site")
    before = tree(tmp_path)
    for vault in (None, RunVault([])):
        with pytest.raises(CredentialError, match="encrypted with ansible-vault and this run has no vault password"):
            Store(str(tmp_path), vault=vault).get("mariadb/site")
        with pytest.raises(CredentialError, match="no vault password"):
            Store(str(tmp_path), vault=vault).status("mariadb/site")
    with pytest.raises(CredentialError, match="no vault password of this run opens it"):
        Store(str(tmp_path), vault=real_vault("wrong")).get("mariadb/site")
    assert tree(tmp_path) == before


def test_plaintext_secrets_are_encrypted_in_place_when_the_run_has_a_vault(tmp_path):
    plain = Store(str(tmp_path)).get("redis/site")
    assert (tmp_path / ".gitignore").read_text() == credentials.GUARD_TEXT
    assert Store(str(tmp_path), vault=FakeVault()).get("redis/site") == plain
    assert credentials.is_encrypted((tmp_path / "redis" / "site").read_text())
    assert not (tmp_path / ".gitignore").exists()  # nothing plaintext is left: the store may be committed
    assert stat.S_IMODE(os.stat(tmp_path / "redis" / "site").st_mode) == 0o600


def test_never_keeps_plaintext_and_always_refuses_to_write_without_a_vault(tmp_path):
    Store(str(tmp_path), vault=FakeVault(), encrypt="never").get("a")
    assert not credentials.is_encrypted((tmp_path / "a").read_text())
    assert Store(str(tmp_path), encrypt="always").get("a")  # reading plaintext is fine
    with pytest.raises(CredentialError, match="wpzo_credentials_encrypt: always"):
        Store(str(tmp_path), encrypt="always").get("b")
    assert not (tmp_path / "b").exists()


def test_the_plaintext_guard_stays_while_one_plaintext_secret_is_left(tmp_path):
    Store(str(tmp_path)).get("a")
    Store(str(tmp_path)).get("b")
    Store(str(tmp_path), vault=FakeVault()).get("a")
    assert (tmp_path / ".gitignore").exists()
    Store(str(tmp_path), vault=FakeVault()).get("b")
    assert not (tmp_path / ".gitignore").exists()


def test_a_guard_written_by_the_operator_is_kept(tmp_path):
    (tmp_path / ".gitignore").write_text("# mine\n")
    Store(str(tmp_path), vault=FakeVault()).get("a")
    credentials.update_guard(str(tmp_path))
    assert (tmp_path / ".gitignore").read_text() == "# mine\n"


# ---------------------------------------------------------------------------------------------- refusal


def test_a_missing_secret_of_an_existing_account_is_refused(tmp_path):
    with pytest.raises(CredentialError) as error:
        Store(str(tmp_path)).get("mariadb/wp_blog", existing=["mariadb/wp_blog"], site="blog.example.com")
    message = str(error.value)
    assert "mariadb/wp_blog (site blog.example.com)" in message and "already exists on the server" in message
    assert "vault password" in message and "wpzo_credentials_rotate" in message
    assert tree(tmp_path) == {}


def test_rotation_generates_what_the_operator_names(tmp_path):
    for rotate in (True, "true", "mariadb/wp_blog", "redis/x, mariadb/wp_blog", ["mariadb/wp_blog"]):
        assert Store(str(tmp_path / str(hash(str(rotate))))).get(
            "mariadb/wp_blog", existing=["mariadb/wp_blog"], rotate=rotate
        )
    for rotate in (False, "false", "redis/x", [], None):
        assert not credentials.wants_rotation(rotate, "mariadb/wp_blog")


def test_a_stored_secret_is_returned_even_if_its_account_exists(tmp_path):
    value = Store(str(tmp_path)).get("a")
    assert Store(str(tmp_path)).get("a", existing=["a"]) == value


def test_status_reports_without_writing(tmp_path):
    Store(str(tmp_path)).get("stored")
    before = tree(tmp_path)
    store = Store(str(tmp_path))
    assert [store.status(name, existing=["lost", "stored"]) for name in ("stored", "new", "lost")] == [
        "stored",
        "new",
        "lost",
    ]
    assert store.status("lost", existing=["lost"], rotate=True) == "new"
    assert tree(tmp_path) == before


# -------------------------------------------------------------------------------------------- check mode


def test_check_mode_writes_nothing_and_its_placeholders_agree_between_tasks(tmp_path):
    store = tmp_path / "credentials" / "prod" / "web1"
    first = Store(str(store), vault=FakeVault(), check_mode=True).get("mariadb/site", length=20)
    again = Store(str(store), vault=FakeVault(), check_mode=True).get("mariadb/site", length=20)
    assert first == again and len(first) == 20
    assert not (tmp_path / "credentials").exists()
    assert Store(str(store), check_mode=True).get("other", length=20) != first


@pytest.mark.parametrize("length", [1, 9, 24, 32, 200])
@pytest.mark.parametrize("charset", ["printable", "alphanumeric"])
def test_a_check_mode_placeholder_says_what_it_is_and_fits_the_secret_it_stands_for(tmp_path, length, charset):
    value = Store(str(tmp_path), check_mode=True).get("wordpress/site-admin", length=length, charset=charset)
    assert len(value) == length
    assert set(value) <= set(credentials.CHARSETS[charset])
    assert value.startswith("CHECKMODE"[:length])
    # Made of the name alone: nothing random, nothing a real run would ever store.
    assert value == Store(str(tmp_path / "elsewhere"), check_mode=True).get("wordpress/site-admin", length=length)


def test_check_mode_returns_the_stored_secret_when_there_is_one(tmp_path):
    stored = Store(str(tmp_path)).get("mariadb/site")
    before = tree(tmp_path)
    assert Store(str(tmp_path), check_mode=True).get("mariadb/site") == stored
    assert tree(tmp_path) == before


def test_check_mode_neither_encrypts_nor_migrates(tmp_path):
    Store(str(tmp_path / "store")).get("a")
    legacy = tmp_path / "legacy"
    (legacy / "db").mkdir(parents=True)
    (legacy / "db" / "site").write_text("old\n")
    before = tree(tmp_path)
    store = Store(str(tmp_path / "store"), vault=FakeVault(), legacy=str(legacy), check_mode=True)
    assert store.migrate() is None
    assert store.get("a") and store.get("db/site") == "old"  # read from the unmigrated store
    assert tree(tmp_path) == before


def test_check_mode_still_refuses(tmp_path):
    with pytest.raises(CredentialError, match="already exists"):
        Store(str(tmp_path), check_mode=True).get("a", existing=["a"])


# --------------------------------------------------------------------------------------------- migration


def legacy_store(tmp_path, values):
    inventory = tmp_path / "inventories" / "prod"
    legacy = inventory / "credentials" / "web1"
    for name, value in values.items():
        (legacy / name).parent.mkdir(parents=True, exist_ok=True)
        (legacy / name).write_text(value + "\n")
    return credentials.default_store(str(inventory), "web1")


def test_an_old_store_is_moved_never_regenerated(tmp_path):
    store, legacy = legacy_store(tmp_path, {"mariadb/wp_a": "db-secret", "redis/a": "redis-secret"})
    found = Store(store, legacy=legacy)
    assert found.migrate() == {"move": ["mariadb/wp_a", "redis/a"], "drop": []}
    assert found.get("mariadb/wp_a") == "db-secret" and found.get("redis/a") == "redis-secret"
    assert not (tmp_path / "inventories" / "prod" / "credentials").exists()
    assert stat.S_IMODE(os.stat(os.path.join(store, "redis", "a")).st_mode) == 0o600
    assert os.path.exists(os.path.join(store, ".gitignore"))
    assert Store(store, legacy=legacy).migrate() is None  # once


def test_migration_merges_names_and_drops_equal_duplicates(tmp_path):
    store, legacy = legacy_store(tmp_path, {"a": "same", "b": "only-old"})
    os.makedirs(store)
    with open(os.path.join(store, "a"), "w") as handle:
        handle.write(FakeVault().encrypt("same\n"))
    assert Store(store, vault=FakeVault(), legacy=legacy).migrate() == {"move": ["b"], "drop": ["a"]}
    assert Store(store, vault=FakeVault()).get("b") == "only-old"
    assert not os.path.exists(legacy)


def test_migration_refuses_different_values_and_moves_nothing(tmp_path):
    store, legacy = legacy_store(tmp_path, {"a": "old", "b": "b"})
    os.makedirs(store)
    with open(os.path.join(store, "a"), "w") as handle:
        handle.write("new\n")
    before = tree(tmp_path)
    with pytest.raises(CredentialError, match="hold different values for a"):
        Store(store, legacy=legacy).migrate()
    assert tree(tmp_path) == before


def test_migration_keeps_other_hosts_of_the_old_store(tmp_path):
    store, legacy = legacy_store(tmp_path, {"a": "1"})
    other = tmp_path / "inventories" / "prod" / "credentials" / "web2"
    other.mkdir()
    (other / "a").write_text("2\n")
    Store(store, legacy=legacy).migrate()
    assert (other / "a").read_text() == "2\n"


def test_migration_across_file_systems_copies(tmp_path, monkeypatch):
    store, legacy = legacy_store(tmp_path, {"a": "1"})

    real_link = os.link

    def no_link(source, target):
        if ".tmp-" not in source:  # the old store is on another file system; the store's own temp files are not
            raise OSError(credentials.errno.EXDEV, "cross-device link")
        real_link(source, target)

    monkeypatch.setattr(credentials.os, "link", no_link)
    Store(store, legacy=legacy, encrypt="never").migrate()
    monkeypatch.undo()
    assert Store(store).get("a") == "1" and not os.path.exists(legacy)


def test_a_file_created_meanwhile_wins(tmp_path, monkeypatch):
    real_link = os.link

    def racing_link(source, target):
        with open(target, "w") as handle:
            handle.write("theirs\n")
        real_link(source, target)

    monkeypatch.setattr(credentials.os, "link", racing_link)
    assert Store(str(tmp_path)).get("a") == "theirs"
