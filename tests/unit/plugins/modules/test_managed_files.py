# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the wpzo.hosting.managed_files module shell: the three ways it tests staged files, reload_check."""

import grp
import json
import os
import pwd

import pytest
from ansible_collections.wpzo.hosting.plugins.module_utils import managed_files as mf
from ansible_collections.wpzo.hosting.plugins.module_utils import service_state
from ansible_collections.wpzo.hosting.plugins.modules import managed_files as module
from module_runner import run_module

ME = pwd.getpwuid(os.getuid()).pw_name
MY_GROUP = grp.getgrgid(os.getgid()).gr_name


@pytest.fixture
def result(capsys):
    return lambda: json.loads(capsys.readouterr().out)


@pytest.fixture
def conf(tmp_path, monkeypatch):
    directory = tmp_path / "etc"
    (directory / "sites").mkdir(parents=True)
    (directory / "main.conf").write_text("include sites/*.conf\n")
    run = tmp_path / "run"
    run.mkdir()
    monkeypatch.setattr(mf, "default_scratch_parent", lambda: str(run))
    return directory


def files(conf, **bodies):
    return [
        {"path": str(conf / "sites" / (name + ".conf")), "content": "# %s\n%s\n" % (mf.MARKER, body), "owner": ME,
         "group": MY_GROUP}
        for name, body in bodies.items()
    ]  # fmt: skip


def checker(tmp_path, fail_on="broken"):
    """A validator program: logs its arguments and what the main file's includes hold; fails on ``fail_on``."""
    script = tmp_path / "check"
    log = tmp_path / "check.log"
    script.write_text(
        "#!/bin/sh\n"
        'echo "ARGS $*" >> %s\n'
        'for f in "$@"; do\n'
        '  if [ -d "$f" ]; then cat "$f"/sites/*.conf >> %s; elif [ -f "$f" ]; then cat "$f" >> %s; fi\n'
        "done\n"
        'if grep -q %s %s; then echo "bad line" >&2; exit 1; fi\n' % (log, log, log, fail_on, log)
    )
    script.chmod(0o755)
    return str(script), log


def test_validate_tree_tests_a_copy_once_and_then_renames(conf, tmp_path, result):
    script, log = checker(tmp_path)
    code = run_module(
        module.main,
        {
            "files": files(conf, a="server a", b="server b"),
            "validate": [script, "-c", "%s"],
            "validate_tree": str(conf),
        },
    )
    out = result()
    assert code == 0, out
    assert out["added"] == [str(conf / "sites" / "a.conf"), str(conf / "sites" / "b.conf")]
    lines = log.read_text().splitlines()
    assert len([line for line in lines if line.startswith("ARGS")]) == 1
    assert lines[0].startswith("ARGS -c %s/wpzo-validate-" % (tmp_path / "run")) and lines[0].endswith("/tree")
    assert "server a" in lines and "server b" in lines
    assert (conf / "sites" / "a.conf").read_text().endswith("server a\n")


def test_a_failed_test_of_the_copy_changes_nothing(conf, tmp_path, result):
    script, _log = checker(tmp_path)
    run_module(
        module.main, {"files": files(conf, a="server a"), "validate_tree": str(conf), "validate": [script, "%s"]}
    )
    result()
    before = (conf / "sites" / "a.conf").read_bytes()
    code = run_module(
        module.main, {"files": files(conf, a="broken"), "validate_tree": str(conf), "validate": [script, "%s"]}
    )
    out = result()
    assert code == 1
    assert "nothing changed: bad line" in out["msg"]
    assert (conf / "sites" / "a.conf").read_bytes() == before
    assert sorted(os.listdir(str(conf / "sites"))) == ["a.conf"]


def test_without_a_tree_each_staged_file_is_tested(conf, tmp_path, result):
    script, log = checker(tmp_path)
    code = run_module(module.main, {"files": files(conf, a="server a", b="broken"), "validate": [script, "%s"]})
    out = result()
    assert code == 1
    assert out["msg"].startswith(
        "%s %%s test failed (rc=1), nothing changed: %s: bad line" % (script, conf / "sites/b.conf")
    )
    args = [line for line in log.read_text().splitlines() if line.startswith("ARGS")]
    assert len(args) == 2 and all("/.wpzo-" in line for line in args)
    assert os.listdir(str(conf / "sites")) == []


def test_files_outside_validate_tree_are_refused(conf, tmp_path, result):
    code = run_module(
        module.main, {"files": files(conf, a="x"), "validate_tree": str(tmp_path / "other"), "validate": ["true", "%s"]}
    )
    out = result()
    assert code == 1 and "not under validate_tree" in out["msg"]


