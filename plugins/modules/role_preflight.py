#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: role_preflight
author: wpzo.hosting developers (@wpzo)
version_added: 0.1.0
short_description: Refuse an unsupported target or invalid role variables before a role changes anything
description:
  - The first task of every role of the collection. Runs on the controller only (no connection to the host); it
    checks the host's distribution from the gathered facts, then the role's variables against the rules of
    C(plugins/module_utils/role_settings.py), and fails listing every problem at once, each naming the variable
    and what is wrong.
  - The rules cover what the role's C(meta/argument_specs.yml) cannot express (patterns, ranges, rules between
    variables); ansible-core checks types and choices from the argument spec when the role starts.
  - Only the variables a rule reads are templated, so an expensive default the rules do not read is never evaluated.
  - Refuses a host whose OS family is not Debian; warns on a Debian release other than 12, the one tested.
options:
  role:
    description: The role whose variables are checked, as the play sees them (defaults, vars, inventory, extra vars).
    type: str
    required: true
    choices: [backups, base, fail2ban, mariadb, monitoring_agent, monitoring_server, nginx, php_fpm, redis, sites]
  entry_point:
    description:
      - The entry point whose variables are checked; C(sites) is a role's per-site entry point (included with
        C(tasks_from=sites)), which C(nginx) (C(nginx_vhosts)) and C(monitoring_agent) (C(monitoring_agent_sites))
        have rules for. The warning on a Debian release other than 12 is given by C(main) only.
    type: str
    default: main
attributes:
  action:
    support: full
    description: Runs on the controller as an action plugin; the host is never contacted.
  check_mode:
    support: full
    description: Changes nothing; behaves the same in check mode.
  diff_mode:
    support: full
    description: Changes nothing, so there is never a difference to show.
  platform:
    support: full
    platforms: posix
    description: Debian-family Linux hosts, from their facts (C(gather_facts) must be on).
notes:
  - The rules and their unit tests are in C(plugins/module_utils/role_settings.py) and
    C(tests/unit/plugins/module_utils/test_role_settings.py); C(docs/development.md) says how to add one.
"""

EXAMPLES = r"""
- name: Check the target and the role's variables, reporting every problem at once
  wpzo.hosting.role_preflight:
    role: nginx

- name: Validate the vhosts, reporting every problem at once
  wpzo.hosting.role_preflight:
    role: nginx
    entry_point: sites
"""

RETURN = r"""
problems:
  description: "Every problem of the role's variables, each C(<variable>: <what is wrong>)."
  returned: always
  type: list
  elements: str
  sample: ["nginx_status_listen: 0.0.0.0:8080 is not a loopback address"]
"""
