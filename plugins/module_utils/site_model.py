# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The site model: validate every site of ``wpzo_sites`` at once and normalise it.

The normalised list (with every derived name and path) is computed once, in the
``sites`` role's preflight, and every later step reads it; no step derives a
name on its own. Problems are all reported together, each naming the site and
the field, before anything changes on a server.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import re

from ansible_collections.wpzo.hosting.plugins.module_utils import site_names, value_syntax
from ansible_collections.wpzo.hosting.plugins.module_utils.errors import ValidationError

KINDS = ("wordpress", "static", "php", "redirect")
TLS_MODES = ("letsencrypt", "selfsigned", "custom", "none")
AUTO_UPDATE = ("minor", "major", "none")
SIZE = value_syntax.PHP_SIZE
DURATION = value_syntax.PHP_FPM_DURATION
PERSON = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
SSH_PUBLIC_KEY = re.compile(r"^(ssh-|ecdsa-|sk-)[a-z0-9@.-]+ [A-Za-z0-9+/]+=*( [^\n]*)?$")
MAX_USER_CONNECTIONS = 2147483647  # as mariadb_sites checks it
CERT_DIR = "/etc/ssl/wpzo"
HTPASSWD_DIR = "/etc/nginx/wpzo-htpasswd"

# Every key a site may have, with its default. Dict-valued keys are merged key by key.
DEFAULTS = {
    "domain": None,
    "aliases": [],
    "redirect_aliases": False,
    "kind": "wordpress",
    "state": "present",
    "purge": False,
    "redirect_to": None,
    "php": {
        "memory_limit": "256M",
        "upload_max_filesize": "64M",
        "max_children": 5,
        "request_terminate_timeout": "60s",
        "max_execution_time": 60,
        "open_basedir": False,
    },
    "tls": {"mode": "none", "certificate": None, "certificate_key": None, "hsts": True, "hsts_preload": False},
    "page_cache": True,
    "object_cache": False,
    "wordpress": {
        "version": None,
        "title": None,
        "admin_user": "siteadmin",
        "admin_email": None,
        "locale": "en_US",
        "table_prefix": "wp_",
        "plugins": [],
        "themes": [],
        "auto_update_core": "minor",
    },
    "basic_auth": {"enabled": False, "realm": "Restricted", "users": []},
    "cron": True,
    # XML-RPC (xmlrpc.php) of a WordPress site: off unless the site needs it (Jetpack, the mobile apps).
    "xmlrpc": False,
    "sftp": [],
    # The site's MariaDB user: at most this many connections at once (0: only the server's own limit).
    "mariadb": {"max_user_connections": 30},
}
# Keys that only a site itself may give: in sites_defaults they would name or remove every site at once.
SITE_ONLY = ("domain", "aliases", "state", "purge")


class SiteModelError(ValidationError):
    """Every problem of a site list at once (``errors``), the collection's one error type."""

    def __init__(self, errors):
        super(SiteModelError, self).__init__("\n".join(errors), errors)


def _merge(defaults, value):
    if isinstance(defaults, dict) and isinstance(value, dict):
        merged = copy.deepcopy(defaults)
        for key, item in value.items():
            merged[key] = _merge(defaults.get(key), item) if key in defaults else copy.deepcopy(item)
        return merged
    return copy.deepcopy(value)


def _unknown_keys(value, schema, prefix, err):
    for key in sorted(set(value) - set(schema)):
        err("%s%s: unknown key" % (prefix, key))
    for key, sub in schema.items():
        if isinstance(sub, dict) and isinstance(value.get(key), dict):
            _unknown_keys(value[key], sub, "%s%s." % (prefix, key), err)


def _expand_shorthands(raw):
    site = dict(raw)
    if isinstance(site.get("tls"), str):
        site["tls"] = {"mode": site["tls"]}
    return site


