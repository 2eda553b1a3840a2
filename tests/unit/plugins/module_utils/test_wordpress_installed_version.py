# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""installed_version() reads a file the site controls, as root: no link followed, no FIFO waited on (issue 12)."""

import os
import threading

import pytest
from ansible_collections.wpzo.hosting.plugins.module_utils import wordpress


def core(tmp_path):
    (tmp_path / "wp-includes").mkdir()
    return tmp_path / "wp-includes" / "version.php"


def test_reads_the_version_of_a_regular_file(tmp_path):
    core(tmp_path).write_text("<?php\n$wp_version = '6.8.3';\n$wp_db_version = 60421;\n")
    assert wordpress.installed_version(str(tmp_path)) == "6.8.3"


def test_no_core_is_none(tmp_path):
    assert wordpress.installed_version(str(tmp_path)) is None
    assert wordpress.installed_version(str(tmp_path / "missing")) is None


def test_a_symbolic_link_is_not_followed(tmp_path):
    secret = tmp_path / "secret.php"
    secret.write_text("$wp_version = 'read-through-the-link';\n")
    os.symlink(str(secret), str(core(tmp_path)))
    assert wordpress.installed_version(str(tmp_path)) == "unknown"
    with pytest.raises(OSError, match="symbolic link"):
        wordpress._read_site_file(str(tmp_path / "wp-includes" / "version.php"), 100)


def test_a_fifo_does_not_hang(tmp_path):
    os.mkfifo(str(core(tmp_path)))
    result = []
    reader = threading.Thread(target=lambda: result.append(wordpress.installed_version(str(tmp_path))), daemon=True)
    reader.start()
    reader.join(timeout=5)
    assert not reader.is_alive(), "installed_version() blocked on a FIFO"
    assert result == ["unknown"]


def test_a_directory_or_device_is_not_read(tmp_path):
    core(tmp_path).mkdir()
    assert wordpress.installed_version(str(tmp_path)) == "unknown"
    with pytest.raises(OSError, match="not a regular file"):
        wordpress._read_site_file("/dev/zero", 100)


def test_the_read_is_bounded(tmp_path):
    big = core(tmp_path)
    big.write_bytes(b"x" * (wordpress.VERSION_FILE_READ_MAX * 4) + b"\n$wp_version = '9.9';\n")
    assert wordpress.installed_version(str(tmp_path)) == "unknown"  # the version lies past the bound
    assert len(wordpress._read_site_file(str(big), 10)) == 10
