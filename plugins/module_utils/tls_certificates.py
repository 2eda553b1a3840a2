# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a site's certificate must be: its names (SANs), and for a custom certificate, the pair it comes as.

The certificate module reads the certificates on a server and says which no longer carry a site's names (an alias
added or dropped), so that they are issued again; the certificate filter checks a custom certificate and its key
on the controller before anything is copied. Both use ``cryptography`` (ansible-core's own dependency on the
controller; Debian's python3-cryptography on a server).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.x509.oid import ExtensionOID

    HAS_CRYPTOGRAPHY = True
except ImportError:  # reported by the callers, which need it
    HAS_CRYPTOGRAPHY = False

# A certificate that expires sooner than this is refused as a custom certificate.
MIN_VALIDITY = datetime.timedelta(days=1)


class CertificateError(ValueError):
    """A certificate or key that cannot be read."""


def load_certificate(pem):
    """The first (leaf) certificate of a PEM text."""
    if isinstance(pem, str):
        pem = pem.encode("ascii", "replace")
    try:
        return x509.load_pem_x509_certificate(pem)
    except ValueError as exc:
        raise CertificateError("is not a PEM certificate (%s)" % exc) from None


def dns_names(certificate):
    """The DNS names of a certificate's subjectAltName extension, lower case, sorted; [] without one."""
    try:
        extension = certificate.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
    except x509.ExtensionNotFound:
        return []
    return sorted({name.lower() for name in extension.value.get_values_for_type(x509.DNSName)})


def covers(san, name):
    """Whether one SAN entry is valid for a host name: equal, or a wildcard for exactly one left-most label."""
    san, name = san.lower(), name.lower()
    if san == name:
        return True
    if san.startswith("*."):
        head, _dot, rest = name.partition(".")
        return bool(head) and rest == san[2:]
    return False


def uncovered(sans, names):
    """The names that no SAN entry covers."""
    return [name for name in names if not any(covers(san, name) for san in sans)]


def _not_after(certificate):
    value = getattr(certificate, "not_valid_after_utc", None)
    if value is None:  # cryptography < 42
        value = certificate.not_valid_after.replace(tzinfo=datetime.timezone.utc)
    return value


def _public_bytes(key):
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def pair_problems(cert_pem, key_pem, names, now=None):
    """Problems of a custom certificate and its key, each starting with the field it is about."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    problems = []
    try:
        certificate = load_certificate(cert_pem)
    except CertificateError as exc:
        return ["tls.certificate: %s" % exc]
    try:
        key = serialization.load_pem_private_key(
            key_pem.encode("ascii", "replace") if isinstance(key_pem, str) else key_pem, password=None
        )
    except (ValueError, TypeError) as exc:
        return ["tls.certificate_key: is not an unencrypted PEM private key (%s)" % exc]
    if _public_bytes(key.public_key()) != _public_bytes(certificate.public_key()):
        problems.append("tls.certificate_key: does not belong to tls.certificate (their public keys differ)")
    if _not_after(certificate) - now < MIN_VALIDITY:
        problems.append("tls.certificate: expires %s" % _not_after(certificate).strftime("%Y-%m-%d %H:%M UTC"))
    missing = uncovered(dns_names(certificate), names)
    if missing:
        problems.append("tls.certificate: is not valid for %s (its names: %s)"
                        % (", ".join(missing), ", ".join(dns_names(certificate)) or "none"))  # fmt: skip
    return problems


def stale(wanted, found):
    """Domains whose certificate is missing (found[domain] is None) or names other than wanted[domain]."""
    return sorted(domain for domain, names in wanted.items() if found.get(domain) != sorted(set(names)))
