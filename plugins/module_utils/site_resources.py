# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""From the normalised site list to the input of each resource module.

One function per resource kind; each takes the whole list, so the sites role
makes one module call per kind, whatever the number of sites.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import posixpath
import re
import shlex

from ansible_collections.wpzo.hosting.plugins.module_utils import htpasswd, server_layout, value_syntax
from ansible_collections.wpzo.hosting.plugins.module_utils.site_model import HTPASSWD_DIR
from ansible_collections.wpzo.hosting.plugins.module_utils.wordpress_validation import DEFAULT_PURGE_REQUEST_NAME

MARKER_LINE = "# Managed by wpzo.hosting: do not edit, changes are overwritten."


def accounts(sites, redis_group=None):
    """Site users; those of object-cache sites join the group that may open the Redis socket."""
    return [
        {
            "user": site["system_user"],
            "group": site["system_group"],
            "groups": [redis_group] if redis_group and site["object_cache"] else [],
            "root": site["root"],
            "state": site["state"],
            "remove_files": site["state"] == "absent",
            "sftp_users": [{"name": user["name"], "ssh_keys": user["ssh_keys"]} for user in site["sftp"]],
            "log_files": list(NGINX_LOGS) + ([PHP_SLOW_LOG] if site["uses_php"] else []),
            "own_log_files": [PHP_ERROR_LOG] if site["uses_php"] else [],
        }
        for site in sites
    ]


# The files of a site's logs/ (root's folder, readable by the site): nginx's master opens its two, php-fpm's
# master appends to the slow log; the site's PHP writes its own error log only.
NGINX_LOGS = ("access.log", "error.log")
PHP_SLOW_LOG = "php-slow.log"
PHP_ERROR_LOG = "php-error.log"
# HSTS only where browsers trust the certificate: on a self-signed host it would lock visitors out.
TRUSTED_TLS_MODES = ("letsencrypt", "custom")


def pools(sites):
    result = []
    for site in sites:
        if site["state"] != "present" or not site["uses_php"]:
            continue
        php = site["php"]
        result.append(
            {
                "name": site["pool"],
                "user": site["system_user"],
                "group": site["system_group"],
                "root": site["root"],
                "listen": site["php_socket"],
                "max_children": php["max_children"],
                "memory_limit": php["memory_limit"],
                "request_terminate_timeout": php["request_terminate_timeout"],
                "open_basedir": [site["root"]] if php["open_basedir"] else [],
                "php_admin_values": {
                    "upload_max_filesize": php["upload_max_filesize"],
                    "post_max_size": php["upload_max_filesize"],
                    "max_execution_time": str(php["max_execution_time"]),
                },
            }
        )
    return result


def wordpress(sites, secrets, core, redis_socket):
    """Input of wpzo.hosting.wordpress: every present WordPress site with its secrets and core source.

    secrets: {domain: {database, admin, redis}}; core: {version, url, checksum, src}; redis_socket: the socket
    the object cache connects over (the redis role's redis_socket).
    """
    result = []
    for site in sites:
        if site["state"] != "present" or site["kind"] != "wordpress":
            continue
        wp = site["wordpress"]
        secret = secrets[site["domain"]]
        entry = {
            "domain": site["domain"],
            "path": site["docroot"],
            "owner": site["system_user"],
            "group": site["system_group"],
            "url": site["url"],
            "version": wp["version"] or core["version"],
            "db_name": site["database"],
            "db_user": site["database_user"],
            "db_password": secret["database"],
            "table_prefix": wp["table_prefix"],
            "title": wp["title"],
            "admin_user": wp["admin_user"],
            "admin_email": wp["admin_email"],
            "admin_password": secret["admin"],
            "locale": wp["locale"],
            "tls": site["tls"]["enabled"],
            "auto_update_core": wp["auto_update_core"],
            "disable_wp_cron": site["cron"],
            "page_cache": site["page_cache"],
            "plugins": wp["plugins"],
            "themes": wp["themes"],
        }
        if core.get("src"):
            entry["core_src"] = core["src"]
        else:
            entry["core_url"] = core["url"]
            entry["core_checksum"] = core["checksum"]
        if site["object_cache"]:
            entry["redis"] = {
                "path": redis_socket,
                "username": site["redis_user"],
                "password": secret["redis"],
                "prefix": site["redis_prefix"],
            }
        result.append(entry)
    return result


