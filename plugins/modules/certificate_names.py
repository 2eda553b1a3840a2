#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: certificate_names
author: wpzo.hosting developers (@wpzo)
version_added: 0.1.0
short_description: Find the sites whose certificate is missing or no longer carries the site's names
description:
  - Reads the certificate of every listed site in one call and reports the sites whose certificate does not exist
    or whose DNS names (subjectAltName) are not exactly the site's names, for example after an alias was added or
    removed. The caller issues those again (self-signed, or with certbot).
  - Reads only; never changes anything.
requirements:
  - python3-cryptography on the managed host
extends_documentation_fragment:
  - wpzo.hosting.attributes
options:
  certificates:
    description: The sites' certificates.
    type: list
    elements: dict
    required: true
    suboptions:
      domain:
        description: The site.
        type: str
        required: true
      path:
        description: The certificate file (PEM; its first certificate is read).
        type: path
        required: true
      names:
        description: The names the certificate must carry, and no others.
        type: list
        elements: str
        required: true
"""

EXAMPLES = r"""
- name: Find the certificates to issue again
  wpzo.hosting.certificate_names:
    certificates:
      - domain: example.com
        path: /etc/ssl/wpzo/example.com.crt
        names: [example.com, www.example.com]
  register: certificates
"""

RETURN = r"""
stale:
  description: Sites whose certificate is missing or carries other names.
  returned: always
  type: list
  elements: str
  sample: [example.com]
names:
  description: The DNS names each site's certificate carries; null for a missing certificate.
  returned: always
  type: dict
  sample: {"example.com": ["example.com"]}
"""

from ansible.module_utils.basic import missing_required_lib
from ansible_collections.wpzo.hosting.plugins.module_utils import module_shell
from ansible_collections.wpzo.hosting.plugins.module_utils import tls_certificates as tls
from ansible_collections.wpzo.hosting.plugins.module_utils.errors import ModuleError


def found_names(certificates):
    """Each site's certificate's DNS names; None where the file does not exist."""
    found = {}
    for certificate in certificates:
        try:
            with open(certificate["path"], "rb") as handle:
                pem = handle.read()
        except FileNotFoundError:
            found[certificate["domain"]] = None
            continue
        try:
            found[certificate["domain"]] = tls.dns_names(tls.load_certificate(pem))
        except tls.CertificateError:
            found[certificate["domain"]] = []
    return found


ARGUMENT_SPEC = {
    "certificates": {
        "type": "list",
        "elements": "dict",
        "required": True,
        "options": {
            "domain": {"type": "str", "required": True},
            "path": {"type": "path", "required": True},
            "names": {"type": "list", "elements": "str", "required": True},
        },
    }
}


def compute(module):
    if not tls.HAS_CRYPTOGRAPHY:
        raise ModuleError(missing_required_lib("cryptography (Debian: python3-cryptography)"))
    certificates = module.params["certificates"]
    found = found_names(certificates)
    wanted = {certificate["domain"]: certificate["names"] for certificate in certificates}
    return module_shell.Change(dict(changed=False, stale=tls.stale(wanted, found), names=found), None)


def main():
    module_shell.run(ARGUMENT_SPEC, compute)


if __name__ == "__main__":
    main()
