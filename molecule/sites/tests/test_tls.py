"""Certificates follow the sites: an alias added is in the certificate served for it (self-signed and ACME),
and a custom certificate that does not fit its key or its names is refused before anything changes.

Runs after test_sites.py (file order), which removed gone.example.test: the site lists here keep it absent.
"""

import datetime
import re
import subprocess

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from test_sites import SITES_PLAYBOOK, inventory_sites

STATIC, SECURE, GONE, CUSTOM = "static.example.test", "secure.example.test", "gone.example.test", "custom.example.test"


def current_sites():
    """The scenario's site list as the inventory has it, with the site test_sites.py removed kept absent."""
    return [dict(site, state="absent") if site["domain"] == GONE else site for site in inventory_sites()]


def served_names(instance_ip, name):
    """The DNS names of the certificate the server presents for this name (SNI)."""
    handshake = subprocess.run(
        ["openssl", "s_client", "-connect", f"{instance_ip}:443", "-servername", name, "-showcerts"],
        input="", capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    pem = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", handshake.stdout, re.S)
    assert pem, handshake.stdout[-2000:] + handshake.stderr[-2000:]
    certificate = x509.load_pem_x509_certificate(pem.group(0).encode())
    extension = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    return sorted(extension.value.get_values_for_type(x509.DNSName))


def self_signed(path, names):
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    certificate = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    (path / "cert.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (path / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return path / "cert.pem", path / "key.pem"


def test_a_custom_certificate_that_does_not_fit_is_refused_before_any_change(host, tmp_path, ansible_playbook):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    certificate, _key = self_signed(tmp_path / "a", [CUSTOM])
    _other_certificate, other_key = self_signed(tmp_path / "b", [CUSTOM])
    tls = {"mode": "custom", "certificate": str(certificate), "certificate_key": str(other_key)}
    custom = {"domain": CUSTOM, "aliases": ["www.custom.example.test"], "kind": "static", "tls": tls}
    result = ansible_playbook(SITES_PLAYBOOK, extra_vars={"wpzo_sites": [*current_sites(), custom]}, succeed=False)
    assert result.returncode != 0
    assert f"{CUSTOM}: tls.certificate_key: does not belong to tls.certificate" in result.said
    assert f"{CUSTOM}: tls.certificate: is not valid for www.custom.example.test" in result.said
    assert "PRIVATE KEY" not in result.stdout + result.stderr
    assert not host.file(f"/srv/www/{CUSTOM}").exists
    assert not host.user("custom_example_test").exists
    assert not host.file(f"/etc/ssl/wpzo/{CUSTOM}.crt").exists


def test_an_alias_added_is_in_the_certificate_served_for_it(host, instance_ip, ansible_playbook):
    assert served_names(instance_ip, STATIC) == [STATIC]
    aliases = {STATIC: ["files.static.example.test"], SECURE: ["www.secure.example.test"]}
    sites = [
        dict(site, aliases=aliases[site["domain"]]) if site["domain"] in aliases else site for site in current_sites()
    ]
    ansible_playbook(SITES_PLAYBOOK, extra_vars={"wpzo_sites": sites})
    # Self-signed: made again with the alias; ACME: certbot asked the ACME server (Pebble) for the new names.
    assert served_names(instance_ip, "files.static.example.test") == sorted([STATIC, "files.static.example.test"])
    assert served_names(instance_ip, "www.secure.example.test") == sorted([SECURE, "www.secure.example.test"])
    assert "Pebble" in host.check_output(f"openssl x509 -noout -issuer -in /etc/letsencrypt/live/{SECURE}/cert.pem")
    # Nothing more to do: the certificates carry the names now.
    assert ansible_playbook(SITES_PLAYBOOK, extra_vars={"wpzo_sites": sites}).recap["changed"] == 0
