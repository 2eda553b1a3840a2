import grp
import os
import pwd

import pytest
from ansible_collections.wpzo.hosting.plugins.module_utils import managed_files as mf

ME = pwd.getpwuid(os.getuid()).pw_name
MY_GROUP = grp.getgrgid(os.getgid()).gr_name


def spec(path, body="x", mode="0644"):
    return mf.file_spec(str(path), "# %s\n%s\n" % (mf.MARKER, body), ME, MY_GROUP, mode)


def reconcile(specs, purge=(), validator=None):
    existing = mf.read_existing(specs, purge)
    the_plan = mf.plan(specs, existing)
    mf.apply(the_plan, specs, existing, validator)
    return the_plan


def test_first_run_adds_second_run_changes_nothing(tmp_path):
    specs = [spec(tmp_path / "a.conf"), spec(tmp_path / "sub" / "b.conf")]
    first = reconcile(specs)
    assert sorted(first.added) == sorted(s.path for s in specs)
    second = reconcile(specs)
    assert not second.changed
    assert sorted(second.unchanged) == sorted(s.path for s in specs)


def test_content_and_mode_changes_are_updates(tmp_path):
    reconcile([spec(tmp_path / "a.conf"), spec(tmp_path / "b.conf")])
    the_plan = reconcile([spec(tmp_path / "a.conf", body="y"), spec(tmp_path / "b.conf", mode="0600")])
    assert sorted(the_plan.updated) == [str(tmp_path / "a.conf"), str(tmp_path / "b.conf")]
    assert oct(os.stat(tmp_path / "b.conf").st_mode & 0o777) == "0o600"
    assert (tmp_path / "a.conf").read_text().endswith("y\n")


def test_purge_removes_only_managed_unlisted_files(tmp_path):
    reconcile([spec(tmp_path / "keep.conf"), spec(tmp_path / "drop.conf")])
    (tmp_path / "foreign.conf").write_text("server {}\n")
    the_plan = reconcile([spec(tmp_path / "keep.conf")], purge=[str(tmp_path / "*.conf")])
    assert the_plan.removed == [str(tmp_path / "drop.conf")]
    assert (tmp_path / "foreign.conf").exists()
    assert not (tmp_path / "drop.conf").exists()


def test_unmanaged_file_at_a_listed_path_is_a_conflict(tmp_path):
    (tmp_path / "a.conf").write_text("hand-written\n")
    specs = [spec(tmp_path / "a.conf")]
    the_plan = mf.plan(specs, mf.read_existing(specs))
    assert the_plan.conflicts == [str(tmp_path / "a.conf")]
    assert not the_plan.changed


def test_failed_validation_restores_every_file(tmp_path):
    reconcile([spec(tmp_path / "a.conf", body="old"), spec(tmp_path / "gone.conf")])
    before = (tmp_path / "a.conf").read_bytes()
    with pytest.raises(mf.ManagedFilesError) as raised:
        reconcile(
            [spec(tmp_path / "a.conf", body="broken"), spec(tmp_path / "new.conf")],
            purge=[str(tmp_path / "*.conf")],
            validator=lambda staged: (1, "", "unexpected }"),
        )
    assert "unexpected }" in raised.value.msg
    assert "nothing changed" in raised.value.msg
    assert (tmp_path / "a.conf").read_bytes() == before
    assert (tmp_path / "gone.conf").exists()
    assert not (tmp_path / "new.conf").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".wpzo-")] == []


def test_validator_runs_only_when_something_changed(tmp_path):
    calls = []
    specs = [spec(tmp_path / "a.conf")]
    reconcile(specs, validator=lambda staged: calls.append(1) or (0, "", ""))
    reconcile(specs, validator=lambda staged: calls.append(1) or (0, "", ""))
    assert calls == [1]


def test_validation_of_specs_reports_every_problem(tmp_path):
    bad = [
        mf.file_spec("relative.conf", "# %s\n" % mf.MARKER),
        mf.file_spec(str(tmp_path / "a"), "no marker here"),
        mf.file_spec(str(tmp_path / "b"), "# %s\n" % mf.MARKER, owner="no-such-user-xyz"),
    ]
    errors = mf.validate_specs(bad)
    assert len(errors) == 3
    assert "relative.conf: not an absolute, normalised path" in errors
    assert any("no-such-user-xyz" in e for e in errors)


def test_diff_masks_and_headers(tmp_path):
    reconcile([spec(tmp_path / "a.conf", body="password=old")])
    specs = [spec(tmp_path / "a.conf", body="password=new")]
    existing = mf.read_existing(specs)
    diff = mf.build_diff(
        mf.plan(specs, existing), specs, existing, mask=lambda t: t.replace("new", "***").replace("old", "***")
    )
    assert diff[0]["before_header"] == diff[0]["after_header"] == str(tmp_path / "a.conf")
    assert "old" not in diff[0]["before"] and "new" not in diff[0]["after"]