def _check_types(site, err):
    if not isinstance(site["aliases"], list):
        err("aliases: must be a list of host names")
        site["aliases"] = []
    for field in ("redirect_aliases", "purge", "page_cache", "object_cache", "cron", "xmlrpc"):
        if not isinstance(site[field], bool):
            err("%s: must be true or false" % field)
    for field, choices in (("kind", KINDS), ("state", ("present", "absent"))):
        if site[field] not in choices:
            err("%s: %r is not one of %s" % (field, site[field], ", ".join(choices)))
    php = site["php"]
    for field in ("memory_limit", "upload_max_filesize"):
        if not SIZE.fullmatch(str(php[field])):
            err("php.%s: %r is not a size such as 256M" % (field, php[field]))
    if not DURATION.fullmatch(str(php["request_terminate_timeout"])):
        err("php.request_terminate_timeout: %r is not a duration such as 60s" % php["request_terminate_timeout"])
    if not isinstance(php["open_basedir"], bool):
        err("php.open_basedir: must be true or false")
    for field in ("max_children", "max_execution_time"):
        if not isinstance(php[field], int) or isinstance(php[field], bool) or php[field] < 1:
            err("php.%s: must be a positive integer" % field)
    limit = site["mariadb"]["max_user_connections"]
    if not isinstance(limit, int) or isinstance(limit, bool) or not 0 <= limit <= MAX_USER_CONNECTIONS:
        err(
            "mariadb.max_user_connections: must be an integer from 0 (no limit of its own) to %d" % MAX_USER_CONNECTIONS
        )


def _check_dicts(site, err):
    """A dict-valued key given as something else (php: 5) would break the merge and every later check."""
    ok = True
    for key, default in DEFAULTS.items():
        if isinstance(default, dict) and not isinstance(site.get(key), dict):
            err("%s: must be a dict (of %s)" % (key, ", ".join(sorted(default))))
            ok = False
    return ok


def _check_tls(site, err):
    tls = site["tls"]
    if tls["mode"] not in TLS_MODES:
        err("tls.mode: %r is not one of %s" % (tls["mode"], ", ".join(TLS_MODES)))
    if tls["mode"] == "custom":
        for field in ("certificate", "certificate_key"):
            if not tls.get(field):
                err("tls.%s: required when tls.mode is custom (a file on the controller)" % field)


def _check_wordpress_settings(wp, err):
    """The WordPress settings a site and sites_defaults both check."""
    if not value_syntax.WP_USER.fullmatch(str(wp["admin_user"])):
        err("wordpress.admin_user: %r is not a valid WordPress user name" % wp["admin_user"])
    if not value_syntax.WP_TABLE_PREFIX.fullmatch(str(wp["table_prefix"])):
        err("wordpress.table_prefix: %r must be letters, digits and _ (at most 20)" % wp["table_prefix"])
    if wp["auto_update_core"] not in AUTO_UPDATE:
        err("wordpress.auto_update_core: %r is not one of %s" % (wp["auto_update_core"], ", ".join(AUTO_UPDATE)))
    for field in ("plugins", "themes"):
        if not isinstance(wp[field], list):
            err("wordpress.%s: must be a list" % field)


def _check_wordpress(site, err):
    wp = site["wordpress"]
    if site["kind"] != "wordpress":
        return
    if not wp.get("admin_email") or not value_syntax.EMAIL.fullmatch(str(wp["admin_email"])):
        err("wordpress.admin_email: required for a WordPress site, as an e-mail address")
    _check_wordpress_settings(wp, err)


