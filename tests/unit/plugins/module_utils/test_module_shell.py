# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the module shell and the one error type every module shares."""

import pytest
from ansible_collections.wpzo.hosting.plugins.module_utils import module_shell
from ansible_collections.wpzo.hosting.plugins.module_utils.errors import ModuleError


class Recorder:
    def __init__(self, returns=None, raises=None):
        self.calls = []
        self.returns, self.raises = returns, raises

    def __call__(self):
        self.calls.append(True)
        if self.raises:
            raise self.raises
        return self.returns


def test_check_mode_never_applies_and_keeps_the_predicted_result():
    apply, close = Recorder(), Recorder()
    change = module_shell.Change({"changed": True, "diff": [1]}, apply, close)
    assert module_shell.finish(change, check_mode=True, want_diff=True) == {"changed": True, "diff": [1]}
    assert apply.calls == [] and close.calls == [True]


def test_a_real_run_applies_and_adds_what_apply_returns():
    apply = Recorder(returns={"dumps": ["x"], "diff": [2]})
    result = module_shell.finish(module_shell.Change({"changed": True, "diff": [1]}, apply), False, True)
    assert result == {"changed": True, "dumps": ["x"], "diff": [2]} and apply.calls == [True]


def test_the_diff_is_dropped_unless_asked_even_when_apply_returns_one():
    apply = Recorder(returns={"diff": [2]})
    assert module_shell.finish(module_shell.Change({"changed": True, "diff": [1]}, apply), False, False) == {
        "changed": True
    }


def test_close_runs_when_apply_fails():
    close = Recorder()
    change = module_shell.Change({"changed": True}, Recorder(raises=ModuleError("boom")), close)
    with pytest.raises(ModuleError, match="boom"):
        module_shell.finish(change, False, False)
    assert close.calls == [True]


def test_defaults_come_from_the_argument_spec():
    spec = {"name": {"type": "str", "required": True}, "mode": {"type": "str", "default": "0644"}}
    assert module_shell.defaults(spec) == {"name": None, "mode": "0644"}


def test_an_error_reports_its_fields_for_fail_json():
    error = ModuleError("two problems", ["a", "b"], {"rc": 78, "stderr": "bad"})
    assert error.fail_args() == {"msg": "two problems", "errors": ["a", "b"], "rc": 78, "stderr": "bad"}
    assert str(error) == "two problems"


def test_an_outcome_is_changed_when_anything_is_added_updated_or_removed():
    assert module_shell.outcome([], [], [], pools=["a"]) == {
        "changed": False,
        "added": [],
        "updated": [],
        "removed": [],
        "pools": ["a"],
    }
    for lists in ((["a"], [], []), ([], ["a"], []), ([], [], ["a"])):
        assert module_shell.outcome(*lists, diff=[1])["changed"] is True


def test_an_outcome_is_changed_by_what_the_lists_do_not_show():
    assert module_shell.outcome([], [], [], changed=True)["changed"] is True


@pytest.mark.parametrize(
    ("lists", "reasons", "expected"),
    [
        (([], [], []), [], {"changed": False, "reload_needed": False}),
        ((["a"], [], []), [], {"changed": True, "reload_needed": True}),
        (([], [], []), ["a changed after the last load"], {"changed": True, "reload_needed": True}),
    ],
)
def test_an_outcome_with_reload_reasons_says_whether_the_service_must_reload(lists, reasons, expected):
    result = module_shell.outcome(*lists, reload_reasons=reasons)
    assert {key: result[key] for key in expected} == expected
    assert result.get("reload_reasons") == (reasons or None)


def test_an_outcome_without_reload_reasons_says_nothing_of_a_reload_and_without_a_diff_has_none():
    result = module_shell.outcome(["a"], [], [])
    assert "reload_needed" not in result and "reload_reasons" not in result and "diff" not in result
