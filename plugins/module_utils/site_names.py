# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Names derived from a site's domain: system user, PHP-FPM pool, database, Redis user.

Every role and module that needs one of these names takes it from here, so a
site's pieces always agree. A name that is too long for its system is cut and
given a short hash of the whole domain, keeping it stable and unique.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import re

# Limits of the systems the names are used in.
SYSTEM_USER_MAX = 32  # useradd
DATABASE_MAX = 64  # MariaDB identifiers
DATABASE_USER_MAX = 80  # MariaDB 10.11 user names
HOSTNAME_MAX = 253
LABEL_PATTERN = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
WWW_ROOT = "/srv/www"


def normalise_domain(domain):
    """Lower-case ASCII (punycode) form of a host name; raises ValueError with the reason when invalid."""
    if not isinstance(domain, str) or not domain.strip():
        raise ValueError("must be a non-empty host name")
    name = domain.strip().rstrip(".").lower()
    try:
        ascii_name = name.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise ValueError("%r is not a valid internationalised host name (%s)" % (domain, exc)) from exc
    if len(ascii_name) > HOSTNAME_MAX:
        raise ValueError("%r is longer than %d characters" % (domain, HOSTNAME_MAX))
    labels = ascii_name.split(".")
    if len(labels) < 2:
        raise ValueError("%r is not a fully qualified host name" % domain)
    for label in labels:
        if not LABEL_PATTERN.match(label):
            raise ValueError("%r has an invalid label %r" % (domain, label))
    return ascii_name


def slug(domain):
    """example.com -> example_com; the base of every derived name."""
    value = re.sub(r"[^a-z0-9]+", "_", domain.lower()).strip("_")
    return value if value[:1].isalpha() else "s_" + value


def fit(name, limit, domain):
    """Cut a name to a limit, ending it with a hash of the domain so that cut names stay unique."""
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(domain.encode("ascii")).hexdigest()[:8]
    return name[: limit - len(digest) - 1].rstrip("_") + "_" + digest


def derive(domain):
    """All names of a site, from its normalised domain."""
    base = slug(domain)
    system_user = fit(base, SYSTEM_USER_MAX, domain)
    database = fit("wp_" + base, DATABASE_MAX, domain)
    root = "%s/%s" % (WWW_ROOT, domain)
    return {
        "domain": domain,
        "system_user": system_user,
        "system_group": system_user,
        "pool": system_user,
        "php_socket": "/run/php/%s.sock" % system_user,
        "database": database,
        "database_user": fit("wp_" + base, DATABASE_USER_MAX, domain),
        "redis_user": base,
        "redis_prefix": base + ":",
        "root": root,
        "docroot": root + "/public",
        "log_dir": root + "/logs",
        "tmp_dir": root + "/tmp",
        "sessions_dir": root + "/sessions",
        "private_dir": root + "/private",
    }


def collisions(derived_sites):
    """Problems where two sites derive the same name: a list of 'field: value used by a and b'."""
    problems = []
    for field in ("system_user", "database", "database_user", "redis_user", "php_socket"):
        seen = {}
        for names in derived_sites:
            owner = seen.setdefault(names[field], names["domain"])
            if owner != names["domain"]:
                problems.append("%s %r is derived from both %s and %s" % (field, names[field], owner, names["domain"]))
    return problems
