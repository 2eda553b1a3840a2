# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""From the normalised site list to the input of each resource module.

One function per resource kind; each takes the whole list, so the sites role
makes one module call per kind, whatever the number of sites.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

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
        }
        for site in sites
    ]


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
                "php_admin_values": {
                    "upload_max_filesize": php["upload_max_filesize"],
                    "post_max_size": php["upload_max_filesize"],
                    "max_execution_time": str(php["max_execution_time"]),
                },
            }
        )
    return result


def wordpress(sites, secrets, core):
    """Input of wpzo.hosting.wordpress: every present WordPress site with its secrets and core source.

    secrets: {domain: {database, admin, redis}}; core: {version, url, checksum, src}.
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
                "path": core.get("redis_socket", "/run/redis/redis-server.sock"),
                "username": site["redis_user"],
                "password": secret["redis"],
                "prefix": site["redis_prefix"],
            }
        result.append(entry)
    return result


def vhosts(sites):
    """The nginx role's vhost interface (docs/roles/nginx.md), for every present site."""
    result = []
    for site in sites:
        if site["state"] != "present":
            continue
        tls = site["tls"]
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
                    "hsts": tls["enabled"] and tls["hsts"],
                    "hsts_preload": tls["enabled"] and tls["hsts"] and tls["hsts_preload"],
                },
                "page_cache": site["page_cache"],
                "basic_auth_file": site["basic_auth_file"],
                "client_max_body_size": site["client_max_body_size"],
            }
        )
    return result


def _unit(lines):
    return "\n".join([MARKER_LINE, *lines, ""])


def unit_base(kind, site):
    return "wpzo-%s-%s" % (kind, site["system_user"])


def site_units(sites, php_binary, schedule, purge_command, systemd_dir="/etc/systemd/system"):
    """systemd units of every present site: WordPress cron (a service and a timer per site), and one path unit
    watching the purge-request files of every page-cache site (one unit, so one inotify instance, for any number of
    sites), whose service purges the sites that asked. The site's PHP cannot run the root-only purge command itself.
    """
    files = []
    for site in sites:
        if site["state"] != "present":
            continue
        if site["cron"]:
            base = unit_base("wp-cron", site)
            files.append({"path": "%s/%s.service" % (systemd_dir, base), "content": _unit([
                "[Unit]", "Description=WordPress cron of %s" % site["domain"], "",
                "[Service]", "Type=oneshot", "User=%s" % site["system_user"], "Group=%s" % site["system_group"],
                "WorkingDirectory=%s" % site["docroot"],
                "ExecStart=%s -f %s/wp-cron.php" % (php_binary, site["docroot"]),
                "Nice=10", "IOSchedulingClass=idle", "NoNewPrivileges=yes", "PrivateTmp=yes", "ProtectSystem=full",
                "ProtectHome=yes",
            ])})  # fmt: skip
            files.append({"path": "%s/%s.timer" % (systemd_dir, base), "content": _unit([
                "[Unit]", "Description=Run WordPress cron of %s" % site["domain"], "",
                "[Timer]", "OnCalendar=%s" % schedule, "RandomizedDelaySec=60", "Persistent=true", "",
                "[Install]", "WantedBy=timers.target",
            ])})  # fmt: skip
    requests = [purge_request_file(site) for site in sites if wants_purge_unit(site)]
    if requests:
        files.append({"path": "%s/%s.path" % (systemd_dir, PURGE_UNIT), "content": _unit(
            ["[Unit]", "Description=Watch the page-cache purge requests of the WordPress sites", "", "[Path]"]
            + ["PathChanged=%s" % request for request in requests] + ["", "[Install]", "WantedBy=paths.target"]
        )})  # fmt: skip
        files.append({"path": "%s/%s.service" % (systemd_dir, PURGE_UNIT), "content": _unit([
            "[Unit]", "Description=Purge the page cache of the WordPress sites that asked",
            "StartLimitIntervalSec=0", "",
            "[Service]", "Type=oneshot", "ExecStart=%s" % PURGE_REQUESTS_PROGRAM,
        ])})  # fmt: skip
        files.append({"path": PURGE_REQUESTS_PROGRAM, "content": purge_requests_program(purge_command), "mode": "0755"})
    return files


PURGE_UNIT = "wpzo-cache-purge"
PURGE_REQUESTS_PROGRAM = "/usr/local/lib/wpzo/cache-purge-requests"


def wants_purge_unit(site):
    return site["state"] == "present" and site["page_cache"] and site["kind"] == "wordpress"


def purge_request_file(site):
    return "%s/.wpzo-purge-request" % site["tmp_dir"]


def purge_requests_program(purge_command):
    """Purges each site whose request file is newer than its last purge; the file's content is never trusted."""
    return "\n".join([
        "#!/bin/bash",
        MARKER_LINE,
        "set -u",
        "state=/var/lib/wpzo/cache-purge",
        "mkdir -p \"$state\"",
        "for request in /srv/www/*/tmp/.wpzo-purge-request; do",
        "  [ -f \"$request\" ] || continue",
        "  domain=\"$(basename \"$(dirname \"$(dirname \"$request\")\")\")\"",
        "  if [ \"$request\" -nt \"$state/$domain\" ]; then",
        "    touch \"$state/$domain\"",
        "    %s \"$domain\" || echo \"purging $domain failed\" >&2" % purge_command,
        "  fi",
        "done",
        "",
    ])  # fmt: skip


def site_unit_triggers(sites):
    """The timer and path units to enable, as their names in timers.target.wants and paths.target.wants."""
    names = []
    for site in sites:
        if site["state"] != "present":
            continue
        if site["cron"]:
            names.append(unit_base("wp-cron", site) + ".timer")
    if any(wants_purge_unit(site) for site in sites):
        names.append(PURGE_UNIT + ".path")
    return names
