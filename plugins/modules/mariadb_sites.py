#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: wpzo.hosting developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: mariadb_sites
short_description: Manage the databases and database users of all sites in one call
version_added: 0.1.0
author: wpzo.hosting developers (@wpzo)
description:
  - Reconciles a database and a database user for every entry of O(sites) in a single call, over a single
    connection as O(login_user) through the UNIX socket O(login_unix_socket) (C(unix_socket) authentication, no
    password).
  - "Why not C(community.mysql): with C(mysql_db), C(mysql_user) and a grant that is three module calls per site,
    each with its own connection, so hundreds of sites take minutes; this module reads the state of every site in
    four queries and changes only what differs, so a run over 200 unchanged sites takes about a second. It also
    treats a site's database, user and grant as one unit (undone together if one of them fails), and never drops
    a database without a fresh dump beside it."
  - Names come from the domain, as everywhere in the collection (C(site_names.derive)); for C(example.com) the
    database and the user are both C(wp_example_com). Long names are cut within MariaDB's limits (64 characters
    for databases, 80 for users) and end with a hash of the domain.
  - All of O(sites) is validated before anything is read or changed, and every problem is reported at once in
    RV(errors), each naming the site and the field (an invalid domain, a name two sites would share, a domain
    listed twice, a missing password).
  - A present site gets its database (O(charset), O(collation)) and one account C(<database_user>@<host>) per
    entry of O(sites[].hosts), with C(ALL PRIVILEGES) on its own database only. The grant names the database
    with C(_) and C(%) escaped, since they are wildcards in a grant; C(GRANT ... ON `wp_a_b`.*) would also
    give access to a database C(wp_aXb). Global, other databases', table and routine privileges of the account
    are revoked, accounts of the user on hosts no longer listed are dropped.
  - Passwords are compared with the stored C(mysql_native_password) hash, computed in Python
    (C('*' + upper(hex(sha1(sha1(password)))))); the server is sent the hash (C(IDENTIFIED BY PASSWORD)), never
    the password, and only when it differs. Every statement is sent with parameters, never built from a value.
  - A site with O(sites[].state=absent) loses its accounts; its database stays unless O(sites[].purge) is true.
    Before either, if the database exists, it is dumped with C(mariadb-dump --single-transaction) to
    C(<dump_dir>/<database>-<UTC timestamp>.sql.gz) (mode 0600, O(dump_dir) created 0700), checked to be
    complete, and reported in RV(dumps). If the dump fails nothing of that site is removed.
extends_documentation_fragment:
  - wpzo.hosting.attributes
options:
  sites:
    description:
      - The sites whose databases and users to manage. Sites not listed are not touched; to remove one, list
        it with O(sites[].state=absent).
    type: list
    elements: dict
    required: true
    suboptions:
      domain:
        description:
          - The site's domain; it is normalised (lower case, punycode, no trailing dot) and the database and user
            names are derived from it.
        type: str
        required: true
      state:
        description:
          - V(present) creates or updates the database, the accounts and the grants.
          - V(absent) drops every account of the site's user; the database is kept unless O(sites[].purge).
        type: str
        choices: [present, absent]
        default: present
      purge:
        description:
          - With O(sites[].state=absent), also drop the database (after a dump). Ignored for present sites.
        type: bool
        default: false
      password:
        description:
          - The user's password, required when O(sites[].state=present). Any characters are handled safely.
          - The collection's roles take it from the C(wpzo.hosting.credential) lookup, or from the inventory.
        type: str
      hosts:
        description:
          - Hosts the site's user connects from, one account each (C(localhost) is the UNIX socket; with
            C(skip-name-resolve) use addresses, netmasks or patterns such as C(10.0.0.%) for other hosts).
        type: list
        elements: str
        default: [localhost]
      max_user_connections:
        description:
          - How many connections the site's user may hold at once (C(MAX_USER_CONNECTIONS) of each of its
            accounts), so that one site cannot take every connection of the server. V(0) leaves only the server's
            own C(max_user_connections). Changed with C(ALTER USER) when it differs.
        type: int
        default: 30
  validate_only:
    description:
      - Only validate O(sites) and return the derived names in RV(sites), without connecting to the server.
        Passwords are not required. Use it to fail early, before any change, and to learn the names.
    type: bool
    default: false
  charset:
    description: Default character set of the sites' databases.
    type: str
    default: utf8mb4
  collation:
    description: Default collation of the sites' databases; must belong to O(charset).
    type: str
    default: utf8mb4_unicode_ci
  login_unix_socket:
    description: UNIX socket of the server.
    type: path
    default: /run/mysqld/mysqld.sock
  login_user:
    description: Account to connect as, authenticated by C(unix_socket) (the module must run as that system user).
    type: str
    default: root
  dump_dir:
    description: Directory of the dumps taken before a removal; created with mode 0700 if missing.
    type: path
    default: /var/lib/wpzo/backups/mariadb
  dump_binary:
    description: The dump program, run without a shell and without option files (C(--no-defaults)).
    type: path
    default: /usr/bin/mariadb-dump
requirements:
  - PyMySQL on the managed host (Debian package C(python3-pymysql)), except with O(validate_only=true).
