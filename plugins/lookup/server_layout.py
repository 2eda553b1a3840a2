# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: server_layout
author: wpzo.hosting developers (@wpzo)
version_added: 0.1.0
short_description: Names and paths on a server that several roles share, each defined once
description:
  - Returns the value of each name from C(plugins/module_utils/server_layout.py), the one place these facts are
    written; the modules read the same constants.
  - V(web_user) and V(web_group), the user and group Debian's nginx runs as (C(www-data)); V(cache_purge_command),
    the nginx role's page-cache purge command (C(/usr/local/sbin/wpzo-nginx-cache-purge)); V(backup_command), the
    backups role's runner (C(/usr/local/sbin/wpzo-backup)).
options:
  _terms:
    description: Names to look up.
    required: true
    type: list
    elements: str
    choices: [web_user, web_group, cache_purge_command, backup_command]
"""

EXAMPLES = r"""
- name: Let nginx read the file
  ansible.builtin.file:
    path: /etc/nginx/example.htpasswd
    group: "{{ lookup('wpzo.hosting.server_layout', 'web_group') }}"
    mode: "0640"
"""

RETURN = r"""
_raw:
  description: The value of each name.
  type: list
  elements: str
"""

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase
from ansible_collections.wpzo.hosting.plugins.module_utils.server_layout import LAYOUT


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        unknown = [term for term in terms if term not in LAYOUT]
        if unknown:
            raise AnsibleLookupError(
                "server_layout: unknown name %s, expected one of %s" % (", ".join(unknown), ", ".join(sorted(LAYOUT)))
            )
        return [LAYOUT[term] for term in terms]
