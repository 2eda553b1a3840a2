#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: wpzo.hosting developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: wordpress
short_description: Install and configure every WordPress site of a server in one call
version_added: 0.1.0
author: wpzo.hosting developers (@wpzo)
description:
  - Reconciles the whole list O(sites) in a single call; hundreds of unchanged sites take well under a second
    (cheap file reads and comparisons, no php-cli call for an unchanged site).
  - B(Core.) When O(sites[].path) holds no WordPress (no C(wp-includes/version.php)), the release archive is
    extracted there as the site user, without its leading C(wordpress/) directory and without overwriting any
    existing file. An installed site is never extracted again, upgraded or downgraded; core updates are
    WordPress's own (O(sites[].auto_update_core)).
  - Archives come from O(sites[].core_src) (a file on the host) or are downloaded from O(sites[].core_url) once per
    server into C(<cache_dir>/core/wordpress-<version>.tar.gz). The checksum is verified on download and on every
    reuse; a mismatch fails that site, names the site and the field, and extracts nothing. The archive's
    C(wp-includes/version.php) must match O(sites[].version).
  - B(wp-config.php) is rendered completely (database, table prefix, authentication keys and salts, C(WP_HOME),
    C(WP_SITEURL), C(DISALLOW_FILE_EDIT), C(WP_AUTO_UPDATE_CORE), C(FORCE_SSL_ADMIN), C(DISABLE_WP_CRON),
    C(WP_CACHE), the Redis object-cache constants, O(sites[].extra_constants)) and starts with the marker line
    C(// Managed by wpzo.hosting.wordpress - do not edit). It is written atomically as the site user, group
    O(sites[].group), mode C(0600) (the web server never reads it). The eight keys and salts are generated once
    (64 characters each, from Python's C(secrets)) and read back from the existing file on later runs. Values are
    written as PHP single-quoted strings with C(\\) and C(') escaped, so any password works.
  - An existing C(wp-config.php) without the marker is an error unless O(sites[].adopt_config=true).
  - B(Installation.) The WordPress installer (C(wp_install())) runs through php-cli as the site user (the
    program C(install.php) in O(programs_dir), its input as JSON on standard input); the admin password and every
    other secret stay off command lines.
    Whether a site is installed is asked (C(is_blog_installed())) only when the core was just extracted, the
    site's database settings changed, its marker C(<cache_dir>/installed/<domain>) is missing or stale, or
    O(verify_installed=true). See the notes for the trade-off.
  - B(Plugins and themes) are extracted from zip archives (O(sites[].plugins[].src) or a URL with a checksum,
    cached in C(<cache_dir>/downloads)) into C(wp-content/plugins/<name>) and C(wp-content/themes/<name>) as the
    site user when that directory is missing; existing ones are never replaced (updates are WordPress's).
    Activation (C(activate_plugin()), C(switch_theme())) runs through php-cli when the site was just installed,
    when a plugin or theme to activate was just extracted, or when the activation list changed.
  - B(Must-use plugin.) C(wp-content/mu-plugins/wpzo-cache-purge.php) is kept up to date on every site. With
    O(sites[].page_cache=true) it writes a purge request to O(sites[].purge_request_file) whenever public content
    changes (see the collection's C(docs/modules/wordpress.md) for the contract with the server).
  - All input is validated before anything changes; every problem is reported at once in RV(errors), naming
    the site and the field. A site that fails later (a bad checksum, a failed install) does not stop the others;
    the task fails at the end with RV(failed).
extends_documentation_fragment:
  - wpzo.hosting.attributes
options:
  sites:
    description:
      - Every WordPress site of the server. Sites not listed are left alone.
    type: list
    elements: dict
    required: true
    suboptions:
      domain:
        description:
          - The site's domain; names its marker file. Unique in O(sites).
        type: str
        required: true
      path:
        description:
          - The document root, for example C(/srv/www/example.com/public); unique in O(sites).
          - Absolute and normalised. Created as the site user when missing (its parent must be writable by the
            site user). Must not contain symbolic links.
        type: path
        required: true
      owner:
        description:
          - The site's system user (not C(root)). Extraction, file writes and php-cli run as this user.
        type: str
        required: true
      group:
        description: The site's system group; group of C(wp-config.php). Defaults to O(sites[].owner).
        type: str
      url:
        description:
          - The site's URL without a trailing C(/), written to C(WP_HOME) and C(WP_SITEURL) and given to the
            installer.
          - Defaults to C(https://<domain>), or C(http://<domain>) when O(sites[].tls=false).
        type: str
      version:
        description:
          - The WordPress version to install, such as C(6.1.1). Only used for a site without WordPress; the
            archive must hold this version.
        type: str
        required: true
      core_url:
        description:
          - Where to download the core archive (a C(.tar.gz) with a top directory C(wordpress/)).
          - Defaults to C(https://wordpress.org/wordpress-<version>.tar.gz). Ignored when O(sites[].core_src) is
            set.
        type: str
      core_checksum:
        description:
          - Checksum of the core archive, C(sha1:<hex>) or C(sha256:<hex>). Required unless
            O(sites[].core_src) is given; checked for O(sites[].core_src) too when set.
        type: str
      core_src:
        description:
          - A core archive already on the host; wins over O(sites[].core_url).
        type: path
      db_name:
        description: Database name (C(DB_NAME)). Required.
        type: str
      db_user:
        description: Database user (C(DB_USER)). Required.
        type: str
      db_password:
        description: Database password (C(DB_PASSWORD)). Required.
        type: str
      db_host:
        description:
          - C(DB_HOST); C(localhost) connects through the local MariaDB socket.
        type: str
        default: localhost
      table_prefix:
        description: Table prefix, letters, digits and C(_) only.
        type: str
        default: wp_
      title:
        description: Site title given to the installer. Defaults to the domain.
        type: str
      admin_user:
        description: Login of the first administrator created by the installer. Required.
        type: str
      admin_email:
        description: E-mail address of the first administrator. Required.
        type: str
      admin_password:
        description:
          - Password of the first administrator; only used by the installer (never changed afterwards).
            Required; must not start or end with white space.
        type: str
      locale:
        description:
          - Site language given to the installer, such as C(de_DE). Its language pack must be present for
            translations to show.
        type: str
        default: en_US
      tls:
        description:
          - Whether the site is served over HTTPS; sets C(FORCE_SSL_ADMIN).
          - Defaults to true when O(sites[].url) starts with C(https://).
        type: bool
      auto_update_core:
        description:
          - C(WP_AUTO_UPDATE_CORE). C(minor) - minor and security releases; C(major) or C(true) - every release;
            C(false) or C(none) - none.
        type: str
        choices: [minor, major, 'true', 'false', none]
        default: minor
      disable_wp_cron:
        description:
          - Set C(DISABLE_WP_CRON) because a system timer runs WordPress's cron.
        type: bool
        default: true
      redis:
        description:
          - Settings of the Redis object cache for the C(redis-cache) plugin (C(WP_REDIS_*) constants); null
            writes none.
          - C(WP_REDIS_PREFIX) and C(WP_CACHE_KEY_SALT) both get O(sites[].redis.prefix).
        type: dict
        suboptions:
          path:
            description:
              - Unix socket (C(WP_REDIS_SCHEME=unix), C(WP_REDIS_PATH)).
              - Defaults to C(/run/redis/redis-server.sock) unless O(sites[].redis.host) is given.
            type: path
          host:
            description: TCP host (C(WP_REDIS_SCHEME=tcp), C(WP_REDIS_HOST)); excludes O(sites[].redis.path).
            type: str
          port:
            description: TCP port (C(WP_REDIS_PORT)).
            type: int
            default: 6379
          username:
            description:
              - Redis ACL user; C(WP_REDIS_PASSWORD) then becomes C([username, password]) as the plugin expects.
            type: str
          password:
            description: Redis password (C(WP_REDIS_PASSWORD)); required with O(sites[].redis.username).
            type: str
          database:
            description: Redis database number, 0 to 15 (C(WP_REDIS_DATABASE)).
            type: int
            default: 0
          prefix:
            description:
              - Key prefix (C(WP_REDIS_PREFIX), C(WP_CACHE_KEY_SALT)). Defaults to the site's derived Redis
                prefix, such as C(example_com:).
            type: str
      page_cache:
        description:
          - The site is behind the nginx page cache; sets C(WP_CACHE) and C(WPZO_PURGE_REQUEST_FILE) so the
            must-use plugin requests purges.
        type: bool
        default: false
      purge_request_file:
        description:
          - File the must-use plugin writes when content changes (C(WPZO_PURGE_REQUEST_FILE)). Must be inside the
            site's PHP C(open_basedir). An empty string disables purge requests.
          - Defaults to C(<parent of path>/tmp/.wpzo-purge-request).
        type: path
      extra_constants:
        description:
          - More C(define()) lines, sorted by name; values may be strings, numbers, booleans, null, lists or dicts.
          - Constants the module sets itself are rejected. Values of names containing PASS, SECRET, KEY, SALT,
            TOKEN or AUTH are masked in diffs.
        type: dict
      plugins:
        description:
          - Plugins to install from zip archives holding one top directory named O(sites[].plugins[].name).
        type: list
        elements: dict
        suboptions:
          name:
            description: The plugin's directory (slug), such as C(redis-cache).
            type: str
            required: true
          src:
            description:
              - A zip archive on the host; wins over O(sites[].plugins[].url).
              - Without O(sites[].plugins[].src) and O(sites[].plugins[].url) the plugin must already be there
                (such as C(akismet), which ships with WordPress).
            type: path
          url:
            description: Where to download the zip archive.
            type: str
          checksum:
            description: C(sha1:<hex>) or C(sha256:<hex>); required with O(sites[].plugins[].url).
            type: str
          activate:
            description: Activate the plugin.
            type: bool
            default: false
      themes:
        description:
          - Themes to install from zip archives holding one top directory named O(sites[].themes[].name).
        type: list
        elements: dict
        suboptions:
          name:
            description: The theme's directory (stylesheet), such as C(twentytwentythree).
            type: str
            required: true
          src:
            description:
              - A zip archive on the host; wins over O(sites[].themes[].url).
              - Without O(sites[].themes[].src) and O(sites[].themes[].url) the theme must already be there.
            type: path
          url:
            description: Where to download the zip archive.
            type: str
          checksum:
            description: C(sha1:<hex>) or C(sha256:<hex>); required with O(sites[].themes[].url).
            type: str
          activate:
            description: Make this the active theme; at most one theme per site.
            type: bool
            default: false
      adopt_config:
        description:
          - Replace an existing C(wp-config.php) that lacks the marker (a migrated site), keeping its keys and
            salts. Without it such a file is an error.
        type: bool
        default: false
      state:
        description: Only C(present) for now.
        type: str
        choices: [present]
        default: present
  cache_dir:
    description:
      - Root-owned state of the module; core archives in C(core/), plugin and theme archives in C(downloads/),
        installed-markers in C(installed/).
    type: path
    default: /var/lib/wpzo/wordpress
  programs_dir:
    description:
      - Where the sites role installs the module's programs (from the collection's C(roles/sites/files/wordpress)).
        C(site_helper.py) runs with Python as the site user to extract archives and write files in the site's tree;
        C(install.php) and C(activate.php) (with C(wpzo.php)) run with php-cli as the site user; C(wpzo-cache-purge.php)
        and C(object-cache.php) are the files the module keeps in every site, and must carry the marker.
      - A missing program fails the site; in check mode a drop-in not installed yet is reported as to be written.
    type: path
    default: /usr/local/lib/wpzo/wordpress
  php_binary:
    description: The php-cli binary that runs the installer and activation.
    type: path
    default: /usr/bin/php
  verify_installed:
    description:
      - Ask every site's database whether WordPress is installed (and re-apply activation), even when its marker
        vouches for it. One php-cli call per site.
    type: bool
    default: false
  timeout:
    description: Timeout in seconds of each download.
    type: int
    default: 120
notes:
  - Run with C(become=true); the module drops to each site's user with C(setpriv) for everything inside the
    site's tree.
  - B(Installed-marker trade-off.) After a successful install check, C(<cache_dir>/installed/<domain>) records a
    hash of the site's path and database settings. While it matches, no php-cli runs for the site; if the
    database is dropped or emptied behind the module's back it will not notice until the settings change, the
    marker is deleted or O(verify_installed=true) is used. Likewise a plugin deactivated in wp-admin stays
    deactivated until the activation list changes.
  - The installer's e-mail to the new administrator is not sent.
  - Changing O(sites[].url) of an installed site changes C(WP_HOME)/C(WP_SITEURL) only; content is not rewritten.
seealso:
  - name: wp-config.php
    description: WordPress's reference of the configuration constants.
    link: https://developer.wordpress.org/advanced-administration/wordpress/wp-config/
  - name: Redis Object Cache configuration
    description: The C(WP_REDIS_*) constants of the C(redis-cache) plugin.
    link: https://github.com/rhubarbgroup/redis-cache#configuration
"""

EXAMPLES = r"""
- name: Install and configure every WordPress site
  become: true
  wpzo.hosting.wordpress:
    sites:
      - domain: example.com
        path: /srv/www/example.com/public
        owner: example_com
        version: "6.1.1"
        core_checksum: sha1:0123456789abcdef0123456789abcdef01234567
        db_name: wp_example_com
        db_user: wp_example_com
        db_password: "{{ lookup('wpzo.hosting.credential', 'db/example.com') }}"
        admin_user: siteadmin
        admin_email: admin@example.com
        admin_password: "{{ lookup('wpzo.hosting.credential', 'wp-admin/example.com') }}"
        page_cache: true
        redis:
          username: example_com
          password: "{{ lookup('wpzo.hosting.credential', 'redis/example.com') }}"
        plugins:
          - name: redis-cache
            url: https://downloads.wordpress.org/plugin/redis-cache.2.5.0.zip
            checksum: sha256:0000000000000000000000000000000000000000000000000000000000000000
            activate: true

- name: A site installed from an archive already on the host
  become: true
  wpzo.hosting.wordpress:
    sites:
      - domain: shop.example.org
        path: /srv/www/shop.example.org/public
        owner: shop_example_org
        version: "6.1.1"
        core_src: /var/cache/wpzo/wordpress-6.1.1.tar.gz
        db_name: wp_shop
        db_user: wp_shop
        db_password: "{{ shop_db_password }}"
        admin_user: siteadmin
        admin_email: shop@example.org
        admin_password: "{{ shop_admin_password }}"
        auto_update_core: major
        extra_constants:
          WP_MEMORY_LIMIT: 256M
          WP_POST_REVISIONS: 10
"""

RETURN = r"""
added:
  description: Domains where WordPress was extracted or installed.
  returned: always
  type: list
  elements: str
  sample: [example.com]
updated:
  description: Domains of installed sites whose configuration, must-use plugin, plugins, themes or activation changed.
  returned: always
  type: list
  elements: str
  sample: [shop.example.org]
unchanged:
  description: Domains with nothing to do.
  returned: always
  type: list
  elements: str
sites:
  description:
    - Per domain, the installed version, the URL, the path and what changed, in order, out of C(core) (extracted),
      C(config) (C(wp-config.php) written), C(mu_plugins), C(plugins), C(themes) (extracted), C(install) (the
      installer ran) and C(activation).
    - A site that failed has C(failed=true), no version, and lists what was done before the failure.
  returned: always
  type: dict
  sample:
    example.com:
      version: 6.1.1
      url: https://example.com
      path: /srv/www/example.com/public
      changed: [core, config, mu_plugins, plugins, install, activation]
failed:
  description: Sites that failed after validation, domain -> message naming the site and the field.
  returned: failure of one or more sites
  type: dict
  sample:
    example.com: "site 'example.com' (sites[0]): core_checksum: the archive downloaded from
      https://wordpress.org/wordpress-6.1.1.tar.gz has sha1:..., expected sha1:...; nothing was extracted"
errors:
  description: Every validation problem, each naming the site and the field.
  returned: failure of validation
  type: list
  elements: str
  sample: ["site 'example.com' (sites[0]): table_prefix: 'wp-' must be letters, digits and _ only"]
"""

import os
import pwd
import sys

from ansible.module_utils.urls import fetch_url
from ansible_collections.wpzo.hosting.plugins.module_utils import module_shell
from ansible_collections.wpzo.hosting.plugins.module_utils.errors import ModuleError
from ansible_collections.wpzo.hosting.plugins.module_utils.wordpress import Context, compute
from ansible_collections.wpzo.hosting.plugins.module_utils.wordpress_validation import ARGUMENT_SPEC


def make_runner(module):
    """Run a program, as the site user when asked: ``setpriv`` from root, directly when already that user."""
    euid = os.geteuid()
    try:
        me = pwd.getpwuid(euid).pw_name
    except KeyError:
        me = str(euid)
    setpriv = []

    def run(argv, user=None, group=None, data=b"", cwd=None):
        argv = list(argv)
        if user is not None and euid == 0:
            if not setpriv:
                setpriv.append(module.get_bin_path("setpriv", required=True))
            prefix = [setpriv[0], "--reuid=" + user, "--regid=" + (group or user), "--init-groups", "--reset-env"]
            argv = [*prefix, "--", *argv]
        elif user is not None and user != me:
            return 1, "", "running as %s needs root (become: true) to act as %s" % (me, user)
        return module.run_command(argv, data=data or b"\n", binary_data=True, cwd=cwd, umask=0o022)

    return run


def make_downloader(module):
    timeout = module.params["timeout"]

    def download(url, dest):
        response, info = fetch_url(module, url, timeout=timeout)
        if response is None or info.get("status") != 200:
            raise ModuleError("HTTP %s %s" % (info.get("status"), info.get("msg", "")))
        with open(dest, "wb") as handle:
            while True:
                chunk = response.read(1 << 20)
                if not chunk:
                    break
                handle.write(chunk)

    return download


def compute_change(module):
    params = module.params
    ctx = Context(
        runner=make_runner(module),
        downloader=make_downloader(module),
        cache_dir=params["cache_dir"],
        php_binary=params["php_binary"],
        python_binary=sys.executable,
        programs_dir=params["programs_dir"],
        check_mode=module.check_mode,
        want_diff=module._diff,
        verify_installed=params["verify_installed"],
        warn=module.warn,
    )
    return compute(params["sites"], ctx)


def main():
    module_shell.run(ARGUMENT_SPEC, compute_change)


if __name__ == "__main__":
    main()
