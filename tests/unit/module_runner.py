"""Running a module's main() the way Ansible does, for the module unit tests."""

import pytest
from ansible.module_utils.testing import patch_module_args


def run_module(main, params, check_mode=False, diff=False):
    """Run main() with these arguments; return the exit code (its JSON result is on stdout)."""
    params = dict(params, _ansible_check_mode=check_mode, _ansible_diff=diff)
    with patch_module_args(params), pytest.raises(SystemExit) as info:
        main()
    return info.value.code
