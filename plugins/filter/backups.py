# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError
from ansible_collections.wpzo.hosting.plugins.module_utils import backup_plan


def backup_target_env(target, credentials_file=None):
    """The text of a backup target's env file: restic's (and rclone's) variables, with the target's secrets."""
    try:
        return backup_plan.render_environment(backup_plan.target_environment(target, credentials_file))
    except (backup_plan.PlanError, KeyError) as exc:
        raise AnsibleFilterError("backup_target_env(%s): %s" % (target.get("name"), exc)) from None


class FilterModule(object):
    def filters(self):
        return {"backup_target_env": backup_target_env}
