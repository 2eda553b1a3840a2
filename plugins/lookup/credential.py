# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: credential
author: wpzo.hosting developers (@wpzo)
version_added: 0.1.0
short_description: Generated secrets, stored per inventory on the controller and reused on every run
description:
  - Returns the secret stored under each name in the credentials store on the controller, generating it with a
    cryptographic random generator on first use.
  - The store is O(store), by default the C(credentials/<inventory_hostname>) folder beside the inventory
    (or the variable C(wpzo_credentials_dir)); folders are created 0700 and files 0600.
    Keep it out of version control (the collection's example inventories ignore C(credentials/)).
  - To use a vault value instead, give it first, as in C(my_vaulted | default(lookup(...))).
options:
  _terms:
    description: Names of secrets, such as C(mariadb/example_com); letters, digits, C(_.@-) and C(/) between parts.
    required: true
    type: list
    elements: str
  length:
    description: Length of a generated secret.
    type: int
    default: 32
  charset:
    description: Characters of a generated secret; V(printable) is all printable ASCII except whitespace.
    type: str
    choices: [printable, alphanumeric]
    default: printable
  store:
    description:
      - Folder of the store; defaults to C(wpzo_credentials_dir) or
        C(<inventory_dir>/credentials/<inventory_hostname>).
    type: path
"""

EXAMPLES = r"""
- name: Create a database user with a stored password
  community.mysql.mysql_user:
    name: example
    password: "{{ lookup('wpzo.hosting.credential', 'mariadb/example') }}"
  no_log: true
"""

RETURN = r"""
_raw:
  description: The secrets, one per name.
  type: list
  elements: str
"""

import os

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase
from ansible_collections.wpzo.hosting.plugins.module_utils.credentials import read_or_create


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        store = self.get_option("store") or self._default_store(variables or {})
        try:
            return [
                read_or_create(store, term, self.get_option("length"), self.get_option("charset")) for term in terms
            ]
        except (OSError, ValueError) as exc:
            raise AnsibleLookupError("credential store %s: %s" % (store, exc)) from exc

    def _default_store(self, variables):
        if variables.get("wpzo_credentials_dir"):
            return self._templar.template(variables["wpzo_credentials_dir"])
        base = variables.get("inventory_dir") or variables.get("playbook_dir") or os.getcwd()
        return os.path.join(base, "credentials", variables.get("inventory_hostname", "localhost"))
