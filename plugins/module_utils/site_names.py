# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Names derived from a site's domain: system user, PHP-FPM pool, database, Redis user.

Every role and module that needs one of these names takes it from here, so a
site's pieces always agree. A name that is too long for its system is cut and
given a short hash of the whole domain, keeping it stable and unique. A name
that fits is never changed (servers already have it).

``normalise_domain`` refuses any domain some consumer would refuse later (an IP
address, a file name too long), so a site is never half-created.
``problems(names)`` lists what a consumer would refuse in a derived name; the
unit tests run it over many generated domains.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import ipaddress
import re

# Limits of the systems the names are used in.
SYSTEM_USER_MAX = 32  # useradd
DATABASE_MAX = 64  # MariaDB identifiers
DATABASE_USER_MAX = 80  # MariaDB 10.11 user names
REDIS_PATTERN_MAX = 512  # a Redis ACL key or channel pattern, as wpzo.hosting.redis_acl checks it
SOCKET_PATH_MAX = 107  # sun_path is 108 bytes with its terminating NUL
FILE_NAME_MAX = 255  # one path component (ext4, xfs)
UNIT_NAME_MAX = 255  # systemd
HOSTNAME_MAX = 253
LABEL_PATTERN = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
WWW_ROOT = "/srv/www"
# The longest name made of the domain and a suffix: certbot stages /etc/letsencrypt/renewal/<domain>.conf as
# <domain>.conf.new; nginx reads <domain>.conf, certificates are <domain>.crt and <domain>.key.
DOMAIN_FILE_SUFFIX = ".conf.new"
DOMAIN_MAX = FILE_NAME_MAX - len(DOMAIN_FILE_SUFFIX)  # 246
# What each consumer accepts.
SYSTEM_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")  # useradd's NAME_REGEX (Debian), also a PHP-FPM pool name
SQL_NAME = re.compile(r"^[a-z][a-z0-9_]*$")  # unquoted-safe MariaDB identifiers
REDIS_NAME = re.compile(r"^[\x21-\x7e]+$")  # an ACL user: printable, no whitespace
UNIT_NAME = re.compile(r"^[A-Za-z0-9:_.-]+$")


def normalise_domain(domain):
    """Lower-case ASCII (punycode) form of a host name; raises ValueError with the reason when invalid."""
    if not isinstance(domain, str) or not domain.strip():
        raise ValueError("must be a non-empty host name")
    name = domain.strip().rstrip(".").lower()
    if _is_ip_address(name):
        raise ValueError(
            "%r is an IP address, not a host name (requests by IP address belong to the default server)" % domain
        )
    try:
        ascii_name = name.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise ValueError("%r is not a valid internationalised host name (%s)" % (domain, exc)) from exc
    if len(ascii_name) > DOMAIN_MAX:
        raise ValueError(
            "%r is %d characters long; at most %d fit into the file names made of it (such as certbot's "
            "<domain>%s)" % (domain, len(ascii_name), DOMAIN_MAX, DOMAIN_FILE_SUFFIX)
        )
    labels = ascii_name.split(".")
    if len(labels) < 2:
        raise ValueError("%r is not a fully qualified host name" % domain)
    for label in labels:
        if not LABEL_PATTERN.match(label):
            raise ValueError("%r has an invalid label %r" % (domain, label))
    if labels[-1].isdigit():
        # 10.1 or 1.2.3: resolvers and browsers read these as IPv4 addresses (inet_aton), never as names.
        raise ValueError("%r ends in a numeric label, which is read as an IP address, not a host name" % domain)
    return ascii_name


def _is_ip_address(name):
    candidate = name[1:-1] if name.startswith("[") and name.endswith("]") else name
    try:
        ipaddress.ip_address(candidate.split("%", 1)[0])
    except ValueError:
        return ":" in candidate and all(part == "" or re.match(r"^[0-9a-f.]+$", part) for part in candidate.split(":"))
    return True


def slug(domain):
    """example.com -> example_com; the base of every derived name."""
    value = re.sub(r"[^a-z0-9]+", "_", domain.lower()).strip("_")
    return value if value[:1].isalpha() else "s_" + value


def fit(name, limit, domain, measure=len):
    """Cut a name to a limit, ending it with a hash of the domain so that cut names stay unique.

    ``measure`` is how the consumer counts (``escaped_length`` for a database in a GRANT).
    """
    if measure(name) <= limit:
        return name
    digest = hashlib.sha256(domain.encode("ascii")).hexdigest()[:8]
    cut = name[: limit - len(digest) - 1]
    while cut and measure(cut.rstrip("_") + "_" + digest) > limit:
        cut = cut[:-1]
    return cut.rstrip("_") + "_" + digest


def escaped_length(database):
    """Length of a database name as a GRANT spells it: ``_`` and ``%`` are wildcards there, escaped with ``\\``."""
    return len(database) + sum(database.count(char) for char in "_%\\")


