# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""htpasswd lines for nginx's basic auth: SHA-512 crypt with a random salt, kept while the password matches.

A salt derived from public names (the domain and the user) lets anyone precompute the hash of likely
passwords for a given site before ever seeing its file. Each hash here gets a random salt instead; to keep runs
idempotent, a line of the file in place is kept as long as its password still verifies against it, so the file
only changes when a password (or the user list) does.

SHA-512 crypt (``$6$``, Drepper's specification, as glibc's crypt(3) that nginx calls) is implemented here in
pure Python: Python's ``crypt`` module is gone in 3.13, and passlib is not required on the controller.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import hmac
import re
import secrets

ALPHABET = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
SALT_LENGTH = 16
ROUNDS_DEFAULT = 5000
ROUNDS_MIN, ROUNDS_MAX = 1000, 999999999
SHA512_CRYPT = re.compile(r"^\$6\$(?:rounds=([0-9]+)\$)?([^$:\n]{0,16})\$([./0-9A-Za-z]{86})$")
# The order in which the digest's bytes are encoded, three at a time (the specification's table for SHA-512).
_ORDER = (
    (0, 21, 42), (22, 43, 1), (44, 2, 23), (3, 24, 45), (25, 46, 4), (47, 5, 26), (6, 27, 48), (28, 49, 7),
    (50, 8, 29), (9, 30, 51), (31, 52, 10), (53, 11, 32), (12, 33, 54), (34, 55, 13), (56, 14, 35),
    (15, 36, 57), (37, 58, 16), (59, 17, 38), (18, 39, 60), (40, 61, 19), (62, 20, 41),
)  # fmt: skip


def _encode(value, count):
    out = []
    for _index in range(count):
        out.append(ALPHABET[value & 0x3F])
        value >>= 6
    return "".join(out)


def _repeat(digest, length):
    return (digest * (length // len(digest) + 1))[:length]


def sha512_crypt(password, salt, rounds=ROUNDS_DEFAULT):
    """``$6$<salt>$<hash>`` of ``password`` (``$6$rounds=<n>$...`` when rounds is not the default)."""
    key = password.encode("utf-8")
    salt = salt[:SALT_LENGTH]
    salt_bytes = salt.encode("ascii")
    rounds = min(max(rounds, ROUNDS_MIN), ROUNDS_MAX)
    alternate = hashlib.sha512(key + salt_bytes + key).digest()
    context = hashlib.sha512(key + salt_bytes)
    context.update(_repeat(alternate, len(key)))
    length = len(key)
    while length:
        context.update(alternate if length & 1 else key)
        length >>= 1
    digest = context.digest()
    p_bytes = _repeat(hashlib.sha512(key * len(key)).digest(), len(key))
    s_bytes = _repeat(hashlib.sha512(salt_bytes * (16 + digest[0])).digest(), len(salt_bytes))
    for index in range(rounds):
        step = hashlib.sha512(p_bytes if index & 1 else digest)
        if index % 3:
            step.update(s_bytes)
        if index % 7:
            step.update(p_bytes)
        step.update(digest if index & 1 else p_bytes)
        digest = step.digest()
    encoded = "".join(_encode((digest[a] << 16) | (digest[b] << 8) | digest[c], 4) for a, b, c in _ORDER)
    encoded += _encode(digest[63], 2)
    prefix = "$6$" if rounds == ROUNDS_DEFAULT else "$6$rounds=%d$" % rounds
    return "%s%s$%s" % (prefix, salt, encoded)


def random_salt(length=SALT_LENGTH):
    return "".join(secrets.choice(ALPHABET) for _index in range(length))


def verify(password, hashed):
    """True when ``hashed`` is a SHA-512 crypt hash of ``password``; any other scheme does not verify."""
    match = SHA512_CRYPT.match(hashed or "")
    if not match:
        return False
    rounds = int(match.group(1)) if match.group(1) else ROUNDS_DEFAULT
    return hmac.compare_digest(sha512_crypt(password, match.group(2), rounds), hashed)


def parse(text):
    """``{user: hash}`` of an htpasswd file's text (comments and blank lines ignored)."""
    entries = {}
    for line in (text or "").splitlines():
        if not line.strip() or line.lstrip().startswith("#") or ":" not in line:
            continue
        name, hashed = line.split(":", 1)
        entries[name] = hashed.strip()
    return entries


def lines(users, current_text="", salt=random_salt):
    """``name:hash`` for each user ``{name, password}``: the hash in ``current_text`` while it still verifies,
    else a new one with a random salt."""
    current = parse(current_text)
    out = []
    for user in users:
        name, password = user["name"], user.get("password")
        if not isinstance(password, str) or not password:
            raise ValueError("basic_auth user %s: a password is required" % name)
        kept = current.get(name)
        out.append("%s:%s" % (name, kept if kept and verify(password, kept) else sha512_crypt(password, salt())))
    return out
