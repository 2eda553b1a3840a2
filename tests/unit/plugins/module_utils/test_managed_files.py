import grp
import os
import pwd
import time
from pathlib import Path

import pytest
from ansible_collections.wpzo.hosting.plugins.module_utils import managed_files as mf
from ansible_collections.wpzo.hosting.plugins.module_utils.errors import ModuleError
from disk_full import fail_a_rename

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
    with pytest.raises(ModuleError) as raised:
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


# --- stage, validate the staged files, then rename -------------------------------------------------------------
def snapshot(directory):
    """{relative path: (bytes, mode, mtime_ns)} of every file below directory."""
    result = {}
    for base, _dirs, files in os.walk(str(directory)):
        for name in files:
            path = os.path.join(base, name)
            st = os.lstat(path)
            with open(path, "rb") as handle:
                result[os.path.relpath(path, str(directory))] = (handle.read(), st.st_mode & 0o7777, st.st_mtime_ns)
    return result


def plan_for(specs, purge=()):
    existing = mf.read_existing(specs, purge)
    return mf.plan(specs, existing), existing


@pytest.fixture
def tree(tmp_path):
    """A configuration tree: a main file including sites/*.conf, two managed sites, and a scratch parent."""
    conf = tmp_path / "etc"
    (conf / "sites").mkdir(parents=True)
    (conf / "main.conf").write_text("include sites/*.conf\n")
    reconcile([spec(conf / "sites" / "keep.conf", "keep"), spec(conf / "sites" / "gone.conf", "gone")])
    (tmp_path / "run").mkdir()
    return conf


def test_validation_sees_the_candidates_before_any_rename(tree, tmp_path):
    specs = [spec(tree / "sites" / "keep.conf", "changed"), spec(tree / "sites" / "new.conf", "new")]
    purge = [str(tree / "sites" / "*.conf")]
    the_plan, existing = plan_for(specs, purge)
    live_before = snapshot(tree)
    seen = {}

    def validator(staged):
        seen["live"] = snapshot(tree)
        seen["names"] = [os.path.basename(tmp) for tmp in staged.files.values()]
        seen["staged"] = dict((path, Path(tmp).read_text()) for path, tmp in staged.files.items())
        seen["copy"] = snapshot(staged.root)
        seen["removed"] = staged.removed
        return 0, "", ""

    mf.apply(the_plan, specs, existing, validator, tree=str(tree), scratch_parent=str(tmp_path / "run"))
    # while the test ran, the live files were the old ones (staged candidates beside them, under .wpzo-*)
    live = {name: value for name, value in seen["live"].items() if not os.path.basename(name).startswith(".wpzo-")}
    assert live == live_before
    assert all(name.startswith(".wpzo-") for name in seen["names"])
    assert seen["staged"][str(tree / "sites" / "new.conf")].endswith("new\n")
    # the copy of the tree is the configuration as it will be: candidates in place, the purged file gone
    assert seen["copy"]["sites/keep.conf"][0].endswith(b"changed\n")
    assert seen["copy"]["sites/new.conf"][0].endswith(b"new\n")
    assert "sites/gone.conf" not in seen["copy"]
    assert seen["copy"]["main.conf"][0] == b"include sites/*.conf\n"
    assert not any(name.startswith(".wpzo-") for name in (os.path.basename(n) for n in seen["copy"]))
    assert seen["removed"] == [str(tree / "sites" / "gone.conf")]
    # then, and only then, everything is in place, and the copy is gone
    assert sorted(os.listdir(str(tree / "sites"))) == ["keep.conf", "new.conf"]
    assert os.listdir(str(tmp_path / "run")) == []


def test_a_failing_validation_leaves_the_live_files_untouched(tree, tmp_path):
    before = snapshot(tree)
    specs = [spec(tree / "sites" / "keep.conf", "broken"), spec(tree / "sites" / "new.conf", "new")]
    the_plan, existing = plan_for(specs, [str(tree / "sites" / "*.conf")])
    with pytest.raises(ModuleError) as raised:
        mf.apply(
            the_plan,
            specs,
            existing,
            lambda staged: (1, "", "unknown directive"),
            "nginx -t",
            tree=str(tree),
            scratch_parent=str(tmp_path / "run"),
        )
    assert raised.value.msg == "nginx -t test failed (rc=1), nothing changed: unknown directive"
    assert snapshot(tree) == before  # same bytes, modes and mtimes: nothing was even rewritten
    assert os.listdir(str(tmp_path / "run")) == []


