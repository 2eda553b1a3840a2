# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rules of each role's variables that its argument spec cannot express: patterns, ranges, cross-variable rules.

``meta/argument_specs.yml`` is each role's type contract (types, choices, required keys), checked by ansible-core
when the role starts; these rules come after it. ``problems(role, settings)`` returns every problem at once, each
message starting with the variable it is about. ``settings`` maps variable names to values; only the variables a
rule reads are looked up, so a caller may pass a lazy mapping (the ``wpzo.hosting.role_preflight`` action reads
them from the play's variables). A value the argument spec accepts may still be a string of digits for an int,
as a play or an inventory wrote it: the rules read numbers as Jinja's ``| int`` does.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re

from ansible.module_utils.parsing.convert_bool import boolean
from ansible_collections.wpzo.hosting.plugins.module_utils import (
    backup_plan,
    php_fpm_pool,
    redis_acl,
    site_names,
    value_syntax,
)

PORT_RANGE = (1, 65535)


def _int(value):
    """The integer a value stands for (42, "42"); 0 when it stands for none, as Jinja's ``| int``."""
    try:
        return int(value)
    except (TypeError, ValueError):
        try:
            return int(float(value))
        except (TypeError, ValueError):
            return 0


def _float(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def _fits(pattern, value):
    return pattern.fullmatch(str(value)) is not None


def _duplicates(values):
    seen, repeated = set(), []
    for value in values:
        if value in seen and value not in repeated:
            repeated.append(value)
        seen.add(value)
    return repeated


class Problems:
    """Every problem found, each as ``<variable>: <what is wrong>``."""

    def __init__(self):
        self.messages = []

    def __call__(self, variable, text):
        self.messages.append("%s: %s" % (variable, text))

    def port(self, variable, value, low=PORT_RANGE[0], high=PORT_RANGE[1]):
        if not low <= _int(value) <= high:
            self(variable, "%s is out of range %d-%d" % (value, low, high))

    def at_least(self, variable, settings, low, unit=""):
        if _int(settings[variable]) < low:
            self(variable, "must be at least %d%s" % (low, unit))


def base(s, bad):
    for index, user in enumerate(s["base_admin_users"]):
        where = "base_admin_users[%d]" % index
        if not _fits(value_syntax.POSIX_NAME, user.get("name")):
            bad(where + ".name", "%s is not a valid user name" % user.get("name"))
        if user.get("state", "present") == "present" and not user.get("ssh_keys"):
            bad(where + ".ssh_keys", "%s has no SSH key and could never log in" % user.get("name"))
    for name in _duplicates(user.get("name") for user in s["base_admin_users"]):
        bad("base_admin_users", "%s is listed twice" % name)
    bad.port("base_ssh_port", s["base_ssh_port"])
    for variable in ("base_firewall_web_ports", "base_firewall_allowed_tcp_ports", "base_firewall_allowed_udp_ports"):
        for index, port in enumerate(s[variable]):
            bad.port("%s[%d]" % (variable, index), port)
    for index, rule in enumerate(s["base_firewall_source_rules"]):
        for position, port in enumerate(rule.get("ports") or []):
            bad.port("base_firewall_source_rules[%d].ports[%d]" % (index, position), port)
        if not rule.get("sources"):
            bad("base_firewall_source_rules[%d].sources" % index, "empty; give the addresses or CIDRs it opens to")
    for index, source in enumerate(s["base_firewall_web_sources"]):
        if not value_syntax.is_address_or_network(source):
            bad("base_firewall_web_sources[%d]" % index, "%s is not an IPv4 or IPv6 address or CIDR" % source)
    if _int(s["base_swap_size_mb"]) < 0:
        bad("base_swap_size_mb", "must be 0 (automatic) or a size in MiB")


# nginx: values nginx itself parses (sizes, times, rates) are left to nginx -t, which checks every file before it
# replaces the old one; these rules catch what nginx -t cannot (a value that would break the file's syntax).
NGINX_LOOPBACK_LISTEN = re.compile(r"(127\.[0-9.]+|\[::1\]|localhost)(:[0-9]+)?")
NGINX_RESOLVER = re.compile(r"(?P<address>[0-9.]+|\[[0-9A-Fa-f:.]+\]|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*)(:[0-9]+)?")
NGINX_REAL_IP_HEADER = re.compile(r"proxy_protocol|[A-Za-z0-9-]+")
# A regular expression nginx reads in a quoted string: no whitespace or double quote, no trailing backslash.
NGINX_REGEX_VALUE = re.compile(r'[^\s"]*[^\s"\\]')
# A header value nginx reads in a quoted string, never expanded as a variable.
NGINX_HEADER_VALUE = re.compile(r'[^"\\$\n\r]*')
# Directories a purge of the page cache would empty together with what else lives there.
NGINX_SHARED_DIRECTORIES = ("/", "/var", "/var/cache", "/var/cache/nginx", "/tmp")


def _nginx_resolver_ok(value):
    match = NGINX_RESOLVER.fullmatch(str(value))
    return match is not None and value_syntax.is_address_or_network(match.group("address").strip("[]"))


def nginx(s, bad):
    bad.at_least("nginx_worker_connections", s, 64)
    rlimit, connections = _int(s["nginx_worker_rlimit_nofile"]), _int(s["nginx_worker_connections"])
    if 0 < rlimit < 2 * connections:
        bad(
            "nginx_worker_rlimit_nofile",
            "%d is less than twice nginx_worker_connections (%d); use 0 to size it automatically"
            % (rlimit, connections),
        )
    if not _fits(NGINX_LOOPBACK_LISTEN, s["nginx_status_listen"]):
        bad("nginx_status_listen", "%s is not a loopback address" % s["nginx_status_listen"])
    if not _fits(value_syntax.URI_PATH, s["nginx_status_path"]):
        bad("nginx_status_path", "must be a path like /nginx_status")
    for variable in ("nginx_acme_webroot", "nginx_page_cache_path", "nginx_ssl_trusted_certificate"):
        if not _fits(value_syntax.PLAIN_PATH, s[variable]):
            bad(variable, "%s is not an absolute path of plain characters" % s[variable])
    if (str(s["nginx_page_cache_path"]).rstrip("/") or "/") in NGINX_SHARED_DIRECTORIES:
        bad(
            "nginx_page_cache_path",
            "%s must be a directory of its own (a purge deletes files in it)" % s["nginx_page_cache_path"],
        )
    proxies = ["nginx_real_ip_from"] + (["nginx_cloudflare_ranges"] if s["nginx_cloudflare_enabled"] else [])
    for variable in proxies:
        for index, value in enumerate(s[variable]):
            if not value_syntax.is_address_or_network(value):
                bad("%s[%d]" % (variable, index), "%s is not an IP address or CIDR" % value)
    for index, value in enumerate(s["nginx_resolvers"]):
        if not _nginx_resolver_ok(value):
            bad("nginx_resolvers[%d]" % index, "%s is not an IP address with an optional port" % value)
    if not _fits(NGINX_REAL_IP_HEADER, s["nginx_real_ip_header"]):
        bad("nginx_real_ip_header", "%s is not a header name" % s["nginx_real_ip_header"])
    for variable in ("nginx_page_cache_skip_cookies", "nginx_page_cache_skip_uris"):
        for index, value in enumerate(s[variable]):
            if not _fits(NGINX_REGEX_VALUE, value):
                bad(
                    "%s[%d]" % (variable, index),
                    '"%s" may not contain whitespace or double quotes, nor end in a backslash' % value,
                )
    for variable, what in (("nginx_page_cache_ignore_headers", "a header name"), ("nginx_gzip_types", "a MIME type")):
        for index, value in enumerate(s[variable]):
            if not _fits(value_syntax.TOKEN, value):
                bad("%s[%d]" % (variable, index), '"%s" is not %s' % (value, what))
    for name, value in s["nginx_security_headers"].items():
        if not _fits(value_syntax.TOKEN, name):
            bad("nginx_security_headers", '"%s" is not a header name' % name)
        if not _fits(NGINX_HEADER_VALUE, value):
            bad(
                "nginx_security_headers." + str(name),
                "the value may not contain double quotes, backslashes, $ or newlines",
            )


# A value nginx reads unquoted: no whitespace, quotes, ; { } or $.
NGINX_BARE_VALUE = re.compile(r"[^\s;{}\"'$\\]*")
HSTS_PRELOAD_MAX_AGE = 31536000


def _server_name_ok(name):
    """A host name nginx serves: lower-case ASCII labels, a single label too, or a wildcard ``*.`` in front."""
    labels = str(name)[2:].split(".") if str(name).startswith("*.") else str(name).split(".")
    return all(site_names.LABEL_PATTERN.match(label) for label in labels)


def nginx_sites(s, bad):
    """The vhost list of the sites entry point (tasks_from: sites); kinds and TLS modes are the argument spec's."""
    served = {}
    for index, site in enumerate(s["nginx_vhosts"]):
        domain = site.get("domain", "")
        where = "nginx_vhosts[%d] (%s)" % (index, domain or "?")
        try:
            valid = site_names.normalise_domain(domain) == domain
        except ValueError:
            valid = False
        if not valid:
            bad(where + ".domain", "not a lower-case ASCII (punycode) domain name")
        names = site.get("server_names") or []
        if not names or names[0] != domain:
            bad(where + ".server_names", "must list the domain first")
        for name in names + (site.get("redirect_names") or []):
            if not _server_name_ok(name):
                bad(where, "%s is not a valid server name" % name)
            elif name in served:
                bad(where, "%s is already served by %s" % (name, served[name]))
            else:
                served[name] = domain or "?"
        tls = site.get("tls") or {}
        mode = tls.get("mode", "none")
        paths = {key: site.get(key, "") for key in ("root", "docroot", "log_dir")}
        if site.get("kind") in ("wordpress", "php"):
            paths["php_socket"] = site.get("php_socket", "")
        if mode != "none":
            paths.update({"tls." + key: tls.get(key, "") for key in ("certificate", "certificate_key")})
        if site.get("basic_auth_file"):
            paths["basic_auth_file"] = site["basic_auth_file"]
        for key, path in paths.items():
            if not _fits(value_syntax.PLAIN_PATH, path):
                bad("%s.%s" % (where, key), '"%s" is not an absolute path of plain characters' % path)
        if site.get("kind") == "redirect" and not _fits(value_syntax.REDIRECT_URL, site.get("redirect_to", "")):
            bad(where + ".redirect_to", "an http(s) URL base like https://example.com is required")
        if tls.get("hsts") and mode == "none":
            bad(where + ".tls.hsts", "needs TLS")
        if tls.get("hsts_preload"):
            if not tls.get("hsts"):
                bad(where + ".tls.hsts_preload", "needs tls.hsts")
            if _int(s["nginx_hsts_max_age"]) < HSTS_PRELOAD_MAX_AGE:
                bad(where + ".tls.hsts_preload", "needs nginx_hsts_max_age of at least %d" % HSTS_PRELOAD_MAX_AGE)
        if not _fits(NGINX_BARE_VALUE, site.get("client_max_body_size", "")):
            bad(where + ".client_max_body_size", "no whitespace, quotes, ; { } or $")


PHP_FPM_SIZES = (
    "php_fpm_upload_max_filesize",
    "php_fpm_post_max_size",
    "php_fpm_memory_limit",
    "php_fpm_cli_memory_limit",
    "php_fpm_realpath_cache_size",
)
PHP_FPM_SOCKET = re.compile(r"/.+\.sock")


def php_fpm(s, bad):
    # The pools themselves are validated by wpzo.hosting.php_fpm_pool, which reports every problem at once too.
    pools = s["php_fpm_pools"]
    if not (s["php_fpm_status_pool_enabled"] or s["php_fpm_keep_default_pool"] or pools):
        bad(
            "php_fpm_pools",
            "php-fpm refuses to start without a pool: enable php_fpm_status_pool_enabled or "
            "php_fpm_keep_default_pool, or give php_fpm_pools",
        )
    names = [pool.get("name", "") for pool in pools]
    sockets = [pool.get("listen", "") for pool in pools]
    if s["__php_fpm_default_pool_name"] in names:
        bad("php_fpm_pools", "the pool name %s belongs to Debian" % s["__php_fpm_default_pool_name"])
    if s["php_fpm_status_pool_enabled"]:
        if s["__php_fpm_status_pool_name"] in names:
            bad("php_fpm_pools", "the pool name %s belongs to the status pool" % s["__php_fpm_status_pool_name"])
        listen = s["php_fpm_status_pool_listen"]
        if listen in sockets or listen == s["__php_fpm_default_pool_socket"] or not _fits(PHP_FPM_SOCKET, listen):
            bad("php_fpm_status_pool_listen", "%s must be an absolute *.sock path no other pool uses" % listen)
        for variable in ("php_fpm_status_pool_status_path", "php_fpm_status_pool_ping_path"):
            if not _fits(value_syntax.URI_PATH, s[variable]):
                bad(variable, "must be a URI path starting with /")
    if s["php_fpm_purge_pools"] and not pools:
        bad("php_fpm_purge_pools", "true with an empty php_fpm_pools would remove every managed pool")
    bad.at_least("php_fpm_opcache_memory_consumption", s, 8, " (MiB)")
    if not 0 <= _int(s["php_fpm_opcache_interned_strings_buffer"]) < _int(s["php_fpm_opcache_memory_consumption"]):
        bad(
            "php_fpm_opcache_interned_strings_buffer",
            "must be 0 or more and less than php_fpm_opcache_memory_consumption",
        )
    if not 200 <= _int(s["php_fpm_opcache_max_accelerated_files"]) <= 1000000:
        bad("php_fpm_opcache_max_accelerated_files", "must be between 200 and 1000000")
    for variable in PHP_FPM_SIZES:
        if not _fits(value_syntax.PHP_SIZE_OR_UNLIMITED, s[variable]):
            bad(variable, "%s is not a size like 64M" % s[variable])
    post, upload = s["php_fpm_post_max_size"], s["php_fpm_upload_max_filesize"]
    if (
        _fits(value_syntax.PHP_SIZE, post)
        and _fits(value_syntax.PHP_SIZE, upload)
        and 0 < value_syntax.php_size_bytes(post) < value_syntax.php_size_bytes(upload)
    ):
        bad("php_fpm_post_max_size", "smaller than php_fpm_upload_max_filesize, uploads of that size would fail")


MARIADB_AT_LEAST_ONE = (
    "mariadb_max_connections",
    "mariadb_table_open_cache",
    "mariadb_table_definition_cache",
    "mariadb_open_files_limit",
    "mariadb_server_id",
)
MARIADB_PASSWORD_MIN = 24


def mariadb(s, bad):
    if not 0 < _float(s["mariadb_innodb_buffer_pool_share"]) <= 0.9:
        bad("mariadb_innodb_buffer_pool_share", "must be above 0 and at most 0.9")
    for variable in ("mariadb_innodb_buffer_pool_size_mb", "mariadb_innodb_log_file_size_mb"):
        if _int(s[variable]) < 0:
            bad(variable, "must be 0 (automatic) or a size in MiB")
    for variable in MARIADB_AT_LEAST_ONE:
        bad.at_least(variable, s, 1)
    bad.port("mariadb_port", s["mariadb_port"])
    if _int(s["mariadb_binlog_expire_logs_seconds"]) < 0:
        bad("mariadb_binlog_expire_logs_seconds", "must not be negative")
    if not str(s["mariadb_collation"]).startswith(str(s["mariadb_character_set"]) + "_"):
        bad("mariadb_collation", "%s is not a collation of %s" % (s["mariadb_collation"], s["mariadb_character_set"]))
    clients = s["mariadb_allowed_clients"]
    if clients:
        address = str(s["__mariadb_bind_address"]).strip()
        if not address or address in s["__mariadb_loopback_addresses"] or address.startswith("127."):
            bad(
                "mariadb_bind_address",
                "%s cannot be reached by mariadb_allowed_clients; set the address to listen on"
                % (address or "no address found"),
            )
    for index, client in enumerate(clients):
        if not value_syntax.is_address_or_network(client):
            bad("mariadb_allowed_clients[%d]" % index, "%s is not an address or CIDR" % client)
    if not s["mariadb_site_default_hosts"]:
        bad("mariadb_site_default_hosts", "needs at least one host")
    bad.at_least("mariadb_password_length", s, MARIADB_PASSWORD_MIN)


REDIS_SAVE_POINT = re.compile(r"[0-9]+ [0-9]+")
REDIS_SOCKET = re.compile(r"/run/redis/[A-Za-z0-9_.-]+")
REDIS_OWN_GROUP = "redis"
REDIS_DEFAULT_USER = "default"


def redis(s, bad):
    maxmemory = str(s["redis_maxmemory"])
    if maxmemory != "auto" and not _fits(value_syntax.REDIS_SIZE, maxmemory):
        bad("redis_maxmemory", "%s is neither auto nor a size such as 256mb" % maxmemory)
    for index, point in enumerate(s["redis_save"]):
        if not _fits(REDIS_SAVE_POINT, point):
            bad("redis_save[%d]" % index, '%s is not "<seconds> <changes>"' % point)
    bad.port("redis_port", s["redis_port"], low=0)
    if not _fits(REDIS_SOCKET, s["redis_socket"]):
        bad(
            "redis_socket",
            "%s must be a file name in /run/redis, the only runtime directory Redis may write" % s["redis_socket"],
        )
    group = s["redis_socket_group"]
    if not _fits(value_syntax.POSIX_NAME, group) or group == REDIS_OWN_GROUP:
        bad("redis_socket_group", "%s is not a valid group name other than %s" % (group, REDIS_OWN_GROUP))
    admin = s["redis_admin_user"]
    if admin == REDIS_DEFAULT_USER:
        bad("redis_admin_user", "default is the disabled default user, choose another name")
    elif not redis_acl.USER_NAME.match(str(admin)):
        bad("redis_admin_user", "%s is not a Redis user name (letters, digits, _ . @ -)" % admin)
    # The rules of every site's user, as wpzo.hosting.redis_acl checks them (Redis itself knows the commands).
    bad.messages.extend(redis_acl.validate_commands(s["redis_site_commands"], "redis_site_commands"))


FAIL2BAN_SSHD_PORT = re.compile(r"[A-Za-z0-9,:-]+")
# fail2ban reads logpath as globs separated by whitespace.
FAIL2BAN_LOG_PATH = re.compile(r"/[^\s*?\[]+")
FAIL2BAN_JAILS = ("fail2ban_jails", "fail2ban_jail_overrides")


def _fail2ban_host(value):
    """An address, a CIDR or a host name (a single label such as localhost too), as fail2ban's ignoreip takes."""
    labels = str(value).lower().rstrip(".").split(".")
    return value_syntax.is_address_or_network(value) or all(site_names.LABEL_PATTERN.match(label) for label in labels)


def _fail2ban_jail(s, bad, name, jail):
    keys = s["__fail2ban_jail_keys"]

    def origin(key):
        """The variable that gave a jail's setting: an override wins."""
        override = s["fail2ban_jail_overrides"].get(name)
        given = "fail2ban_jail_overrides" if isinstance(override, dict) and key in override else "fail2ban_jails"
        return "%s.%s.%s" % (given, name, key)

    for key in keys:
        if key not in jail:
            bad("fail2ban_jails.%s" % name, "%s is missing" % key)
    for key in jail:
        if key not in keys:
            bad(origin(key).rsplit(".", 1)[0], "%s is unknown, expected %s" % (key, ", ".join(keys)))
    if "enabled" in jail and not isinstance(jail["enabled"], bool):
        bad(origin("enabled"), "must be true or false")
    maxretry = jail.get("maxretry", 1)
    if not isinstance(maxretry, int) or isinstance(maxretry, bool) or maxretry < 1:
        bad(origin("maxretry"), "must be a positive integer")
    for key in ("findtime", "bantime"):
        if key in jail and not _fits(value_syntax.FAIL2BAN_TIME, jail[key]):
            bad(origin(key), "%s is not a time such as 10m, 1h, 1d or seconds" % jail[key])
    if str(jail.get("findtime", "")) == "-1":
        bad(origin("findtime"), "cannot be -1")


def fail2ban(s, bad):
    known = s["__fail2ban_jail_names"]
    for variable in FAIL2BAN_JAILS:
        for name in s[variable]:
            if name not in known:
                bad("%s.%s" % (variable, name), "unknown jail, the role writes %s" % ", ".join(known))
    for name, jail in s["__fail2ban_jails"].items():
        if name not in known:
            continue
        if isinstance(jail, dict):
            _fail2ban_jail(s, bad, name, jail)
        else:
            given = "fail2ban_jail_overrides" if name in s["fail2ban_jail_overrides"] else "fail2ban_jails"
            bad("%s.%s" % (given, name), "must be a dict of %s" % ", ".join(s["__fail2ban_jail_keys"]))
    for variable in ("fail2ban_bantime_maxtime", "fail2ban_db_purge_age"):
        if not _fits(value_syntax.FAIL2BAN_TIME, s[variable]):
            bad(variable, "%s is not a time such as 1w or 30d" % s[variable])
    for index, address in enumerate(s["fail2ban_ignoreip"]):
        if not _fail2ban_host(address):
            bad("fail2ban_ignoreip[%d]" % index, "%s is not an address, CIDR or host name" % address)
    for variable in ("fail2ban_extra_access_logs", "fail2ban_extra_error_logs"):
        for index, path in enumerate(s[variable]):
            if not _fits(FAIL2BAN_LOG_PATH, path):
                bad(
                    "%s[%d]" % (variable, index), "%s must be an absolute path without spaces or glob characters" % path
                )
    if re.search(r"[\r\n]", str(s["fail2ban_notify_command"])):
        bad("fail2ban_notify_command", "must be a single line")
    if not _fits(FAIL2BAN_SSHD_PORT, s["fail2ban_sshd_port"]):
        bad(
            "fail2ban_sshd_port",
            "%s is not a port, a port name or a comma-separated list" % s["fail2ban_sshd_port"],
        )


def _typed(bad, where, entry, required):
    """An entry whose ``type`` names the keys it needs (``required[type]``); whether the type is known."""
    kind = entry.get("type")
    if kind not in required:
        bad(where + ".type", "%s is not one of %s" % (kind, ", ".join(required)))
        return False
    for key in required[kind]:
        if not entry.get(key):
            bad("%s.%s" % (where, key), "is required for type %s" % kind)
    return True


BACKUPS_TARGET_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")
# restic's package is fetched for this architecture only (backups_restic_deb_url).
BACKUPS_ARCHITECTURE = "x86_64"
# restic's durations (forget --keep-within): years, months, days, hours, e.g. 35d or 1y6m.
RESTIC_DURATION = re.compile(r"([0-9]+[ymdh])+")


def _is_copy(target):
    try:
        return boolean(target.get("copy", False), strict=False)
    except TypeError:
        return False


def backups(s, bad):
    targets = s["backups_targets"]
    for index, target in enumerate(targets):
        name = target.get("name")
        where = "backups_targets[%d] (%s)" % (index, "?" if name in (None, "") else name)
        if not _fits(BACKUPS_TARGET_NAME, name or ""):
            bad(where + ".name", "must be lower-case letters, digits, - and _, starting with a letter or digit")
        known = _typed(bad, where, target, backup_plan.TARGET_KEYS)
        if (
            known
            and target["type"] == "azure"
            and not (target.get("sas_url") or (target.get("account") and target.get("key")))
        ):
            bad(where + ".sas_url", "is required for type azure, or account and key")
    for name in _duplicates(target.get("name") for target in targets):
        bad("backups_targets", "%s is listed twice" % name)
    primaries = [target.get("name") or "?" for target in targets if not _is_copy(target)]
    if len(primaries) != 1:
        bad(
            "backups_targets",
            "exactly one target without copy: true (the primary) is needed, found %s"
            % (", ".join(primaries) if primaries else "none"),
        )
    for variable in ("backups_retention", "backups_physical_retention"):
        for key, text in backup_plan.retention_problems(s[variable]):
            bad(variable + ("." + str(key) if key else ""), text)
    if not _fits(RESTIC_DURATION, str(s["backups_binlogs_keep_within"])):
        bad(
            "backups_binlogs_keep_within",
            "%s is not a restic duration such as 35d or 1y6m" % s["backups_binlogs_keep_within"],
        )
    # Point in time replays the shipped binary logs filtered by database, which is exact in ROW format only. The
    # mariadb role's variables are there when its role is in the play (site.yml); without them the runner still
    # refuses, at its first binlogs run.
    if boolean(s["backups_binlogs"], strict=False) and "mariadb_binlog_format" in s:
        if not boolean(s["mariadb_binlog_enabled"], strict=False):
            bad("mariadb_binlog_enabled", "must be true while backups_binlogs ships the binary logs")
        if str(s["mariadb_binlog_format"]).upper() != "ROW":
            bad(
                "mariadb_binlog_format",
                "%s: must be ROW while backups_binlogs ships the binary logs for point-in-time restores"
                % s["mariadb_binlog_format"],
            )
    architecture = s["ansible_facts"].get("architecture")
    if architecture != BACKUPS_ARCHITECTURE:
        bad("backups_restic_deb_url", "restic is fetched for amd64 only; this host is %s" % architecture)


def _listens(bad, role, s, ports):
    address = s[role + "_listen_address"]
    if not value_syntax.is_address(address):
        bad(role + "_listen_address", "%s is not an IPv4 or IPv6 address" % address)
    for port in ports:
        variable = "%s_%s_port" % (role, port)
        bad.port(variable, s[variable])


def _go_runtime(bad, s, gogc, limits):
    """GOGC and GOMEMLIMIT, which a Go daemon reads at start: a value it cannot read stops it."""
    if _int(s[gogc]) < 1:
        bad(gogc, "%s is not a percentage of at least 1 (Go's default 100)" % s[gogc])
    for variable in limits:
        if not _fits(value_syntax.GO_MEMORY_LIMIT, s[variable]):
            bad(variable, "%s is not a size Go reads, such as 96MiB (B, KiB, MiB, GiB, TiB) or off" % s[variable])


MONITORING_AGENT_EXPORTERS = (
    "node_exporter",
    "nginx_exporter",
    "mysqld_exporter",
    "redis_exporter",
    "process_exporter",
)


def monitoring_agent(s, bad):
    _listens(bad, "monitoring_agent", s, MONITORING_AGENT_EXPORTERS)
    address = s["monitoring_agent_listen_address"]
    # A fleet address: the exporters' certificate and scrape password come from the monitoring host.
    if value_syntax.is_address(address) and not ipaddress.ip_address(str(address)).is_loopback:
        host = s["monitoring_agent_monitoring_host"]
        if host not in s["groups"].get("all", []):
            bad(
                "monitoring_agent_monitoring_host",
                '"%s" is not a host of the inventory; with the exporters on %s (not loopback) it names the host that '
                "keeps their certificate authority and scrape password (by default the first of the monitoring group)"
                % (host, address),
            )
    _go_runtime(
        bad,
        s,
        "monitoring_agent_gogc",
        ["monitoring_agent_%s_gomemlimit" % exporter for exporter in MONITORING_AGENT_EXPORTERS],
    )
    units = s["monitoring_agent_systemd_units"]
    if not units:
        bad("monitoring_agent_systemd_units", "empty; node_exporter would report no unit")
    for index, unit in enumerate(units):
        try:
            re.compile(str(unit))
        except re.error as exc:
            bad("monitoring_agent_systemd_units[%d]" % index, "%s is not a regular expression (%s)" % (unit, exc))
    monitoring_agent_sites(s, bad)


def monitoring_agent_sites(s, bad):
    """The pools of the sites entry point (tasks_from: sites), which the role itself (main) runs too."""
    if not _fits(value_syntax.PLAIN_PATH, s["monitoring_agent_textfile_dir"]):
        bad(
            "monitoring_agent_textfile_dir",
            "%s is not an absolute path of plain characters" % s["monitoring_agent_textfile_dir"],
        )
    if not _fits(value_syntax.URI_PATH, s["monitoring_agent_php_fpm_status_path"]):
        bad("monitoring_agent_php_fpm_status_path", "must be a path like /fpm-status")
    for index, site in enumerate(s["monitoring_agent_sites"]):
        where = "monitoring_agent_sites[%d] (%s)" % (index, site.get("domain") or "?")
        if not _fits(php_fpm_pool.POOL_NAME_RE, site.get("pool", "")):
            bad(where + ".pool", '"%s" is not a pool name (a-z, 0-9, _ . -)' % site.get("pool", ""))
        if not _fits(value_syntax.PLAIN_PATH, site.get("php_socket", "")):
            bad(where + ".php_socket", '"%s" is not an absolute path of plain characters' % site.get("php_socket", ""))
    for index, site in enumerate(s["monitoring_agent_wordpress_sites"]):
        where = "monitoring_agent_wordpress_sites[%d] (%s)" % (index, site.get("domain") or "?")
        if not _fits(value_syntax.PLAIN_PATH, site.get("docroot", "")):
            bad(where + ".docroot", '"%s" is not an absolute path of plain characters' % site.get("docroot", ""))


# The keys each type of receiver needs (templates/alertmanager.yml.j2 writes them).
MONITORING_RECEIVER_KEYS = {
    "webhook": ("url",),
    "slack": ("url",),
    "discord": ("url",),
    "email": ("to",),
    "telegram": ("bot_token", "chat_id"),
}
MONITORING_DAEMONS = ("prometheus", "alertmanager", "blackbox")
MONITORING_RECEIVERS = ("monitoring_server_receivers", "monitoring_server_watchdog_receivers")
MONITORING_SERVER_PORTS = ("prometheus", "alertmanager", "blackbox")
HTTP_STATUS_RANGE = (100, 599)


def _receiver(bad, where, receiver):
    if not _typed(bad, where, receiver, MONITORING_RECEIVER_KEYS):
        return
    chat = receiver.get("chat_id")
    if receiver["type"] == "telegram" and chat and not re.fullmatch(r"-?[0-9]+", str(chat)):
        bad(where + ".chat_id", "%s is not a Telegram chat id (a number)" % chat)


def monitoring_server(s, bad):
    _listens(bad, "monitoring_server", s, MONITORING_SERVER_PORTS)
    _go_runtime(
        bad, s, "monitoring_server_gogc", ["monitoring_server_%s_gomemlimit" % daemon for daemon in MONITORING_DAEMONS]
    )
    mailed = False
    for variable in MONITORING_RECEIVERS:
        for index, receiver in enumerate(s[variable]):
            _receiver(bad, "%s[%d] (%s)" % (variable, index, receiver.get("type") or "?"), receiver)
            mailed = mailed or receiver.get("type") == "email"
    if mailed and not s["monitoring_server_smtp_smarthost"]:
        bad("monitoring_server_smtp_smarthost", "e-mail receivers need the relay (host:port) they go through")
    for domain, check in s["monitoring_server_site_checks"].items():
        where = "monitoring_server_site_checks[%s]" % domain
        if not isinstance(check, dict):
            bad(where, "must be a dict of path, status_codes, expect")
            continue
        if not str(check.get("path", "/")).startswith("/"):
            bad(where + ".path", "%s must start with /" % check["path"])
        low, high = HTTP_STATUS_RANGE
        for position, code in enumerate(check.get("status_codes") or []):
            if not low <= _int(code) <= high:
                bad("%s.status_codes[%d]" % (where, position), "%s is not an HTTP status code" % code)
    if boolean(s["monitoring_server_status_page"], strict=False):
        monitoring_status_page(s, bad)


def monitoring_status_page(s, bad):
    """The admin vhost of the status page: what its nginx server block reads unquoted."""
    if not _server_name_ok(s["monitoring_server_status_server_name"]):
        bad("monitoring_server_status_server_name", "%s is not a host name" % s["monitoring_server_status_server_name"])
    bad.port("monitoring_server_status_port", s["monitoring_server_status_port"])
    if not _fits(value_syntax.ACCOUNT_NAME, s["monitoring_server_status_user"]):
        bad(
            "monitoring_server_status_user",
            "%s is not a user name (letters, digits, _ . -)" % s["monitoring_server_status_user"],
        )
    for variable in ("monitoring_server_status_certificate", "monitoring_server_status_certificate_key"):
        if not _fits(value_syntax.PLAIN_PATH, s[variable]):
            bad(variable, "%s is not an absolute path of plain characters" % s[variable])
    for index, client in enumerate(s["monitoring_server_status_allow"]):
        if not value_syntax.is_address_or_network(client):
            bad("monitoring_server_status_allow[%d]" % index, "%s is not an address or a network (CIDR)" % client)


# Variables an inventory may still set that nothing reads any more, each with what replaced it.
REMOVED_VARIABLES = {
    "sites_php_version": "set php_fpm_php_version (the php_fpm role's, which the sites role reaches through it)",
    "sites_redis_group": "set redis_socket_group (the redis role's)",
    "sites_acme_webroot": "set nginx_acme_webroot (the nginx role's)",
    "sites_web_group": "remove it (the web server's group is the one Debian's nginx runs as, the same for every role)",
    "fail2ban_sites": "remove it (the sites role passes the sites' logs to the fail2ban role's sites entry point)",
}


def sites(s, bad):
    """Variables that are no longer read, each naming what replaced it; the site list is the site model's to check
    (wpzo.hosting.normalise_sites)."""
    defined = set(s)
    for name in sorted(REMOVED_VARIABLES):
        if name in defined:
            bad(name, "is no longer read: %s" % REMOVED_VARIABLES[name])


# The rules of each role's entry points (main: the role itself; sites: its per-site entry point).
RULES = {
    "base": {"main": base},
    "nginx": {"main": nginx, "sites": nginx_sites},
    "php_fpm": {"main": php_fpm},
    "mariadb": {"main": mariadb},
    "redis": {"main": redis},
    "fail2ban": {"main": fail2ban},
    "backups": {"main": backups},
    "monitoring_agent": {"main": monitoring_agent, "sites": monitoring_agent_sites},
    "monitoring_server": {"main": monitoring_server},
    "sites": {"main": sites},
}


def problems(role, settings, entry_point="main"):
    """Every problem of the variables of ``role``'s entry point in ``settings``, each naming its variable."""
    bad = Problems()
    RULES[role][entry_point](settings, bad)
    return bad.messages
