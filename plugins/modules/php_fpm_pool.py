#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: wpzo.hosting developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: php_fpm_pool
short_description: Manage all per-site PHP-FPM pools in one call
version_added: 0.1.0
author: wpzo.hosting developers (@wpzo)
description:
  - Renders one PHP-FPM pool file C(<pool_dir>/<name>.conf) per entry of O(pools) and reconciles the whole list in
    a single call.
  - Every file written starts with the marker line C(; Managed by wpzo.hosting.php_fpm_pool - do not edit). Only
    files carrying that marker are ever changed or removed; a file without it at a pool's path is an error, and
    files without it (such as Debian's C(www.conf)) are never touched.
  - Unchanged files are left alone (their bytes, owner, group and mode are compared with the rendered content,
    C(root:root) and C(0640)); a pool file whose mode or owner was changed by hand is put back. Output is
    deterministic, dictionary keys are sorted.
  - All input is validated before anything is written and every problem is reported at once in RV(errors).
  - "Changes are staged, tested, then applied. Every new or changed file is first written beside its target as a
    staged file (C(.wpzo-*), which the C(*.conf) include does not match). If O(validate) is true,
    C(<php_fpm_binary> -t -y) then tests a private copy of O(php_fpm_config) whose C(include=<pool_dir>/*.conf)
    reads a copy of O(pool_dir) with the candidates in place and the removed pools gone (under C(/run)). Only
    when the test passes are the staged files renamed onto their targets and the removed pools deleted. A failed
    test leaves every live file as it was, and the module fails with php-fpm's output. A run killed before the
    renames leaves only staged files, which the next run deletes."
  - "Reloads are read from the server: with O(reload_check), a call that writes nothing still reports C(changed)
    (and RV(reload_needed)) when the running php-fpm master has not loaded the pools on disk: a pool file or
    O(pool_dir) itself (a pool added or removed) is newer than the master's pid file (rewritten by every start
    and reload, see C(pid) in O(php_fpm_config)), or a listed pool's socket is missing. This happens after a
    run that was killed between writing the pools and its reload handler; the C(changed) notifies the handler
    of this run. Nothing is reported while php-fpm is not running."
  - Files are written with mode C(0640) because C(env) values may hold secrets; the php-fpm master reads them as
    root.
  - "Quoting: O(pools[].env) values are always double-quoted. Values of O(pools[].php_values) and
    O(pools[].php_admin_values) made only of letters, digits and C(_ . : / , + -), or constant expressions like
    C(E_ALL & ~E_DEPRECATED), are written unquoted so PHP evaluates keywords and constants as usual (C(Off),
    C(E_ALL)). Other option values are unquoted only if they contain just those characters and cannot be read as
    a keyword or constant. Everything else is double-quoted with C(\\), C(\") and C($) escaped."
  - Does not create the directories below O(pools[].root) (C(logs), C(tmp), C(sessions)); C(php-fpm -t) needs the
    directory of O(pools[].slowlog) to exist.
extends_documentation_fragment:
  - wpzo.hosting.attributes
options:
  pools:
    description:
      - The complete list of pools to manage.
      - With O(purge=true) managed pool files not in this list are removed.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description:
          - Pool name, used for the section header, the file name C(<name>.conf) and the default socket.
          - 1 to 64 characters out of lower-case letters, digits, C(_), C(.) and C(-); the first one must be a letter,
            digit or C(_). Domain names such as C(example.com) are valid.
          - Must be unique in O(pools).
        type: str
        required: true
      user:
        description:
          - POSIX user the workers run as (letters, digits, C(_ . -), not starting with C(-), C(.) or a digit, at most
            32 characters). C(root) is rejected.
        type: str
        required: true
      group:
        description:
          - Group the workers run as. Same rules as O(pools[].user).
          - Defaults to O(pools[].user).
        type: str
      root:
        description:
          - The site's tree, for example C(/srv/www/example.com). Absolute, normalized (no trailing C(/), no C(.) or
            C(..)), not C(/) and without C(:).
          - O(pools[].open_basedir), O(pools[].upload_tmp_dir), O(pools[].session_save_path) and
            O(pools[].sys_temp_dir) must lie inside it.
        type: path
        required: true
      listen:
        description:
          - Absolute path of the UNIX socket. Must be unique in O(pools).
          - Defaults to C(/run/php/<name>.sock).
        type: path
      listen_owner:
        description: Owner of the socket (C(listen.owner)).
        type: str
        default: www-data
      listen_group:
        description: Group of the socket (C(listen.group)).
        type: str
        default: www-data
      listen_mode:
        description: Mode of the socket (C(listen.mode)); a quoted four-digit octal string.
        type: str
        default: '0660'
      pm:
        description: Process manager.
        type: str
        choices: [ondemand, dynamic, static]
        default: ondemand
      max_children:
        description: C(pm.max_children), at least 1.
        type: int
        default: 5
      start_servers:
        description:
          - C(pm.start_servers). Only with O(pools[].pm=dynamic); between the spare server limits. When omitted
            php-fpm computes it.
        type: int
      min_spare_servers:
        description:
          - C(pm.min_spare_servers). Required with O(pools[].pm=dynamic) and only allowed there.
          - At most O(pools[].max_spare_servers) and O(pools[].max_children).
        type: int
      max_spare_servers:
        description:
          - C(pm.max_spare_servers). Required with O(pools[].pm=dynamic) and only allowed there.
          - At most O(pools[].max_children).
        type: int
      process_idle_timeout:
        description: C(pm.process_idle_timeout), written for O(pools[].pm=ondemand) only. A number with an optional
          unit C(s), C(m), C(h) or C(d).
        type: str
        default: 10s
      max_requests:
        description: C(pm.max_requests); C(0) means unlimited.
        type: int
        default: 500
      request_terminate_timeout:
        description: C(request_terminate_timeout), a duration like O(pools[].process_idle_timeout).
        type: str
        default: 60s
      request_slowlog_timeout:
        description: C(request_slowlog_timeout), a duration; C(0) disables the slow log.
        type: str
        default: 5s
      slowlog:
        description:
          - Absolute path of the slow log. Defaults to C(<root>/logs/php-slow.log).
        type: path
      open_basedir:
        description:
          - Directories PHP may access, joined with C(:) into C(php_admin_value[open_basedir]).
          - Every entry must be a normalized absolute path inside O(pools[].root).
          - Defaults to C([<root>]); C([]) sets none. PHP turns its realpath cache off under open_basedir, which
            made an uncached WordPress front page about 40 ms slower (90 ms instead of 50) in this project's
            benchmark.
        type: list
        elements: path
      upload_tmp_dir:
        description: C(php_admin_value[upload_tmp_dir]), inside O(pools[].root). Defaults to C(<root>/tmp).
        type: path
      session_save_path:
        description: C(php_admin_value[session.save_path]), inside O(pools[].root). Defaults to C(<root>/sessions).
        type: path
      sys_temp_dir:
        description: C(php_admin_value[sys_temp_dir]), inside O(pools[].root). Defaults to C(<root>/tmp).
        type: path
      disable_functions:
        description:
          - Functions listed in C(php_admin_value[disable_functions]).
          - An empty list omits the setting.
        type: list
        elements: str
        default: [exec, passthru, shell_exec, system, proc_open, popen, pcntl_exec, show_source, putenv, symlink,
                  link]
      memory_limit:
        description: C(php_admin_value[memory_limit]), for example C(256M) or C(-1).
        type: str
        default: 256M
      env:
        description:
          - Environment variables, written as C(env[KEY] = "value") in sorted key order.
          - Keys are C([A-Za-z_][A-Za-z0-9_]*). Booleans become C(true)/C(false).
        type: dict
      php_admin_values:
        description:
          - Extra C(php_admin_value[key]) settings (boolean values are written as C(php_admin_flag[key] = on/off)).
          - Keys rendered by dedicated options (C(open_basedir), C(upload_tmp_dir), C(session.save_path),
            C(sys_temp_dir), C(disable_functions), C(memory_limit), C(error_log), C(log_errors), C(fastcgi.logging),
            C(mail.force_extra_parameters)) are rejected.
        type: dict
      php_values:
        description:
          - Extra C(php_value[key]) settings (booleans become C(php_flag)); same key rules as
            O(pools[].php_admin_values), and a key must not be in both.
        type: dict
      status_path:
        description: C(pm.status_path); an empty string omits it.
        type: str
        default: /fpm-status
      ping_path:
        description: C(ping.path); an empty string omits it.
        type: str
        default: /fpm-ping
      error_log:
        description: C(php_admin_value[error_log]), an absolute path. Defaults to C(<root>/logs/php-error.log).
        type: path
  pool_dir:
    description: Directory holding the pool files. Must exist unless in check mode.
    type: path
    default: /etc/php/8.2/fpm/pool.d
  php_fpm_binary:
    description: php-fpm binary used to test the configuration.
    type: path
    default: /usr/sbin/php-fpm8.2
  php_fpm_config:
    description:
      - Main php-fpm configuration; a copy of it, with its C(include=<pool_dir>/*.conf) pointed at the staged
        pools, is passed to C(php-fpm -t -y). It must have that include line.
      - Its C(pid) is the pid file O(reload_check) reads.
    type: path
    default: /etc/php/8.2/fpm/php-fpm.conf
  purge:
    description:
      - Remove C(*.conf) files directly in O(pool_dir) that carry the marker line but are not in O(pools).
      - Files without the marker, symlinks and anything outside O(pool_dir) are never removed.
    type: bool
    default: false
  validate:
    description:
      - Test the staged pools with C(<php_fpm_binary> -t -y) (on a copy of O(php_fpm_config) that includes a copy
        of O(pool_dir) with the candidates in place) before any of them is renamed into place; a failure changes
        nothing.
      - The test only runs when something changed, and never in check mode.
    type: bool
    default: true
  reload_check:
    description:
      - Also report C(changed) when nothing is written but the running php-fpm master has not loaded the pool
        files (see the description); the master's pid file is the C(pid) of O(php_fpm_config).
      - Costs one C(stat) per pool and one per socket.
    type: bool
    default: true
notes:
  - The module does not reload php-fpm; notify a handler when the task reports C(changed). With O(reload_check)
    that also covers a reload an earlier, killed run never made.
seealso:
  - name: PHP-FPM configuration
    description: Pool directives reference.
    link: https://www.php.net/manual/en/install.fpm.configuration.php
"""

EXAMPLES = r"""
- name: Manage the PHP-FPM pools of all sites
  wpzo.hosting.php_fpm_pool:
    pools:
      - name: example.com
        user: example
        root: /srv/www/example.com
        env:
          WP_ENV: production
      - name: shop.example.org
        user: shop
        root: /srv/www/shop.example.org
        pm: dynamic
        max_children: 12
        min_spare_servers: 2
        max_spare_servers: 4
        memory_limit: 512M
        php_admin_values:
          max_execution_time: 120
          error_reporting: E_ALL & ~E_DEPRECATED
    purge: true
  notify: Reload php-fpm

- name: Preview changes without writing
  wpzo.hosting.php_fpm_pool:
    pools: "{{ hosting_php_pools }}"
  check_mode: true
  diff: true
"""

RETURN = r"""
added:
  description: Names of pools whose file was created.
  returned: success
  type: list
  elements: str
  sample: [example.com]
updated:
  description: Names of pools whose existing file's content, owner, group or mode changed.
  returned: success
  type: list
  elements: str
  sample: [shop.example.org]
removed:
  description: Names of managed pool files removed because of O(purge).
  returned: success
  type: list
  elements: str
  sample: [old-site]
pools:
  description: Names of all pools managed by this call, in the given order.
  returned: success
  type: list
  elements: str
  sample: [example.com, shop.example.org]
reload_needed:
  description:
    - Whether php-fpm must reload; something was written, or (with O(reload_check)) the running master has not
      loaded what is on disk.
  returned: success
  type: bool
  sample: false
reload_reasons:
  description: Why the running master must reload although nothing was written.
  returned: when the running master has not loaded what is on disk
  type: list
  elements: str
  sample: ["socket /run/php/example.com.sock is missing"]
diff:
  description: One entry per added, updated or removed file.
  returned: success, in diff mode
  type: list
  elements: dict
  sample:
    - before_header: /etc/php/8.2/fpm/pool.d/example.com.conf
      after_header: /etc/php/8.2/fpm/pool.d/example.com.conf
      before: ""
      after: "; Managed by wpzo.hosting.php_fpm_pool - do not edit\n[example.com]\n..."
errors:
  description: Every validation problem, each naming the pool and the option.
  returned: failure
  type: list
  elements: str
  sample: ["pool 'example.com' (pools[0]): open_basedir: '/etc' is outside root '/srv/www/example.com'"]
stdout:
  description: Output of the failed C(php-fpm -t).
  returned: failure of the configuration test
  type: str
stderr:
  description: Error output of the failed C(php-fpm -t).
  returned: failure of the configuration test
  type: str
rc:
  description: Exit code of the failed C(php-fpm -t).
  returned: failure of the configuration test
  type: int
  sample: 78
"""

import os

from ansible_collections.wpzo.hosting.plugins.module_utils import module_shell
from ansible_collections.wpzo.hosting.plugins.module_utils.php_fpm_pool import (
    ARGUMENT_SPEC,
    compute,
    config_pid_file,
    staged_main_config,
)


def compute_change(module):
    params = module.params
    config_text = None
    try:
        with open(params["php_fpm_config"]) as handle:
            config_text = handle.read()
    except OSError:
        pass  # php-fpm not installed yet: nothing to test against, nothing running
    pid_file = None
    if params["reload_check"]:
        pid_file = config_pid_file(config_text or "")

    def validator(staged):
        if config_text is None:
            module.fail_json(msg="cannot read php_fpm_config %s to test the pools with" % params["php_fpm_config"])
        main_config = os.path.join(staged.scratch, "php-fpm.conf")
        with open(main_config, "w") as handle:
            handle.write(staged_main_config(config_text, params["pool_dir"], staged.root))
        return module.run_command([params["php_fpm_binary"], "-t", "-y", main_config])

    return compute(
        pools=params["pools"],
        pool_dir=params["pool_dir"],
        purge=params["purge"],
        validate=params["validate"],
        check_mode=module.check_mode,
        validator=validator,
        php_fpm_binary=params["php_fpm_binary"],
        pid_file=pid_file,
    )


def main():
    module_shell.run(ARGUMENT_SPEC, compute_change)


if __name__ == "__main__":
    main()