def databases(sites, secrets):
    """The mariadb role's ``mariadb_sites`` (its ``sites`` entry point): every WordPress site, present or absent,
    with the password of each present one from ``secrets`` ({domain: {database}})."""
    result = []
    for site in sites:
        if not site["uses_database"]:
            continue
        entry = {
            "domain": site["domain"],
            "state": site["state"],
            "purge": site["purge"],
            "max_user_connections": site["mariadb"]["max_user_connections"],
        }
        if site["state"] == "present":
            entry["password"] = secrets[site["domain"]]["database"]
        result.append(entry)
    return result


def backups(sites):
    """The backups role's ``backups_sites`` (its ``sites`` and ``final`` entry points): every site, present or
    absent, with what the backup runner needs to back it up, restore it and purge its caches after a restore."""
    return [
        {
            "domain": site["domain"],
            "root": site["root"],
            "docroot": site["docroot"],
            "state": site["state"],
            "database": site["database"] if site["uses_database"] else "",
            "server_names": site["server_names"],
            "page_cache": site["page_cache"],
            "object_cache": site["object_cache"],
            "system_user": site["system_user"],
            "system_group": site["system_group"],
        }
        for site in sites
    ]


def monitored_pools(sites):
    """The monitoring agent's ``monitoring_agent_sites`` (its ``sites`` entry point): the PHP-FPM pool of every
    present PHP site, whose status its program writes as metrics."""
    return [
        {
            "domain": site["domain"],
            "pool": site["pool"],
            "php_socket": site["php_socket"],
            "max_children": site["php"]["max_children"],
        }
        for site in sites
        if site["state"] == "present" and site["uses_php"]
    ]


def monitored_wordpress(sites, version=""):
    """The monitoring agent's ``monitoring_agent_wordpress_sites``: every present WordPress site with the core
    version the inventory asks for, its own ``wordpress.version``, else ``version`` (the sites role's
    ``sites_wordpress_version``; empty: never behind)."""
    return [
        {
            "domain": site["domain"],
            "docroot": site["docroot"],
            "version": str(site["wordpress"]["version"] or version or ""),
        }
        for site in sites
        if site["state"] == "present" and site["kind"] == "wordpress"
    ]


REDIRECT_STATUS_CODES = [301, 302, 307, 308]


def probes(sites, server, address, checks=None):
    """The monitoring server's probe of every present site of one server: the blackbox module's name and what it
    checks, the URL probed at ``address`` (the server's, an IPv6 one in brackets) with the site's name as Host and
    SNI. ``checks``: per domain, ``path``, ``status_codes`` and ``expect`` (monitoring_server_site_checks); without
    ``expect`` a WordPress site must show its title, other sites are checked by status only; redirect sites are
    not followed and answer a redirect."""
    checks = checks or {}
    host = value_syntax.url_host(address)
    result = []
    for site in sites:
        if site["state"] != "present":
            continue
        check = checks.get(site["domain"]) or {}
        scheme = "https" if site["tls"]["enabled"] else "http"
        path = check.get("path", "/")
        title = site["wordpress"]["title"] if site["kind"] == "wordpress" else ""
        result.append(
            {
                "module": "site_" + re.sub("[^A-Za-z0-9]", "_", "%s_%s" % (server, site["domain"])),
                "target": "%s://%s%s" % (scheme, host, path),
                "url": "%s://%s%s" % (scheme, site["domain"], path),
                "site": site["domain"],
                "server": server,
                "kind": site["kind"],
                "host": site["domain"],
                "expect": check.get("expect", title or ""),
                "status_codes": check.get(
                    "status_codes", REDIRECT_STATUS_CODES if site["kind"] == "redirect" else [200]
                ),
                "follow": False,
                "insecure": site["tls"]["enabled"] and site["tls"]["mode"] == "selfsigned",
            }
        )
    return result