notes:
  - MariaDB 10.4 or later (accounts are read from C(mysql.global_priv)); tested with MariaDB 10.11 on Debian 12.
  - The statements of one site are undone if one of them fails (a database or user created by the run is dropped,
    a password it changed restored); sites done before stay done and are reported.
  - Use C(no_log) on the task when passwords are templated into it; the O(sites[].password) values are never
    returned, and the diff shows only whether a password changes.
seealso:
  - name: Account names in MariaDB
    description: Host patterns, and why C(_) and C(%) in a database name of a grant need escaping.
    link: https://mariadb.com/kb/en/grant/
"""

EXAMPLES = r"""
- name: Databases and users of all sites
  wpzo.hosting.mariadb_sites:
    sites:
      - domain: example.com
        password: "{{ lookup('wpzo.hosting.credential', 'mariadb/wp_example_com') }}"
      - domain: shop.example.org
        password: "{{ vault_shop_db_password }}"
        hosts: [10.0.0.11, 10.0.0.12]
      - domain: old.example.net
        state: absent
        purge: true
  no_log: true
  register: databases

- name: Learn the names and fail early on a bad site list, before MariaDB is even installed
  wpzo.hosting.mariadb_sites:
    sites: "{{ wpzo_sites }}"
    validate_only: true
  register: names
"""

RETURN = r"""
added:
  description: Domains whose database and user were created.
  returned: success
  type: list
  elements: str
  sample: [example.com]
updated:
  description: Domains where something was changed (password, hosts, privileges, character set).
  returned: success
  type: list
  elements: str
  sample: [shop.example.org]
removed:
  description: Domains whose accounts (and with O(sites[].purge), database) were dropped.
  returned: success
  type: list
  elements: str
  sample: [old.example.net]
dumps:
  description: Dumps written before a removal; empty in check mode.
  returned: success
  type: list
  elements: dict
  contains:
    domain:
      description: The site.
      type: str
    database:
      description: The database dumped.
      type: str
    path:
      description: The gzipped dump.
      type: str
    size:
      description: Size of the uncompressed dump in bytes.
      type: int
  sample:
    - domain: old.example.net
      database: wp_old_example_net
      path: /var/lib/wpzo/backups/mariadb/wp_old_example_net-20250101T020304Z.sql.gz
      size: 48211
sites:
  description: Every site of O(sites) with its derived names; C(action) is missing with O(validate_only=true).
  returned: success
  type: list
  elements: dict
  sample:
    - domain: example.com
      database: wp_example_com
      database_user: wp_example_com
      hosts: [localhost]
      state: present
      action: unchanged
diff:
  description: Before and after of every changed site; passwords show as C(<hidden>) or C(<hidden, changed>).
  returned: success, in diff mode
  type: dict
  sample:
    before:
      example.com:
        database: null
        accounts: {}
    after:
      example.com:
        database: {name: wp_example_com, charset: utf8mb4, collation: utf8mb4_unicode_ci}
        accounts:
          wp_example_com@localhost:
            authentication: mysql_native_password
            password: <hidden>
            privileges: ["ALL PRIVILEGES ON `wp\\_example\\_com`.*"]
errors:
  description: Every validation problem, each naming the site and the field.
  returned: failure
  type: list
  elements: str
  sample: ["site 'bad_name!' (sites[0]): domain: 'bad_name!' is not a fully qualified host name"]
"""

import traceback

from ansible.module_utils.basic import missing_required_lib
from ansible_collections.wpzo.hosting.plugins.module_utils import module_shell
from ansible_collections.wpzo.hosting.plugins.module_utils.errors import ModuleError
from ansible_collections.wpzo.hosting.plugins.module_utils.mariadb_sites import ARGUMENT_SPEC, compute, dump_database

try:
    import pymysql
except ImportError:
    PYMYSQL_IMPORT_ERROR = traceback.format_exc()
    pymysql = None
else:
    PYMYSQL_IMPORT_ERROR = None


def compute_change(module):
    params = module.params
    if not params["validate_only"] and pymysql is None:
        module.fail_json(msg=missing_required_lib("PyMySQL (Debian: python3-pymysql)"), exception=PYMYSQL_IMPORT_ERROR)

    def connect():
        try:
            return pymysql.connect(
                unix_socket=params["login_unix_socket"],
                user=params["login_user"],
                charset="utf8mb4",
                autocommit=True,
                connect_timeout=30,
            )
        except pymysql.Error as exc:
            raise ModuleError(
                "cannot connect to MariaDB as %s through %s: %s"
                % (params["login_user"], params["login_unix_socket"], exc)
            ) from exc

    def dumper(database):
        return dump_database(
            database, params["dump_dir"], params["dump_binary"], params["login_unix_socket"], params["login_user"]
        )

    return compute(
        sites=params["sites"],
        connect=connect,
        dumper=dumper,
        charset=params["charset"],
        collation=params["collation"],
        dump_dir=params["dump_dir"],
        validate_only=params["validate_only"],
    )


def main():
    module_shell.run(ARGUMENT_SPEC, compute_change)


if __name__ == "__main__":
    main()