def test_namespace_command_binds_each_copy_then_runs_the_tool():
    argv = module.namespace_command([("/run/c0", "/etc/ssh/sshd_config.d"), ("/run/c1", "/etc/x")], ["sshd", "-t"])
    assert argv[:5] == ["unshare", "--mount", "--propagation", "private", "--"]
    assert argv[8:] == ["sh", "/run/c0", "/etc/ssh/sshd_config.d", "/run/c1", "/etc/x", "--", "sshd", "-t"]


def test_a_tool_reading_fixed_paths_falls_back_to_testing_in_place_without_a_namespace(
    conf, tmp_path, result, monkeypatch
):
    monkeypatch.setattr(module, "private_namespace", lambda _module: False)
    seen = tmp_path / "seen"
    script = tmp_path / "fixed"
    script.write_text("#!/bin/sh\ncat %s > %s\n" % (conf / "sites" / "a.conf", seen))
    script.chmod(0o755)
    code = run_module(module.main, {"files": files(conf, a="server a"), "validate": [str(script)]})
    out = result()
    assert code == 0, out
    # (the warning itself is deduplicated across a pytest session by ansible's warning store: not asserted)
    assert seen.read_text().endswith("server a\n")


def test_a_tool_reading_fixed_paths_runs_in_a_private_namespace(conf, tmp_path, result, monkeypatch):
    monkeypatch.setattr(module, "private_namespace", lambda _module: True)
    calls = []
    monkeypatch.setattr(module, "namespace_command", lambda overlays, argv: calls.append(overlays) or ["true"])
    code = run_module(module.main, {"files": files(conf, a="server a"), "validate": ["sshd", "-t"]})
    out = result()
    assert code == 0, out
    ((copy, live),) = calls[0]
    assert live == str(conf / "sites") and "/wpzo-validate-" in copy


def test_reload_check_reports_what_a_killed_run_left(conf, result, monkeypatch):
    def nginx_loaded_at(when):
        monkeypatch.setitem(service_state.SERVICES, "nginx", (lambda pid_file, proc: when, service_state.MARGIN_NS))

    nginx_loaded_at(0)  # loaded long before any file
    params = {"files": files(conf, a="server a"), "reload_check": "nginx"}
    assert run_module(module.main, params) == 0
    first = result()
    assert first["changed"] is True and "reload_reasons" not in first
    assert run_module(module.main, params) == 0  # nothing written, but nginx has not loaded it
    second = result()
    assert second["changed"] is True and second["reload_needed"] is True and second["added"] == []
    assert "%s changed after the last load" % (conf / "sites" / "a.conf") in second["reload_reasons"]
    nginx_loaded_at(2**62)  # reloaded since
    assert run_module(module.main, params) == 0
    third = result()
    assert (third["changed"], third["reload_needed"]) == (False, False)
    nginx_loaded_at(None)  # not running
    assert run_module(module.main, params) == 0
    assert result()["changed"] is False


def test_stray_candidates_are_removed_but_not_in_check_mode(conf, result):
    stray = conf / "sites" / ".wpzo-x1y2"
    stray.write_text("half a run")
    run_module(module.main, {"files": files(conf, a="server a")}, check_mode=True)
    result()
    assert stray.exists()
    run_module(module.main, {"files": files(conf, a="server a")})
    result()
    assert not stray.exists()


# --- adopt, directories and per-file tests (one call for a role's whole set) ---------------------------------
def test_adopt_takes_over_an_unmarked_file_that_is_otherwise_refused(conf, result):
    package_file = conf / "sites" / "package.conf"
    package_file.write_text("written by a package\n")
    listed = files(conf, package="ours now")
    assert run_module(module.main, {"files": listed}) == 1
    assert "not managed" in result()["msg"]
    assert package_file.read_text() == "written by a package\n"
    listed[0]["adopt"] = True
    assert run_module(module.main, {"files": listed}, diff=True) == 0
    out = result()
    assert out["updated"] == [str(package_file)]
    assert out["diff"][0]["before"] == "written by a package\n"
    assert package_file.read_text().endswith("ours now\n")
    assert run_module(module.main, {"files": files(conf, package="ours now")}) == 0  # managed from then on
    assert result()["changed"] is False


def test_directories_are_created_and_corrected_before_the_files(conf, tmp_path, result):
    new = conf / "new" / "deeper"
    fixed = conf / "sites"
    fixed.chmod(0o777)
    args = {
        "directories": [
            {"path": str(new), "owner": ME, "group": MY_GROUP, "mode": "0750"},
            {"path": str(fixed), "owner": ME, "group": MY_GROUP, "mode": "0755"},
        ],
        "files": [dict(files(conf, a="x")[0], path=str(new / "a.conf"))],
    }
    assert run_module(module.main, args, check_mode=True, diff=True) == 0
    out = result()
    assert out["changed"] is True and out["directories"] == sorted([str(new), str(fixed)])
    headers = [(entry["before_header"], entry["after"]) for entry in out["diff"][:2]]
    assert headers[0] == ("/dev/null", "directory %s:%s 0750\n" % (ME, MY_GROUP))
    assert out["diff"][1]["before"] == "directory %s:%s 0777\n" % (ME, MY_GROUP)
    assert not new.exists() and (fixed.stat().st_mode & 0o777) == 0o777  # check mode wrote nothing
    assert run_module(module.main, args) == 0
    assert result()["changed"] is True
    assert (new.stat().st_mode & 0o777, fixed.stat().st_mode & 0o777) == (0o750, 0o755)
    assert (new / "a.conf").read_text().endswith("x\n")
    assert run_module(module.main, args) == 0
    assert result()["changed"] is False