def redis_users(sites, secrets):
    """The redis role's ``redis_sites`` (its ``sites`` entry point): every present object-cache site, with its
    password where ``secrets`` has it; the redis role reads the others' from the credential store."""
    result = []
    for site in sites:
        if site["state"] != "present" or not site["object_cache"]:
            continue
        entry = {"domain": site["domain"]}
        password = secrets.get(site["domain"], {}).get("redis")
        if password:
            entry["password"] = password
        result.append(entry)
    return result


def site_logs(sites):
    """The fail2ban role's ``fail2ban_site_logs`` (its ``sites`` entry point): the nginx logs of every present
    site, access and error logs apart."""
    present = [site for site in sites if site["state"] == "present"]
    access, error = NGINX_LOGS
    return {
        "access": ["%s/%s" % (site["log_dir"], access) for site in present],
        "error": ["%s/%s" % (site["log_dir"], error) for site in present],
    }


def basic_auth(sites, current, group=server_layout.WEB_GROUP):
    """The htpasswd files of the present sites that ask for basic auth, for wpzo.hosting.managed_files, with the
    glob that purges the files of the others. ``current``: {domain: text of its file in place}, whose hashes are
    kept while their passwords still verify (htpasswd.lines)."""
    files = []
    for site in sites:
        if site["state"] != "present" or not site["basic_auth"]["enabled"]:
            continue
        lines = ["# Managed by wpzo.hosting: basic-auth users of %s" % site["domain"]]
        lines += htpasswd.lines(site["basic_auth"]["users"], current.get(site["domain"], ""))
        files.append({"path": site["basic_auth_file"], "content": "\n".join(lines) + "\n", "owner": "root",
                      "group": group, "mode": "0640", "secret": True})  # fmt: skip
    return {"files": files, "purge": [HTPASSWD_DIR + "/*"]}


def certificates(sites):
    """The input of wpzo.hosting.certificate_names: each TLS site's certificate and the names it must carry."""
    return [
        {
            "domain": site["domain"],
            "path": site["tls"]["certificate"],
            "names": site["server_names"] + site["redirect_names"],
        }
        for site in sites
    ]


def vhosts(sites):
    """The nginx role's vhost interface (docs/roles/nginx.md), for every present site."""
    result = []
    for site in sites:
        if site["state"] != "present":
            continue
        tls = site["tls"]
        trusted = tls["enabled"] and tls["mode"] in TRUSTED_TLS_MODES
        result.append(
            {
                "domain": site["domain"],
                "kind": site["kind"],
                "server_names": site["server_names"],
                "redirect_names": site["redirect_names"],
                "redirect_to": site["redirect_to"] or "",
                "root": site["root"],
                "docroot": site["docroot"],
                "log_dir": site["log_dir"],
                "php_socket": site["php_socket"] if site["uses_php"] else "",
                "tls": {
                    "mode": tls["mode"],
                    "certificate": tls["certificate"] or "",
                    "certificate_key": tls["certificate_key"] or "",
                    "hsts": trusted and tls["hsts"],
                    "hsts_preload": trusted and tls["hsts"] and tls["hsts_preload"],
                },
                "xmlrpc": site["xmlrpc"],
                "page_cache": site["page_cache"],
                "basic_auth_file": site["basic_auth_file"],
                "client_max_body_size": site["client_max_body_size"],
            }
        )
    return result


def _unit(lines):
    return "\n".join([MARKER_LINE, *lines, ""])


