#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: wpzo.hosting developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: redis_acl
short_description: Manage all Redis ACL users, one per site plus any others, in one call
version_added: 0.1.0
author: wpzo.hosting developers (@wpzo)
description:
  - Renders the Redis ACL file O(aclfile) from O(users) and O(sites) and reconciles the whole list in a single call.
  - Each site of O(sites) gets a user named after its domain (the C(redis_user) of the collection's site names, for
    example C(example_com) for C(example.com)) whose keys and Pub/Sub channels are confined to its own prefix
    (C(~example_com:*) and C(&example_com:*)) and whose commands are O(site_commands).
  - Passwords are written as C(#<sha256>) hashes only, so no plaintext password lands on disk. Lines are sorted by
    user name. The file is compared byte for byte with the rendered content; an unchanged file is not rewritten.
  - The C(default) user is always written. Unless O(users) lists it (or, without O(purge), the file has it), it is
    disabled with C(user default off); Redis would otherwise recreate it without a password and with every
    permission. It cannot be removed.
  - All input is validated before anything is read or written, and every problem is reported at once in
    RV(errors), each naming the entry and the field.
  - The file is written atomically (staged beside it, then renamed) as root with O(group) and mode C(0640), by the
    collection's file engine; a mode or owner changed by hand is put back.
  - With O(reload), the module logs in over the unix socket O(socket) as O(login_user) before changing anything.
    When the server runs with this O(aclfile) and the file changed, or the server's users (names, on/off, password
    hashes, key and channel patterns, as C(ACL LIST) shows them) differ from the wanted ones, it runs C(ACL LOAD).
    Redis checks the whole file then; if it refuses it, the previous file is put back and the module fails with
    Redis's message, and the running users stay as they were.
  - When nothing listens on O(socket) or the server uses no or another ACL file (for example Debian's initial
    configuration), the file is only written; Redis reads it when it (re)starts with a configuration naming it.
  - Redis is spoken to directly over the socket (a small RESP client, no dependency), so no password ever appears
    on a command line or in an environment, and error replies are never mistaken for success (C(redis-cli) exits
    0 on them).
extends_documentation_fragment:
  - wpzo.hosting.attributes
options:
  users:
    description:
      - ACL users other than the sites' ones, such as an administrator or the C(default) user.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description:
          - User name; letters, digits and C(_ . @ -), at most 128 characters. Unique across O(users) and the users
            of O(sites).
        type: str
        required: true
      state:
        description:
          - V(absent) removes the user from the file. The C(default) user cannot be removed.
        type: str
        choices: [present, absent]
        default: present
      enabled:
        description: C(on) or C(off); a disabled user cannot log in.
        type: bool
        default: true
      password:
        description:
          - The user's password, stored as its SHA-256 hash. Required for an enabled, present user.
          - Any characters but control characters.
        type: str
      keys:
        description: Key patterns the user may access, written as C(~<pattern>); for example V(*) for all keys.
        type: list
        elements: str
        default: []
      channels:
        description: Pub/Sub channel patterns, written as C(&<pattern>).
        type: list
        elements: str
        default: []
      commands:
        description:
          - Command rules in order, such as V(+@all), V(-@dangerous), V(-flushall), V(+config|get).
          - Category names are checked against the categories of Redis 7.
        type: list
        elements: str
        default: []
  sites:
    description:
      - One ACL user per site, named and confined by the site's domain.
    type: list
    elements: dict
    default: []
    suboptions:
      domain:
        description:
          - The site's domain; normalised (lower case, punycode) and unique. Two domains that derive the same names
            (such as C(a-b.com) and C(a.b.com)) are an error.
        type: str
        required: true
      state:
        description: V(absent) removes the site's user.
        type: str
        choices: [present, absent]
        default: present
      password:
        description: The site user's password, stored as its SHA-256 hash. Required for a present site.
        type: str
  site_commands:
    description:
      - Command rules of every site's user.
      - The default (C(-@all) and an allow-list) permits only what a WordPress object cache uses, on the site's own
        keys (strings, hashes, key lifetimes, C(MULTI)/C(EXEC), C(PING), C(SELECT), and C(INFO) for the diagnostics
        of object-cache plugins). Nothing that lists or counts other sites' keys (C(SCAN), C(KEYS), C(RANDOMKEY),
        C(DBSIZE)), runs code (C(EVAL), C(SCRIPT), C(FUNCTION)), reads channels (C(PUBSUB)), flushes or
        administers (C(FLUSHALL), C(FLUSHDB), C(CONFIG), C(ACL), C(CLIENT KILL), C(DEBUG)).
    type: list
    elements: str
    default: [-@all, +auth, +hello, +ping, +echo, +select, +quit, +reset, +client|setname, +client|getname, +client|id,
      +get, +mget, +set, +setex, +psetex, +setnx, +mset, +msetnx, +getex, +getdel, +getset, +append, +strlen, +incr,
      +incrby, +incrbyfloat, +decr, +decrby, +del, +unlink, +exists, +type, +touch, +expire, +pexpire, +expireat,
      +pexpireat, +persist, +ttl, +pttl, +hget, +hmget, +hgetall, +hkeys, +hvals, +hlen, +hexists, +hset, +hsetnx,
      +hmset, +hdel, +hincrby, +multi, +exec, +discard, +watch, +unwatch, +info]
  purge:
    description:
      - Remove the users of the file that are in neither O(users) nor O(sites). Without it they are kept as they are.
    type: bool
    default: false
  aclfile:
    description: The ACL file, the C(aclfile) of C(redis.conf). Its directory must exist unless in check mode.
    type: path
    default: /etc/redis/users.acl
  group:
    description: Group of the file (owner C(root), mode C(0640)); Redis must be able to read it.
    type: str
    default: redis
  socket:
    description: Unix socket of the Redis server for O(reload).
    type: path
    default: /run/redis/redis-server.sock
  login_user:
    description: User to log in as for O(reload); it needs C(CONFIG GET), C(ACL LIST) and C(ACL LOAD).
    type: str
    default: admin
  login_password:
    description:
      - Password of O(login_user) on the running server.
      - Defaults to the password of the entry of O(users) named O(login_user). To change that user's password, pass
        the previous one here once.
    type: str
  reload:
    description:
      - Load the file into the running server with C(ACL LOAD) (see the description).
    type: bool
    default: true
  validate_only:
    description:
      - Only validate the input and return RV(sites) with the derived names; read and change nothing. Passwords
        are not needed. Used to check a site list before any change.
    type: bool
    default: false
