"""tools/secret_scan.py: every secret of a store is looked for, and a hit names the secret, not its value."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[3]
spec = importlib.util.spec_from_file_location("secret_scan", ROOT / "tools" / "secret_scan.py")
secret_scan = importlib.util.module_from_spec(spec)
spec.loader.exec_module(secret_scan)


@pytest.fixture
def store(tmp_path):
    (tmp_path / "store" / "mariadb").mkdir(parents=True)
    (tmp_path / "store" / "mariadb" / "wp_example_com").write_text("s3cr3t-db-password\n")
    (tmp_path / "store" / "redis").mkdir()
    (tmp_path / "store" / "redis" / "admin").write_text("redis-admin-value\n")
    (tmp_path / "store" / ".gitignore").write_text("*\n")
    return tmp_path / "store"


def test_reads_every_secret_and_skips_hidden_files(store):
    assert secret_scan.read_secrets(str(store)) == {
        "mariadb/wp_example_com": "s3cr3t-db-password",
        "redis/admin": "redis-admin-value",
    }


def test_refuses_an_encrypted_secret_it_cannot_open(store, monkeypatch):
    (store / "redis" / "site").write_text("$ANSIBLE_VAULT;1.1;AES256\n3132\n")
    monkeypatch.delenv("ANSIBLE_VAULT_PASSWORD_FILE", raising=False)
    with pytest.raises(SystemExit, match="redis/site is vault-encrypted"):
        secret_scan.read_secrets(str(store))


def test_a_hit_names_the_secret_and_the_file(store, tmp_path):
    clean = tmp_path / "clean.log"
    clean.write_text("TASK [Create the database users] ok: [server]\n")
    leaky = tmp_path / "leaky.log"
    leaky.write_text('ok: [server] => {"password": "s3cr3t-db-password"}\n')
    secrets = secret_scan.read_secrets(str(store))
    assert secret_scan.found_in_files(secrets, [str(clean)]) == []
    assert secret_scan.found_in_files(secrets, [str(clean), str(leaky)]) == ["mariadb/wp_example_com in %s" % leaky]