def derive(domain):
    """All names of a site, from its normalised domain."""
    base = slug(domain)
    system_user = fit(base, SYSTEM_USER_MAX, domain)
    # The database must fit MariaDB's 64 characters both as itself and escaped in GRANT (\_ for each _).
    database = fit(fit("wp_" + base, DATABASE_MAX, domain), DATABASE_MAX, domain, escaped_length)
    database_user = fit("wp_" + base, DATABASE_USER_MAX, domain)
    root = "%s/%s" % (WWW_ROOT, domain)
    return {
        "domain": domain,
        "system_user": system_user,
        "system_group": system_user,
        "pool": system_user,
        "php_socket": "/run/php/%s.sock" % system_user,
        "database": database,
        "database_user": database_user,
        "redis_user": base,
        "redis_prefix": base + ":",
        "root": root,
        "docroot": root + "/public",
        "log_dir": root + "/logs",
        "tmp_dir": root + "/tmp",
        "sessions_dir": root + "/sessions",
        "private_dir": root + "/private",
        # The keys of the site's secrets in the credential store (the wpzo.hosting.credential lookup).
        "credentials": credential_keys(system_user, database_user, base),
    }


def credential_keys(system_user, database_user, redis_user):
    """Where the credential store keeps a site's secrets: its database user's, Redis user's and WordPress
    administrator's passwords."""
    return {
        "database": "mariadb/" + database_user,
        "redis": "redis/" + redis_user,
        "admin": "wordpress/%s-admin" % system_user,
    }


def problems(names):
    """What a consumer would refuse in the derived names of one site: a list of 'field: reason'."""
    found = []

    def check(field, ok, rule):
        if not ok:
            found.append("%s: %r %s" % (field, names[field], rule))

    for field in ("system_user", "system_group", "pool"):
        value = names[field]
        check(field, len(value) <= SYSTEM_USER_MAX and SYSTEM_NAME.match(value), "is not a useradd name (32)")
    for field, limit in (("database", DATABASE_MAX), ("database_user", DATABASE_USER_MAX)):
        value = names[field]
        check(field, len(value) <= limit and SQL_NAME.match(value), "is not a MariaDB name (%d)" % limit)
    check("database", escaped_length(names["database"]) <= DATABASE_MAX, "is longer than 64 escaped in GRANT")
    check("redis_user", REDIS_NAME.match(names["redis_user"]), "is not a Redis ACL user name")
    check(
        "redis_prefix",
        names["redis_prefix"] == names["redis_user"] + ":" and len(names["redis_prefix"]) + 1 <= REDIS_PATTERN_MAX,
        "is not <redis_user>: within a Redis key pattern",
    )
    check("php_socket", len(names["php_socket"].encode("utf-8")) <= SOCKET_PATH_MAX, "is too long for a socket")
    unit = "wpzo-wp-cron-%s.service" % names["system_user"]
    if len(unit) > UNIT_NAME_MAX or not UNIT_NAME.match(unit):
        found.append("system_user: %r gives an invalid systemd unit name" % names["system_user"])
    domain = names["domain"]
    if len(domain + DOMAIN_FILE_SUFFIX) > FILE_NAME_MAX or "/" in domain or domain.startswith("."):
        found.append("domain: %r does not fit into a file name" % domain)
    for field in ("root", "docroot", "log_dir", "tmp_dir", "sessions_dir", "private_dir"):
        check(field, names[field].startswith(WWW_ROOT + "/" + domain) and "/../" not in names[field], "is outside")
    return found


def collisions(derived_sites):
    """Problems where two sites derive the same name: a list of 'field: value used by a and b'."""
    problems = []
    for field in ("system_user", "database", "database_user", "redis_user", "php_socket", "root"):
        seen = {}
        for names in derived_sites:
            owner = seen.setdefault(names[field], names["domain"])
            if owner != names["domain"]:
                problems.append("%s %r is derived from both %s and %s" % (field, names[field], owner, names["domain"]))
    return problems


def name_sites(entries, variable):
    """The derived names of every entry of a tier role's own site list (dicts with a ``domain``), in order.

    This is how a tier role used without the sites role (``redis_sites``, ``mariadb_sites``) learns its sites'
    names and credential keys. Raises ValueError listing every problem, each naming ``<variable>[<index>]``:
    an entry without a valid domain, a domain listed twice, names two domains derive alike.
    """
    if not isinstance(entries, list):
        raise ValueError("%s: must be a list of sites" % variable)
    errors, derived, seen = [], [], {}
    for index, entry in enumerate(entries):
        raw = entry.get("domain") if isinstance(entry, dict) else None
        label = "%s[%d]%s" % (variable, index, " (%s)" % raw if isinstance(raw, str) and raw else "")
        if not isinstance(entry, dict):
            errors.append("%s: must be a dict with a domain" % label)
            continue
        try:
            domain = normalise_domain(raw)
        except ValueError as exc:
            errors.append("%s: domain: %s" % (label, exc))
            continue
        if domain in seen:
            errors.append("%s: domain: %s is listed twice (also %s[%d])" % (label, domain, variable, seen[domain]))
            continue
        seen[domain] = index
        names = derive(domain)
        errors.extend("%s: derived name %s" % (label, problem) for problem in problems(names))
        derived.append(names)
    errors.extend("%s: %s" % (variable, problem) for problem in collisions(derived))
    if errors:
        raise ValueError("\n".join(errors))
    return derived
