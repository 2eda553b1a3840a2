"""Every rule of role_settings: its role's defaults pass, a good value passes, a bad one is refused naming the variable.

The settings are the role's own defaults/main.yml and vars/main.yml, templated by ansible-core as a play would
(through the role_preflight action's lazy reader), with the test's values on top.
"""

from pathlib import Path

import pytest
import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template
from ansible_collections.wpzo.hosting.plugins.action.role_preflight import _PlayVariables
from ansible_collections.wpzo.hosting.plugins.module_utils import role_settings, site_model, site_resources

ROLES = Path(__file__).parents[4] / "roles"
FACTS = {
    "os_family": "Debian",
    "distribution": "Debian",
    "distribution_major_version": "12",
    "default_ipv4": {"address": "192.0.2.10"},
    "memtotal_mb": 2048,
    "dns": {"nameservers": ["192.0.2.53"]},
    "architecture": "x86_64",
}
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB3 alice@example.com"


# What a role needs beyond its defaults before it may run (site.yml applies backups only with a target), and a
# default that reads the site model through a collection filter, which this templar has no loader for.
NEEDED = {
    "backups": {"backups_targets": [{"name": "primary", "type": "local", "path": "/srv/backups"}]},
    "monitoring_agent": {"monitoring_agent_sites": [], "monitoring_agent_wordpress_sites": []},
    "monitoring_server": {"inventory_hostname": "monitor1"},
}


