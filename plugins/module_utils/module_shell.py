# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one shell every module of the collection runs in.

A module is an argument spec and a ``compute(module)`` function: ``compute`` reads the host and decides, writes
nothing, and returns a ``Change``: the result (``changed``, the module's own keys, ``diff``) and ``apply``, the
function that makes it true (None when there is nothing to do). The shell builds the AnsibleModule (check mode
always supported), drops the diff unless diff mode is on, calls ``apply`` unless in check mode, and reports a
``ModuleError`` with its fields (``msg``, ``errors``, ``details``), which never hold secrets; the argument spec's
``no_log`` hides the secret options. Option defaults are written once, in the argument spec; ``defaults(spec)``
gives them to the pure logic that needs them.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.wpzo.hosting.plugins.module_utils.errors import ModuleError


class Change(collections.namedtuple("Change", "result apply close")):
    """``result``: the module's result (with ``diff``); ``apply``: ``() -> dict or None`` (keys added to the
    result), or None; ``close``: ``()``, called at the end whatever happened (a connection compute opened), or
    None."""

    __slots__ = ()


Change.__new__.__defaults__ = (None,)


def finish(change, check_mode, want_diff):
    """The result of a computed change: applied unless ``check_mode``; the diff only when ``want_diff``."""
    try:
        result = dict(change.result)
        if change.apply is not None and not check_mode:
            result.update(change.apply() or {})
        if not want_diff:
            result.pop("diff", None)
        return result
    finally:
        if change.close is not None:
            change.close()


def outcome(added, updated, removed, diff=None, changed=False, reload_reasons=None, **keys):
    """The result of a module that reconciles a set: the names it ``added``, ``updated`` and ``removed``; ``changed``
    when any of them is not empty, when ``changed`` says so (what the three lists do not show) or when a reload is
    due; ``diff`` when there is one (the shell drops it outside diff mode); the module's own ``keys``.

    With ``reload_reasons`` (a list: the module knows whether its service has loaded what is on disk),
    ``reload_needed`` says whether anything is written or a reason holds, and the reasons are returned when there
    are any.
    """
    written = bool(added or updated or removed)
    result = dict(keys, added=list(added), updated=list(updated), removed=list(removed))
    if diff is not None:
        result["diff"] = diff
    if reload_reasons is not None:
        result["reload_needed"] = written or bool(reload_reasons)
        if reload_reasons:
            result["reload_reasons"] = list(reload_reasons)
    result["changed"] = bool(changed or written or reload_reasons)
    return result


def defaults(spec):
    """``{option: default}`` of an argument spec (None where it has none)."""
    return dict((name, option.get("default")) for name, option in spec.items())


def run(argument_spec, compute, **module_args):
    """Run a module: ``compute(module)`` returns a ``Change``; raise ``ModuleError`` to fail."""
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True, **module_args)
    try:
        result = finish(compute(module), module.check_mode, module._diff)
    except ModuleError as exc:
        module.fail_json(**exc.fail_args())
    module.exit_json(**result)