def test_a_validator_that_raises_leaves_no_staged_file(tree, tmp_path):
    before = snapshot(tree)
    specs = [spec(tree / "sites" / "new.conf", "new")]
    the_plan, existing = plan_for(specs)

    def validator(staged):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        mf.apply(the_plan, specs, existing, validator, scratch_parent=str(tmp_path / "run"))
    assert snapshot(tree) == before


def test_a_kill_between_stage_and_rename_leaves_only_staged_files_the_next_run_removes(tree, tmp_path):
    before = snapshot(tree)
    specs = [spec(tree / "sites" / "keep.conf", "changed"), spec(tree / "sites" / "new.conf", "new")]
    the_plan, existing = plan_for(specs)
    pid = os.fork()
    if pid == 0:  # the killed run: dies (no cleanup, no finally) while its candidates are being tested
        try:
            mf.apply(the_plan, specs, existing, lambda staged: os._exit(9), scratch_parent=str(tmp_path / "run"))
        finally:
            os._exit(1)
    _pid, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 9
    after = snapshot(tree)
    strays = sorted(name for name in after if os.path.basename(name).startswith(".wpzo-"))
    assert len(strays) == 2
    assert {name: value for name, value in after.items() if name not in strays} == before
    directories = mf.staged_directories(specs)
    assert mf.stray_staged_files(directories) == [str(tree / name) for name in strays]
    # the next run: strays and the old scratch copy removed, then the files written
    left = os.listdir(str(tmp_path / "run"))
    assert len(left) == 1 and left[0].startswith(mf.SCRATCH_PREFIX)
    removed = mf.clean_stray(directories, str(tmp_path / "run"), now=time.time() + mf.STRAY_SCRATCH_AGE + 1)
    assert len(removed) == 3
    assert os.listdir(str(tmp_path / "run")) == []
    reconcile(specs)
    assert sorted(os.listdir(str(tree / "sites"))) == ["gone.conf", "keep.conf", "new.conf"]


def test_clean_stray_keeps_a_recent_scratch_copy_and_foreign_files(tree, tmp_path):
    run = tmp_path / "run"
    (run / (mf.SCRATCH_PREFIX + "recent")).mkdir()
    (run / "other").mkdir()
    (tree / "sites" / ".hidden").mkdir()
    (tree / "sites" / ".wpzo-link").symlink_to(tree / "main.conf")
    assert mf.clean_stray([str(tree / "sites")], str(run)) == []
    assert sorted(os.listdir(str(run))) == sorted([mf.SCRATCH_PREFIX + "recent", "other"])


def test_a_rename_failure_restores_what_was_renamed(tree, tmp_path, monkeypatch):
    before = snapshot(tree)
    specs = [spec(tree / "sites" / "a-new.conf", "new"), spec(tree / "sites" / "keep.conf", "changed")]
    the_plan, existing = plan_for(specs)
    fail_a_rename(monkeypatch)
    with pytest.raises(ModuleError, match="No space left on device"):
        mf.apply(the_plan, specs, existing, lambda staged: (0, "", ""), scratch_parent=str(tmp_path / "run"))
    monkeypatch.undo()
    after = snapshot(tree)
    assert {k: v[:2] for k, v in after.items()} == {k: v[:2] for k, v in before.items()}


def test_overlays_copy_each_touched_directory_once(tmp_path):
    etc = tmp_path / "etc"
    (etc / "ssh" / "sshd_config.d").mkdir(parents=True)
    (etc / "ssh" / "sshd_config").write_text("Include /etc/ssh/sshd_config.d/*.conf\n")
    (etc / "units").mkdir()
    (etc / "units" / "other.service").write_text("[Service]\n")
    (tmp_path / "run").mkdir()
    specs = [
        spec(etc / "ssh" / "sshd_config.d" / "sftp.conf", "Match Group sftp"),
        spec(etc / "units" / "a.timer", "[Timer]"),
        spec(etc / "units" / "sub" / "b.conf", "[Service]"),
    ]
    the_plan, existing = plan_for(specs)
    seen = {}

    def validator(staged):
        seen["overlays"] = [(os.path.relpath(copy, staged.scratch), live) for copy, live in staged.overlays]
        seen["copies"] = dict((live, snapshot(copy)) for copy, live in staged.overlays)
        return 0, "", ""

    mf.apply(the_plan, specs, existing, validator, scratch_parent=str(tmp_path / "run"), overlay=True)
    assert seen["overlays"] == [("overlay0", str(etc / "ssh" / "sshd_config.d")), ("overlay1", str(etc / "units"))]
    assert sorted(seen["copies"][str(etc / "units")]) == ["a.timer", "other.service", "sub/b.conf"]
    assert list(seen["copies"][str(etc / "ssh" / "sshd_config.d")]) == ["sftp.conf"]


