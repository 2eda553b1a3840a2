# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the wpzo.hosting.certificate_names module shell."""

import json

from ansible_collections.wpzo.hosting.plugins.modules import certificate_names as module
from certificates import make_pair
from module_runner import run_module


def test_reports_missing_and_renamed_certificates_and_changes_nothing(tmp_path, capsys):
    same = tmp_path / "same.test.crt"
    same.write_text(make_pair(["same.test", "www.same.test"])[0])
    renamed = tmp_path / "renamed.test.crt"
    renamed.write_text(make_pair(["renamed.test"])[0])
    garbage = tmp_path / "garbage.test.crt"
    garbage.write_text("not a certificate")
    before = sorted(p.name for p in tmp_path.iterdir())
    params = {
        "certificates": [
            {"domain": "same.test", "path": str(same), "names": ["www.same.test", "same.test"]},
            {"domain": "renamed.test", "path": str(renamed), "names": ["renamed.test", "alias.test"]},
            {"domain": "garbage.test", "path": str(garbage), "names": ["garbage.test"]},
            {"domain": "new.test", "path": str(tmp_path / "new.test.crt"), "names": ["new.test"]},
        ]
    }
    assert run_module(module.main, params, check_mode=True) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["changed"] is False
    assert out["stale"] == ["garbage.test", "new.test", "renamed.test"]
    assert out["names"]["same.test"] == ["same.test", "www.same.test"]
    assert out["names"]["new.test"] is None
    assert sorted(p.name for p in tmp_path.iterdir()) == before