CRON_UNIT = "wpzo-wp-cron"


def cron_unit(site):
    return "%s-%s" % (CRON_UNIT, site["system_user"])


def site_units(sites, php_binary, schedule, purge_command, systemd_dir=None, spread="4min", timeout="15min"):
    """systemd units of every present site: WordPress cron (a service and a timer per site), and one service
    watching the tmp/ folders of every page-cache site with a single inotify instance, which purges the page
    cache of a site when its purge-request file is written. The site's PHP cannot run the root-only purge
    command itself. (A path unit holds an inotify instance per watched path: with a hundred sites they run
    out of the kernel's 128 per user.) Each cron timer fires at its own fixed offset of up to ``spread``
    after the scheduled time, so hundreds of sites do not all start PHP at once, and is killed after ``timeout``
    (TimeoutStartSec: a oneshot service is "starting" while it runs, and RuntimeMaxSec does not apply to it), so
    a hung run does not block every later one.
    """
    systemd_dir = systemd_dir or SYSTEMD_DIR
    files = []
    for site in sites:
        if site["state"] != "present":
            continue
        if site["cron"]:
            base = cron_unit(site)
            files.append({"path": "%s/%s.service" % (systemd_dir, base), "content": _unit([
                "[Unit]", "Description=WordPress cron of %s" % site["domain"], "",
                "[Service]", "Type=oneshot", "User=%s" % site["system_user"], "Group=%s" % site["system_group"],
                "WorkingDirectory=%s" % site["docroot"],
                "ExecStart=%s -f %s/wp-cron.php" % (php_binary, site["docroot"]), "TimeoutStartSec=%s" % timeout,
                "Nice=10", "IOSchedulingClass=idle", "NoNewPrivileges=yes", "PrivateTmp=yes", "ProtectSystem=full",
                "ProtectHome=yes",
            ])})  # fmt: skip
            files.append({"path": "%s/%s.timer" % (systemd_dir, base), "content": _unit([
                "[Unit]", "Description=Run WordPress cron of %s" % site["domain"], "",
                "[Timer]", "OnCalendar=%s" % schedule, "RandomizedDelaySec=%s" % spread, "FixedRandomDelay=true",
                "Persistent=true", "",
                "[Install]", "WantedBy=timers.target",
            ])})  # fmt: skip
    watched = [site for site in sites if wants_page_cache_purge(site)]
    if watched:
        files.append({"path": "%s/%s.service" % (systemd_dir, PURGE_UNIT), "content": _unit([
            "[Unit]", "Description=Purge the page cache of the WordPress sites that ask for it",
            "After=nginx.service", "",
            "[Service]", "ExecStart=%s" % PURGE_WATCH_PROGRAM, "Restart=always", "RestartSec=2", "",
            "[Install]", "WantedBy=multi-user.target",
        ])})  # fmt: skip
        files.append({"path": PURGE_WATCH_PROGRAM, "content": purge_watch_program(watched, purge_command),
                      "mode": "0755"})  # fmt: skip
    return files


PURGE_UNIT = "wpzo-cache-purge"
PURGE_WATCH_PROGRAM = "/usr/local/lib/wpzo/cache-purge-watch"
# Every program of the purge watcher, as the units step purges them.
PURGE_PROGRAMS = "/usr/local/lib/wpzo/cache-purge-*"
# The file the wordpress module's must-use plugin writes in the site's tmp/.
PURGE_REQUEST_NAME = posixpath.basename(DEFAULT_PURGE_REQUEST_NAME)


def wants_page_cache_purge(site):
    return site["state"] == "present" and site["page_cache"] and site["kind"] == "wordpress"


def _ere_literal(text):
    """``text`` as a POSIX extended regular expression matching itself."""
    return re.sub(r"([.\[\](){}*+?|^$\\])", r"\\\1", text)


# A site asking again within this many seconds of its last purge is purged once more when they have passed:
# a burst of requests costs one scan of the cache per site and interval, and the last request is never lost.
PURGE_INTERVAL = 5


