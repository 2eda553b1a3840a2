#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: reload_needed
author: wpzo.hosting developers (@wpzo)
version_added: 0.1.0
short_description: Tell whether a running service has loaded its configuration files, from the server's state
description:
  - Reports C(changed) when the running service has not loaded what is on disk; notify its reload handler from
    this task. That is the state a run leaves when it was killed after writing a file and before its handler
    reloaded the service; no later run would see a change to notify the handler with.
  - "The last load is read from the server: for C(php-fpm), the mtime of the master's pid file (every start and
    reload re-executes the master, which rewrites it; C(php-fpm -t) does not); for C(nginx), the earliest start
    of its current workers (a reload starts new ones; the pid file is not rewritten)."
  - The service must reload when a path of O(paths) (or, for a directory, anything below it, which covers files
    added and removed) was modified after that, or when a socket of O(sockets) is missing.
  - Reports nothing while the service is not running (starting it is not a reload's job).
  - Reads only; one call per service (a walk of O(paths), a few hundred C(lstat) calls for C(/etc/nginx)).
extends_documentation_fragment:
  - wpzo.hosting.attributes
options:
  service:
    description: Which service, hence how its last load is read.
    type: str
    required: true
    choices: [nginx, php-fpm]
  pid_file:
    description: Pid file of the service's master process.
    type: path
    required: true
  paths:
    description: Files and directories the service reads; directories are walked (links are not followed).
    type: list
    elements: path
    default: []
  sockets:
    description: Sockets the running service must have (those of configured PHP-FPM pools).
    type: list
    elements: path
    default: []
"""

EXAMPLES = r"""
- name: Reload php-fpm if it has not loaded its configuration (a run killed before its handlers)
  wpzo.hosting.reload_needed:
    service: php-fpm
    pid_file: /run/php/php8.2-fpm.pid
    paths: [/etc/php/8.2/fpm]
    sockets: [/run/php/wpzo-status.sock]
  notify: "php_fpm : config changed"
"""

RETURN = r"""
reasons:
  description: Why the service must reload; empty when it runs what is on disk.
  returned: always
  type: list
  elements: str
  sample: [/etc/php/8.2/fpm/pool.d changed after the last load, socket /run/php/example.com.sock is missing]
running:
  description: Whether the service was found running.
  returned: always
  type: bool
  sample: true
"""

from ansible_collections.wpzo.hosting.plugins.module_utils import module_shell, service_state

ARGUMENT_SPEC = dict(
    service=dict(type="str", required=True, choices=sorted(service_state.SERVICES)),
    pid_file=dict(type="path", required=True),
    paths=dict(type="list", elements="path", default=[]),
    sockets=dict(type="list", elements="path", default=[]),
)


def compute(module):
    params = module.params
    loaded_at = service_state.last_load(params["service"], params["pid_file"])
    reasons = service_state.reload_reasons(params["service"], loaded_at, params["paths"], True, params["sockets"])
    return module_shell.Change(dict(changed=bool(reasons), reasons=reasons, running=loaded_at is not None), None)


def main():
    module_shell.run(ARGUMENT_SPEC, compute)


if __name__ == "__main__":
    main()
