# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check the target's distribution and a role's variables on the controller, before the role changes anything.

Documentation: plugins/modules/role_preflight.py. The rules: module_utils/role_settings.py.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.module_utils.common.collections import Mapping
from ansible.plugins.action import ActionBase
from ansible_collections.wpzo.hosting.plugins.module_utils import role_settings

SUPPORTED = ("Debian", "12", "Debian 12 (bookworm)")


class _PlayVariables(Mapping):
    """The play's variables, each templated the first time a rule reads it (nothing else is evaluated)."""

    def __init__(self, templar, task_vars):
        self._templar = templar
        self._task_vars = task_vars
        self._values = {}

    def __getitem__(self, name):
        if name not in self._values:
            if name not in self._task_vars:
                raise AnsibleActionFail("%s is not defined (the role's defaults and vars define it)" % name)
            try:
                self._values[name] = self._templar.template(self._task_vars[name])
            except AnsibleError as exc:
                raise AnsibleActionFail("%s: %s" % (name, exc.message)) from None
        return self._values[name]

    def __contains__(self, name):
        """Whether the play defines a variable, without templating it (a rule reading another role's variable)."""
        return name in self._task_vars

    def __iter__(self):
        return iter(self._task_vars)

    def __len__(self):
        return len(self._task_vars)


def distribution_problem(role, facts):
    """Why the host cannot take the role, or None; the refusal of a release other than 12 is a warning only."""
    family, _release, name = SUPPORTED
    if "os_family" not in facts:
        return "wpzo.hosting.%s needs the host's facts to check its distribution (gather_facts: true)." % role
    if facts["os_family"] != family:
        return "wpzo.hosting.%s supports %s; this host runs %s %s." % (
            role,
            name,
            facts.get("distribution", facts["os_family"]),
            facts.get("distribution_version", ""),
        )
    return None


def distribution_warning(facts):
    family, release, _name = SUPPORTED
    if facts.get("distribution") != family or facts.get("distribution_major_version") != release:
        return "wpzo.hosting is tested on %s %s only; this host runs %s %s." % (
            family,
            release,
            facts.get("distribution"),
            facts.get("distribution_major_version"),
        )
    return None


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        _valid, args = self.validate_argument_spec(
            argument_spec=dict(
                role=dict(type="str", required=True, choices=sorted(role_settings.RULES)),
                entry_point=dict(type="str", default="main"),
            )
        )
        role, entry_point = args["role"], args["entry_point"]
        if entry_point not in role_settings.RULES[role]:
            raise AnsibleActionFail(
                "entry_point: %s has no rules of %s (known: %s)"
                % (entry_point, role, ", ".join(sorted(role_settings.RULES[role])))
            )
        task_vars = task_vars or {}
        facts = task_vars.get("ansible_facts") or {}
        result["changed"] = False

        refusal = distribution_problem(role, facts)
        problems = role_settings.problems(role, _PlayVariables(self._templar, task_vars), entry_point)
        result["problems"] = problems
        messages = [refusal] if refusal else []
        if problems:
            what = "%s role" % role if entry_point == "main" else "%s %s" % (role, entry_point)
            messages.append("Invalid %s variables: %s" % (what, "; ".join(problems)))
        if messages:
            result["failed"] = True
            result["msg"] = " ".join(messages)
            return result
        # The role's main entry point warns; its per-site entry point runs later in the same play.
        warning = distribution_warning(facts) if entry_point == "main" else None
        if warning:
            self._display.warning(warning)
        return result