def test_top_directories_and_check_tree():
    assert mf.top_directories(["/a/b/x", "/a/y", "/c/z", "/cd/w"]) == ["/a", "/c", "/cd"]
    specs = [mf.file_spec("/etc/nginx/wpzo/sites/a.conf", "x"), mf.file_spec("/etc/other/b.conf", "x")]
    assert mf.check_tree(specs, ["/etc/nginx-old/c.conf"], "/etc/nginx") == [
        "/etc/other/b.conf: not under validate_tree /etc/nginx",
        "/etc/nginx-old/c.conf: not under validate_tree /etc/nginx",
    ]


def test_apply_in_place_is_the_old_fallback(tmp_path):
    reconcile([spec(tmp_path / "a.conf", body="old")])
    before = (tmp_path / "a.conf").read_bytes()
    specs = [spec(tmp_path / "a.conf", body="new")]
    the_plan, existing = plan_for(specs)
    seen = []
    with pytest.raises(ModuleError, match="previous files restored"):
        mf.apply_in_place(
            the_plan, specs, existing, lambda: seen.append((tmp_path / "a.conf").read_bytes()) or (1, "", "bad")
        )
    assert seen[0].endswith(b"new\n")  # in place: the tool read the live path
    assert (tmp_path / "a.conf").read_bytes() == before


def test_a_rejected_candidate_leaves_its_directory_as_old_as_it_was(tree, tmp_path):
    # else the directory would look newer than the service's last load, and the next run would reload for nothing
    directory = tree / "sites"
    os.utime(str(directory), ns=(10**9, 2 * 10**9))
    specs = [spec(directory / "new.conf", "broken")]
    the_plan, existing = plan_for(specs)
    with pytest.raises(ModuleError):
        mf.apply(the_plan, specs, existing, lambda staged: (1, "", "bad"), scratch_parent=str(tmp_path / "run"))
    assert os.stat(str(directory)).st_mtime_ns == 2 * 10**9


# --- the engine every module shares: markers, adoption, owner drift, directories -----------------------------
def test_an_owner_changed_by_hand_is_an_update_and_the_diff_headers_say_so(tmp_path):
    path = tmp_path / "a.conf"
    reconcile([spec(path)])
    os.chown(str(path), 1, 1)
    os.chmod(str(path), 0o666)  # noqa: S103 - the drift a hand makes
    specs = [spec(path)]
    existing = mf.read_existing(specs)
    the_plan = mf.plan(specs, existing)
    assert the_plan.updated == [str(path)]
    (entry,) = mf.build_diff(the_plan, specs, existing)
    owner = pwd.getpwuid(1).pw_name + ":" + grp.getgrgid(1).gr_name
    assert entry["before_header"] == "%s (%s 0666)" % (path, owner)
    assert entry["after_header"] == "%s (%s:%s 0644)" % (path, ME, MY_GROUP)
    assert entry["before"] == entry["after"]
    mf.apply(the_plan, specs, existing)
    st = os.stat(str(path))
    assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (os.getuid(), os.getgid(), 0o644)


def test_a_marker_can_be_a_rule_or_none(tmp_path):
    def first_line(data):
        """the marker on the first line"""
        return data.startswith(b"# " + mf.MARKER.encode())

    late = tmp_path / "late.conf"
    late.write_text("# hand written\n# %s\n" % mf.MARKER)
    specs = [spec(late)]
    assert mf.plan(specs, mf.read_existing(specs, marker=first_line), first_line).conflicts == [str(late)]
    assert mf.plan(specs, mf.read_existing(specs)).updated == [str(late)]  # the default: anywhere in 512 bytes
    assert mf.validate_specs([mf.file_spec(str(late), "no marker", ME, MY_GROUP)], first_line) == [
        "%s: content lacks the marker (the marker on the first line)" % late
    ]
    plain = mf.file_spec(str(tmp_path / "users.acl"), "user default off\n", ME, MY_GROUP, "0640")
    assert mf.validate_specs([plain], None) == []
    (tmp_path / "users.acl").write_text("anything\n")
    assert mf.plan([plain], mf.read_existing([plain], marker=None), None).updated == [plain.path]


