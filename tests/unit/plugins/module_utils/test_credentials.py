import os
import stat

import pytest
from ansible_collections.wpzo.hosting.plugins.module_utils import credentials


def test_generated_once_then_reused(tmp_path):
    first = credentials.read_or_create(str(tmp_path), "mariadb/example_com", length=40)
    second = credentials.read_or_create(str(tmp_path), "mariadb/example_com", length=40)
    assert first == second
    assert len(first) == 40


def test_files_are_private(tmp_path):
    store = tmp_path / "store"
    credentials.read_or_create(str(store), "redis/site")
    assert stat.S_IMODE(os.stat(store / "redis").st_mode) == 0o700
    assert stat.S_IMODE(os.stat(store / "redis" / "site").st_mode) == 0o600
    assert [p.name for p in (store / "redis").iterdir()] == ["site"]


def test_different_names_get_different_secrets(tmp_path):
    values = {credentials.read_or_create(str(tmp_path), f"db/site{i}") for i in range(20)}
    assert len(values) == 20


def test_printable_has_no_whitespace_and_alphanumeric_is_restricted():
    printable = credentials.generate(2000)
    assert not any(c.isspace() for c in printable)
    assert set(printable) <= set(credentials.PRINTABLE)
    assert set(credentials.generate(500, "alphanumeric")) <= set(credentials.ALPHANUMERIC)


def test_existing_value_from_operator_is_kept(tmp_path):
    (tmp_path / "db").mkdir()
    (tmp_path / "db" / "site").write_text("chosen by hand\n")
    assert credentials.read_or_create(str(tmp_path), "db/site") == "chosen by hand"


@pytest.mark.parametrize("name", ["../escape", "a/../b", "/abs", "sp ace", "", "a//b"])
def test_rejects_names_that_leave_the_store(tmp_path, name):
    with pytest.raises(ValueError):
        credentials.read_or_create(str(tmp_path), name)
