#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: server_facts
author: wpzo.hosting developers (@wpzo)
version_added: 0.1.0
short_description: Read the installed packages and the states of the services in one call
description:
  - Sets the facts C(packages) and C(services) in the shapes of M(ansible.builtin.package_facts) and
    M(ansible.builtin.service_facts), read with one C(dpkg-query) and two C(systemctl) listings. The roles of the
    collection read them once a play to skip an C(apt) call when every package is installed and a
    C(systemd_service) call when the unit is running and enabled.
  - Faster than those two modules on Debian, in one round trip instead of two; it asks nothing else (no SysV
    script's C(status), no C(systemctl show) per unit file). A unit systemd has not loaded is reported
    C(stopped).
  - Reads only; never reports C(changed).
extends_documentation_fragment:
  - wpzo.hosting.attributes
"""

EXAMPLES = r"""
- name: Read the installed packages and the services' states, once for every role of the play
  wpzo.hosting.server_facts:
  register: __wpzo_server_facts
  when: __wpzo_server_facts is not defined

- name: Install nginx unless it is installed
  ansible.builtin.apt:
    name: nginx
  when: "'nginx' not in ansible_facts['packages']"
"""

RETURN = r"""
ansible_facts:
  description: The facts set.
  returned: always
  type: dict
  contains:
    packages:
      description: The installed packages, by name; a list of the installed versions (one per architecture).
      returned: always
      type: dict
      sample: {"nginx": [{"name": "nginx", "version": "1.22.1-9", "arch": "amd64", "source": "apt"}]}
    services:
      description:
        - The service units systemd knows, by unit name. V(state) is V(running) or V(stopped); V(status) the unit
          file's state (V(enabled), V(disabled), V(static)...), or V(not-found), V(masked) or V(failed).
      returned: always
      type: dict
      sample: {"nginx.service": {"name": "nginx.service", "state": "running", "status": "enabled", "source": "systemd"}}
"""

from ansible_collections.wpzo.hosting.plugins.module_utils import module_shell, server_facts
from ansible_collections.wpzo.hosting.plugins.module_utils.errors import ModuleError

ARGUMENT_SPEC = {}


def read(module, argv):
    """stdout of ``argv`` (run without a shell, in the C locale)."""
    rc, stdout, stderr = module.run_command(argv, environ_update=dict(LANG="C", LC_ALL="C"))
    if rc != 0:
        raise ModuleError("%s failed (exit %d): %s" % (" ".join(argv[:2]), rc, stderr.strip()))
    return stdout


def compute(module):
    facts = dict(
        packages=server_facts.parse_packages(read(module, server_facts.DPKG_QUERY)),
        services=server_facts.parse_services(
            read(module, server_facts.LIST_UNITS), read(module, server_facts.LIST_UNIT_FILES)
        ),
    )
    return module_shell.Change(dict(changed=False, ansible_facts=facts), None)


def main():
    module_shell.run(ARGUMENT_SPEC, compute)


if __name__ == "__main__":
    main()