def _check_access(site, err):
    auth = site["basic_auth"]
    if auth["enabled"]:
        if not auth["users"]:
            err("basic_auth.users: at least one user when basic_auth is enabled")
        for index, user in enumerate(auth["users"]):
            if not isinstance(user, dict) or not user.get("name") or ":" in str(user.get("name")):
                err("basic_auth.users[%d].name: required, without ':'" % index)
    if not isinstance(site["sftp"], list):
        err("sftp: must be a list of users")
        return
    names = set()
    for index, user in enumerate(site["sftp"]):
        if not isinstance(user, dict):
            err("sftp[%d]: must be a dict with name and ssh_keys" % index)
            continue
        name = user.get("name")
        if not PERSON.match(str(name or "")):
            err("sftp[%d].name: who the keys belong to: letters, digits and _ . @ - (at most 64)" % index)
        elif name in names:
            err("sftp[%d].name: %s is listed twice" % (index, name))
        names.add(name)
        if not user.get("ssh_keys") or not isinstance(user["ssh_keys"], list):
            err("sftp[%d].ssh_keys: %s needs a list of at least one key" % (index, name))
        else:
            for position, key in enumerate(user["ssh_keys"]):
                if not SSH_PUBLIC_KEY.match(str(key).strip()):
                    err("sftp[%d].ssh_keys[%d]: not an SSH public key (type, base64, comment)" % (index, position))


def _derive(site, domain, aliases):
    names = site_names.derive(domain)
    site.update(names)
    site["domain"] = domain
    site["aliases"] = aliases
    served = [] if site["redirect_aliases"] else aliases
    site["server_names"] = [domain, *served]
    site["redirect_names"] = aliases if site["redirect_aliases"] else []
    tls = site["tls"]
    tls["enabled"] = tls["mode"] != "none"
    scheme = "https" if tls["enabled"] else "http"
    site["url"] = "%s://%s" % (scheme, domain)
    # certificate/certificate_key become the paths on the server; a custom pair's controller files move to *_src.
    tls["certificate_src"], tls["certificate_key_src"] = tls["certificate"], tls["certificate_key"]
    if tls["mode"] == "letsencrypt":
        tls["certificate"] = "/etc/letsencrypt/live/%s/fullchain.pem" % domain
        tls["certificate_key"] = "/etc/letsencrypt/live/%s/privkey.pem" % domain
    elif tls["enabled"]:
        tls["certificate"] = "%s/%s.crt" % (CERT_DIR, domain)
        tls["certificate_key"] = "%s/%s.key" % (CERT_DIR, domain)
    else:
        tls["certificate"] = tls["certificate_key"] = None
    site["basic_auth_file"] = "%s/%s" % (HTPASSWD_DIR, domain) if site["basic_auth"]["enabled"] else ""
    site["client_max_body_size"] = str(site["php"]["upload_max_filesize"]).lower()
    site["uses_php"] = site["kind"] in ("wordpress", "php")
    site["uses_database"] = site["kind"] == "wordpress"
    site["page_cache"] = site["page_cache"] and site["uses_php"]
    site["object_cache"] = site["object_cache"] and site["kind"] == "wordpress"
    site["cron"] = site["cron"] and site["kind"] == "wordpress"
    site["xmlrpc"] = site["xmlrpc"] and site["kind"] == "wordpress"
    if site["kind"] == "wordpress" and not site["wordpress"]["title"]:
        site["wordpress"]["title"] = domain
    if site["kind"] == "redirect" and site["redirect_to"]:
        site["redirect_to"] = site["redirect_to"].rstrip("/")
    return site


def validate_defaults(defaults):
    """Problems of ``sites_defaults``, each as ``sites_defaults.<field>: <reason>``.

    It is checked like a site (unknown keys, types, choices), except for what a site must say itself; the
    keys that name or remove a site (``domain``, ``aliases``, ``state``, ``purge``) are refused there.
    """
    if defaults is None:
        return []
    if not isinstance(defaults, dict):
        return ["sites_defaults: must be a dict of site settings"]
    problems = []

    def err(message):
        problems.append("sites_defaults.%s" % message)

    for key in SITE_ONLY:
        if key in defaults:
            err("%s: only a site itself may set this (in sites_defaults it would apply to every site)" % key)
    raw = _expand_shorthands(dict((key, value) for key, value in defaults.items() if key not in SITE_ONLY))
    _unknown_keys(raw, DEFAULTS, "", err)
    if not _check_dicts(_merge(DEFAULTS, raw), err):
        return problems
    merged = _merge(DEFAULTS, raw)
    _check_types(merged, err)
    tls = merged["tls"]
    if tls["mode"] not in TLS_MODES:
        err("tls.mode: %r is not one of %s" % (tls["mode"], ", ".join(TLS_MODES)))
    wp = merged["wordpress"]
    if wp.get("admin_email") is not None and not value_syntax.EMAIL.fullmatch(str(wp["admin_email"])):
        err("wordpress.admin_email: %r is not an e-mail address" % wp["admin_email"])
    _check_wordpress_settings(wp, err)
    if not isinstance(merged["basic_auth"]["enabled"], bool):
        err("basic_auth.enabled: must be true or false")
    if not isinstance(merged["basic_auth"]["users"], list):
        err("basic_auth.users: must be a list")
    if not isinstance(merged["sftp"], list):
        err("sftp: must be a list of users")
    return problems


