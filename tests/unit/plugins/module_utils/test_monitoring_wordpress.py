"""The WordPress core version of each site against the inventory's, as textfile metrics."""

import os
import shutil
import subprocess
import sys

import pytest
from ansible_collections.wpzo.hosting.plugins.module_utils import monitoring_wordpress as wp

PROGRAMS = os.path.dirname(wp.__file__)


def site_tree(tmp_path, name, version_php):
    docroot = tmp_path / name
    (docroot / "wp-includes").mkdir(parents=True)
    if version_php is not None:
        (docroot / "wp-includes" / "version.php").write_text(version_php)
    return str(docroot)


@pytest.mark.parametrize(
    ("installed", "wanted", "expected"),
    [
        ("6.1.1", "6.4.2", 1),
        ("6.4.2", "6.4.2", 0),
        ("6.4.3", "6.4.2", 0),  # updated by WordPress itself (auto_update_core): not behind
        ("6.4", "6.4.1", 1),
        ("6.10", "6.9.1", 0),  # numeric, not text, comparison
        ("6.5-RC1", "6.4.2", 0),
        (None, "6.4.2", 1),  # unreadable: cannot be shown to be up to date
        ("6.1.1", "", 0),
    ],
)
def test_behind(installed, wanted, expected):
    assert wp.behind(installed, wanted) == expected


def test_render_reads_each_site(tmp_path):
    old = site_tree(tmp_path, "old", "<?php\n$wp_version = '6.1.1';\n$wp_db_version = 53496;\n")
    new = site_tree(tmp_path, "new", "<?php\n$wp_version = '6.4.2';\n")
    missing = site_tree(tmp_path, "missing", None)
    text = wp.render(
        [
            {"site": "old.test", "docroot": old, "wanted": "6.4.2"},
            {"site": "new.test", "docroot": new, "wanted": "6.4.2"},
            {"site": "missing.test", "docroot": missing, "wanted": "6.4.2"},
        ]
    )
    assert 'wpzo_wordpress_core_behind{site="old.test",installed="6.1.1",wanted="6.4.2"} 1' in text
    assert 'wpzo_wordpress_core_behind{site="new.test",installed="6.4.2",wanted="6.4.2"} 0' in text
    assert 'wpzo_wordpress_core_behind{site="missing.test",installed="unknown",wanted="6.4.2"} 1' in text
    assert "# TYPE wpzo_wordpress_core_behind gauge" in text


def test_a_link_in_place_of_version_php_is_not_followed(tmp_path):
    secret = tmp_path / "secret.php"
    secret.write_text("$wp_version = '9.9.9';\n")
    docroot = site_tree(tmp_path, "site", None)
    os.symlink(secret, os.path.join(docroot, "wp-includes", "version.php"))
    assert wp.read_version(docroot) is None


def test_the_program_runs_standalone_beside_monitoring_php_fpm(tmp_path):
    """On the server both files sit in one folder, outside any collection: the import falls back."""
    for name in ("monitoring_wordpress.py", "monitoring_php_fpm.py"):
        shutil.copy(os.path.join(PROGRAMS, name), tmp_path / name)
    docroot = site_tree(tmp_path, "site", "<?php\n$wp_version = '6.4.2';\n")
    config = tmp_path / "sites.json"
    config.write_text('{"sites": [{"site": "a.test", "docroot": "%s", "wanted": "6.4.2"}]}' % docroot)
    output = tmp_path / "wpzo_wordpress.prom"
    subprocess.run(
        [sys.executable, "-S", str(tmp_path / "monitoring_wordpress.py"), "--config", str(config), "--output", output],
        check=True,
        cwd=str(tmp_path),
        env={"PATH": os.environ["PATH"]},  # no PYTHONPATH: the collection is not importable there
    )
    assert 'wpzo_wordpress_core_behind{site="a.test",installed="6.4.2",wanted="6.4.2"} 0' in output.read_text()
    assert oct(output.stat().st_mode & 0o777) == "0o644"
