# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a value of each kind looks like: one definition each, for the site model, the modules and the role rules.

Patterns carry no anchors: match them with ``fullmatch`` (``$`` would also accept a trailing newline).
Host names are ``site_names``' (``normalise_domain``, ``LABEL_PATTERN``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re

# PHP's shorthand for a number of bytes (upload_max_filesize = 64M): bytes or K, M, G in either case.
PHP_SIZE = re.compile(r"[0-9]+[KMGkmg]?")
# The same, or -1 where PHP reads it as no limit (memory_limit, post_max_size).
PHP_SIZE_OR_UNLIMITED = re.compile(r"-1|[0-9]+[KMGkmg]?")
PHP_SIZE_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
# php-fpm's durations (request_terminate_timeout = 60s): seconds, or s, m, h, d.
PHP_FPM_DURATION = re.compile(r"[0-9]+[smhd]?")
# Redis's memory sizes (maxmemory 256mb): bytes, or k, kb, m, mb, g, gb in any case.
REDIS_SIZE = re.compile(r"[0-9]+([kmg]b?)?", re.IGNORECASE)
# fail2ban's times (bantime = 1h): seconds, or s, m, h, d, w, mo, y; -1 is for ever.
FAIL2BAN_TIME = re.compile(r"-1|[0-9]+(s|m|h|d|w|mo|y)?")
# Go's GOMEMLIMIT: bytes, or B, KiB, MiB, GiB, TiB; off for none. A value Go cannot read stops the daemon at start.
GO_MEMORY_LIMIT = re.compile(r"off|[0-9]+(B|KiB|MiB|GiB|TiB)?")
# An absolute path of plain characters, safe unquoted in nginx and systemd files.
PLAIN_PATH = re.compile(r"/[A-Za-z0-9._/@+-]*")
# The path of a URL (a status or ping page).
URI_PATH = re.compile(r"/[A-Za-z0-9_./~-]*")
# A user or group name Debian's useradd and groupadd accept (NAME_REGEX).
POSIX_NAME = re.compile(r"[a-z_][a-z0-9_-]{0,31}")
# The name of an existing user or group (POSIX portable characters, as other tools may have created it): letters,
# digits, "_", "." and "-", not starting with "-", "." or a digit.
ACCOUNT_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,31}")
# An HTTP header name, a MIME type or a cookie name: a token of nginx's configuration syntax.
TOKEN = re.compile(r"[A-Za-z0-9.+/_-]+")
# Where a redirect site sends to: an http(s) URL base of plain characters (nginx writes it unquoted).
REDIRECT_URL = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]+)?(/[A-Za-z0-9._~/%+-]*)?")
# A PHP constant or function name, an environment variable's name.
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# An e-mail address: something@domain.tld.
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
# A WordPress login: the characters WordPress's sanitize_user keeps, at most 60.
WP_USER = re.compile(r"[A-Za-z0-9 _.@-]{1,60}")
# A WordPress table prefix, short enough for every table name to fit MariaDB's 64 characters.
WP_TABLE_PREFIX = re.compile(r"[A-Za-z0-9_]{1,20}")
# A control character, to search for: a newline in a value would end the line of the file it is written to.
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def php_size_bytes(value):
    """Bytes of a PHP size such as 64M (PHP_SIZE)."""
    value = str(value)
    unit = value[-1:].lower() if value[-1:].isalpha() else ""
    return int(value[: len(value) - len(unit)]) * PHP_SIZE_UNITS[unit]


def is_address(value):
    """An IPv4 or IPv6 address (an address to listen on)."""
    try:
        ipaddress.ip_address(str(value))
    except ValueError:
        return False
    return True


def url_host(address):
    """An address as it is written before ":<port>" or in a URL: an IPv6 address in brackets."""
    address = str(address)
    return "[%s]" % address if ":" in address else address


def is_address_or_network(value):
    """An IPv4 or IPv6 address, or a network in CIDR notation (host bits may be set: 192.0.2.1/24)."""
    try:
        ipaddress.ip_network(str(value), strict=False)
    except ValueError:
        return False
    return True