def normalise_sites(sites, defaults=None):
    """Validate and normalise a list of sites; raise SiteModelError listing every problem."""
    if sites is None:  # `wpzo_sites:` left empty in an inventory
        sites = []
    if not isinstance(sites, list):
        raise SiteModelError(["wpzo_sites: must be a list of sites"])
    # Problems of the defaults would repeat under every site: report them alone, once.
    defaults_problems = validate_defaults(defaults)
    if defaults_problems:
        raise SiteModelError(defaults_problems)
    schema = _merge(DEFAULTS, _expand_shorthands(defaults or {}))
    errors = []
    normalised = []
    owners = {}
    for index, raw in enumerate(sites):
        label = "wpzo_sites[%d]" % index
        if not isinstance(raw, dict):
            errors.append("%s: must be a dict with at least a domain" % label)
            continue
        label = "site %s (wpzo_sites[%d])" % (raw.get("domain"), index)
        site_errors = []
        err = site_errors.append

        raw = _expand_shorthands(raw)
        _unknown_keys(raw, DEFAULTS, "", err)
        site = _merge(schema, raw)
        if not _check_dicts(site, err):
            errors.extend("%s: %s" % (label, message) for message in site_errors)
            continue
        domain = None
        try:
            domain = site_names.normalise_domain(site["domain"])
        except ValueError as exc:
            err("domain: %s" % exc)
        _check_types(site, err)
        aliases = []
        for position, alias in enumerate(site["aliases"]):
            try:
                aliases.append(site_names.normalise_domain(alias))
            except ValueError as exc:
                err("aliases[%d]: %s" % (position, exc))
        if site["kind"] == "redirect" and not value_syntax.REDIRECT_URL.fullmatch(str(site["redirect_to"] or "")):
            err("redirect_to: a redirect site needs a target URL of plain characters such as https://example.com")
        _check_tls(site, err)
        _check_wordpress(site, err)
        _check_access(site, err)
        if domain:
            # Every derived name checked against its consumers (useradd, MariaDB, Redis, socket, systemd, files).
            for problem in site_names.problems(site_names.derive(domain)):
                err("derived name %s" % problem)
        named = [("domain", domain)] if domain else []
        for field, name in named + [("aliases", alias) for alias in aliases]:
            if name in owners:
                err("%s: %s is already used by site %s" % (field, name, owners[name]))
            else:
                owners[name] = domain
        errors.extend("%s: %s" % (label, message) for message in site_errors)
        if domain and not site_errors:
            normalised.append(_derive(site, domain, aliases))
    errors.extend(site_names.collisions(normalised))
    if errors:
        raise SiteModelError(errors)
    return normalised


def select(sites, only=None, state=None):
    """Sites limited to one domain (``-e site=``) and/or a state."""
    chosen = sites
    if only:
        wanted = site_names.normalise_domain(only)
        chosen = [site for site in chosen if site["domain"] == wanted]
        if not chosen:
            raise SiteModelError(["site=%s: no such site in wpzo_sites" % only])
    if state:
        chosen = [site for site in chosen if site["state"] == state]
    return chosen