def test_a_directory_path_held_by_a_file_is_refused(conf, result):
    (conf / "blocker").write_text("a file\n")
    code = run_module(module.main, {"files": [], "directories": [{"path": str(conf / "blocker")}]})
    assert code == 1
    assert result()["errors"] == ["%s exists and is not a directory" % (conf / "blocker")]


def test_each_file_can_carry_its_own_test_of_its_staged_candidate(conf, tmp_path, result):
    script, log = checker(tmp_path)
    listed = files(conf, a="fine", b="broken", c="not tested")
    listed[0]["validate"] = [script, "%s"]
    listed[1]["validate"] = [script, "%s"]
    assert run_module(module.main, {"files": listed}) == 1
    out = result()
    assert out["msg"].startswith("configuration test failed (rc=1), nothing changed: %s: " % listed[1]["path"])
    assert sorted(os.listdir(str(conf / "sites"))) == []  # nothing renamed, no staged file left
    args = [line for line in log.read_text().splitlines() if line.startswith("ARGS")]
    assert len(args) == 2 and all("/.wpzo-" in line for line in args)  # the staged candidates, c untested
    listed[1]["content"] = listed[1]["content"].replace("broken", "mended")
    log.write_text("")
    assert run_module(module.main, {"files": listed}) == 0
    assert result()["added"] == [item["path"] for item in listed]


def test_absent_paths_are_removed_with_a_masked_diff_but_not_in_check_mode(conf, tmp_path, result):
    old = tmp_path / "nginx-check-candidate"
    old.write_text("#!/bin/sh\n# Ansible managed\nsecret=1\n")
    params = {"files": files(conf, a="server a"), "absent": [str(old)]}
    assert run_module(module.main, params, check_mode=True, diff=True) == 0
    out = result()
    assert (out["changed"], out["removed"]) == (True, [str(old)])
    removal = [entry for entry in out["diff"] if entry["before_header"] == str(old)]
    assert removal == [{"before_header": str(old), "after_header": "/dev/null", "before": "(secret)\n",
                        "after": ""}]  # fmt: skip
    assert old.exists()
    assert run_module(module.main, params) == 0
    assert result()["removed"] == [str(old)] and not old.exists()
    assert run_module(module.main, params) == 0
    assert result()["changed"] is False
    old.mkdir()
    assert run_module(module.main, params) == 1
    assert "not a regular file" in result()["msg"] and old.is_dir()


def test_a_secret_file_is_masked_but_its_addition_change_and_removal_still_show(conf, result):
    listed = files(conf, key="password=one")
    listed[0]["secret"] = True
    params = {"files": listed, "purge": [str(conf / "sites" / "*.conf")]}
    sides = []
    for body in ("password=one", "password=two", None):
        if body is None:
            params["files"] = []
        else:
            listed[0]["content"] = "# %s\n%s\n" % (mf.MARKER, body)
        assert run_module(module.main, params, diff=True) == 0
        out = result()
        assert "password" not in json.dumps(out["diff"])
        sides += [(entry["before"], entry["after"]) for entry in out["diff"]]
    assert sides == [("", "(secret)\n"), ("(secret)\n", "(secret, changed)\n"), ("(secret)\n", "")]


def test_a_backup_keeps_what_a_change_replaced_and_none_is_left_when_the_test_fails(conf, tmp_path, result):
    script, _log = checker(tmp_path)
    path = conf / "sites" / "a.conf"

    def call(body):
        spec = dict(files(conf, a=body)[0], mode="0640", backup=True)
        code = run_module(module.main, {"files": [spec], "validate": [script, "%s"] if body == "broken" else []})
        return code, result()

    first = call("first")
    assert first[0] == 0 and first[1]["added"] == [str(path)] and first[1]["backups"] == {}  # nothing replaced
    code, out = call("broken")
    assert code == 1 and sorted(os.listdir(str(conf / "sites"))) == ["a.conf"]
    code, out = call("second")
    assert code == 0 and path.read_text().endswith("second\n")
    (copy,) = out["backups"].values()
    assert list(out["backups"]) == [str(path)] and copy.startswith(str(path) + ".") and copy.endswith("Z~")
    with open(copy) as kept:
        assert kept.read().endswith("first\n") and os.stat(copy).st_mode & 0o777 == 0o640