def test_adopt_takes_over_only_the_file_listed_with_it(tmp_path):
    (tmp_path / "package.conf").write_text("from a package\n")
    adopted = mf.file_spec(str(tmp_path / "package.conf"), "# %s\nours\n" % mf.MARKER, ME, MY_GROUP, adopt=True)
    refused = spec(tmp_path / "package.conf")
    assert mf.plan([refused], mf.read_existing([refused])).conflicts == [refused.path]
    assert mf.plan([adopted], mf.read_existing([adopted])).updated == [adopted.path]


def test_directories_are_planned_read_only_then_created_and_corrected(tmp_path):
    new, drifted, blocker = tmp_path / "a" / "b", tmp_path / "drifted", tmp_path / "file"
    drifted.mkdir(mode=0o700)
    blocker.write_text("x")
    directories = [mf.directory_spec(str(p), ME, MY_GROUP, "0750") for p in (new, drifted, blocker)]
    assert mf.validate_directories(directories + directories[:1]) == ["%s: listed twice" % new]
    create, fix, conflicts = mf.plan_directories(directories)
    assert ([d.path for d in create], [d.path for d in fix], conflicts) == ([str(new)], [str(drifted)], [str(blocker)])
    assert not new.exists()
    assert [entry["after"] for entry in mf.directory_diff(create, fix)] == [
        "directory %s:%s 0750\n" % (ME, MY_GROUP)
    ] * 2
    mf.apply_directories(create, fix)
    assert (new.stat().st_mode & 0o777, drifted.stat().st_mode & 0o777) == (0o750, 0o750)
    assert mf.plan_directories(directories[:2]) == ([], [], [])


def test_an_absent_path_is_removed_whatever_it_holds_and_a_directory_there_is_refused(tmp_path):
    old = tmp_path / "old-program"
    old.write_text("#!/bin/sh\n# Ansible managed\n")  # written before the marker existed
    specs = [spec(tmp_path / "a.conf")]
    existing = mf.read_existing(specs, absent=[str(old), str(tmp_path / "never-there")])
    assert mf.validate_absent([str(old)], specs, existing) == []
    the_plan = mf.plan(specs, existing)
    assert the_plan.removed == [str(old)]
    mf.apply(the_plan, specs, existing)
    assert not old.exists() and (tmp_path / "a.conf").exists()
    assert not mf.plan(specs, mf.read_existing(specs, absent=[str(old)])).changed

    (tmp_path / "dir").mkdir()
    absent = [str(tmp_path / "dir"), str(tmp_path / "a.conf"), "relative/path"]
    existing = mf.read_existing(specs, absent=absent)
    assert mf.validate_absent(absent, specs, existing) == [
        "%s: not a regular file, not removed" % (tmp_path / "dir"),
        "%s: both listed and absent" % (tmp_path / "a.conf"),
        "relative/path: not an absolute, normalised path",
    ]


def test_in_a_dry_run_an_owner_that_does_not_exist_yet_is_a_change_not_an_error(tmp_path):
    # check mode before the package that creates the user is installed (Debian's exporters and prometheus)
    missing = "wpzo-no-such-user"
    path, directory = tmp_path / "a.conf", tmp_path / "folder"
    reconcile([spec(path)])
    directory.mkdir()
    specs = [mf.file_spec(str(path), "# %s\nx\n" % mf.MARKER, missing, MY_GROUP)]
    directories = [mf.directory_spec(str(directory), ME, missing)]
    assert mf.validate_specs(specs) == ["%s: owner %r does not exist" % (path, missing)]
    assert mf.validate_directories(directories) == ["%s: group %r does not exist" % (directory, missing)]
    assert mf.validate_specs(specs, dry_run=True) == mf.validate_directories(directories, dry_run=True) == []
    assert mf.plan(specs, mf.read_existing(specs)).updated == [str(path)]
    assert [d.path for d in mf.plan_directories(directories)[1]] == [str(directory)]
