"""A dry run on the converged servers, before any other test changes them (pytest collects this module first)."""


def test_a_check_diff_run_on_the_converged_server_changes_nothing(check_run):
    check_run.assert_changed_nothing()