def purge_watch_program(sites, purge_command):
    """Watches each site's tmp/ (the request file may not exist yet) and purges every name the site serves when
    its request file is written. inotifywait reports only that file (--include, anchored on the whole path) and
    prints only the watched folder (%w, a path of ours): a name the site chooses never reaches the parser, so no
    file name can make it purge another site. Requests are throttled per site (PURGE_INTERVAL)."""
    folders = ["%s/" % site["tmp_dir"] for site in sites]
    include = "^(%s)%s$" % ("|".join(_ere_literal(folder) for folder in folders), _ere_literal(PURGE_REQUEST_NAME))
    lines = ["#!/bin/bash", MARKER_LINE, "set -u", "declare -A names=("]
    lines += ["  [%s/]='%s'" % (site["tmp_dir"], " ".join(site["server_names"])) for site in sites]
    lines += [
        ")",
        "declare -A last=() pending=()",
        "purge_due() {  # with an argument: every pending site, due or not",
        "  local folder",
        '  for folder in "${!pending[@]}"; do',
        '    [ -n "${1:-}" ] || (( EPOCHSECONDS - ${last[$folder]:-0} >= %d )) || continue' % PURGE_INTERVAL,
        '    unset "pending[$folder]"',
        "    last[$folder]=$EPOCHSECONDS",
        "    # shellcheck disable=SC2086 # the names are validated host names, one argument each",
        '    %s ${names[$folder]} || echo "purging ${names[$folder]} failed" >&2' % purge_command,
        "  done",
        "}",
        "while true; do",
        "  if IFS= read -r -t %d folder; then" % PURGE_INTERVAL,
        '    [ -n "${names[$folder]:-}" ] && pending[$folder]=1',
        "  elif (( $? <= 128 )); then",
        "    purge_due all; break  # inotifywait ended: systemd starts the watcher again",
        "  fi",
        "  purge_due",
        "done < <(inotifywait --monitor --quiet --event close_write,moved_to --include %s --format '%%w' %s)"
        % (shlex.quote(include), " ".join(shlex.quote(folder) for folder in folders)),
        "",
    ]
    return "\n".join(lines)


SYSTEMD_DIR = "/etc/systemd/system"
# Where systemctl enable links the units the sites' units are wanted by.
UNIT_WANTS_DIRS = ("timers.target.wants", "multi-user.target.wants")


def units(sites, php_binary, schedule, purge_command=server_layout.CACHE_PURGE_COMMAND, spread="4min", timeout="15min"):
    """Everything the sites role's units step needs, from one place: the unit files for
    wpzo.hosting.managed_files and the globs that purge the others, the units to enable, where to look for the
    enabled ones and the purge watcher's service (restarted when its list of sites changes)."""
    return {
        "files": site_units(sites, php_binary, schedule, purge_command, SYSTEMD_DIR, spread, timeout),
        "purge": ["%s/%s-*" % (SYSTEMD_DIR, CRON_UNIT), "%s/%s*" % (SYSTEMD_DIR, PURGE_UNIT), PURGE_PROGRAMS],
        "enable": site_unit_triggers(sites),
        "enabled_dirs": ["%s/%s" % (SYSTEMD_DIR, wants) for wants in UNIT_WANTS_DIRS],
        "enabled_patterns": ["%s-*.timer" % CRON_UNIT, PURGE_UNIT + ".service"],
        "watcher": PURGE_UNIT + ".service",
    }


def site_unit_triggers(sites):
    """The units to enable, as their names in timers.target.wants and multi-user.target.wants."""
    names = []
    for site in sites:
        if site["state"] != "present":
            continue
        if site["cron"]:
            names.append(cron_unit(site) + ".timer")
    if any(wants_page_cache_purge(site) for site in sites):
        names.append(PURGE_UNIT + ".service")
    return names
