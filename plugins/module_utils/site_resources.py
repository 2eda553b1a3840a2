# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""From the normalised site list to the input of each resource module.

One function per resource kind; each takes the whole list, so the sites role
makes one module call per kind, whatever the number of sites.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

MARKER_LINE = "# Managed by wpzo.hosting: do not edit, changes are overwritten."


def accounts(sites):
    return [
        {
            "user": site["system_user"],
            "group": site["system_group"],
            "root": site["root"],
            "state": site["state"],
            "remove_files": site["state"] == "absent",
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


def cron_unit_name(site):
    return "wpzo-wp-cron-%s" % site["system_user"]


def cron_units(sites, php_binary, schedule, systemd_dir="/etc/systemd/system"):
    """A oneshot service and a timer per WordPress site whose cron runs from the system timer."""
    files = []
    for site in sites:
        if site["state"] != "present" or not site["cron"]:
            continue
        unit = cron_unit_name(site)
        service = "\n".join(
            [
                MARKER_LINE,
                "[Unit]",
                "Description=WordPress cron of %s" % site["domain"],
                "",
                "[Service]",
                "Type=oneshot",
                "User=%s" % site["system_user"],
                "Group=%s" % site["system_group"],
                "WorkingDirectory=%s" % site["docroot"],
                "ExecStart=%s -f %s/wp-cron.php" % (php_binary, site["docroot"]),
                "Nice=10",
                "IOSchedulingClass=idle",
                "NoNewPrivileges=yes",
                "PrivateTmp=yes",
                "ProtectSystem=full",
                "ProtectHome=yes",
                "",
            ]
        )
        timer = "\n".join(
            [
                MARKER_LINE,
                "[Unit]",
                "Description=Run WordPress cron of %s" % site["domain"],
                "",
                "[Timer]",
                "OnCalendar=%s" % schedule,
                "RandomizedDelaySec=60",
                "Persistent=true",
                "",
                "[Install]",
                "WantedBy=timers.target",
                "",
            ]
        )
        files.append({"path": "%s/%s.service" % (systemd_dir, unit), "content": service})
        files.append({"path": "%s/%s.timer" % (systemd_dir, unit), "content": timer})
    return files


def cron_timers(sites):
    return ["%s.timer" % cron_unit_name(site) for site in sites if site["state"] == "present" and site["cron"]]