def _trusted(value):
    """Values as vars files give them to a play: strings may be templates."""
    if isinstance(value, str):
        return trust_as_template(value)
    if isinstance(value, dict):
        return {key: _trusted(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_trusted(item) for item in value]
    return value


def problems(role, entry_point="main", **given):
    variables = {"wpzo_sites": [], "ansible_facts": FACTS}
    for layer in ("defaults", "vars"):
        path = ROLES / role / layer / "main.yml"
        if path.exists():
            variables.update(yaml.safe_load(path.read_text()) or {})
    variables.update(NEEDED.get(role, {}))
    variables.update(given)
    variables = _trusted(variables)
    templar = Templar(loader=DataLoader(), variables=variables)
    return role_settings.problems(role, _PlayVariables(templar, variables), entry_point)


@pytest.mark.parametrize(
    ("role", "entry_point"),
    [(role, entry_point) for role in sorted(role_settings.RULES) for entry_point in sorted(role_settings.RULES[role])],
)
def test_the_defaults_of_every_role_pass(role, entry_point):
    assert problems(role, entry_point) == []


# (role, variables that pass, variables that fail, the start of the message they fail with)
RULES = [
    # base
    (
        "base",
        {"base_admin_users": [{"name": "alice", "ssh_keys": [KEY]}]},
        {"base_admin_users": [{"name": "Alice!", "ssh_keys": [KEY]}]},
        "base_admin_users[0].name: Alice! is not a valid user name",
    ),
    (
        "base",
        {"base_admin_users": [{"name": "gone", "state": "absent"}]},
        {"base_admin_users": [{"name": "alice"}]},
        "base_admin_users[0].ssh_keys: alice has no SSH key and could never log in",
    ),
    (
        "base",
        {"base_admin_users": [{"name": "alice", "ssh_keys": [KEY]}, {"name": "bob", "ssh_keys": [KEY]}]},
        {"base_admin_users": [{"name": "alice", "ssh_keys": [KEY]}, {"name": "alice", "ssh_keys": [KEY]}]},
        "base_admin_users: alice is listed twice",
    ),
    ("base", {"base_ssh_port": "2222"}, {"base_ssh_port": 70000}, "base_ssh_port: 70000 is out of range 1-65535"),
    (
        "base",
        {"base_firewall_allowed_tcp_ports": [25, 65535]},
        {"base_firewall_allowed_tcp_ports": [25, 0]},
        "base_firewall_allowed_tcp_ports[1]: 0 is out of range 1-65535",
    ),
    (
        "base",
        {"base_firewall_allowed_udp_ports": [51820]},
        {"base_firewall_allowed_udp_ports": [65536]},
        "base_firewall_allowed_udp_ports[0]: 65536 is out of range",
    ),
    (
        "base",
        {"base_firewall_web_ports": [8443]},
        {"base_firewall_web_ports": [-1]},
        "base_firewall_web_ports[0]: -1 is out of range",
    ),
    (
        "base",
        {"base_firewall_source_rules": [{"ports": [9100], "sources": ["192.0.2.0/24"]}]},
        {"base_firewall_source_rules": [{"ports": [99999], "sources": ["192.0.2.0/24"]}]},
        "base_firewall_source_rules[0].ports[0]: 99999 is out of range",
    ),
    (
        "base",
        {"base_firewall_source_rules": [{"ports": [9100], "sources": ["2001:db8::1"]}]},
        {"base_firewall_source_rules": [{"ports": [9100], "sources": []}]},
        "base_firewall_source_rules[0].sources: empty",
    ),
    (
        "base",
        {"base_firewall_web_sources": ["192.0.2.0/24", "2001:db8::/32", "203.0.113.5"]},
        {"base_firewall_web_sources": ["192.0.2.0/24", "192.0.2.300"]},
        "base_firewall_web_sources[1]: 192.0.2.300 is not an IPv4 or IPv6 address or CIDR",
    ),
    (
        "base",
        {"base_swap_size_mb": 512},
        {"base_swap_size_mb": -1},
        "base_swap_size_mb: must be 0 (automatic) or a size in MiB",
    ),
    # nginx
    (
        "nginx",
        {"nginx_worker_connections": 64},
        {"nginx_worker_connections": 63},
        "nginx_worker_connections: must be at least 64",
    ),
    (
        "nginx",
        {"nginx_worker_rlimit_nofile": 8192},
        {"nginx_worker_rlimit_nofile": 1000},
        "nginx_worker_rlimit_nofile: 1000 is less than twice nginx_worker_connections",
    ),
    (
        "nginx",
        {"nginx_status_listen": "[::1]:8080"},
        {"nginx_status_listen": "0.0.0.0:8080"},
        "nginx_status_listen: 0.0.0.0:8080 is not a loopback address",
    ),
    (
        "nginx",
        {"nginx_status_path": "/status"},
        {"nginx_status_path": "status"},
        "nginx_status_path: must be a path like /nginx_status",
    ),
    (
        "nginx",
        {"nginx_acme_webroot": "/var/lib/acme-challenge"},
        {"nginx_acme_webroot": "/var/www/acme dir"},
        "nginx_acme_webroot: /var/www/acme dir is not an absolute path of plain characters",
    ),
    (
        "nginx",
        {"nginx_ssl_trusted_certificate": "/etc/ssl/certs/ca.pem"},
        {"nginx_ssl_trusted_certificate": "certs/ca.pem"},
        "nginx_ssl_trusted_certificate: certs/ca.pem is not an absolute path",
    ),
    (
        "nginx",
        {"nginx_page_cache_path": "/var/cache/nginx/pages"},
        {"nginx_page_cache_path": "/var/cache/"},
        "nginx_page_cache_path: /var/cache/ must be a directory of its own",
    ),
    (
        "nginx",
        {"nginx_real_ip_from": ["10.0.0.0/8", "2001:db8::1"]},
        {"nginx_real_ip_from": ["proxy.example.com"]},
        "nginx_real_ip_from[0]: proxy.example.com is not an IP address or CIDR",
    ),
    (
        "nginx",
        {"nginx_cloudflare_ranges": ["bad range"], "nginx_cloudflare_enabled": False},
        {"nginx_cloudflare_ranges": ["bad range"], "nginx_cloudflare_enabled": True},
        "nginx_cloudflare_ranges[0]: bad range is not an IP address or CIDR",
    ),
    (
        "nginx",
        {"nginx_resolvers": ["192.0.2.53", "192.0.2.53:5353", "[2001:db8::53]:53", "2001:db8::53"]},
        {"nginx_resolvers": ["dns.example.com"]},
        "nginx_resolvers[0]: dns.example.com is not an IP address with an optional port",
    ),
    (
        "nginx",
        {"nginx_real_ip_header": "proxy_protocol"},
        {"nginx_real_ip_header": "X Forwarded"},
        "nginx_real_ip_header: X Forwarded is not a header name",
    ),
    (
        "nginx",
        {"nginx_page_cache_skip_cookies": ["wordpress_logged_in"]},
        {"nginx_page_cache_skip_cookies": ["a b"]},
        'nginx_page_cache_skip_cookies[0]: "a b" may not contain whitespace',
    ),
    (
        "nginx",
        {"nginx_page_cache_skip_uris": ["^/wp-admin/"]},
        {"nginx_page_cache_skip_uris": ["^/cart\\"]},
        "nginx_page_cache_skip_uris[0]:",
    ),
    (
        "nginx",
        {"nginx_page_cache_ignore_headers": ["Set-Cookie"]},
        {"nginx_page_cache_ignore_headers": ["Set Cookie"]},
        'nginx_page_cache_ignore_headers[0]: "Set Cookie" is not a header name',
    ),
    (
        "nginx",
        {"nginx_gzip_types": ["text/css"]},
        {"nginx_gzip_types": ["text/css;"]},
        'nginx_gzip_types[0]: "text/css;" is not a MIME type',
    ),
    (
        "nginx",
        {"nginx_security_headers": {"X-Frame-Options": "DENY"}},
        {"nginx_security_headers": {"X Frame": "DENY"}},
        'nginx_security_headers: "X Frame" is not a header name',
    ),
    (
        "nginx",
        {"nginx_security_headers": {"Permissions-Policy": "camera=()"}},
        {"nginx_security_headers": {"X-Test": "a$b"}},
        "nginx_security_headers.X-Test: the value may not contain double quotes, backslashes, $ or newlines",
    ),
    # php_fpm
    (
        "php_fpm",
        {"php_fpm_status_pool_enabled": False, "php_fpm_keep_default_pool": True},
        {"php_fpm_status_pool_enabled": False, "php_fpm_keep_default_pool": False, "php_fpm_pools": []},
        "php_fpm_pools: php-fpm refuses to start without a pool",
    ),
    (
        "php_fpm",
        {"php_fpm_pools": [{"name": "example_com", "listen": "/run/php/example_com.sock"}]},
        {"php_fpm_pools": [{"name": "www"}]},
        "php_fpm_pools: the pool name www belongs to Debian",
    ),
    (
        "php_fpm",
        {"php_fpm_pools": [{"name": "wpzo-status"}], "php_fpm_status_pool_enabled": False},
        {"php_fpm_pools": [{"name": "wpzo-status"}]},
        "php_fpm_pools: the pool name wpzo-status belongs to the status pool",
    ),
    (
        "php_fpm",
        {"php_fpm_status_pool_listen": "/run/php/status.sock"},
        {"php_fpm_status_pool_listen": "/run/php/php8.2-fpm.sock"},
        "php_fpm_status_pool_listen: /run/php/php8.2-fpm.sock must be an absolute *.sock path no other pool uses",
    ),
    (
        "php_fpm",
        {"php_fpm_status_pool_listen": "/run/php/status.sock"},
        {
            "php_fpm_status_pool_listen": "/run/php/a.sock",
            "php_fpm_pools": [{"name": "a", "listen": "/run/php/a.sock"}],
        },
        "php_fpm_status_pool_listen: /run/php/a.sock must be",
    ),
    (
        "php_fpm",
        {"php_fpm_status_pool_status_path": "/fpm-status"},
        {"php_fpm_status_pool_status_path": "status"},
        "php_fpm_status_pool_status_path: must be a URI path starting with /",
    ),
    (
        "php_fpm",
        {"php_fpm_status_pool_ping_path": "/~ping"},
        {"php_fpm_status_pool_ping_path": "/ping me"},
        "php_fpm_status_pool_ping_path: must be a URI path",
    ),
    (
        "php_fpm",
        {"php_fpm_purge_pools": True, "php_fpm_pools": [{"name": "a"}]},
        {"php_fpm_purge_pools": True},
        "php_fpm_purge_pools: true with an empty php_fpm_pools would remove every managed pool",
    ),
    (
        "php_fpm",
        {"php_fpm_opcache_memory_consumption": 8, "php_fpm_opcache_interned_strings_buffer": 4},
        {"php_fpm_opcache_memory_consumption": 4, "php_fpm_opcache_interned_strings_buffer": 2},
        "php_fpm_opcache_memory_consumption: must be at least 8 (MiB)",
    ),
    (
        "php_fpm",
        {"php_fpm_opcache_interned_strings_buffer": 0},
        {"php_fpm_opcache_interned_strings_buffer": "256", "php_fpm_opcache_memory_consumption": "256"},
        "php_fpm_opcache_interned_strings_buffer: must be 0 or more and less than php_fpm_opcache_memory_consumption",
    ),
    (
        "php_fpm",
        {"php_fpm_opcache_max_accelerated_files": 1000000},
        {"php_fpm_opcache_max_accelerated_files": 199},
        "php_fpm_opcache_max_accelerated_files: must be between 200 and 1000000",
    ),
    (
        "php_fpm",
        {"php_fpm_memory_limit": "-1"},
        {"php_fpm_memory_limit": "256MB"},
        "php_fpm_memory_limit: 256MB is not a size like 64M",
    ),
    (
        "php_fpm",
        {"php_fpm_cli_memory_limit": "1g"},
        {"php_fpm_cli_memory_limit": "1.5G"},
        "php_fpm_cli_memory_limit: 1.5G is not a size",
    ),
    (
        "php_fpm",
        {"php_fpm_realpath_cache_size": "4096K"},
        {"php_fpm_realpath_cache_size": "4 M"},
        "php_fpm_realpath_cache_size: 4 M is not a size",
    ),
    (
        "php_fpm",
        {"php_fpm_upload_max_filesize": "64M", "php_fpm_post_max_size": "0"},
        {"php_fpm_upload_max_filesize": "64M", "php_fpm_post_max_size": "32768K"},
        "php_fpm_post_max_size: smaller than php_fpm_upload_max_filesize",
    ),
    (
        "php_fpm",
        {"php_fpm_upload_max_filesize": "1G", "php_fpm_post_max_size": "1024M"},
        {"php_fpm_upload_max_filesize": "64M", "php_fpm_post_max_size": "64"},
        "php_fpm_post_max_size: smaller than",
    ),
    # mariadb
    (
        "mariadb",
        {"mariadb_innodb_buffer_pool_share": 0.9},
        {"mariadb_innodb_buffer_pool_share": 0.95},
        "mariadb_innodb_buffer_pool_share: must be above 0 and at most 0.9",
    ),
    (
        "mariadb",
        {"mariadb_innodb_buffer_pool_size_mb": 1024},
        {"mariadb_innodb_buffer_pool_size_mb": -1},
        "mariadb_innodb_buffer_pool_size_mb: must be 0 (automatic) or a size in MiB",
    ),
    (
        "mariadb",
        {"mariadb_innodb_log_file_size_mb": 0},
        {"mariadb_innodb_log_file_size_mb": -5},
        "mariadb_innodb_log_file_size_mb: must be 0",
    ),
    *[("mariadb", {name: 1}, {name: 0}, name + ": must be at least 1") for name in role_settings.MARIADB_AT_LEAST_ONE],
    ("mariadb", {"mariadb_port": 3307}, {"mariadb_port": 0}, "mariadb_port: 0 is out of range 1-65535"),
    (
        "mariadb",
        {"mariadb_binlog_expire_logs_seconds": 0},
        {"mariadb_binlog_expire_logs_seconds": -1},
        "mariadb_binlog_expire_logs_seconds: must not be negative",
    ),
    (
        "mariadb",
        {"mariadb_character_set": "utf8mb4", "mariadb_collation": "utf8mb4_general_ci"},
        {"mariadb_character_set": "latin1", "mariadb_collation": "utf8mb4_general_ci"},
        "mariadb_collation: utf8mb4_general_ci is not a collation of latin1",
    ),
    (
        "mariadb",
        {"mariadb_allowed_clients": ["192.0.2.0/24"]},
        {"mariadb_allowed_clients": ["192.0.2.0/24"], "mariadb_bind_address": "127.0.0.2"},
        "mariadb_bind_address: 127.0.0.2 cannot be reached by mariadb_allowed_clients",
    ),
    (
        "mariadb",
        {"mariadb_allowed_clients": ["192.0.2.0/24"], "mariadb_bind_address": "192.0.2.10"},
        {"mariadb_allowed_clients": ["192.0.2.0/24"], "ansible_facts": {**FACTS, "default_ipv4": {}}},
        "mariadb_bind_address: no address found cannot be reached",
    ),
    (
        "mariadb",
        {"mariadb_allowed_clients": ["2001:db8::/32", "198.51.100.7"]},
        {"mariadb_allowed_clients": ["db.example.com"]},
        "mariadb_allowed_clients[0]: db.example.com is not an address or CIDR",
    ),
    (
        "mariadb",
        {"mariadb_site_default_hosts": ["localhost"]},
        {"mariadb_site_default_hosts": []},
        "mariadb_site_default_hosts: needs at least one host",
    ),
    (
        "mariadb",
        {"mariadb_password_length": 24},
        {"mariadb_password_length": 16},
        "mariadb_password_length: must be at least 24",
    ),
    # redis
    (
        "redis",
        {"redis_maxmemory": "1GB"},
        {"redis_maxmemory": "1tb"},
        "redis_maxmemory: 1tb is neither auto nor a size such as 256mb",
    ),
    (
        "redis",
        {"redis_save": ["900 1", "300 10"]},
        {"redis_save": ["900"]},
        'redis_save[0]: 900 is not "<seconds> <changes>"',
    ),
    ("redis", {"redis_port": 0}, {"redis_port": 65536}, "redis_port: 65536 is out of range 0-65535"),
    (
        "redis",
        {"redis_socket": "/run/redis/cache.sock"},
        {"redis_socket": "/tmp/redis.sock"},
        "redis_socket: /tmp/redis.sock must be a file name in /run/redis",
    ),
    (
        "redis",
        {"redis_socket_group": "cache-users"},
        {"redis_socket_group": "redis"},
        "redis_socket_group: redis is not a valid group name other than redis",
    ),
    (
        "redis",
        {"redis_socket_group": "_cache"},
        {"redis_socket_group": "Cache Users"},
        "redis_socket_group: Cache Users is not a valid group name",
    ),
    (
        "redis",
        {"redis_admin_user": "root"},
        {"redis_admin_user": "default"},
        "redis_admin_user: default is the disabled default user",
    ),
    (
        "redis",
        {"redis_admin_user": "ops@example.com"},
        {"redis_admin_user": "ops admin"},
        "redis_admin_user: ops admin is not a Redis user name",
    ),
    (
        "redis",
        {"redis_site_commands": ["-@all", "+get", "+client|setname", "+@read"]},
        {"redis_site_commands": ["-@all", "+@nosuchcategory"]},
        "redis_site_commands: '+@nosuchcategory' names no ACL category",
    ),
    (
        "redis",
        {"redis_site_commands": []},
        {"redis_site_commands": ["get"]},
        "redis_site_commands: 'get' is not a command rule",
    ),
    # fail2ban
    (
        "fail2ban",
        {"fail2ban_jail_overrides": {"wordpress": {"maxretry": 3}}},
        {"fail2ban_jail_overrides": {"wordpres": {"maxretry": 3}}},
        "fail2ban_jail_overrides.wordpres: unknown jail, the role writes sshd, ",
    ),
    (
        "fail2ban",
        {"fail2ban_jail_overrides": {"sshd": {"enabled": False}}},
        {"fail2ban_jail_overrides": {"sshd": "off"}},
        "fail2ban_jail_overrides.sshd: must be a dict of enabled, maxretry, findtime, bantime",
    ),
    (
        "fail2ban",
        {"fail2ban_jails": {"sshd": {"enabled": True, "maxretry": 5, "findtime": "10m", "bantime": "1h"}}},
        {"fail2ban_jails": {"sshd": {"enabled": True, "maxretry": 5, "findtime": "10m"}}},
        "fail2ban_jails.sshd: bantime is missing",
    ),
    (
        "fail2ban",
        {"fail2ban_jail_overrides": {"sshd": {"bantime": "-1"}}},
        {"fail2ban_jail_overrides": {"sshd": {"ban_time": "1h"}}},
        "fail2ban_jail_overrides.sshd: ban_time is unknown, expected enabled, maxretry, findtime, bantime",
    ),
    (
        "fail2ban",
        {"fail2ban_jail_overrides": {"recidive": {"enabled": False}}},
        {"fail2ban_jail_overrides": {"recidive": {"enabled": "no"}}},
        "fail2ban_jail_overrides.recidive.enabled: must be true or false",
    ),
    (
        "fail2ban",
        {"fail2ban_jail_overrides": {"sshd": {"maxretry": 1}}},
        {"fail2ban_jail_overrides": {"sshd": {"maxretry": 0}}},
        "fail2ban_jail_overrides.sshd.maxretry: must be a positive integer",
    ),
    (
        "fail2ban",
        {"fail2ban_jail_overrides": {"sshd": {"findtime": "1mo", "bantime": 3600}}},
        {"fail2ban_jail_overrides": {"sshd": {"findtime": "10 minutes"}}},
        "fail2ban_jail_overrides.sshd.findtime: 10 minutes is not a time such as 10m, 1h, 1d or seconds",
    ),
    (
        "fail2ban",
        {"fail2ban_jail_overrides": {"sshd": {"bantime": -1}}},
        {"fail2ban_jail_overrides": {"sshd": {"findtime": -1}}},
        "fail2ban_jail_overrides.sshd.findtime: cannot be -1",
    ),
    (
        "fail2ban",
        {"fail2ban_bantime_maxtime": "8w"},
        {"fail2ban_bantime_maxtime": "8 weeks"},
        "fail2ban_bantime_maxtime: 8 weeks is not a time such as 1w or 30d",
    ),
    (
        "fail2ban",
        {"fail2ban_db_purge_age": "1y"},
        {"fail2ban_db_purge_age": "1x"},
        "fail2ban_db_purge_age: 1x is not a time",
    ),
    (
        "fail2ban",
        {"fail2ban_ignoreip": ["192.0.2.1", "198.51.100.0/24", "2001:db8::/32", "localhost", "ops.example.com"]},
        {"fail2ban_ignoreip": ["ops example"]},
        "fail2ban_ignoreip[0]: ops example is not an address, CIDR or host name",
    ),
    (
        "fail2ban",
        {"fail2ban_extra_access_logs": ["/var/log/nginx/shop.access.log"]},
        {"fail2ban_extra_access_logs": ["/var/log/nginx/*.log"]},
        "fail2ban_extra_access_logs[0]: /var/log/nginx/*.log must be an absolute path without spaces or glob",
    ),
    (
        "fail2ban",
        {"fail2ban_extra_error_logs": []},
        {"fail2ban_extra_error_logs": ["error.log"]},
        "fail2ban_extra_error_logs[0]: error.log must be an absolute path",
    ),
    (
        "fail2ban",
        {"fail2ban_notify_command": "logger -t fail2ban"},
        {"fail2ban_notify_command": "logger\nrm"},
        "fail2ban_notify_command: must be a single line",
    ),
    (
        "fail2ban",
        {"fail2ban_sshd_port": "ssh,2222"},
        {"fail2ban_sshd_port": "ssh 2222"},
        "fail2ban_sshd_port: ssh 2222 is not a port, a port name or a comma-separated list",
    ),
    # sites
    (
        "sites",
        {"php_fpm_php_version": "8.2"},
        {"sites_php_version": "8.2"},
        "sites_php_version: is no longer read: set php_fpm_php_version",
    ),
    (
        "sites",
        {},
        {"sites_web_group": "www-data"},
        "sites_web_group: is no longer read: remove it",
    ),
]


@pytest.mark.parametrize(("role", "good", "bad", "message"), RULES, ids=[rule[3][:60] for rule in RULES])
def test_each_rule_accepts_a_good_value_and_refuses_a_bad_one_naming_the_variable(role, good, bad, message):
    assert problems(role, **good) == []
    found = problems(role, **bad)
    assert [problem for problem in found if problem.startswith(message)], found


def test_every_problem_is_reported_at_once():
    found = problems("redis", redis_port=-1, redis_socket="/tmp/r.sock", redis_admin_user="default")
    assert [problem.split(":")[0] for problem in found] == ["redis_port", "redis_socket", "redis_admin_user"]


def test_only_the_variables_a_rule_reads_are_templated():
    """redis_sites normalises the site list; the redis rules never read it, so a broken one is not evaluated."""
    assert problems("redis", redis_sites="{{ undefined_variable.domain }}") == []


# The nginx sites entry point (nginx_vhosts): the vhosts site_resources makes of the site model pass as they are.
VHOSTS = site_resources.vhosts(
    site_model.normalise_sites(
        [
            {
                "domain": "Bücher.example",
                "aliases": ["www.bücher.example"],
                "tls": "selfsigned",
                "wordpress": {"admin_email": "ops@example.com"},
            },
            {
                "domain": "static.example.org",
                "kind": "static",
                "aliases": ["www.static.example.org"],
            },
            {"domain": "old.example.net", "kind": "redirect", "redirect_to": "https://example.org"},
        ]
    )
)


def vhost_problems(index, changes, **given):
    vhosts = [dict(vhost) for vhost in VHOSTS]
    vhosts[index].update(changes)
    return problems("nginx", "sites", nginx_vhosts=vhosts, **given)


def test_the_vhosts_site_resources_makes_pass():
    assert problems("nginx", "sites", nginx_vhosts=VHOSTS) == []


@pytest.mark.parametrize(
    ("index", "changes", "message"),
    [
        (0, {"domain": "Bücher.example"}, "nginx_vhosts[0] (Bücher.example).domain: not a lower-case ASCII (punycode)"),
        (1, {"domain": "localhost", "server_names": ["localhost"]}, "nginx_vhosts[1] (localhost).domain: not a"),
        (
            1,
            {"server_names": ["www.static.example.org", "static.example.org"]},
            "nginx_vhosts[1] (static.example.org).server_names: must list the domain first",
        ),
        (
            1,
            {"redirect_names": ["bad_name.example.org"]},
            "nginx_vhosts[1] (static.example.org): bad_name.example.org is not a valid server name",
        ),
        (
            1,
            {"redirect_names": ["www.xn--bcher-kva.example"]},
            "nginx_vhosts[1] (static.example.org): www.xn--bcher-kva.example is already served by xn--bcher-kva",
        ),
        (0, {"docroot": "/srv/www/a b"}, 'nginx_vhosts[0] (xn--bcher-kva.example).docroot: "/srv/www/a b" is not an'),
        (0, {"php_socket": ""}, "nginx_vhosts[0] (xn--bcher-kva.example).php_socket:"),
        (0, {"basic_auth_file": "htpasswd"}, "nginx_vhosts[0] (xn--bcher-kva.example).basic_auth_file:"),
        (
            0,
            {"tls": {"mode": "custom", "certificate": "/etc/ssl/a.crt", "certificate_key": "a.key"}},
            "nginx_vhosts[0] (xn--bcher-kva.example).tls.certificate_key:",
        ),
        (2, {"redirect_to": "ftp://example.org"}, "nginx_vhosts[2] (old.example.net).redirect_to: an http(s) URL base"),
        (1, {"tls": {"mode": "none", "hsts": True}}, "nginx_vhosts[1] (static.example.org).tls.hsts: needs TLS"),
        (
            0,
            {
                "tls": {
                    "mode": "letsencrypt",
                    "certificate": "/a.crt",
                    "certificate_key": "/a.key",
                    "hsts_preload": True,
                }
            },
            "nginx_vhosts[0] (xn--bcher-kva.example).tls.hsts_preload: needs tls.hsts",
        ),
        (
            0,
            {
                "tls": {
                    "mode": "letsencrypt",
                    "certificate": "/a.crt",
                    "certificate_key": "/a.key",
                    "hsts": True,
                    "hsts_preload": True,
                }
            },
            "nginx_vhosts[0] (xn--bcher-kva.example).tls.hsts_preload: needs nginx_hsts_max_age of at least 31536000",
        ),
        (0, {"client_max_body_size": "64m;"}, "nginx_vhosts[0] (xn--bcher-kva.example).client_max_body_size: no white"),
    ],
)
def test_each_vhost_rule_refuses_a_bad_value_naming_the_site_and_the_field(index, changes, message):
    found = vhost_problems(index, changes, nginx_hsts_max_age=15768000)
    assert [problem for problem in found if problem.startswith(message)], found


def test_hsts_preload_passes_with_a_max_age_of_a_year():
    tls = {
        "mode": "letsencrypt",
        "certificate": "/a.crt",
        "certificate_key": "/a.key",
        "hsts": True,
        "hsts_preload": True,
    }
    vhosts = [dict(VHOSTS[0], tls=tls)]
    assert problems("nginx", "sites", nginx_vhosts=vhosts, nginx_hsts_max_age=31536000) == []


# backups: each target named by its index and name, each field by its key.
PRIMARY = {"name": "primary", "type": "s3", "bucket": "b", "access_key_id": "k", "secret_access_key": "s"}
OFFSITE = {"name": "offsite", "type": "local", "path": "/srv/offsite", "copy": True}


def backups_problems(targets=(PRIMARY, OFFSITE), **given):
    return problems("backups", backups_targets=[dict(target) for target in targets], **given)


AZURE = {"name": "azure", "type": "azure", "container": "c", "sas_url": "https://a.blob.core.windows.net/c?sig=x"}
GCS = {"name": "gcs", "type": "gcs", "bucket": "b", "project_id": "p", "credentials": {"type": "service_account"}}


def test_a_primary_with_copies_of_each_type_passes():
    restic = {"name": "nas_2", "type": "restic", "repository": "rest:https://nas/", "copy": "yes"}
    keyed = {"name": "azure-key", "type": "azure", "container": "c", "account": "a", "key": "k", "copy": True}
    copies = [dict(AZURE, copy=True), keyed, dict(GCS, copy=True)]
    assert backups_problems([PRIMARY, OFFSITE, restic, *copies]) == []


@pytest.mark.parametrize(
    ("targets", "message"),
    [
        ([dict(PRIMARY, name="Primary")], "backups_targets[0] (Primary).name: must be lower-case letters, digits"),
        ([{"type": "local", "path": "/srv/b"}], "backups_targets[0] (?).name: must be lower-case"),
        ([PRIMARY, dict(OFFSITE, type="ftp")], "backups_targets[1] (offsite).type: ftp is not one of s3, local"),
        ([dict(PRIMARY, bucket="")], "backups_targets[0] (primary).bucket: is required for type s3"),
        ([dict(PRIMARY, access_key_id="")], "backups_targets[0] (primary).access_key_id: is required for type s3"),
        ([dict(PRIMARY, secret_access_key="")], "backups_targets[0] (primary).secret_access_key: is required"),
        ([PRIMARY, dict(OFFSITE, path="")], "backups_targets[1] (offsite).path: is required for type local"),
        (
            [PRIMARY, {"name": "nas", "type": "restic", "copy": True}],
            "backups_targets[1] (nas).repository: is required for type restic",
        ),
        ([dict(AZURE, container="")], "backups_targets[0] (azure).container: is required for type azure"),
        (
            [dict(AZURE, sas_url="")],
            "backups_targets[0] (azure).sas_url: is required for type azure, or account and key",
        ),
        ([dict(AZURE, sas_url="", account="a")], "backups_targets[0] (azure).sas_url: is required for type azure"),
        ([dict(GCS, project_id="")], "backups_targets[0] (gcs).project_id: is required for type gcs"),
        ([dict(GCS, credentials={})], "backups_targets[0] (gcs).credentials: is required for type gcs"),
        ([PRIMARY, dict(OFFSITE, name="primary")], "backups_targets: primary is listed twice"),
        ([PRIMARY, dict(OFFSITE, copy=False)], "backups_targets: exactly one target without copy: true (the primary)"),
        ([OFFSITE], "backups_targets: exactly one target without copy: true (the primary) is needed, found none"),
        ([], "backups_targets: exactly one target without copy: true (the primary) is needed, found none"),
    ],
)
def test_each_target_rule_refuses_a_bad_value_naming_the_target_and_the_field(targets, message):
    found = backups_problems(targets)
    assert [problem for problem in found if problem.startswith(message)], found


@pytest.mark.parametrize(
    ("retention", "message"),
    [
        ({"last": 3, "forever": 1}, "backups_retention.forever: is not a retention key"),
        ({"last": -1, "daily": 7}, "backups_retention.last: must be a whole number >= 0, not -1"),
        ({"daily": "7"}, "backups_retention.daily: must be a whole number >= 0, not '7'"),
        ({"last": 0, "daily": 0}, "backups_retention: keeps nothing"),
    ],
)
def test_each_retention_rule_refuses_a_bad_value_naming_the_key(retention, message):
    found = backups_problems(backups_retention=retention)
    assert [problem for problem in found if problem.startswith(message)], found


def test_the_physical_backups_retention_and_the_binlogs_keep_are_checked():
    found = backups_problems(backups_physical_retention={"last": 0}, backups_binlogs_keep_within="5 weeks")
    assert found == [
        "backups_physical_retention: keeps nothing: set at least one of last, hourly, daily, weekly, monthly, yearly",
        "backups_binlogs_keep_within: 5 weeks is not a restic duration such as 35d or 1y6m",
    ]
    assert backups_problems(backups_binlogs_keep_within="1y6m") == []


MARIADB_ROW = {"mariadb_binlog_enabled": True, "mariadb_binlog_format": "ROW"}


@pytest.mark.parametrize(
    ("given", "found"),
    [
        (MARIADB_ROW, []),
        (dict(MARIADB_ROW, backups_binlogs=False, mariadb_binlog_format="MIXED"), []),
        (
            dict(MARIADB_ROW, mariadb_binlog_format="MIXED"),
            ["mariadb_binlog_format: MIXED: must be ROW while backups_binlogs ships the binary logs for point-in-time "
             "restores"],
        ),
        (
            dict(MARIADB_ROW, mariadb_binlog_enabled="false", mariadb_binlog_format="STATEMENT"),
            ["mariadb_binlog_enabled: must be true while backups_binlogs ships the binary logs",
             "mariadb_binlog_format: STATEMENT: must be ROW while backups_binlogs ships the binary logs for "
             "point-in-time restores"],
        ),
    ],
)  # fmt: skip
def test_binlog_shipping_refuses_binary_logs_a_point_in_time_restore_cannot_filter(given, found):
    """With the mariadb role in the play (its variables defined); without it the rule has nothing to read."""
    assert backups_problems(**given) == found


def test_backups_refuses_a_host_restic_is_not_fetched_for():
    found = backups_problems(ansible_facts=dict(FACTS, architecture="aarch64"))
    assert found == ["backups_restic_deb_url: restic is fetched for amd64 only; this host is aarch64"]


# monitoring_agent: the role (main) and its per-site entry point (sites).
PHP_SITE = {"domain": "shop.example", "pool": "shop_example", "php_socket": "/run/php/shop_example.sock"}


def test_the_agent_sites_entry_point_checks_the_sites_only():
    assert problems("monitoring_agent", monitoring_agent_sites=[PHP_SITE]) == []
    assert problems("monitoring_agent", "sites", monitoring_agent_sites=[PHP_SITE]) == []
    found = problems(
        "monitoring_agent",
        "sites",
        monitoring_agent_listen_address="localhost",
        monitoring_agent_sites=[dict(PHP_SITE, pool="")],
    )
    assert found == ['monitoring_agent_sites[0] (shop.example).pool: "" is not a pool name (a-z, 0-9, _ . -)']


# monitoring_server: receivers named by their list, index and type.
WEBHOOK = {"type": "webhook", "url": "https://hooks.example/alert"}


def test_receivers_of_every_type_with_their_keys_pass():
    receivers = [
        WEBHOOK,
        {"type": "slack", "url": "https://hooks.slack.example/x", "channel": "#ops"},
        {"type": "discord", "url": "https://discord.example/api/webhooks/1"},
        {"type": "email", "to": "ops@example.com"},
        {"type": "telegram", "bot_token": "123:abc", "chat_id": "-1001234"},
    ]
    found = problems(
        "monitoring_server",
        monitoring_server_receivers=receivers,
        monitoring_server_watchdog_receivers=[WEBHOOK],
        monitoring_server_smtp_smarthost="smtp.example.com:587",
        monitoring_server_site_checks={"shop.example": {"path": "/health?full=1", "status_codes": [200, 204]}},
    )
    assert found == []


# monitoring_agent and monitoring_server: (role, variables that fail, the start of the message they fail with)
MONITORING = [
    (
        "monitoring_agent",
        {"monitoring_agent_listen_address": "10.0.0.2", "groups": {"all": ["web1"], "monitoring": []}},
        'monitoring_agent_monitoring_host: "" is not a host of the inventory; with the exporters on 10.0.0.2',
    ),
    (
        "monitoring_agent",
        {"monitoring_agent_listen_address": "localhost"},
        "monitoring_agent_listen_address: localhost is not an",
    ),
    (
        "monitoring_agent",
        {"monitoring_agent_node_exporter_port": 0},
        "monitoring_agent_node_exporter_port: 0 is out of range",
    ),
    (
        "monitoring_agent",
        {"monitoring_agent_nginx_exporter_port": 70000},
        "monitoring_agent_nginx_exporter_port: 70000 is out",
    ),
    (
        "monitoring_agent",
        {"monitoring_agent_mysqld_exporter_port": -1},
        "monitoring_agent_mysqld_exporter_port: -1 is out",
    ),
    (
        "monitoring_agent",
        {"monitoring_agent_redis_exporter_port": 65536},
        "monitoring_agent_redis_exporter_port: 65536 is out",
    ),
    (
        "monitoring_agent",
        {"monitoring_agent_process_exporter_port": 0},
        "monitoring_agent_process_exporter_port: 0 is out",
    ),
    ("monitoring_agent", {"monitoring_agent_gogc": 0}, "monitoring_agent_gogc: 0 is not a percentage"),
    (
        "monitoring_agent",
        {"monitoring_agent_mysqld_exporter_gomemlimit": "10M"},
        "monitoring_agent_mysqld_exporter_gomemlimit: 10M is not a size Go",
    ),
    (
        "monitoring_agent",
        {"monitoring_agent_process_exporter_gomemlimit": "16 MiB"},
        "monitoring_agent_process_exporter_gomemlimit: 16 MiB is not a size Go",
    ),
    (
        "monitoring_server",
        {"monitoring_server_prometheus_gomemlimit": "96 MiB"},
        "monitoring_server_prometheus_gomemlimit: 96 MiB is not a size Go reads",
    ),
    (
        "monitoring_server",
        {"monitoring_server_blackbox_gomemlimit": "24mb"},
        "monitoring_server_blackbox_gomemlimit: 24mb is not",
    ),
    ("monitoring_agent", {"monitoring_agent_systemd_units": []}, "monitoring_agent_systemd_units: empty"),
    (
        "monitoring_agent",
        {"monitoring_agent_systemd_units": ["nginx(.service"]},
        "monitoring_agent_systemd_units[0]: nginx(.service",
    ),
    (
        "monitoring_agent",
        {"monitoring_agent_textfile_dir": "node exporter"},
        "monitoring_agent_textfile_dir: node exporter is not",
    ),
    (
        "monitoring_agent",
        {"monitoring_agent_php_fpm_status_path": "fpm-status"},
        "monitoring_agent_php_fpm_status_path: must be a",
    ),
    (
        "monitoring_agent",
        {"monitoring_agent_sites": [PHP_SITE, dict(PHP_SITE, domain="b.example", pool="B pool")]},
        'monitoring_agent_sites[1] (b.example).pool: "B pool" is not a pool name',
    ),
    (
        "monitoring_agent",
        {"monitoring_agent_sites": [dict(PHP_SITE, php_socket="run/php.sock")]},
        'monitoring_agent_sites[0] (shop.example).php_socket: "run/php.sock" is not an absolute path',
    ),
    (
        "monitoring_server",
        {"monitoring_server_listen_address": "127.0.0.1:9090"},
        "monitoring_server_listen_address: 127.0.0.1:9090",
    ),
    (
        "monitoring_server",
        {"monitoring_server_prometheus_port": 0},
        "monitoring_server_prometheus_port: 0 is out of range",
    ),
    (
        "monitoring_server",
        {"monitoring_server_alertmanager_port": 99999},
        "monitoring_server_alertmanager_port: 99999 is out",
    ),
    ("monitoring_server", {"monitoring_server_blackbox_port": -5}, "monitoring_server_blackbox_port: -5 is out"),
    (
        "monitoring_server",
        {"monitoring_server_receivers": [WEBHOOK, {"type": "pager"}]},
        "monitoring_server_receivers[1] (pager).type: pager is not one of webhook, slack",
    ),
    (
        "monitoring_server",
        {"monitoring_server_receivers": [{"url": "https://x"}]},
        "monitoring_server_receivers[0] (?).type: None",
    ),
    (
        "monitoring_server",
        {"monitoring_server_receivers": [{"type": "slack"}]},
        "monitoring_server_receivers[0] (slack).url: is req",
    ),
    (
        "monitoring_server",
        {"monitoring_server_watchdog_receivers": [{"type": "discord", "url": ""}]},
        "monitoring_server_watchdog_receivers[0] (discord).url: is required for type discord",
    ),
    (
        "monitoring_server",
        {"monitoring_server_receivers": [{"type": "email"}], "monitoring_server_smtp_smarthost": "smtp:587"},
        "monitoring_server_receivers[0] (email).to: is required for type email",
    ),
    (
        "monitoring_server",
        {"monitoring_server_receivers": [{"type": "telegram", "chat_id": 42}]},
        "monitoring_server_receivers[0] (telegram).bot_token: is required for type telegram",
    ),
    (
        "monitoring_server",
        {"monitoring_server_receivers": [{"type": "telegram", "bot_token": "t"}]},
        "monitoring_server_receivers[0] (telegram).chat_id: is required for type telegram",
    ),
    (
        "monitoring_server",
        {"monitoring_server_receivers": [{"type": "telegram", "bot_token": "t", "chat_id": "@ops"}]},
        "monitoring_server_receivers[0] (telegram).chat_id: @ops is not a Telegram chat id",
    ),
    (
        "monitoring_server",
        {"monitoring_server_watchdog_receivers": [{"type": "email", "to": "ops@example.com"}]},
        "monitoring_server_smtp_smarthost: e-mail receivers need the relay",
    ),
    (
        "monitoring_server",
        {"monitoring_server_site_checks": {"shop.example": {"path": "health"}}},
        "monitoring_server_site_checks[shop.example].path: health must start with /",
    ),
    (
        "monitoring_server",
        {"monitoring_server_site_checks": {"shop.example": {"status_codes": [200, 1000]}}},
        "monitoring_server_site_checks[shop.example].status_codes[1]: 1000 is not an HTTP status code",
    ),
    (
        "monitoring_agent",
        {"monitoring_agent_wordpress_sites": [{"domain": "blog.example", "docroot": "srv/www/blog"}]},
        'monitoring_agent_wordpress_sites[0] (blog.example).docroot: "srv/www/blog" is not an absolute path',
    ),
    (
        "monitoring_server",
        {"monitoring_server_status_server_name": "status example"},
        "monitoring_server_status_server_name: status example is not a host name",
    ),
    (
        "monitoring_server",
        {"monitoring_server_status_port": 0},
        "monitoring_server_status_port: 0 is out of range",
    ),
    (
        "monitoring_server",
        {"monitoring_server_status_user": "ad min"},
        "monitoring_server_status_user: ad min is not a user name",
    ),
    (
        "monitoring_server",
        {"monitoring_server_status_certificate_key": "/etc/ssl/private/a key;"},
        "monitoring_server_status_certificate_key: /etc/ssl/private/a key; is not an absolute path",
    ),
    (
        "monitoring_server",
        {"monitoring_server_status_allow": ["192.0.2.0/24", "office"]},
        "monitoring_server_status_allow[1]: office is not an address or a network",
    ),
    (
        "monitoring_server",
        {"monitoring_server_site_checks": {"shop.example": "/health"}},
        "monitoring_server_site_checks[shop.example]: must be a dict of path, status_codes, expect",
    ),
]


@pytest.mark.parametrize(("role", "given", "message"), MONITORING, ids=[case[2][:60] for case in MONITORING])
def test_each_monitoring_rule_refuses_a_bad_value_naming_the_variable(role, given, message):
    found = problems(role, **given)
    assert [problem for problem in found if problem.startswith(message)], found


def test_a_fleet_address_with_a_monitoring_host_of_the_inventory_passes():
    fleet = {"monitoring_agent_listen_address": "10.0.0.2", "monitoring_agent_monitoring_host": "mon1"}
    assert problems("monitoring_agent", **fleet, groups={"all": ["web1", "mon1"], "monitoring": ["mon1"]}) == []