notes:
  - "Redis allows a user's commands on its own keys only, but C(SCAN) and C(RANDOMKEY) list the names of every key,
    and C(PUBSUB CHANNELS) every channel name; values stay private."
  - The file cannot carry a managed-by marker (Redis accepts only C(user) lines); it belongs to this module.
    Do not use C(ACL SAVE) or C(ACL SETUSER) on the server, their changes are undone on the next run.
seealso:
  - name: Redis ACL
    description: ACL rules reference.
    link: https://redis.io/docs/latest/operate/oss_and_stack/management/security/acl/
"""

EXAMPLES = r"""
- name: Manage the Redis users of the server and of all sites
  wpzo.hosting.redis_acl:
    users:
      - name: admin
        password: "{{ lookup('wpzo.hosting.credential', 'redis/admin') }}"
        keys: ["*"]
        channels: ["*"]
        commands: ["+@all"]
      - name: default
        enabled: false
    sites:
      - domain: example.com
        password: "{{ lookup('wpzo.hosting.credential', 'redis/example_com') }}"
      - domain: old.example.org
        state: absent
    purge: true
  no_log: true

- name: Check a site list and learn the Redis user and key prefix of each site
  wpzo.hosting.redis_acl:
    sites:
      - domain: Example.COM
    validate_only: true
  register: redis_names
# redis_names.sites[0] == {domain: example.com, state: present, redis_user: example_com, redis_prefix: "example_com:"}
"""

RETURN = r"""
added:
  description: Users added to the file.
  returned: success, unless O(validate_only)
  type: list
  elements: str
  sample: [example_com]
updated:
  description: Users whose line in the file changed (password, keys, channels, commands, on/off).
  returned: success, unless O(validate_only)
  type: list
  elements: str
  sample: [shop_example_org]
removed:
  description: Users removed from the file (O(users[].state=absent), O(sites[].state=absent) or O(purge)).
  returned: success, unless O(validate_only)
  type: list
  elements: str
  sample: [old_example_org]
users:
  description: All users in the file afterwards, sorted.
  returned: success, unless O(validate_only)
  type: list
  elements: str
  sample: [admin, default, example_com]
reloaded:
  description: Whether C(ACL LOAD) ran (or would run, in check mode) on the server.
  returned: success, unless O(validate_only)
  type: bool
sites:
  description:
    - The sites in the given order with their derived names, for the object-cache settings of an application
      (C(WP_REDIS_USERNAME) is RV(sites[].redis_user), C(WP_REDIS_PREFIX) is RV(sites[].redis_prefix)).
  returned: success
  type: list
  elements: dict
  contains:
    domain:
      description: The normalised domain.
      type: str
      sample: example.com
    state:
      description: V(present) or V(absent).
      type: str
      sample: present
    redis_user:
      description: The site's ACL user.
      type: str
      sample: example_com
    redis_prefix:
      description: The site's key prefix; its keys and channels must start with it.
      type: str
      sample: "example_com:"
diff:
  description: The file before and after, password hashes masked (a new hash shows as C(#<new password hash>)).
  returned: success, in diff mode, unless O(validate_only)
  type: dict
  sample:
    before_header: /etc/redis/users.acl
    after_header: /etc/redis/users.acl
    before: ""
    after: "user admin on #<new password hash> ~* &* +@all\nuser default off\n"
errors:
  description: Every validation problem, each naming the entry and the field.
  returned: failure
  type: list
  elements: str
  sample: ["sites[1] (Example.com): domain: example.com is listed twice (also sites[0])"]
redis_error:
  description: The error Redis answered to C(ACL LOAD).
  returned: failure of C(ACL LOAD)
  type: str
  sample: "ERR /etc/redis/users.acl:3: Error in applying operation '+@nosuch': Unknown command or category name in ACL."
"""

from ansible_collections.wpzo.hosting.plugins.module_utils import module_shell
from ansible_collections.wpzo.hosting.plugins.module_utils.redis_acl import ARGUMENT_SPEC, compute


def main():
    module_shell.run(ARGUMENT_SPEC, lambda module: compute(module.params, check_mode=module.check_mode))


if __name__ == "__main__":
    main()
