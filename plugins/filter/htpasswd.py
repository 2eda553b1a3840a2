# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError
from ansible_collections.wpzo.hosting.plugins.module_utils import htpasswd


def htpasswd_lines(users, current=""):
    """``name:hash`` lines of an htpasswd file, keeping each hash of ``current`` whose password still verifies."""
    try:
        return htpasswd.lines(users, current or "")
    except ValueError as exc:
        raise AnsibleFilterError(str(exc)) from None


class FilterModule(object):
    def filters(self):
        return {"htpasswd_lines": htpasswd_lines}
